package postgres_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openreplicator/replicator/internal/pgtest"
	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// Every test has a database of its own, cloned from a migrated template
// (package pgtest).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const account = "555555555555"

// fleetDB is a store over a fresh database, with helpers to act as the
// control plane's worker API does.
type fleetDB struct {
	t     *testing.T
	s     *postgres.Store
	ctx   context.Context
	ttl   time.Duration
	quota fleet.TopologyQuotas
}

func newFleetDB(t *testing.T) *fleetDB {
	return &fleetDB{t: t, s: pgtest.Store(t), ctx: context.Background(), ttl: 10 * time.Second}
}

// create stores a replicator (with its metadata job) and returns its ID.
func (f *fleetDB) create(name string, start string) string {
	f.t.Helper()
	r := &replicator.Replicator{
		ARN:                     replicator.ARN{Partition: "aws", Region: "us-east-1", AccountID: account, Name: name, ID: uuid.NewString()},
		AccountID:               account,
		Name:                    name,
		ServiceExecutionRoleARN: "arn:aws:iam::" + account + ":role/R",
		Spec: replicator.Spec{
			Clusters: []replicator.Cluster{
				{Alias: "src", Apache: &replicator.ApacheKafkaCluster{ClusterID: "src", BootstrapBrokers: "127.0.0.1:1"}},
				{Alias: "dst", Apache: &replicator.ApacheKafkaCluster{ClusterID: "dst", BootstrapBrokers: "127.0.0.1:2"}},
			},
			ReplicationInfo: []replicator.ReplicationInfo{{SourceAlias: "src", TargetAlias: "dst", TargetCompression: replicator.CompressionNone,
				Topics: replicator.TopicReplication{TopicsToReplicate: []string{".*"}, StartingPosition: start, TopicNameConfiguration: replicator.NamePrefixed},
				Groups: replicator.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}}}},
		},
		State:          replicator.StateCreating,
		CurrentVersion: "TESTVERSION1",
	}
	if err := f.s.CreateReplicator(f.ctx, r); err != nil {
		f.t.Fatal(err)
	}
	return r.ARN.ID
}

// acquire takes every free job for worker, by job ID.
func (f *fleetDB) acquire(worker string) map[int64]fleet.Lease {
	f.t.Helper()
	ls, _, err := f.s.Acquire(f.ctx, worker, nil, 0, f.ttl)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[int64]fleet.Lease{}
	for _, l := range ls {
		if l.Token == "" {
			f.t.Fatalf("lease %d granted without a token", l.JobID)
		}
		out[l.JobID] = l
	}
	return out
}

// metadataLease acquires replicator rid's metadata job for worker.
func (f *fleetDB) metadataLease(worker, rid string) fleet.Lease {
	f.t.Helper()
	for _, l := range f.acquire(worker) {
		if l.Kind == fleet.KindMetadata && l.ReplicatorID == rid {
			return l
		}
	}
	f.t.Fatal("no metadata job granted")
	return fleet.Lease{}
}

func (f *fleetDB) report(md fleet.Lease, worker string, topics ...fleet.TopicInfo) fleet.TopologyResult {
	f.t.Helper()
	res, err := f.s.ReportTopology(f.ctx, fleet.Topology{WorkerID: worker, JobID: md.JobID, Epoch: md.Epoch, Token: md.Token,
		SpecVersion: md.SpecVersion, Topics: topics}, f.quota)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func topic(name, id string, partitions int, latest int64) fleet.TopicInfo {
	ti := fleet.TopicInfo{Name: name, ID: id}
	for p := range partitions {
		ti.Partitions = append(ti.Partitions, fleet.PartitionInfo{Partition: int32(p), Latest: latest})
	}
	return ti
}

func report(l fleet.Lease, checkpoint, target int64) fleet.JobReport {
	return fleet.JobReport{JobID: l.JobID, Epoch: l.Epoch, Token: l.Token, SpecVersion: l.SpecVersion, Checkpoint: &checkpoint, TargetCheckpoint: &target}
}

func md2report(md fleet.Lease) fleet.JobReport {
	return fleet.JobReport{JobID: md.JobID, Epoch: md.Epoch, Token: md.Token, SpecVersion: md.SpecVersion}
}

// checkpoints returns topic/partition → (next offset, topic ID).
func (f *fleetDB) checkpoints(rid string) map[string]string {
	f.t.Helper()
	rows, err := f.s.Pool().Query(f.ctx, `SELECT topic, partition, next_offset, topic_id FROM checkpoints WHERE replicator_id = $1`, rid)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var topic, id string
		var p int32
		var next int64
		if err := rows.Scan(&topic, &p, &next, &id); err != nil {
			f.t.Fatal(err)
		}
		out[fmt.Sprintf("%s/%d", topic, p)] = fmt.Sprintf("%d@%s", next, id)
	}
	return out
}

