// The engine's Prometheus metrics.

package kafka

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Metrics are the engine's Prometheus metrics, each standing for the MSK
// CloudWatch metric named in its help text. Labels: replicator (name),
// account, and topic or cluster_alias where MSK has that dimension; never
// a partition (per-partition figures are in the status endpoint).
type Metrics struct {
	latency        *prometheus.GaugeVec
	lag            *prometheus.GaugeVec
	replicatedB    *prometheus.CounterVec
	records        *prometheus.CounterVec
	bytesInTotal   *prometheus.CounterVec
	failures       *prometheus.CounterVec
	replicatorFail *prometheus.CounterVec
	auth           *prometheus.CounterVec
	throttle       *prometheus.GaugeVec
	pingOK         *prometheus.GaugeVec
	groups         *prometheus.GaugeVec
	groupFailures  *prometheus.CounterVec
	topics         *prometheus.GaugeVec
	connErrors     *prometheus.CounterVec
}

// NewMetrics registers the engine's metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	rt := []string{"replicator", "account", "topic"}
	ra := []string{"replicator", "account"}
	rc := []string{"replicator", "account", "cluster_alias"}
	m := &Metrics{
		latency: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "replicator_replication_latency_seconds",
			Help: "ReplicationLatency: time from the record's timestamp at the source to its acknowledgement by the target (last record)."}, rt),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "replicator_message_lag",
			Help: "MessageLag: records the replicator is behind the source's high watermark, summed over the topic's partitions on this worker."}, rt),
		replicatedB: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_replicated_bytes_total",
			Help: "ReplicatorThroughput (as a rate): key and value bytes written to the target."}, rt),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_replicated_records_total",
			Help: "Records written to the target."}, rt),
		bytesInTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_bytes_in_total",
			Help: "ReplicatorBytesInPerSec (as a rate): key and value bytes read from the source, including records not copied (loop prevention)."}, ra),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_replication_failures_total",
			Help: "ReplicationFailures: records the target refused (size, timestamp, batch); they are retried."}, ra),
		replicatorFail: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_failures_total",
			Help: "ReplicatorFailure: failures of the replicator's jobs (connections, topic creation, metadata sync)."}, ra),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_auth_errors_total",
			Help: "AuthError: connection checks refused by the cluster's authentication."}, rc),
		throttle: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "replicator_throttle_time_seconds",
			Help: "ThrottleTime: the last throttle time a broker of the cluster imposed on the replicator."}, rc),
		pingOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "replicator_cluster_ping_success",
			Help: "KafkaClusterPingSuccessCount: 1 if the last connection check of the cluster succeeded, 0 if not."}, rc),
		groups: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "replicator_consumer_groups",
			Help: "ConsumerGroupCount: consumer groups whose offsets are being synchronised."}, ra),
		groupFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_consumer_group_offset_sync_failures_total",
			Help: "ConsumerGroupOffsetSyncFailure: group offset synchronisations that failed."}, ra),
		topics: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "replicator_topics",
			Help: "TopicCount: source topics being replicated."}, ra),
		connErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_cluster_connection_errors_total",
			Help: "Failed connection checks of a cluster by class: refused, timeout, dns, tls, denied (the destination policy), auth, other (for operators; tenants see a generic message)."},
			append(append([]string{}, rc...), "class")),
	}
	if reg != nil {
		reg.MustRegister(m.latency, m.lag, m.replicatedB, m.records, m.bytesInTotal, m.failures, m.replicatorFail,
			m.auth, m.throttle, m.pingOK, m.groups, m.groupFailures, m.topics, m.connErrors)
	}
	return m
}

// forget deletes every series of a replicator, when its last job on this
// worker ends: a deleted replicator (or one whose jobs moved to other
// workers) leaves no series behind here.
func (m *Metrics) forget(name, account string) {
	l := prometheus.Labels{"replicator": name, "account": account}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.latency, m.lag, m.replicatedB, m.records, m.bytesInTotal, m.failures, m.replicatorFail,
		m.auth, m.throttle, m.pingOK, m.groups, m.groupFailures, m.topics, m.connErrors} {
		v.DeletePartialMatch(l)
	}
}

func (m *Metrics) connectionError(name, account, alias, class string) {
	m.connErrors.WithLabelValues(name, account, alias, class).Inc()
}

func (m *Metrics) replicated(name, account, topic string, size int64, lat time.Duration) {
	m.replicatedB.WithLabelValues(name, account, topic).Add(float64(size))
	m.records.WithLabelValues(name, account, topic).Inc()
	m.latency.WithLabelValues(name, account, topic).Set(lat.Seconds())
}

func (m *Metrics) bytesIn(name, account string, n int64) {
	m.bytesInTotal.WithLabelValues(name, account).Add(float64(n))
}

func (m *Metrics) replicationFailure(name, account string) {
	m.failures.WithLabelValues(name, account).Inc()
}

func (m *Metrics) failure(name, account string) {
	m.replicatorFail.WithLabelValues(name, account).Inc()
}

func (m *Metrics) authError(name, account, alias string) {
	m.auth.WithLabelValues(name, account, alias).Inc()
}

func (m *Metrics) ping(name, account, alias string, ok bool) {
	v := 0.0
	if ok {
		v = 1
	}
	m.pingOK.WithLabelValues(name, account, alias).Set(v)
}

func (m *Metrics) setLag(name, account, topic string, lag int64) {
	m.lag.WithLabelValues(name, account, topic).Set(float64(lag))
}

// hooks returns a constructor of kgo hooks that record broker throttling
// for a cluster.
func (m *Metrics) hooks(name, account string) func(alias string) kgo.Hook {
	return func(alias string) kgo.Hook { return throttleHook{m: m, name: name, account: account, alias: alias} }
}

type throttleHook struct {
	m                    *Metrics
	name, account, alias string
}

// OnBrokerThrottle implements kgo.HookBrokerThrottle.
func (h throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	h.m.throttle.WithLabelValues(h.name, h.account, h.alias).Set(d.Seconds())
}
