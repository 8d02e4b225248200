// Reaching a cluster: a spec's cluster resolved into brokers, TLS and
// SASL (through the operator's catalog for MSK), connections dialled
// through the operator's destination policy, and the connection errors a
// tenant may see.

package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/openreplicator/replicator/pkg/catalog"
	"github.com/openreplicator/replicator/pkg/netguard"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// Secrets resolves secret ARNs (the secrets file, then Secrets Manager) for
// the replicator's account: another account's secret does not resolve.
type Secrets interface {
	Secret(ctx context.Context, account, arn string) (catalog.Secret, error)
}

// Clusters resolves MSK cluster ARNs through the operator's catalog, for
// the replicator's account: another account's cluster is not found.
type Clusters interface {
	Cluster(account, arn string) (catalog.ClusterEntry, bool)
}

// endpoint is how to reach one cluster.
type endpoint struct {
	account    string // the replicator's: secrets resolve for it only
	alias      string
	brokers    []string
	auth       *replicator.ClientAuthentication
	encryption *replicator.EncryptionInTransit
	// dial connects to a broker after checking the destination (nil: kgo's
	// own dialer).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// resolve turns a spec cluster of a replicator of account into an
// endpoint, through the catalog for MSK clusters.
func resolve(c *replicator.Cluster, account string, clusters Clusters, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (endpoint, error) {
	ep := endpoint{account: account, alias: c.Alias, auth: c.Auth, encryption: c.Encryption, dial: dial}
	bootstrap := ""
	switch {
	case c.Apache != nil:
		bootstrap = c.Apache.BootstrapBrokers
	case c.MSK != nil:
		if clusters == nil {
			return ep, fmt.Errorf("MSK cluster %s: no cluster catalog configured", c.MSK.ClusterARN)
		}
		e, ok := clusters.Cluster(account, c.MSK.ClusterARN)
		if !ok {
			return ep, fmt.Errorf("MSK cluster %s is not in the cluster catalog", c.MSK.ClusterARN)
		}
		bootstrap = e.BootstrapBrokerString
		if len(e.ClientAuthentication) > 0 {
			// The catalog entry's secrets are the operator's, bound to
			// the cluster: they resolve for the account that owns the
			// cluster, also when the entry lets further accounts use it.
			// A secret the spec names (no authentication in the entry)
			// stays the replicator's account's, as the API checked it.
			ep.account = catalog.ARNAccount(c.MSK.ClusterARN)
			var a struct {
				SaslScram *struct{ Mechanism, SecretArn string } `json:"saslScram"`
				MTLS      *struct{ SecretArn string }            `json:"mTLS"`
			}
			if err := json.Unmarshal(e.ClientAuthentication, &a); err != nil {
				return ep, fmt.Errorf("MSK cluster %s: clientAuthentication in the catalog is not valid", c.MSK.ClusterARN)
			}
			ep.auth = &replicator.ClientAuthentication{}
			if a.SaslScram != nil {
				ep.auth.SASLScram = &replicator.SASLScram{Mechanism: a.SaslScram.Mechanism, SecretARN: a.SaslScram.SecretArn}
			}
			if a.MTLS != nil {
				ep.auth.MTLS = &replicator.MTLS{SecretARN: a.MTLS.SecretArn}
			}
		}
		if len(e.EncryptionInTransit) > 0 {
			var enc struct{ EncryptionType, RootCaCertificate string }
			if err := json.Unmarshal(e.EncryptionInTransit, &enc); err != nil {
				return ep, fmt.Errorf("MSK cluster %s: encryptionInTransit in the catalog is not valid", c.MSK.ClusterARN)
			}
			ep.encryption = &replicator.EncryptionInTransit{EncryptionType: enc.EncryptionType, RootCACertificate: enc.RootCaCertificate}
		}
	default:
		return ep, errors.New("cluster has neither apacheKafkaCluster nor amazonMskCluster")
	}
	for _, b := range strings.Split(bootstrap, ",") {
		if b = strings.TrimSpace(b); b != "" {
			ep.brokers = append(ep.brokers, b)
		}
	}
	if len(ep.brokers) == 0 {
		return ep, fmt.Errorf("cluster %s has no bootstrap brokers", c.Alias)
	}
	return ep, nil
}

// dialTimeout bounds one connection attempt to a broker.
const dialTimeout = 5 * time.Second

// clientOpts returns the connection options of an endpoint: brokers, TLS
// and SASL, with secrets resolved now, and the engine's dialer (Config.Dial)
// when it has one.
func clientOpts(ctx context.Context, ep endpoint, secrets Secrets) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(ep.brokers...),
		kgo.ClientID("replicator"),
	}
	var tlsCfg *tls.Config
	if ep.encryption != nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		if ca := ep.encryption.RootCACertificate; ca != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(ca)) {
				return nil, errors.New("rootCaCertificate holds no usable certificate")
			}
			tlsCfg.RootCAs = pool
		}
	}
	if a := ep.auth; a != nil {
		var arn string
		switch {
		case a.SASLScram != nil:
			arn = a.SASLScram.SecretARN
		case a.MTLS != nil:
			arn = a.MTLS.SecretARN
		}
		if secrets == nil {
			return nil, errors.New("no secret provider configured")
		}
		sec, err := secrets.Secret(ctx, ep.account, arn)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", arn, err)
		}
		switch {
		case a.SASLScram != nil:
			if sec.Username == "" {
				return nil, fmt.Errorf("secret %s has no username/password", arn)
			}
			auth := scram.Auth{User: sec.Username, Pass: sec.Password}
			if a.SASLScram.Mechanism == replicator.ScramSHA512 {
				opts = append(opts, kgo.SASL(auth.AsSha512Mechanism()))
			} else {
				opts = append(opts, kgo.SASL(auth.AsSha256Mechanism()))
			}
		case a.MTLS != nil:
			cert, err := tls.X509KeyPair([]byte(sec.Certificate), []byte(sec.PrivateKey))
			if err != nil {
				return nil, fmt.Errorf("secret %s does not hold a usable certificate and private key", arn)
			}
			if tlsCfg == nil {
				tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			tlsCfg.Certificates = []tls.Certificate{cert}
		}
	}
	switch {
	case ep.dial != nil:
		opts = append(opts, kgo.Dialer(guardedDialer(ep.dial, tlsCfg)))
	case tlsCfg != nil:
		opts = append(opts, kgo.DialTimeout(dialTimeout), kgo.DialTLSConfig(tlsCfg))
	default:
		opts = append(opts, kgo.DialTimeout(dialTimeout))
	}
	return opts, nil
}

