package scenario

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

// PropertyCommittedRecordsAndOffsets produces a random pattern on the
// source — several partitions, headers, tombstones, transactions committed
// and aborted (whose markers take offsets) — and checks that the target
// holds exactly the committed records, in order per partition, and that
// translated group offsets never point past what the group had consumed
// (and re-read nothing when it consumed everything).
// REPLICATOR_PROPERTY_SEED repeats a run.
func PropertyCommittedRecordsAndOffsets(t *testing.T, sys System) {
	h := New(t, sys)
	src, dst := sys.Source(), sys.Target()
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("REPLICATOR_PROPERTY_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (REPLICATOR_PROPERTY_SEED=%d to repeat)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	const parts = 4
	topic := h.Unique("prop")
	target := src.Alias() + "." + topic
	h.CreateTopic(src, parts, nil, topic)
	plain := h.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	txn := h.Client(src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID(h.Unique("txn")),
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
	for range 30 + rng.IntN(30) {
		switch rng.IntN(3) {
		case 0: // a plain batch
			var rs []*kgo.Record
			for range 1 + rng.IntN(20) {
				rs = append(rs, record(int32(rng.IntN(parts))))
			}
			h.Produce(plain, rs...)
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
			h.Produce(txn, rs...)
			if err := txn.EndTransaction(h.Context(), kgo.TransactionEndTry(commit)); err != nil {
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
	srcEnds, srcTotal := h.EndOffsets(src, topic)
	t.Logf("%d committed records, %d transactions; source end offsets %v (sum %d)", total, txns, srcEnds, srcTotal)

	arn := h.Create(Spec{Name: "property", Earliest: true, SyncGroups: true})
	h.WaitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	got := h.ReadAll(dst, target, total, 15*time.Second)
	if _, n := h.EndOffsets(dst, target); len(got) != total || n != int64(total) {
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
	h.WaitCaughtUp(arn, 5*time.Second)

	// Groups commit random positions on the source (group 0 at the end);
	// after the sync, a target offset may only cover copies of records the
	// group had consumed.
	sadm, dadm := h.Admin(src), h.Admin(dst)
	srcAt := map[string]map[int32]int64{}
	for g := range 4 {
		name := h.Unique(fmt.Sprintf("group-%d", g))
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
		if _, err := sadm.CommitOffsets(h.Context(), name, os); err != nil {
			t.Fatal(err)
		}
	}
	// What each source offset holds, read_committed.
	srcRecs := map[int32][]*kgo.Record{}
	for _, r := range h.ReadAll(src, topic, total, 10*time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted())) {
		srcRecs[r.Partition] = append(srcRecs[r.Partition], r)
	}
	group0 := h.Unique("group-0")
	h.Eventually(10*time.Second, "group 0 (consumed everything) synced", func() error {
		os, err := dadm.FetchOffsets(h.Context(), group0)
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
	h.Settle() // let every group sync run
	synced := 0
	for g, at := range srcAt {
		os, err := dadm.FetchOffsets(h.Context(), g)
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
