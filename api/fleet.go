package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// FleetStore is what the worker API and the status extension need from
// persistence. Its answers are the protocol's types (package fleet); its
// errors are domain errors (a lost lease is fleet.ErrLeaseLost, a
// conflict) or internal ones.
type FleetStore interface {
	Acquire(ctx context.Context, worker string, info map[string]string, max int, ttl time.Duration) ([]fleet.Lease, fleet.AcquireStats, error)
	Heartbeat(ctx context.Context, worker string, reports []fleet.JobReport, ttl time.Duration) (fleet.HeartbeatResult, error)
	Release(ctx context.Context, worker string, reports []fleet.JobReport, leaving bool) (int, error)
	ReportTopology(ctx context.Context, t fleet.Topology, q fleet.TopologyQuotas) (fleet.TopologyResult, error)
	ReplicatorSpec(ctx context.Context, id string) (*fleet.ReplicatorSpec, error)
	Workers(ctx context.Context, ttl time.Duration) ([]fleet.WorkerInfo, error)
	Jobs(ctx context.Context, replicatorID string) ([]fleet.JobStatus, error)
	Events(ctx context.Context, id string, limit int) ([]fleet.Event, error)
	MappingPoints(ctx context.Context, replicatorID string, perPartition int) ([]fleet.MappingPoint, error)
	Gauges(ctx context.Context, ttl time.Duration) (fleet.FleetGauges, error)
}

type fleetMetrics struct {
	granted, moved, heartbeats, renewals, released, shed, refused prometheus.Counter
}

func newFleetMetrics(reg prometheus.Registerer) *fleetMetrics {
	c := func(name, help string) prometheus.Counter {
		m := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		reg.MustRegister(m)
		return m
	}
	return &fleetMetrics{
		granted:    c("replicator_leases_granted_total", "Leases granted to workers."),
		moved:      c("replicator_leases_moved_total", "Leases granted to a worker other than the job's previous owner."),
		heartbeats: c("replicator_worker_heartbeats_total", "Worker heartbeat requests answered."),
		renewals:   c("replicator_lease_renewals_total", "Leases renewed by heartbeats."),
		released:   c("replicator_leases_released_total", "Leases released by workers (graceful stop, revoke)."),
		shed: c("replicator_worker_acquires_shed_total",
			"Acquire requests answered 503 (retry later) because the maximum of concurrent acquires was reached: load shed so that heartbeats are never starved."),
		refused: c("replicator_job_reports_refused_total",
			"Job reports in heartbeats refused as invalid (their leases count as lost; the other reports of the request are not affected)."),
	}
}

// mountFleet adds the internal worker API and the operator endpoints, all
// behind the worker token.
func (s *server) mountFleet(r chi.Router) {
	if s.Fleet == nil {
		return
	}
	s.fleetMetrics = newFleetMetrics(s.Registry)
	s.Registry.MustRegister(&fleetCollector{s: s})
	n := s.MaxConcurrentAcquires
	if n <= 0 {
		n = DefaultConcurrentAcquires
	}
	s.acquireSlots = make(chan struct{}, n)
	r.Group(func(r chi.Router) {
		r.Use(s.requireWorkerToken)
		r.Post("/internal/v1/acquire", s.internal(s.handleAcquire))
		r.Post("/internal/v1/heartbeat", s.internal(s.handleHeartbeat))
		r.Post("/internal/v1/release", s.internal(s.handleRelease))
		r.Post("/internal/v1/topology", s.internalLimit(maxTopologyBytes, s.handleTopology))
		r.Get("/internal/v1/replicators/{id}", s.internal(s.handleSpec))
		r.Get("/internal/v1/replicators/{id}/mappings", s.internal(s.handleMappings))
		r.Get("/v1/workers", s.internal(s.handleWorkers))
	})
}

// requireWorkerToken checks the bearer token in constant time. With no
// token configured the worker API is closed.
func (s *server) requireWorkerToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || s.WorkerToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.WorkerToken)) != 1 {
			// Read the body (bounded) as the AWS operations do: answering
			// before it is read and then closing the connection (the client
			// asked to, or the body is over 256 KiB) resets the connection
			// under a client still sending, which then never sees the 401.
			_, _ = readBody(w, r)
			writeError(w, r, s.Logger, &replicator.Error{Kind: replicator.KindUnauthorized, Message: "a valid worker token is required"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// internal adapts a worker-API handler: body limit, decode, error mapping.
func (s *server) internal(h func(w http.ResponseWriter, r *http.Request, body []byte) error) http.HandlerFunc {
	return s.internalLimit(maxBodyBytes, h)
}

// maxTopologyBytes bounds a topology report: a replicator's matched topics
// and partitions (about 60 bytes a partition) do not fit the 1 MiB of the
// other requests once they number tens of thousands, and the quotas can
// only be applied to a report that is read.
const maxTopologyBytes = 32 << 20

// internalLimit is internal with a body limit of limit bytes.
func (s *server) internalLimit(limit int64, h func(w http.ResponseWriter, r *http.Request, body []byte) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				err = replicator.Invalid("body", "the request body is larger than %d bytes", limit)
			} else {
				err = replicator.Invalid("body", "the request body could not be read")
			}
		}
		if err == nil {
			err = h(w, r, body)
		}
		if err != nil {
			writeError(w, r, s.Logger, err)
		}
	}
}

