package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

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

type aclEntry struct {
	principal, host, topic string
	op                     kadm.ACLOperation
	perm                   string
}

func (a aclEntry) key() string {
	return strings.Join([]string{a.principal, a.host, a.topic, a.op.String(), a.perm}, "|")
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

// sync runs the periodic metadata synchronisations the spec asks for.
func (t *metaTask) sync(cl *clients) {
	t.r.mu.Lock()
	ri := t.r.spec.Spec.ReplicationInfo[0]
	flow := t.r.flow
	t.r.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.ctx, 15*time.Second)
	defer cancel()
	if ri.Topics.CopyTopicConfigurations {
		if err := t.syncConfigs(ctx, cl, flow); err != nil && ctx.Err() == nil {
			t.fail("TopicConfigSyncFailed", err)
		}
	}
	if ri.Topics.CopyAccessControlListsForTopics {
		if err := t.syncACLs(ctx, cl, flow); err != nil && ctx.Err() == nil {
			t.fail("AclSyncFailed", err)
		}
	}
	if ri.Groups.SynchroniseConsumerGroupOffsets {
		if err := t.syncGroups(ctx, cl, flow, ri.Groups.DetectAndCopyNewConsumerGroups); err != nil && ctx.Err() == nil {
			name, account := t.r.labels()
			t.r.e.cfg.Metrics.groupFailures.WithLabelValues(name, account).Inc()
			t.env.Logger.Warn("engine: consumer group offset sync failed", "err", err)
		}
	}
}

// syncConfigs sets on each target topic the configs its source sets
// explicitly, and removes keys this job set earlier that the source no
// longer sets. Other target overrides are left alone.
func (t *metaTask) syncConfigs(ctx context.Context, cl *clients, flow *Flow) error {
	if len(t.matched) == 0 {
		return nil
	}
	src, err := cl.srcAdm.DescribeTopicConfigs(ctx, t.matched...)
	if err != nil {
		return err
	}
	targets := make([]string, len(t.matched))
	for i, n := range t.matched {
		targets[i] = flow.TargetTopic(n)
	}
	dst, err := cl.dstAdm.DescribeTopicConfigs(ctx, targets...)
	if err != nil {
		return err
	}
	current := map[string]map[string]string{}
	for _, rc := range dst {
		if rc.Err != nil {
			// Missing (deleted): its partition jobs create it again,
			// with the source's configs.
			continue
		}
		m := map[string]string{}
		for _, c := range rc.Configs {
			if c.Source == 1 && c.Value != nil {
				m[c.Key] = *c.Value
			}
		}
		current[rc.Name] = m
	}
	for _, rc := range src {
		if rc.Err != nil {
			continue
		}
		target := flow.TargetTopic(rc.Name)
		cur, ok := current[target]
		if !ok {
			continue
		}
		want := map[string]string{}
		for _, c := range rc.Configs {
			if c.Source == 1 && c.Value != nil && CopiesConfig(c.Key) {
				want[c.Key] = *c.Value
			}
		}
		mine := t.setConfigs[target]
		if mine == nil {
			mine = map[string]bool{}
			t.setConfigs[target] = mine
		}
		var ops []kadm.AlterConfig
		for k, v := range want {
			if cv, ok := cur[k]; !ok || cv != v {
				ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
			} else {
				// Equal to the source (copied when the topic was
				// created): the service manages this key.
				mine[k] = true
			}
		}
		for k := range mine {
			if _, still := want[k]; !still {
				if _, there := cur[k]; there {
					ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
				}
				delete(mine, k)
			}
		}
		if len(ops) == 0 {
			continue
		}
		resp, err := cl.dstAdm.AlterTopicConfigs(ctx, ops, target)
		if err != nil {
			return err
		}
		for _, r := range resp {
			if r.Err != nil {
				return fmt.Errorf("configs of %s: %w (%s)", target, r.Err, r.ErrMessage)
			}
		}
		for _, op := range ops {
			if op.Op == kadm.SetConfig {
				mine[op.Name] = true
			}
		}
		t.env.Logger.Info("engine: topic configs synced", "topic", target, "changes", len(ops))
	}
	return nil
}