// guardedDialer dials through dial (which checks the destination) with the
// dial timeout, then speaks TLS over the connection when tlsCfg is set, as
// kgo.DialTLSConfig would (kgo takes one or the other, not both).
func guardedDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), tlsCfg *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, dialTimeout)
		defer cancel()
		conn, err := dial(ctx, network, addr)
		if err != nil || tlsCfg == nil {
			return conn, err
		}
		c := tlsCfg.Clone()
		if c.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				c.ServerName = host
			}
		}
		tc := tls.Client(conn, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
}

// connClass sorts a connection error into the classes of the
// replicator_cluster_connection_errors_total metric: denied (the operator's
// destination policy), dns, tls, timeout, refused, or other (such as a
// server that does not speak Kafka).
func connClass(err error) string {
	var (
		dnsErr  *net.DNSError
		recErr  tls.RecordHeaderError
		alert   tls.AlertError
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		netErr  net.Error
	)
	switch {
	case errors.Is(err, netguard.ErrDenied):
		return "denied"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &recErr), errors.As(err, &alert), errors.As(err, &certErr), errors.As(err, &unknown),
		errors.As(err, &host), errors.As(err, &invalid):
		return "tls"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	}
	return "other"
}

// tenantText is what a tenant may read of err in a job's error (the status
// endpoint and the replicator's stateInfo): the answers of a Kafka broker
// (kerr codes) and this service's own domain errors as they are, with the
// context this package added in front of them; anything else (a refused or
// reset connection, a timeout, a server that answered in another protocol)
// only as a generic text, since its detail would tell a tenant what
// answers at an address they named. The detail goes to the worker's log.
func tenantText(err error) string {
	msg := err.Error()
	for e := err; e != nil; e = errors.Unwrap(e) {
		var ke *kerr.Error
		var de *replicator.Error
		if errors.As(e, &ke) || errors.As(e, &de) {
			return msg
		}
		if !isWrapper(e) {
			// The first error that is not one of our fmt.Errorf
			// wrappers: keep what the wrappers said before it.
			if inner := e.Error(); e != err && strings.HasSuffix(msg, inner) {
				return strings.TrimSuffix(msg, inner) + noAnswer
			}
			return noAnswer
		}
	}
	return msg
}

// noAnswer is the generic text of tenantText.
const noAnswer = "no usable answer from the cluster (the worker's log has the cause)"

// isWrapper reports whether e is a plain fmt.Errorf wrapper (one %w).
func isWrapper(e error) bool {
	_, ok := e.(interface{ Unwrap() error })
	return ok && fmt.Sprintf("%T", e) == "*fmt.wrapError"
}