// DefaultConcurrentAcquires is how many acquires the worker API serves at
// once by default (half of the store's default pool). An acquire looks at
// every job; a few at a time keep PostgreSQL busy, and more only queue in
// it beside the heartbeats.
const DefaultConcurrentAcquires = 8

// shedRetryAfter is what a shed acquire is told to wait.
const shedRetryAfter = time.Second

// acquireQueueWait is how long an acquire may wait for a free slot before
// it is shed: a burst queues briefly instead of sending most workers away
// for a second, and the queue stays short.
const acquireQueueWait = 250 * time.Millisecond

// admitAcquire takes an acquire slot, waiting at most acquireQueueWait.
func (s *server) admitAcquire(ctx context.Context) bool {
	select {
	case s.acquireSlots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(acquireQueueWait)
	defer t.Stop()
	select {
	case s.acquireSlots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// shed answers an acquire that is over the admission limit: a retryable
// 503 ServiceUnavailableException with Retry-After, at once and without a
// log line (the metric counts them).
func (s *server) shed(w http.ResponseWriter) {
	s.fleetMetrics.shed.Inc()
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(int(shedRetryAfter/time.Second)))
	h.Set("X-Amzn-ErrorType", "ServiceUnavailableException")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(errorBody{Message: "too many acquire requests at once; retry after the time in Retry-After"})
}

func validWorkerID(id string) error {
	if id == "" || !printable(id) || utf8.RuneCountInString(id) > 200 {
		return replicator.Invalid("workerId", "workerId must be 1 to 200 printable characters")
	}
	return nil
}

func (s *server) handleAcquire(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req fleet.AcquireRequest
	if err := decode(r, body, &req); err != nil {
		return err
	}
	if err := validWorkerID(req.WorkerID); err != nil {
		return err
	}
	// Admission: a bounded number of acquires at once; one that finds no
	// free slot within acquireQueueWait is shed (heartbeats are never
	// limited).
	if !s.admitAcquire(r.Context()) {
		s.shed(w)
		return nil
	}
	defer func() { <-s.acquireSlots }()
	leases, stats, err := s.Fleet.Acquire(r.Context(), req.WorkerID, req.Info, req.Max, s.LeaseTTL)
	if err != nil {
		return err
	}
	s.fleetMetrics.granted.Add(float64(stats.Granted))
	s.fleetMetrics.moved.Add(float64(stats.Moved))
	if leases == nil {
		leases = []fleet.Lease{}
	}
	encode(w, http.StatusOK, fleet.AcquireResponse{Leases: leases, LeaseTTLMillis: s.LeaseTTL.Milliseconds()})
	return nil
}

func (s *server) handleHeartbeat(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req fleet.HeartbeatRequest
	if err := decode(r, body, &req); err != nil {
		return err
	}
	if err := validWorkerID(req.WorkerID); err != nil {
		return err
	}
	res, err := s.Fleet.Heartbeat(r.Context(), req.WorkerID, req.Jobs, s.LeaseTTL)
	if err != nil {
		return err
	}
	if len(res.Refused) > 0 {
		s.fleetMetrics.refused.Add(float64(len(res.Refused)))
		for id, why := range res.Refused {
			s.Logger.Warn("api: job reports refused; their leases count as lost", "worker", req.WorkerID,
				"reports", len(res.Refused), "job", id, "reason", why)
			break
		}
	}
	s.fleetMetrics.heartbeats.Inc()
	s.fleetMetrics.renewals.Add(float64(len(res.Renewed)))
	encode(w, http.StatusOK, fleet.HeartbeatResponse{Renewed: res.Renewed, Lost: res.Lost, Revoke: res.Revoke,
		SpecVersions: res.SpecVersions, LeaseTTLMillis: s.LeaseTTL.Milliseconds()})
	return nil
}

func (s *server) handleRelease(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req fleet.ReleaseRequest
	if err := decode(r, body, &req); err != nil {
		return err
	}
	if err := validWorkerID(req.WorkerID); err != nil {
		return err
	}
	n, err := s.Fleet.Release(r.Context(), req.WorkerID, req.Jobs, req.Leaving)
	if err != nil {
		return err
	}
	s.fleetMetrics.released.Add(float64(n))
	encode(w, http.StatusOK, map[string]int{"released": n})
	return nil
}

// maxTopicName is Kafka's limit on topic names. Longer names cannot come
// from a source cluster, and PostgreSQL cannot index them (a btree entry
// is at most about 2.7 kB).
const maxTopicName = 249

// maxTopicID bounds topic IDs (Kafka's are 22 characters of base64).
const maxTopicID = 64

func validTopology(t *fleet.Topology) error {
	for _, ti := range t.Topics {
		if ti.Name == "" || len(ti.Name) > maxTopicName {
			return replicator.Invalid("topics.name", "topic names must be 1 to %d characters", maxTopicName)
		}
		if len(ti.ID) > maxTopicID {
			return replicator.Invalid("topics.id", "topic IDs must be at most %d characters", maxTopicID)
		}
		for _, p := range ti.Partitions {
			if p.Partition < 0 {
				return replicator.Invalid("topics.partitions.partition", "partition numbers must not be negative")
			}
		}
	}
	return nil
}

func (s *server) handleTopology(w http.ResponseWriter, r *http.Request, body []byte) error {
	var t fleet.Topology
	if err := decode(r, body, &t); err != nil {
		return err
	}
	if err := validWorkerID(t.WorkerID); err != nil {
		return err
	}
	if err := validTopology(&t); err != nil {
		return err
	}
	// A lost lease is fleet.ErrLeaseLost: a ConflictException for jobId.
	res, err := s.Fleet.ReportTopology(r.Context(), t, fleet.TopologyQuotas{
		Topics: s.QuotaTopics, Partitions: s.QuotaPartitions, AccountPartitions: s.QuotaAccountPartitions})
	if err != nil {
		return err
	}
	if res.Added+res.Removed > 0 {
		s.Logger.Info("api: topology changed", "job", t.JobID, "partitions_added", res.Added, "partitions_removed", res.Removed)
	}
	if len(res.Recreated) > 0 {
		s.Logger.Warn("api: source topics were deleted and created again; copying them anew from their earliest offsets",
			"job", t.JobID, "topics", res.Recreated)
	}
	if res.Error != nil {
		s.Logger.Info("api: topology over quota", "job", t.JobID, "code", res.Error.Code, "message", res.Error.Message)
	}
	encode(w, http.StatusOK, fleet.TopologyResponse{Added: res.Added, Removed: res.Removed, Error: res.Error})
	return nil
}

// replicatorID returns the {id} path parameter, a replicator ID: a UUID in
// its canonical form (anything else is not one, and PostgreSQL refuses to
// compare it with one).
func replicatorID(r *http.Request) (string, error) {
	id := chi.URLParam(r, "id")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return "", replicator.Invalid("id", "id must be a replicator ID (a UUID)")
	}
	return id, nil
}

func (s *server) handleSpec(w http.ResponseWriter, r *http.Request, _ []byte) error {
	id, err := replicatorID(r)
	if err != nil {
		return err
	}
	spec, err := s.Fleet.ReplicatorSpec(r.Context(), id)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, spec)
	return nil
}

