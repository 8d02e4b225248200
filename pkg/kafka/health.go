// Cluster health and lag: the checks whose failures become every job's
// error, and the per-topic lag against the source's log end.

package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// watchHealth pings both clusters every second; a cluster that cannot be
// reached or refuses authentication becomes the error of every job.
func (r *replication) watchHealth(cl *clients) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		name, account := r.labels()
		for _, side := range []struct {
			ep   endpoint
			adm  *kgo.Client
			slot **fleet.JobError
			what string
		}{{r.src, cl.srcAdmCl, &r.srcErr, "Source"}, {r.dst, cl.dstAdmCl, &r.dstErr, "Target"}} {
			ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
			err := side.adm.Ping(ctx)
			if err == nil {
				// A metadata request proves authentication too.
				_, err = kadm.NewClient(side.adm).BrokerMetadata(ctx)
			}
			cancel()
			if r.ctx.Err() != nil {
				return
			}
			r.e.cfg.Metrics.ping(name, account, side.ep.alias, err == nil)
			r.mu.Lock()
			if err == nil {
				if *side.slot != nil {
					r.log.Info("engine: cluster reachable again", "cluster", side.ep.alias)
				}
				*side.slot = nil
			} else {
				code, msg, class := classify(side.what, side.ep, err)
				if code == side.what+"AuthenticationFailed" {
					r.e.cfg.Metrics.authError(name, account, side.ep.alias)
				}
				r.e.cfg.Metrics.connectionError(name, account, side.ep.alias, class)
				if *side.slot == nil {
					r.log.Warn("engine: cluster check failed", "cluster", side.ep.alias, "code", code, "class", class, "err", err)
				}
				*side.slot = &fleet.JobError{Code: code, Message: msg, Since: sinceOr(*side.slot)}
			}
			r.mu.Unlock()
		}
		r.refreshLag(cl, name, account)
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshLag reads the source's end offsets of the partitions this worker
// copies, so that lag is measured against the log's real end and not only
// the high watermark of the last fetch (which is stale while fetches are
// slow), and exports the per-topic lag.
func (r *replication) refreshLag(cl *clients, name, account string) {
	r.mu.Lock()
	parts := make([]*partState, 0, len(r.parts))
	topics := map[string]bool{}
	for _, st := range r.parts {
		parts = append(parts, st)
		topics[st.topic] = true
	}
	r.mu.Unlock()
	if len(parts) == 0 {
		return
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	// The source topics' identities: franz-go stops fetching a topic that
	// was deleted and created again without saying so (or with
	// UNKNOWN_TOPIC_ID errors), so they are compared here too.
	if td, err := cl.srcAdm.ListTopics(ctx, names...); err == nil {
		for _, n := range names {
			if d, ok := td[n]; ok && d.Err == nil {
				if id := topicIDString(d.ID); r.idChanged(n, id) {
					r.post(func(cl *clients) { r.applySourceID(cl, n, id) })
				}
			}
		}
	}
	ends, err := cl.srcAdm.ListEndOffsets(ctx, names...)
	if err != nil {
		return
	}
	lag := map[string]int64{}
	for _, st := range parts {
		st.mu.Lock()
		if e, ok := ends.Lookup(st.topic, st.partition); ok && e.Err == nil && e.Offset > st.hwm {
			st.hwm = e.Offset
		}
		lag[st.topic] += st.lagLocked()
		st.mu.Unlock()
	}
	for t, l := range lag {
		r.e.cfg.Metrics.setLag(name, account, t, l)
	}
}

// classify turns a connection error into a stateInfo code, a message that
// names the cluster and its brokers but neither a secret nor the raw error,
// and the error's class for the connection-errors metric. The raw error
// would tell a tenant a closed port from a web server or a database on the
// workers' network; it goes to the log only.
func classify(side string, ep endpoint, err error) (code, msg, class string) {
	authish := errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism) || strings.Contains(err.Error(), "SASL")
	if !authish && ep.auth != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		// A broker closes the connection on a bad password.
		authish = true
	}
	where := fmt.Sprintf("%s cluster %s (%s)", strings.ToLower(side), ep.alias, strings.Join(ep.brokers, ","))
	if authish {
		return side + "AuthenticationFailed", "authentication to the " + where + " was refused", "auth"
	}
	return side + "Unreachable", "cannot connect to the " + where, connClass(err)
}
