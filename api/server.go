package api

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// Store is what the API needs from persistence.
type Store interface {
	// CreateReplicatorWithinQuota stores a new replicator unless its
	// account already holds quota replicators (0: no limit).
	CreateReplicatorWithinQuota(ctx context.Context, r *replicator.Replicator, quota int) error
	GetReplicator(ctx context.Context, account, arn string) (*replicator.Replicator, error)
	ListReplicators(ctx context.Context, account, prefix, after string, limit int) ([]*replicator.Replicator, error)
	UpdateReplicator(ctx context.Context, account, arn, version, newVersion string, fn func(*replicator.Replicator) error) (*replicator.Replicator, error)
	DeleteReplicator(ctx context.Context, account, arn, version string) (*replicator.Replicator, error)
	TagResource(ctx context.Context, account, arn string, tags map[string]string) error
	UntagResource(ctx context.Context, account, arn string, keys []string) error
	ListTags(ctx context.Context, account, arn string) (map[string]string, error)
	Ping(ctx context.Context) error
}

// Authenticator checks a request's signature and returns the account of the
// caller. Failures are *replicator.Error of KindUnauthorized.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (account string, err error)
}

// ClusterCatalog resolves MSK cluster ARNs to connection settings; the API
// only asks whether an ARN is known to the calling account (another
// account's cluster is not known).
type ClusterCatalog interface {
	HasCluster(account, arn string) bool
}

// SecretChecker reports whether a secret ARN resolves for the calling
// account (another account's secret does not); the secret itself never
// reaches the API.
type SecretChecker interface {
	CheckSecret(ctx context.Context, account, arn string) error
}

// DestinationPolicy checks a bootstrap broker (host:port) against the
// operator's allowed and denied destinations; an error refuses it.
type DestinationPolicy interface {
	Check(ctx context.Context, hostport string) error
}

// Config holds the server's dependencies.
type Config struct {
	Region  string
	Store   Store
	Auth    Authenticator
	Catalog ClusterCatalog // nil: no MSK cluster is known
	Secrets SecretChecker  // nil: no secret resolves
	// Destinations checks the bootstrap brokers of apacheKafkaCluster
	// members at Create (nil: any host:port).
	Destinations DestinationPolicy
	Logger       *slog.Logger
	Registry     *prometheus.Registry // nil: a private one

	// Fleet enables the internal worker API, GET /v1/workers and the
	// status extension; nil leaves them out.
	Fleet FleetStore
	// WorkerToken is the bearer token of the worker API ("" closes it).
	WorkerToken string
	// LeaseTTL is the lease time-to-live granted to workers.
	LeaseTTL time.Duration

	// Quotas (0: no limit). QuotaReplicators bounds the replicators of an
	// account (checked at Create); QuotaTopics and QuotaPartitions bound the
	// topics and partitions one replicator copies, QuotaAccountPartitions
	// the partitions of all an account's replicators (checked when discovery
	// reports the source's topics).
	QuotaReplicators       int
	QuotaTopics            int
	QuotaPartitions        int
	QuotaAccountPartitions int

	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken string
	// SeparateMetrics leaves /metrics out of this handler: the operator
	// serves it on its own listener (REPLICATOR_METRICS_LISTEN_ADDR).
	SeparateMetrics bool
	// MaxConcurrentAcquires bounds the acquire requests the worker API
	// serves at once; one that waits for a slot longer than a quarter of a
	// second is answered with a retryable 503 (Retry-After), so that
	// acquires never starve heartbeats (0: 8).
	MaxConcurrentAcquires int
}

type server struct {
	Config
	metrics      *apiMetrics
	fleetMetrics *fleetMetrics
	acquireSlots chan struct{} // admission of acquires (see MaxConcurrentAcquires)
}

// NewServer returns the control plane's HTTP handler.
func NewServer(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	s := &server{Config: cfg, metrics: newAPIMetrics(cfg.Registry)}
	return s.routes()
}

type apiMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replicator_api_requests_total",
			Help: "API requests by operation and outcome (OK or the AWS error type).",
		}, []string{"operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "replicator_api_request_duration_seconds",
			Help:    "API request latency by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// newVersion returns a fresh opaque currentVersion token, in the style of
// MSK's ("CKEVKO7DR4RA").
func newVersion() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }
