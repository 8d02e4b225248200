package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskafka "github.com/aws/aws-sdk-go-v2/service/kafka"

	"github.com/openreplicator/replicator/internal/pgtest"
	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/netguard"
	"github.com/openreplicator/replicator/workers"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const (
	testAKID   = "AKIDSERVETEST0000000"
	testSecret = "serve-test-secret"
	testToken  = "serve-test-worker-token"
)

// startServe runs serve on a free port of 127.0.0.1 over a fresh database
// and returns its address.
func startServe(t *testing.T, change func(*serveConfig)) string {
	t.Helper()
	c := serveConfig{databaseURL: pgtest.URL(t), listenAddr: "127.0.0.1:0", region: "us-east-1",
		accessKeys: testAKID + ":" + testSecret + ":123456789012", workerToken: testToken,
		leaseTTL: 10 * time.Second, failAfter: 30 * time.Second, quotaReplicators: 100,
		deniedDestinations: netguard.DefaultDenied}
	if change != nil {
		change(&c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, c, slog.New(slog.DiscardHandler), ready) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	select {
	case addr := <-ready:
		return addr
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testCerts makes a CA and a server certificate for localhost and
// 127.0.0.1 in a new directory.
func testCerts(t *testing.T) (dir string, pool *x509.CertPool) {
	t.Helper()
	dir = t.TempDir()
	if _, err := makeCerts(dir, []string{"localhost", "127.0.0.1"}, 30*24*time.Hour+time.Hour*48, time.Now()); err != nil {
		t.Fatal(err)
	}
	pool, err := loadCAPool(filepath.Join(dir, caCertName))
	if err != nil {
		t.Fatal(err)
	}
	return dir, pool
}

// isolateAWS hides the machine's AWS configuration from the SDK.
func isolateAWS(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KAFKA", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// sdkOverTLS lists replicators with an SDK client configured the usual way
// (environment, AWS_CA_BUNDLE when caFile is set).
func sdkOverTLS(t *testing.T, endpoint, caFile string) error {
	t.Helper()
	isolateAWS(t)
	if caFile != "" {
		t.Setenv("AWS_CA_BUNDLE", caFile)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")),
		config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	sdk := awskafka.NewFromConfig(cfg, func(o *awskafka.Options) { o.BaseEndpoint = aws.String(endpoint) })
	_, err = sdk.ListReplicators(context.Background(), &awskafka.ListReplicatorsInput{})
	return err
}

func isCertError(err error) bool {
	var ua x509.UnknownAuthorityError
	var cv *tls.CertificateVerificationError
	return errors.As(err, &ua) || errors.As(err, &cv) || strings.Contains(fmt.Sprint(err), "certificate")
}

// Finding #7, transport: serve speaks TLS with REPLICATOR_TLS_CERT_FILE and
// REPLICATOR_TLS_KEY_FILE, on the API and the worker API alike. A worker
// trusting the CA (REPLICATOR_TLS_CA_FILE) and an AWS SDK with the CA
// bundle (AWS_CA_BUNDLE) get through; clients without the CA do not, and
// nothing is served over plain HTTP.
func TestServeTLS(t *testing.T) {
	dir, pool := testCerts(t)
	addr := startServe(t, func(c *serveConfig) {
		c.tlsCertFile, c.tlsKeyFile = filepath.Join(dir, serverCertName), filepath.Join(dir, serverKeyName)
	})
	_, port, _ := net.SplitHostPort(addr)
	ctx := context.Background()
	for _, host := range []string{"localhost", "127.0.0.1"} {
		endpoint := "https://" + net.JoinHostPort(host, port)

		trusting, err := workers.NewClient(endpoint, testToken, workers.WithRootCAs(pool))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := trusting.Acquire(ctx, fleet.AcquireRequest{WorkerID: "tls-worker", Max: 1}); err != nil {
			t.Fatalf("worker trusting the CA, %s: %v", endpoint, err)
		}
		plain, _ := workers.NewClient(endpoint, testToken)
		if _, err := plain.Acquire(ctx, fleet.AcquireRequest{WorkerID: "tls-worker", Max: 1}); err == nil || !isCertError(err) {
			t.Fatalf("worker without the CA, %s: %v, want a certificate error", endpoint, err)
		}

		if err := sdkOverTLS(t, endpoint, filepath.Join(dir, caCertName)); err != nil {
			t.Fatalf("AWS SDK with AWS_CA_BUNDLE, %s: %v", endpoint, err)
		}
		if err := sdkOverTLS(t, endpoint, ""); err == nil || !isCertError(err) {
			t.Fatalf("AWS SDK without the CA, %s: %v, want a certificate error", endpoint, err)
		}
	}
	// Plain HTTP to the TLS port gets no API answer.
	resp, err := http.Get("http://" + addr + "/healthz")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("plain HTTP answered 200: %s", b)
		}
	}
}

// A renewed certificate is served after a reload (SIGHUP), without a
// restart; a broken pair on disk keeps the previous one.
func TestCertReload(t *testing.T) {
	dir1, pool1 := testCerts(t)
	dir2, pool2 := testCerts(t)
	live := t.TempDir()
	certPath, keyPath := filepath.Join(live, "cert.pem"), filepath.Join(live, "key.pem")
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(filepath.Join(dir1, serverCertName), certPath)
	copyFile(filepath.Join(dir1, serverKeyName), keyPath)
	r, err := newCertReloader(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.tlsConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()
	get := func(pool *x509.CertPool) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
		resp, err := c.Get("https://" + ln.Addr().String())
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(pool1); err != nil {
		t.Fatalf("first certificate: %v", err)
	}
	copyFile(filepath.Join(dir2, serverCertName), certPath)
	copyFile(filepath.Join(dir2, serverKeyName), keyPath)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := get(pool2); err != nil {
		t.Fatalf("after reload: %v", err)
	}
	if err := get(pool1); err == nil {
		t.Fatal("after reload the old certificate is still served")
	}
	if err := os.WriteFile(keyPath, []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil {
		t.Fatal("reload of a broken key succeeded")
	}
	if err := get(pool2); err != nil {
		t.Fatalf("a failed reload dropped the certificate: %v", err)
	}
}

// `replicator certs` keeps valid files and replaces a certificate that no
// longer covers the hosts asked for, with the same CA.
func TestCertsCommand(t *testing.T) {
	dir := t.TempDir()
	run := func(hosts string) string {
		var out, errb strings.Builder
		if err := run(context.Background(), []string{"certs", "--certs-dir", dir, "--certs-hosts", hosts}, func(string) string { return "" }, &out, &errb); err != nil {
			t.Fatalf("certs: %v %s", err, errb.String())
		}
		return out.String()
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if out := run("serve,localhost"); !strings.Contains(out, "wrote") {
		t.Fatalf("first run: %s", out)
	}
	ca, cert := read(caCertName), read(serverCertName)
	if out := run("serve,localhost"); !strings.Contains(out, "kept") || read(serverCertName) != cert {
		t.Fatalf("second run changed valid files: %s", out)
	}
	if out := run("serve,localhost,127.0.0.1"); !strings.Contains(out, "wrote") || read(serverCertName) == cert || read(caCertName) != ca {
		t.Fatalf("a new host: %s", out)
	}
	if fi, err := os.Stat(filepath.Join(dir, serverKeyName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	pool, _ := loadCAPool(filepath.Join(dir, caCertName))
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, serverCertName), filepath.Join(dir, serverKeyName))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	for _, h := range []string{"serve", "localhost", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool}); err != nil {
			t.Errorf("certificate for %s: %v", h, err)
		}
	}
}