// syncACLs copies LITERAL topic ACLs of replicated topics to their target
// topics, never ALLOW WRITE, and deletes target ACLs this job created
// whose source ACL disappeared.
func (t *metaTask) syncACLs(ctx context.Context, cl *clients, flow *Flow) error {
	all := kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().
		Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	srcRes, err := cl.srcAdm.DescribeACLs(ctx, all)
	if err != nil {
		return err
	}
	want := map[string]aclEntry{}
	for _, res := range srcRes {
		if res.Err != nil {
			return res.Err
		}
		for _, d := range res.Described {
			if d.Type.String() != "TOPIC" || d.Pattern != kadm.ACLPatternLiteral || !flow.CopiesTopic(d.Name) {
				continue
			}
			perm := d.Permission.String()
			if perm == "ALLOW" && d.Operation == kadm.OpWrite {
				continue // producers must not write to replicated topics
			}
			e := aclEntry{principal: d.Principal, host: d.Host, topic: flow.TargetTopic(d.Name), op: d.Operation, perm: perm}
			want[e.key()] = e
		}
	}
	dstRes, err := cl.dstAdm.DescribeACLs(ctx, all)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, res := range dstRes {
		for _, d := range res.Described {
			if d.Type.String() == "TOPIC" && d.Pattern == kadm.ACLPatternLiteral {
				have[aclEntry{principal: d.Principal, host: d.Host, topic: d.Name, op: d.Operation, perm: d.Permission.String()}.key()] = true
			}
		}
	}
	for k, e := range want {
		if have[k] {
			t.createdACLs[k] = e
			continue
		}
		if _, err := cl.dstAdm.CreateACLs(ctx, aclBuilder(e)); err != nil {
			return err
		}
		t.createdACLs[k] = e
		t.env.Logger.Info("engine: ACL copied", "topic", e.topic, "principal", e.principal, "operation", e.op.String(), "permission", e.perm)
	}
	for k, e := range t.createdACLs {
		if _, ok := want[k]; ok {
			continue
		}
		if have[k] {
			if _, err := cl.dstAdm.DeleteACLs(ctx, aclBuilder(e)); err != nil {
				return err
			}
			t.env.Logger.Info("engine: ACL removed", "topic", e.topic, "principal", e.principal, "operation", e.op.String())
		}
		delete(t.createdACLs, k)
	}
	return nil
}

func aclBuilder(e aclEntry) *kadm.ACLBuilder {
	b := kadm.NewACLs().Topics(e.topic).ResourcePatternType(kadm.ACLPatternLiteral).Operations(e.op)
	if e.perm == "DENY" {
		return b.Deny(e.principal).DenyHosts(e.host)
	}
	return b.Allow(e.principal).AllowHosts(e.host)
}

