package e2e

import (
	"bytes"
	"context"
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
// source — several partitions, headers, tombstones, transactions committed
// and aborted — and checks that the target holds exactly the committed
// records, in order per partition, and that translated group offsets
// never point past what the group had consumed (and re-read nothing when
// it consumed everything). REPLICATOR_PROPERTY_SEED repeats a run.
func TestPropertyCommittedRecordsAndOffsets(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("REPLICATOR_PROPERTY_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (REPLICATOR_PROPERTY_SEED=%d to repeat)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	e := newEnv(t)
	ctx := context.Background()
	const parts = 4
	if _, err := e.admin(e.src).CreateTopic(ctx, parts, 1, nil, "prop"); err != nil {
		t.Fatal(err)
	}
	plain := e.client(e.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	txn := e.client(e.src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID("prop-txn"))
	committed := map[int32][][]byte{} // values that must arrive, in order
	seq := 0
	record := func(p int32) *kgo.Record {
		seq++
		r := &kgo.Record{Topic: "prop", Partition: p, Key: []byte(fmt.Sprintf("k%d", rng.IntN(20))), Value: []byte(fmt.Sprintf("v%d", seq)),
			Headers: []kgo.RecordHeader{{Key: "n", Value: []byte(strconv.Itoa(seq))}}}
		if rng.IntN(10) == 0 {
			r.Value = nil // tombstone: identified by its header
		}
		return r
	}
	id := func(r *kgo.Record) []byte { return r.Headers[0].Value }
	for range 30 + rng.IntN(30) {
		switch rng.IntN(3) {
		case 0: // a plain batch
			var rs []*kgo.Record
			for range 1 + rng.IntN(20) {
				rs = append(rs, record(int32(rng.IntN(parts))))
			}
			produce(t, plain, rs...)
			for _, r := range rs {
				committed[r.Partition] = append(committed[r.Partition], id(r))
			}
		default: // a transaction, committed or aborted
			commit := rng.IntN(2) == 0
			if err := txn.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			var rs []*kgo.Record
			for range 1 + rng.IntN(10) {
				rs = append(rs, record(int32(rng.IntN(parts))))
			}
			produce(t, txn, rs...)
			if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
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
	arn := e.create(spec{name: "property", earliest: true, syncGroups: true})
	e.waitState(arn, types.ReplicatorStateRunning, 10*time.Second)
	got := e.readAll(e.dst, alias(srcCluster)+".prop", total, 15*time.Second)
	if len(got) != total {
		t.Fatalf("%d records on the target, want the %d committed ones", len(got), total)
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

	// Groups commit random positions on the source (and one consumed
	// everything); after sync, a target offset T may only cover copies of
	// records the group consumed.
	sadm := e.admin(e.src)
	ends, err := sadm.ListEndOffsets(ctx, "prop")
	if err != nil {
		t.Fatal(err)
	}
	srcAt := map[string]map[int32]int64{}
	for g := range 4 {
		name := fmt.Sprintf("prop-group-%d", g)
		os := kadm.Offsets{}
		srcAt[name] = map[int32]int64{}
		for p := range int32(parts) {
			end, _ := ends.Lookup("prop", p)
			at := end.Offset
			if g > 0 {
				at = rng.Int64N(end.Offset + 1)
			}
			os.Add(kadm.Offset{Topic: "prop", Partition: p, At: at, LeaderEpoch: -1})
			srcAt[name][p] = at
		}
		if _, err := sadm.CommitOffsets(ctx, name, os); err != nil {
			t.Fatal(err)
		}
	}
	// What each source offset holds, read_committed.
	srcRecs := map[int32][]*kgo.Record{}
	for _, r := range e.readAll(e.src, "prop", total, 10*time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted())) {
		srcRecs[r.Partition] = append(srcRecs[r.Partition], r)
	}
	dadm := e.admin(e.dst)
	eventually(t, 10*time.Second, "group 0 (consumed everything) synced", func() error {
		os, err := dadm.FetchOffsets(ctx, "prop-group-0")
		if err != nil {
			return err
		}
		for p := range int32(parts) {
			o, ok := os.Lookup(alias(srcCluster)+".prop", p)
			if !ok || o.At != int64(len(committed[p])) {
				return fmt.Errorf("partition %d at %v, want %d (re-read nothing)", p, o.At, len(committed[p]))
			}
		}
		return nil
	})
	time.Sleep(scale(2 * time.Second)) // let every group sync run
	synced := 0
	for g, at := range srcAt {
		os, err := dadm.FetchOffsets(ctx, g)
		if errors.Is(err, kerr.GroupIDNotFound) {
			continue // never synced: no mapping point at or below its offsets, which is safe
		}
		if err != nil {
			t.Fatal(err)
		}
		synced++
		for p := range int32(parts) {
			o, ok := os.Lookup(alias(srcCluster)+".prop", p)
			if !ok {
				continue // no mapping point at or below its offset yet: not synced, which is safe
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