func (f *fleetDB) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.s.Pool().QueryRow(f.ctx, query, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fleetDB) events(rid string) []fleet.Event {
	f.t.Helper()
	evs, err := f.s.Events(f.ctx, rid, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

func hasEvent(evs []fleet.Event, code string) *fleet.Event {
	for i := range evs {
		if evs[i].Code == code {
			return &evs[i]
		}
	}
	return nil
}

// exec runs a statement the test needs (to move time on, say) and fails
// the test if it fails.
func (f *fleetDB) exec(query string, args ...any) {
	f.t.Helper()
	if _, err := f.s.Pool().Exec(f.ctx, query, args...); err != nil {
		f.t.Fatal(err)
	}
}

// reportsOf returns an empty report (no checkpoint) under each lease the
// workers hold now, from the database.
func (f *fleetDB) reportsOf(workers ...string) []fleet.JobReport {
	f.t.Helper()
	rows, err := f.s.Pool().Query(f.ctx, `SELECT id, epoch, lease_token FROM jobs
		WHERE owner = ANY($1) AND lease_expires_at > now() ORDER BY id`, workers)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []fleet.JobReport
	for rows.Next() {
		var r fleet.JobReport
		if err := rows.Scan(&r.JobID, &r.Epoch, &r.Token); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// release gives the leases of reports back (each worker its own) and
// fails the test if one is not released.
func (f *fleetDB) release(reports ...fleet.JobReport) {
	f.t.Helper()
	for _, r := range reports {
		var owner string
		if err := f.s.Pool().QueryRow(f.ctx, `SELECT owner FROM jobs WHERE id = $1`, r.JobID).Scan(&owner); err != nil {
			f.t.Fatal(err)
		}
		if n, err := f.s.Release(f.ctx, owner, []fleet.JobReport{r}, false); err != nil || n != 1 {
			f.t.Fatalf("release of job %d by %s: %d %v", r.JobID, owner, n, err)
		}
	}
}

// arn returns the ARN of the replicator named name.
func (f *fleetDB) arn(name string) string {
	f.t.Helper()
	var arn string
	if err := f.s.Pool().QueryRow(f.ctx, `SELECT arn FROM replicators WHERE name = $1`, name).Scan(&arn); err != nil {
		f.t.Fatal(err)
	}
	return arn
}

// started creates a replicator (earliest start) whose metadata job worker
// holds and has reported one topic "orders" (ID-O) of n partitions, and
// gives worker the partition jobs: their leases, by partition.
func (f *fleetDB) started(name, worker string, n int) (rid string, md fleet.Lease, parts []fleet.Lease) {
	f.t.Helper()
	rid = f.create(name, replicator.StartEarliest)
	md = f.metadataLease(worker, rid)
	f.report(md, worker, topic("orders", "ID-O", n, 10))
	for _, l := range f.acquire(worker) {
		parts = append(parts, l)
	}
	if len(parts) != n {
		f.t.Fatalf("%s got %d partition jobs, want %d", worker, len(parts), n)
	}
	slices.SortFunc(parts, func(a, b fleet.Lease) int { return int(a.Partition - b.Partition) })
	return rid, md, parts
}
