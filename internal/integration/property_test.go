//go:build integration

package integration

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPropertyCommittedRecordsAndOffsets produces a random pattern on the
// real source — several partitions, headers, tombstones, transactions
// committed and aborted (real transaction markers take offsets) — and
// checks that the target holds exactly the committed records, in order per
// partition, and that translated group offsets never point past what the
// group had consumed (and re-read nothing when it consumed everything).
// REPLICATOR_PROPERTY_SEED repeats a run.
func TestPropertyCommittedRecordsAndOffsets(t *testing.T) {
	h := newT(t, "property")
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("REPLICATOR_PROPERTY_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (REPLICATOR_PROPERTY_SEED=%d to repeat)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	const parts = 4
	topic := h.name("prop")
	target := alias(sourceID) + "." + topic
	h.createTopic(h.srcAdm, parts, nil, topic)
	plain := h.client(suite.source, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	txn := h.client(suite.source, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID(h.name("txn")),
		kgo.TransactionTimeout(10*time.Second))
	committed := map[int32][][]byte{} // ids that must arrive, in order
	seq := 0
	record := func(p int32) *kgo.Record {
		seq++
		r := &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprintf("k%d", rng.IntN(20))), Value: []byte(fmt.Sprintf("v%d", seq)),
			Headers: []kgo.RecordHeader{{Key: "n", Value: []byte(strconv.Itoa(seq))}}}
		if rng.IntN(10) == 0 {
			r.Value = nil // tombstone: identified by its header
		}
		return r
	}
	id := func(r *kgo.Record) []byte { return r.Headers[0].Value }
	txns := 0
	for range 20 + rng.IntN(20) {
		switch rng.IntN(3) {
		case 0: // a plain batch
			var rs []*kgo.Record
			for range 1 + rng.IntN(20) {
				rs = append(rs, record(int32(rng.IntN(parts))))
			}
			h.produce(plain, rs...)
			for _, r := range rs {
				committed[r.Partition] = append(committed[r.Partition], id(r))
			}
		default: // a transaction, committed or aborted
			txns++
			commit := rng.IntN(2) == 0
			if err := txn.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			var rs []*kgo.Record
			for range 1 + rng.IntN(10) {
				rs = append(rs, record(int32(rng.IntN(parts))))
			}
			h.produce(txn, rs...)
			if err := txn.EndTransaction(h.ctx, kgo.TransactionEndTry(commit)); err != nil {
				t.Fatal(err)
			}
			if commit {
				for _, r := range rs {
					committed[r.Partition] = append(committed[r.Partition], id(r))
				}
			}
		}
	}
	total := 0
	for _, vs := range committed {
		total += len(vs)
	}
	srcEnds, srcTotal := h.endOffsets(h.srcAdm, topic)
	t.Logf("%d committed records, %d transactions; source end offsets %v (sum %d)", total, txns, srcEnds, srcTotal)

	arn := h.create(spec{name: "property", earliest: true, syncGroups: true})
	h.waitState(arn, types.ReplicatorStateRunning, 60*time.Second)
	got := h.readAll(suite.target, target, total, 60*time.Second)
	if _, n := h.endOffsets(h.dstAdm, target); len(got) != total || n != int64(total) {
		t.Fatalf("target holds %d records (read %d), want the %d committed ones", n, len(got), total)
	}
	gotP := map[int32][][]byte{}
	for _, r := range got {
		gotP[r.Partition] = append(gotP[r.Partition], id(r))
	}
	for p := range int32(parts) {
		if len(gotP[p]) != len(committed[p]) {
			t.Fatalf("partition %d: %d records, want %d", p, len(gotP[p]), len(committed[p]))
		}
		for i := range committed[p] {
			if !bytes.Equal(gotP[p][i], committed[p][i]) {
				t.Fatalf("partition %d position %d: got record %s, want %s (order or content differs)", p, i, gotP[p][i], committed[p][i])
			}
		}
	}
	h.waitCaughtUp(arn, 30*time.Second)

	// Groups commit random positions on the source (group 0 at the end);
	// after the sync, a target offset may only cover copies of records the
	// group had consumed.
	srcAt := map[string]map[int32]int64{}
	for g := range 4 {
		name := h.name(fmt.Sprintf("group-%d", g))
		os := kadm.Offsets{}
		srcAt[name] = map[int32]int64{}
		for p := range int32(parts) {
			at := srcEnds[p]
			if g > 0 {
				at = rng.Int64N(srcEnds[p] + 1)
			}
			os.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
			srcAt[name][p] = at
		}
		if _, err := h.srcAdm.CommitOffsets(h.ctx, name, os); err != nil {
			t.Fatal(err)
		}
	}
	// What each source offset holds, read_committed.
	srcRecs := map[int32][]*kgo.Record{}
	for _, r := range h.readAll(suite.source, topic, total, 30*time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted())) {
		srcRecs[r.Partition] = append(srcRecs[r.Partition], r)
	}
	group0 := h.name("group-0")
	eventually(t, 30*time.Second, "group 0 (consumed everything) synced", func() error {
		os, err := h.dstAdm.FetchOffsets(h.ctx, group0)
		if err != nil {
			return err
		}
		for p := range int32(parts) {
			o, ok := os.Lookup(target, p)
			if !ok || o.At != int64(len(committed[p])) {
				return fmt.Errorf("partition %d at %v, want %d (re-read nothing)", p, o.At, len(committed[p]))
			}
		}
		return nil
	})
	h.waitSynced(arn)
	synced := 0
	for g, at := range srcAt {
		os, err := h.dstAdm.FetchOffsets(h.ctx, g)
		if errors.Is(err, kerr.GroupIDNotFound) {
			continue // never synced: no mapping point at or below its offsets, which is safe
		}
		if err != nil {
			t.Fatal(err)
		}
		synced++
		for p := range int32(parts) {
			o, ok := os.Lookup(target, p)
			if !ok {
				continue // no mapping point at or below its offset: not synced, which is safe
			}
			consumed := map[string]bool{}
			for _, r := range srcRecs[p] {
				if r.Offset < at[p] {
					consumed[string(id(r))] = true
				}
			}
			for i := int64(0); i < o.At && int(i) < len(gotP[p]); i++ {
				if !consumed[string(gotP[p][i])] {
					t.Fatalf("%s partition %d: target offset %d skips record %s the group had not consumed (source offset %d)", g, p, o.At, gotP[p][i], at[p])
				}
			}
		}
	}
	t.Logf("%d committed records checked in order; %d of %d groups synced, none past what it consumed", total, synced, len(srcAt))
}
