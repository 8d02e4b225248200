// Package scenario holds the end-to-end scenarios of the replicator, each
// written once, and the System interface they run on. internal/e2e
// implements System in one process on kfake clusters (`make test`);
// internal/integration implements it with real processes on real Apache
// Kafka (`make test-kafka`). Each of those packages has a thin test
// function per scenario, so `go test -run TestX` works on either side.
//
// A scenario drives the system as a user would: the AWS SDK against the
// control plane, the status extension, franz-go against the two clusters,
// and the workers' metrics and logs. It asserts on what arrived on the
// target. It knows nothing of how the system runs: where tests share
// clusters (integration), every topic, group and replicator name carries
// the test's Prefix, and deadlines sized for the in-process system are
// stretched with Within.
//
// It imports the product's public packages only for names and constants
// (pkg/replicator, pkg/kafka's origin header), never to start anything.
package scenario

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// System is the replicator under test and its two Kafka clusters, as one
// test sees them. An implementation is made for one test (with its
// *testing.T) and fails that test when it cannot answer.
type System interface {
	// Prefix starts every topic, group and replicator name the test makes
	// (see T.Unique); empty where each test has clusters of its own.
	Prefix() string
	// API is the control plane's endpoint and the caller's credentials.
	API() API
	// Source and Target are the two clusters; a replicator copies from
	// Source to Target unless its Spec says Reverse.
	Source() Cluster
	Target() Cluster
	// SASLTarget is the target cluster behind SASL/SCRAM-SHA-256, and the
	// secrets a replicator authenticates with. A system without one fails
	// the test.
	SASLTarget() SASL
	// Metrics gathers the workers' Prometheus metrics (every worker's
	// families, in any order: a family may appear once per worker).
	Metrics() []*dto.MetricFamily
	// Logs is what the system's processes logged so far.
	Logs() string
	// Within stretches a deadline sized for the in-process system to this
	// one (REPLICATOR_TEST_TIME_SCALE applies on top).
	Within(d time.Duration) time.Duration
	// FailAfter is the control plane's failure threshold: how long a job
	// error lasts before its replicator is FAILED.
	FailAfter() time.Duration
	// Settle is how long a few rounds of metadata sync and topic discovery
	// take: the wait before checking that something did NOT happen.
	Settle() time.Duration
}

// API is where a system's control plane answers, and who calls it.
type API struct {
	URL         string // e.g. http://127.0.0.1:8080
	Region      string
	Account     string // the account the credentials belong to
	Credentials aws.Credentials
	// MaxAttempts is how often the SDK tries a request (0: its default;
	// 1: an error fails at once).
	MaxAttempts int
}

// Cluster is one Kafka cluster of a system, as a test reaches it.
type Cluster struct {
	// ID is the cluster's ID in a replicator's spec; its alias prefixes
	// the names of topics copied from it.
	ID string
	// Bootstrap is the bootstrap broker string a spec names.
	Bootstrap string
	// Opts is what a test's client needs besides the seed brokers
	// (credentials of a super user).
	Opts []kgo.Opt
}

// Alias is the cluster's alias: topics copied from it with prefixed names
// are called <Alias>.<topic>, and records copied with identical names
// carry it in their origin header.
func (c Cluster) Alias() string { return replicator.ApacheClusterAlias(c.ID) }

// SASL is a target listener that requires SASL/SCRAM-SHA-256.
type SASL struct {
	// Cluster is the listener; its Opts authenticate as a super user.
	Cluster
	// Secret and BadSecret are secret ARNs the system resolves: the
	// replicator's user with its password, and with a wrong one.
	Secret, BadSecret string
	// Passwords are both passwords: no response, log line or metric may
	// show either.
	Passwords []string
}
