// The metadata job (fleet.Task): discovery of the topics a spec matches,
// topology reports, target topics created ahead of their partition jobs,
// and the periodic syncs (sync.go, groups.go).

package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// metaTask is a replicator's metadata job on this worker: discovery,
// target topics and partitions, topic configs, ACLs and group offsets.
type metaTask struct {
	r      *replication
	lease  fleet.Lease
	env    fleet.TaskEnv
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	err     *fleet.JobError
	notices []fleet.Notice // the replication's, taken by this job's reports

	// Owned by the loop goroutine.
	fingerprint     string
	reportAgainAt   time.Time // when a topology taken with a condition is sent again
	attemptAt       time.Time // when a topology was last sent (taken or not)
	attemptVersion  int64     // under which spec version
	reportedVersion int64
	ensured         map[string]int             // source topic → partitions ensured on the target
	setConfigs      map[string]map[string]bool // target topic → config keys this job set
	createdACLs     map[string]aclEntry
	knownGroups     map[string]bool
	matched         []string
}

var _ fleet.NoticeAcker = (*metaTask)(nil)

func (r *replication) startMetadata(ctx context.Context, l fleet.Lease, env fleet.TaskEnv) *metaTask {
	t := &metaTask{r: r, lease: l, env: env, done: make(chan struct{}), ensured: map[string]int{},
		setConfigs: map[string]map[string]bool{}, createdACLs: map[string]aclEntry{}}
	t.ctx, t.cancel = context.WithCancel(ctx)
	go t.run()
	return t
}

func (t *metaTask) Report() fleet.JobReport {
	// A cluster that cannot be reached or refuses authentication explains
	// any step failure, so it is reported first.
	r := fleet.JobReport{SpecVersion: t.r.specVersion(), Error: t.r.jobError()}
	ns := t.r.takeNotices()
	t.mu.Lock()
	if r.Error == nil {
		r.Error = t.err
	}
	for _, n := range ns {
		if len(t.notices) >= maxNotices {
			t.notices = t.notices[1:]
		}
		t.notices = append(t.notices, n)
	}
	if len(t.notices) > 0 {
		r.Notices = append([]fleet.Notice(nil), t.notices...)
	}
	t.mu.Unlock()
	return r
}

// AckNotices forgets the notices reported at or before upTo (see
// fleet.NoticeAcker).
func (t *metaTask) AckNotices(upTo time.Time) {
	t.mu.Lock()
	t.notices = ackNotices(t.notices, upTo)
	t.mu.Unlock()
}

func (t *metaTask) UpdateSpec(spec *fleet.ReplicatorSpec) { t.r.updateSpec(spec) }

func (t *metaTask) Drain(ctx context.Context) error { t.Abort(); return nil }

func (t *metaTask) Abort() {
	t.once.Do(func() {
		t.cancel()
		<-t.done
		t.r.e.release(t.r)
	})
}

func (t *metaTask) fail(code string, err error) {
	name, account := t.r.labels()
	t.r.e.cfg.Metrics.failure(name, account)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil || t.err.Code != code {
		t.env.Logger.Warn("engine: metadata job step failed", "code", code, "err", err)
	}
	t.err = &fleet.JobError{Code: code, Message: tenantText(err), Since: sinceOr(t.err)}
}

func (t *metaTask) ok() {
	t.mu.Lock()
	t.err = nil
	t.mu.Unlock()
}

func (t *metaTask) run() {
	defer close(t.done)
	cl, err := t.r.getClients(t.ctx)
	if err != nil {
		return
	}
	disc := time.NewTicker(t.r.e.cfg.DiscoveryInterval)
	defer disc.Stop()
	lastSync := time.Time{}
	for {
		if err := t.discover(cl); err != nil {
			if t.ctx.Err() != nil {
				return
			}
			t.fail("DiscoveryFailed", err)
		} else {
			t.ok()
		}
		// Configs, ACLs and group offsets are written only under a fresh
		// lease (see fleet.TaskEnv.LeaseFresh).
		if time.Since(lastSync) >= t.r.e.cfg.SyncInterval && (t.env.LeaseFresh == nil || t.env.LeaseFresh()) {
			lastSync = time.Now()
			t.sync(cl)
		}
		select {
		case <-t.ctx.Done():
			return
		case <-disc.C:
		}
	}
}