// syncGroups translates the committed offsets of matching source groups
// through the mapping points and commits them on the target for groups
// with no active members there. It never moves a target offset backwards.
func (t *metaTask) syncGroups(ctx context.Context, cl *clients, flow *Flow, detectNew bool) error {
	listed, err := cl.srcAdm.ListGroups(ctx)
	if err != nil {
		return err
	}
	var groups []string
	first := t.knownGroups == nil
	if first {
		t.knownGroups = map[string]bool{}
	}
	for _, g := range listed.Groups() {
		if !flow.CopiesGroup(g) {
			continue
		}
		if first {
			t.knownGroups[g] = true
		}
		if !detectNew && !t.knownGroups[g] {
			continue
		}
		groups = append(groups, g)
	}
	name, account := t.r.labels()
	t.r.e.cfg.Metrics.groups.WithLabelValues(name, account).Set(float64(len(groups)))
	if len(groups) == 0 || t.r.e.cfg.Checkpoints == nil {
		return nil
	}
	points, err := t.r.e.cfg.Checkpoints(ctx, t.r.id)
	if err != nil {
		return err
	}
	// The target topics as they are now: their IDs (points of an earlier
	// topic of the same name count in other offsets) and their logs' start
	// and end (a group is never moved outside them).
	var targetNames []string
	seen := map[string]bool{}
	for _, p := range points {
		if n := flow.TargetTopic(p.Topic); !seen[n] {
			seen[n] = true
			targetNames = append(targetNames, n)
		}
	}
	var ids map[string]string
	var starts, ends kadm.ListedOffsets
	if len(targetNames) > 0 {
		td, err := cl.dstAdm.ListTopics(ctx, targetNames...)
		if err != nil {
			return err
		}
		ids = map[string]string{}
		for n, d := range td {
			if d.Err == nil && d.ID != (kadm.TopicID{}) {
				ids[n] = d.ID.String()
			}
		}
		if starts, err = cl.dstAdm.ListStartOffsets(ctx, targetNames...); err != nil {
			return err
		}
		if ends, err = cl.dstAdm.ListEndOffsets(ctx, targetNames...); err != nil {
			return err
		}
	}
	byTP := map[tp][]fleet.MappingPoint{}
	for _, p := range points {
		if id := ids[flow.TargetTopic(p.Topic)]; p.TargetTopicID != "" && id != "" && p.TargetTopicID != id {
			continue // counts in a target topic deleted since
		}
		byTP[tp{p.Topic, p.Partition}] = append(byTP[tp{p.Topic, p.Partition}], p)
	}
	for k := range byTP {
		slices.SortFunc(byTP[k], func(a, b fleet.MappingPoint) int { return int(b.SourceOffset - a.SourceOffset) })
	}
	bounds := func(topic string, p int32) (start, end int64, ok bool) {
		s, ok1 := starts.Lookup(topic, p)
		e, ok2 := ends.Lookup(topic, p)
		if !ok1 || !ok2 || s.Err != nil || e.Err != nil {
			return 0, 0, false
		}
		return s.Offset, e.Offset, true
	}
	described, err := cl.dstAdm.DescribeGroups(ctx, groups...)
	if err != nil {
		return err
	}
	fetched := cl.srcAdm.FetchManyOffsets(ctx, groups...)
	var errs []error
	for _, g := range groups {
		if d, ok := described[g]; ok && d.Err == nil && len(d.Members) > 0 {
			continue // consumers are active on the target: leave the group alone
		}
		src := fetched[g]
		if src.Err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g, src.Err))
			continue
		}
		type cand struct {
			topic     string
			partition int32
			at        int64
			ok        bool
		}
		var cands []cand
		src.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 || !flow.CopiesTopic(o.Topic) {
				return
			}
			at, ok := Translate(byTP[tp{o.Topic, o.Partition}], o.At)
			cands = append(cands, cand{flow.TargetTopic(o.Topic), o.Partition, at, ok})
		})
		if len(cands) == 0 {
			continue
		}
		cur, curErr := cl.dstAdm.FetchOffsets(ctx, g)
		out := kadm.Offsets{}
		for _, c := range cands {
			var now syncPos
			if curErr == nil {
				if o, ok := cur.Lookup(c.topic, c.partition); ok && o.Err == nil && o.At >= 0 {
					now.cur, now.haveCur = o.At, true
				}
			}
			now.start, now.end, now.haveBounds = bounds(c.topic, c.partition)
			now.translated, now.haveTranslation = c.at, c.ok
			if at, ok := now.next(); ok {
				out.Add(kadm.Offset{Topic: c.topic, Partition: c.partition, At: at, LeaderEpoch: -1})
			}
		}
		if len(out) == 0 {
			continue
		}
		resp, err := cl.dstAdm.CommitOffsets(ctx, g, out)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g, err))
		}
	}
	return errors.Join(errs...)
}

// Translate maps a committed source offset to a target offset through
// the partition's mapping points (newest first): the target offset of the
// newest point whose source offset is at most s. Exact when s is a mapping
// point (a caught-up group); otherwise it re-reads, never skips.
func Translate(points []fleet.MappingPoint, s int64) (int64, bool) {
	for _, p := range points {
		if p.SourceOffset <= s {
			return p.TargetOffset, true
		}
	}
	return 0, false
}

// syncPos is what the group offset sync knows of one partition of a group
// on the target.
type syncPos struct {
	translated      int64 // the group's source offset, translated
	haveTranslation bool
	cur             int64 // the group's offset on the target now
	haveCur         bool
	start, end      int64 // the target partition's log
	haveBounds      bool
}

// next decides the group's new target offset, or ok=false to leave it. A
// translation is kept inside the target's log; an offset never moves
// backwards, except one beyond the log's end, which was committed for an
// earlier target topic of the same name (deleted since): it moves to the
// translation, or to the log's start when there is none yet (re-reading,
// never skipping).
func (p syncPos) next() (int64, bool) {
	at := p.translated
	if p.haveBounds {
		at = max(p.start, min(at, p.end))
	}
	switch {
	case p.haveCur && p.haveBounds && p.cur > p.end:
		if !p.haveTranslation {
			return p.start, true
		}
		return at, true
	case !p.haveTranslation:
		return 0, false
	case p.haveCur && p.cur >= at:
		return 0, false
	}
	return at, true
}
