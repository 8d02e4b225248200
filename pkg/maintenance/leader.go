package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LeaderStore holds leader leases.
type LeaderStore interface {
	// TryLead takes or renews the leader lease of role for holder and
	// reports whether holder leads.
	TryLead(ctx context.Context, role, holder string, ttl time.Duration) (bool, error)
}

// leaderRole is the leader lease's role. Every version of the control
// plane takes the same one, so that replicas of two versions (a rolling
// upgrade) never lead at once.
const leaderRole = "scheduler"

// leader is the leader lease of this replica: taken or renewed at every
// tick, it is valid for a few ticks, so a replica that stops leads no more
// soon after.
type leader struct {
	store   LeaderStore
	id      string
	ttl     time.Duration
	log     *slog.Logger
	leading bool
	gauge   prometheus.Gauge
}

func newLeader(store LeaderStore, id string, ttl time.Duration, log *slog.Logger) *leader {
	return &leader{store: store, id: id, ttl: ttl, log: log,
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "replicator_scheduler_leader",
			Help: "1 if this control-plane replica holds the scheduler's leader lease."})}
}

// hold takes or renews the lease and reports whether this replica leads.
func (l *leader) hold(ctx context.Context) (bool, error) {
	lead, err := l.store.TryLead(ctx, leaderRole, l.id, l.ttl)
	if err != nil {
		return false, err
	}
	if lead != l.leading {
		l.log.Info("scheduler: leadership changed", "leader", lead, "replica", l.id)
		l.leading = lead
		l.gauge.Set(map[bool]float64{true: 1}[lead])
	}
	return lead, nil
}