// discover lists the source topics the spec matches, makes sure each has
// its target topic with enough partitions, and reports the topology when it
// changed (or the spec did).
func (t *metaTask) discover(cl *clients) error {
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	td, err := cl.srcAdm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("listing source topics: %w", err)
	}
	t.r.mu.Lock()
	flow, version := t.r.flow, t.r.spec.SpecVersion
	t.r.mu.Unlock()
	var matched []string
	counts := map[string]int{}
	ids := map[string]string{}
	for name, d := range td {
		if d.Err != nil || d.IsInternal || !flow.CopiesTopic(name) {
			continue
		}
		matched = append(matched, name)
		counts[name] = len(d.Partitions)
		ids[name] = topicIDString(d.ID)
	}
	sort.Strings(matched)
	t.matched = matched
	name, account := t.r.labels()
	t.r.e.cfg.Metrics.topics.WithLabelValues(name, account).Set(float64(len(matched)))
	var fp strings.Builder
	for _, n := range matched {
		// The ID too: a topic deleted and created again with as many
		// partitions is a new topic to report.
		fmt.Fprintf(&fp, "%s:%d:%s,", n, counts[n], ids[n])
	}
	// Report first: partition jobs make sure of their own target topic, so
	// a source with many new topics starts copying without waiting for the
	// metadata job to create them all. Creating them here too (below)
	// copies their configs and grows partitions ahead of the jobs.
	if err := t.report(ctx, cl, fp.String(), version, matched, counts, ids); err != nil {
		return err
	}
	var errs []error
	for _, n := range matched {
		if t.ensured[n] >= counts[n] {
			continue
		}
		cctx, ccancel := context.WithTimeout(t.ctx, 10*time.Second)
		got, _, err := t.r.createTarget(cctx, cl, n, counts[n])
		ccancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("target topic for %s: %w", n, err))
			continue
		}
		t.ensured[n] = got
		t.r.topics.mu.Lock()
		if t.r.topics.done != nil {
			t.r.topics.done[n] = got
		}
		t.r.topics.mu.Unlock()
	}
	return errors.Join(errs...)
}

// minTopologyInterval is the least time between two reports of a changing
// topology under the same spec: each report makes the control plane
// apply the replicator's whole topology in the database every tenant
// shares, and how often the source changes is in the tenant's hands.
const minTopologyInterval = 2 * time.Second

// quotaRecheck is how often a topology the control plane took with a
// condition (a quota) is sent again while it does not change.
const quotaRecheck = 30 * time.Second

// report sends the topology when it changed (or the spec did).
func (t *metaTask) report(ctx context.Context, cl *clients, fp string, version int64, matched []string, counts map[string]int, ids map[string]string) error {
	if fp == t.fingerprint && version == t.reportedVersion && (t.reportAgainAt.IsZero() || time.Now().Before(t.reportAgainAt)) {
		return nil
	}
	if version == t.attemptVersion && time.Since(t.attemptAt) < minTopologyInterval {
		// Changed again soon after the last report (a tenant churning
		// its topics), or the last one failed (a topology over the body
		// limit): sent once the interval has passed, with whatever the
		// source holds then. Partition jobs check their topic's ID
		// themselves meanwhile.
		return nil
	}
	t.attemptAt, t.attemptVersion = time.Now(), version
	topics := make([]fleet.TopicInfo, 0, len(matched))
	if len(matched) > 0 {
		starts, err := cl.srcAdm.ListStartOffsets(ctx, matched...)
		if err != nil {
			return fmt.Errorf("listing source offsets: %w", err)
		}
		ends, err := cl.srcAdm.ListEndOffsets(ctx, matched...)
		if err != nil {
			return fmt.Errorf("listing source offsets: %w", err)
		}
		for _, n := range matched {
			ti := fleet.TopicInfo{Name: n, ID: ids[n]}
			for p := range int32(counts[n]) {
				s, _ := starts.Lookup(n, p)
				e, _ := ends.Lookup(n, p)
				ti.Partitions = append(ti.Partitions, fleet.PartitionInfo{Partition: p, Earliest: s.Offset, Latest: e.Offset})
			}
			topics = append(topics, ti)
		}
	}
	var cond *fleet.TopologyError
	if err := t.env.ReportTopology(ctx, version, topics); errors.As(err, &cond) {
		// Taken, with a condition (a quota the topics exceed) that the
		// worker reports for this job. The same topology is sent again
		// only now and then (the quota may have been raised), not at every
		// discovery.
		t.fingerprint, t.reportedVersion, t.reportAgainAt = fp, version, time.Now().Add(quotaRecheck)
		return nil
	} else if err != nil {
		return fmt.Errorf("reporting topology: %w", err)
	}
	t.env.Logger.Info("engine: topology reported", "topics", len(matched), "spec_version", version)
	t.fingerprint, t.reportedVersion, t.reportAgainAt = fp, version, time.Time{}
	return nil
}