func (s *server) handleMappings(w http.ResponseWriter, r *http.Request, _ []byte) error {
	id, err := replicatorID(r)
	if err != nil {
		return err
	}
	points, err := s.Fleet.MappingPoints(r.Context(), id, 64)
	if err != nil {
		return err
	}
	if points == nil {
		points = []fleet.MappingPoint{}
	}
	encode(w, http.StatusOK, fleet.MappingsResponse{Points: points})
	return nil
}

func (s *server) handleWorkers(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ws, err := s.Fleet.Workers(r.Context(), s.LeaseTTL)
	if err != nil {
		return err
	}
	if ws == nil {
		ws = []fleet.WorkerInfo{}
	}
	encode(w, http.StatusOK, map[string]any{"workers": ws})
	return nil
}

// fleetCollector exports, at scrape time, each live worker's heartbeat age
// and each replicator's lag as the workers last reported it. Every serve
// replica reports the same figures: they come from the database.
type fleetCollector struct{ s *server }

var (
	heartbeatAgeDesc = prometheus.NewDesc("replicator_worker_heartbeat_age_seconds",
		"Seconds since each live worker was last heard from.", []string{"worker"}, nil)
	fleetLagDesc = prometheus.NewDesc("replicator_fleet_message_lag",
		"Records each replicator is behind its sources, summed over its partitions as the workers last reported (MessageLag).",
		[]string{"replicator", "account"}, nil)
)

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- heartbeatAgeDesc
	ch <- fleetLagDesc
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	g, err := c.s.Fleet.Gauges(ctx, c.s.LeaseTTL)
	if err != nil {
		c.s.Logger.Warn("api: fleet gauges unavailable", "err", err)
		return
	}
	for w, age := range g.HeartbeatAge {
		ch <- prometheus.MustNewConstMetric(heartbeatAgeDesc, prometheus.GaugeValue, age, w)
	}
	for _, l := range g.Lag {
		ch <- prometheus.MustNewConstMetric(fleetLagDesc, prometheus.GaugeValue, float64(l.Lag), l.Name, l.AccountID)
	}
}
