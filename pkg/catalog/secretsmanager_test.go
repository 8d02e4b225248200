package catalog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// The tests named TestSecretsManager*WithMoto need a Secrets-Manager-compatible
// server at MOTO_URL; test/secretsmanager/run.sh starts moto's and runs them.
// Without MOTO_URL they are skipped (make test), except when
// REPLICATOR_REQUIRE_MOTO=1 (run.sh, the CI stage that runs them), where missing
// infrastructure is a failure. The others need no server.

// requireMoto returns MOTO_URL, or skips (fails in CI) when it is unset.
func requireMoto(t *testing.T) string {
	t.Helper()
	u := os.Getenv("MOTO_URL")
	if u == "" {
		if os.Getenv("REPLICATOR_REQUIRE_MOTO") == "1" {
			t.Fatal("MOTO_URL is not set but REPLICATOR_REQUIRE_MOTO=1: run the Secrets Manager tests with bash test/secretsmanager/run.sh")
		}
		t.Skip("MOTO_URL is not set; bash test/secretsmanager/run.sh runs this test against moto")
	}
	return u
}

// isolateAWS hides the machine's AWS configuration from the SDK for the
// test and sets the given variables instead.
func isolateAWS(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_SECURITY_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CA_BUNDLE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
	} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config"), "")
	writeFile(t, filepath.Join(dir, "credentials"), "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// motoAccount is the account moto puts in the ARNs it makes.
const motoAccount = "123456789012"

// motoEnv points the SDK's default configuration at moto.
func motoEnv(url string) map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": url,
		"AWS_ACCESS_KEY_ID":                "test",
		"AWS_SECRET_ACCESS_KEY":            "test",
		"AWS_REGION":                       "us-east-1",
	}
}

// adminClient creates and changes secrets in moto, independently of the
// code under test.
func adminClient(url, region string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       region,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

func createSecret(t *testing.T, c *secretsmanager.Client, name, value string) string {
	t.Helper()
	out, err := c.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatalf("CreateSecret %s: %v", name, err)
	}
	return aws.ToString(out.ARN)
}

// uniq makes secret names unique, so that a reused moto does not collide.
func uniq(name string) string { return fmt.Sprintf("%s-%d", name, time.Now().UnixNano()) }

// fakeClock is a settable clock for the cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// noLeak fails if err's text, in any format, contains one of the secrets.
func noLeak(t *testing.T, err error, secrets ...string) {
	t.Helper()
	s := fmt.Sprintf("%v %+v %#v %s", err, err, err, err.Error())
	var e *replicator.Error
	if errors.As(err, &e) {
		s += e.Message
	}
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("error shows secret material (%d bytes of it)", len(sec))
		}
	}
}

func TestSecretsManagerResolveWithMoto(t *testing.T) {
	url := requireMoto(t)
	isolateAWS(t, motoEnv(url))
	ctx := context.Background()
	admin := adminClient(url, "us-east-1")

	const smPassword = "sm-pw-Kd83jd"
	scramARN := createSecret(t, admin, uniq("AmazonMSK_scram"), `{"username":"carol","password":"`+smPassword+`"}`)
	mtlsARN := createSecret(t, admin, uniq("AmazonMSK_mtls"),
		`{"certificate":"-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----","privateKey":"sm-key-Pq42"}`)
	// The same ARN in the secrets file, with other contents: the file wins.
	shadowARN := createSecret(t, admin, uniq("AmazonMSK_shadow"), `{"username":"sm-user","password":"sm-shadow-pw"}`)
	const junkValue = "junk-value-Ww91"
	junkARN := createSecret(t, admin, uniq("junk"), `{"user":"x","pass":"`+junkValue+`","cert":"y"}`)
	notJSONARN := createSecret(t, admin, uniq("notjson"), "username=carol password="+junkValue)
	halfARN := createSecret(t, admin, uniq("half"), `{"username":"carol","privateKey":"`+junkValue+`"}`)
	binOut, err := admin.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(uniq("binary")), SecretBinary: []byte(junkValue)})
	if err != nil {
		t.Fatalf("CreateSecret binary: %v", err)
	}
	binaryARN := aws.ToString(binOut.ARN)
	// A secret in another region than AWS_REGION: the ARN's region is used.
	westARN := createSecret(t, adminClient(url, "us-west-2"), uniq("AmazonMSK_west"), `{"username":"dave","password":"west-pw"}`)

	dir := t.TempDir()
	secretsPath := filepath.Join(dir, "secrets.json")
	writeFile(t, secretsPath, `{
		"`+shadowARN+`": {"username": "file-user", "password": "file-pw"},
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:fileonly-AbCdEf": {"username": "erin", "password": "file-only-pw"}}`)
	files, err := Load("", secretsPath)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	sm := NewSecretsManager(ctx)
	sm.now = clock.now
	r := &Resolver{Files: files, SM: sm}

	t.Run("file first", func(t *testing.T) {
		s, err := r.Secret(ctx, motoAccount, shadowARN)
		if err != nil || s.Username != "file-user" || s.Password != "file-pw" {
			t.Errorf("Secret(shadow): not the file's secret (err %v)", err)
		}
		s, err = r.Secret(ctx, motoAccount, "arn:aws:secretsmanager:us-east-1:123456789012:secret:fileonly-AbCdEf")
		if err != nil || s.Password != "file-only-pw" {
			t.Errorf("Secret(file only): wrong secret or err %v", err)
		}
		if len(sm.cache) != 0 {
			t.Error("a secret from the file went through Secrets Manager")
		}
	})

	t.Run("secrets manager second", func(t *testing.T) {
		s, err := r.Secret(ctx, motoAccount, scramARN)
		if err != nil || s != (Secret{Username: "carol", Password: smPassword}) {
			t.Errorf("Secret(scram): wrong secret or err %v", err)
		}
		s, err = r.Secret(ctx, motoAccount, mtlsARN)
		if err != nil || s.PrivateKey != "sm-key-Pq42" || !strings.HasPrefix(s.Certificate, "-----BEGIN CERTIFICATE-----\nc") || s.Username != "" {
			t.Errorf("Secret(mtls): wrong secret or err %v", err)
		}
		if err := r.CheckSecret(ctx, motoAccount, scramARN); err != nil {
			t.Errorf("CheckSecret(scram) = %v", err)
		}
		s, err = r.Secret(ctx, motoAccount, westARN)
		if err != nil || s.Username != "dave" {
			t.Errorf("Secret(us-west-2 ARN): wrong secret or err %v", err)
		}
		// Without the file.
		s, err = (&Resolver{SM: sm}).Secret(ctx, motoAccount, shadowARN)
		if err != nil || s.Username != "sm-user" {
			t.Errorf("Secret(shadow) without the file: wrong secret or err %v", err)
		}
	})

	t.Run("not found", func(t *testing.T) {
		missing := "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf"
		err := r.CheckSecret(ctx, motoAccount, missing)
		wantInvalid(t, err, "secret not found")
		_, err = r.Secret(ctx, motoAccount, missing)
		wantInvalid(t, err, "secret not found")
		wantInvalid(t, (&Resolver{Files: files}).CheckSecret(ctx, motoAccount, scramARN), "secret not found")
		wantInvalid(t, (&Resolver{}).CheckSecret(ctx, motoAccount, scramARN), "secret not found")
	})

	t.Run("failures are not cached", func(t *testing.T) {
		name := uniq("late")
		_, err := sm.Secret(ctx, name)
		wantInvalid(t, err, "secret not found")
		createSecret(t, admin, name, `{"username":"late","password":"late-pw"}`)
		if s, err := sm.Secret(ctx, name); err != nil || s.Username != "late" {
			t.Errorf("Secret(late) after creation: wrong secret or err %v", err)
		}
	})

	// Another account gets "secret not found" for every ARN of moto's
	// account, whether it exists or not, and Secrets Manager is not asked;
	// a bare name (no account) is never looked up through the Resolver.
	t.Run("other account", func(t *testing.T) {
		missing := "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf"
		fresh := &Resolver{SM: NewSecretsManager(ctx)}
		for _, arn := range []string{scramARN, missing, westARN} {
			_, err := fresh.Secret(ctx, "999999999999", arn)
			wantInvalid(t, err, "secret not found")
		}
		name := uniq("byname-other")
		createSecret(t, admin, name, `{"username":"x","password":"y"}`)
		wantInvalid(t, fresh.CheckSecret(ctx, motoAccount, name), "secret not found")
		if fresh.SM.client != nil {
			t.Error("Secrets Manager was set up for lookups no account may make")
		}
		if _, err := fresh.Secret(ctx, motoAccount, scramARN); err != nil {
			t.Errorf("own account: %v", err)
		}
	})

	t.Run("bad content", func(t *testing.T) {
		for _, tc := range []struct{ arn, msg string }{
			{junkARN, "secret has no username/password or certificate/privateKey"},
			{halfARN, "secret has no username/password or certificate/privateKey"},
			{notJSONARN, "secret is not a JSON object with username/password or certificate/privateKey"},
			{binaryARN, "secret has no SecretString (binary secrets are not supported)"},
		} {
			_, err := r.Secret(ctx, motoAccount, tc.arn)
			wantInvalid(t, err, tc.msg)
			noLeak(t, err, junkValue, "carol")
			wantInvalid(t, r.CheckSecret(ctx, motoAccount, tc.arn), tc.msg)
		}
	})

	t.Run("cache", func(t *testing.T) {
		if _, err := r.Secret(ctx, motoAccount, scramARN); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(scramARN), SecretString: aws.String(`{"username":"carol","password":"rotated-pw"}`)}); err != nil {
			t.Fatal(err)
		}
		clock.add(smCacheTTL - time.Second)
		if s, err := r.Secret(ctx, motoAccount, scramARN); err != nil || s.Password != smPassword {
			t.Errorf("within the TTL: not the cached secret (err %v)", err)
		}
		clock.add(2 * time.Second)
		if s, err := r.Secret(ctx, motoAccount, scramARN); err != nil || s.Password != "rotated-pw" {
			t.Errorf("after the TTL: not the rotated secret (err %v)", err)
		}
		// A deleted secret is served from the cache until the TTL ends.
		if _, err := admin.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
			SecretId: aws.String(scramARN), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		if err := r.CheckSecret(ctx, motoAccount, scramARN); err != nil {
			t.Errorf("deleted secret within the TTL: %v", err)
		}
		clock.add(smCacheTTL)
		wantInvalid(t, r.CheckSecret(ctx, motoAccount, scramARN), "secret not found")
	})

	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for range 16 {
			wg.Go(func() {
				if _, err := r.Secret(ctx, motoAccount, mtlsARN); err != nil {
					errs <- err
				}
				if _, err := r.Secret(ctx, motoAccount, westARN); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// The name (not an ARN) of a secret is looked up in the configuration's region.
func TestSecretsManagerByNameWithMoto(t *testing.T) {
	url := requireMoto(t)
	isolateAWS(t, motoEnv(url))
	ctx := context.Background()
	name := uniq("byname")
	createSecret(t, adminClient(url, "us-east-1"), name, `{"username":"frank","password":"name-pw"}`)
	sm := NewSecretsManager(ctx)
	if s, err := sm.Secret(ctx, name); err != nil || s.Username != "frank" {
		t.Errorf("Secret(name): wrong secret or err %v", err)
	}
}

// An endpoint that refuses connections fails within the timeout.
func TestSecretsManagerUnreachable(t *testing.T) {
	isolateAWS(t, map[string]string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:1",
		"AWS_ACCESS_KEY_ID":                "test",
		"AWS_SECRET_ACCESS_KEY":            "test",
		"AWS_REGION":                       "us-east-1",
	})
	ctx := context.Background()
	sm := NewSecretsManager(ctx)
	if sm.timeout != 5*time.Second {
		t.Errorf("timeout = %v, want 5s", sm.timeout)
	}
	r := &Resolver{Files: &Files{}, SM: sm}
	start := time.Now()
	err := r.CheckSecret(ctx, motoAccount, "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf")
	if d := time.Since(start); d > sm.timeout+time.Second {
		t.Errorf("CheckSecret took %v, more than the %v timeout", d, sm.timeout)
	}
	wantInvalid(t, err, "secrets manager unreachable")
	var e *replicator.Error
	if errors.As(err, &e) && e.Err == nil {
		t.Error("the error carries no cause for the logs")
	}
}

// An endpoint that accepts connections and never answers is given up on at
// the timeout, and so is a caller's canceled context.
func TestSecretsManagerHangingEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	isolateAWS(t, map[string]string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://" + ln.Addr().String(),
		"AWS_ACCESS_KEY_ID":                "test",
		"AWS_SECRET_ACCESS_KEY":            "test",
		"AWS_REGION":                       "us-east-1",
	})
	ctx := context.Background()
	sm := NewSecretsManager(ctx)
	sm.timeout = time.Second
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf"

	start := time.Now()
	_, err = sm.Secret(ctx, arn)
	d := time.Since(start)
	wantInvalid(t, err, "secrets manager unreachable")
	if d < sm.timeout/2 || d > sm.timeout+time.Second {
		t.Errorf("Secret took %v, want about the %v timeout", d, sm.timeout)
	}

	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = sm.Secret(cctx, arn)
	wantInvalid(t, err, "secrets manager unreachable")
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("Secret with a 100ms context took %v", d)
	}
}

// Without any AWS configuration NewSecretsManager neither fails nor blocks;
// the lookup fails with a user-safe error, and a configuration error is not
// remembered.
func TestSecretsManagerNoConfig(t *testing.T) {
	// The endpoint refuses connections, so that nothing can reach AWS.
	isolateAWS(t, map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:1"})
	ctx := context.Background()

	start := time.Now()
	sm := NewSecretsManager(ctx)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("NewSecretsManager took %v", d)
	}
	if sm.client != nil {
		t.Error("NewSecretsManager built the client")
	}

	_, err := sm.Secret(ctx, "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf")
	wantInvalid(t, err, "no usable AWS credentials for secrets manager")
	_, err = sm.Secret(ctx, "just-a-name")
	wantInvalid(t, err, "secrets manager is not configured (no AWS region)")
	_, err = sm.Secret(ctx, "")
	wantInvalid(t, err, "secret ARN is empty")

	// A profile that does not exist: the configuration does not load...
	sm = NewSecretsManager(ctx)
	t.Setenv("AWS_PROFILE", "no-such-profile")
	_, err = sm.Secret(ctx, "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf")
	wantInvalid(t, err, "secrets manager is not configured")
	// ... until it is fixed, without a restart.
	os.Unsetenv("AWS_PROFILE")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	_, err = sm.Secret(ctx, "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf")
	wantInvalid(t, err, "secrets manager unreachable")
}

func TestParseSecret(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Secret
		msg  string
	}{
		{in: `{"username":"u","password":"p"}`, want: Secret{Username: "u", Password: "p"}},
		{in: `{"username":"u","password":"p","engine":"kafka","port":9096}`, want: Secret{Username: "u", Password: "p"}},
		{in: `{"certificate":"c","privateKey":"k"}`, want: Secret{Certificate: "c", PrivateKey: "k"}},
		{in: `{"username":"u"}`, msg: "secret has no username/password or certificate/privateKey"},
		{in: `{"password":"p"}`, msg: "secret has no username/password or certificate/privateKey"},
		{in: `{"certificate":"c"}`, msg: "secret has no username/password or certificate/privateKey"},
		{in: `{}`, msg: "secret has no username/password or certificate/privateKey"},
		{in: `null`, msg: "secret has no username/password or certificate/privateKey"},
		{in: `{"username":1,"password":"p"}`, msg: "secret is not a JSON object with username/password or certificate/privateKey"},
		{in: `["p"]`, msg: "secret is not a JSON object with username/password or certificate/privateKey"},
		{in: `"p"`, msg: "secret is not a JSON object with username/password or certificate/privateKey"},
		{in: `p@ss`, msg: "secret is not a JSON object with username/password or certificate/privateKey"},
		{in: ``, msg: "secret is not a JSON object with username/password or certificate/privateKey"},
	} {
		got, err := parseSecret(tc.in)
		if tc.msg == "" {
			if err != nil || got != tc.want {
				t.Errorf("parseSecret(#%d): wrong secret or err %v", len(tc.in), err)
			}
			continue
		}
		wantInvalid(t, err, tc.msg)
		if tc.in != "" && tc.in != "{}" && tc.in != "null" {
			noLeak(t, err, tc.in, "p@ss")
		}
	}
}

func TestArnRegion(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:secretsmanager:us-west-2:123456789012:secret:a-AbCdEf":       "us-west-2",
		"arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:a:b-AbCdEf": "cn-north-1",
		"arn:aws:kafka:us-east-1:123456789012:cluster/x/y":                    "",
		"my-secret":                        "",
		"arn:aws:secretsmanager:us-east-1": "",
	} {
		if got := arnRegion(in); got != want {
			t.Errorf("arnRegion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClassify(t *testing.T) {
	api := func(code string) error {
		return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue",
			Err: &smithy.GenericAPIError{Code: code, Message: "m"}}
	}
	for _, tc := range []struct {
		err error
		msg string
	}{
		{api("ResourceNotFoundException"), "secret not found"},
		{api("AccessDeniedException"), "access denied"},
		{api("UnrecognizedClientException"), "access denied"},
		{api("DecryptionFailure"), "access denied"},
		{api("InvalidParameterException"), "not a valid secret ARN"},
		{api("InvalidRequestException"), "secret is not available"},
		{api("ThrottlingException"), "secrets manager is throttling requests"},
		{api("InternalServiceError"), "secrets manager request failed"},
		{&smithy.DeserializationError{Err: errors.New("invalid character 'h' in hunter2")}, "secrets manager returned an unreadable response"},
		{fmt.Errorf("get identity: %w", &credentialsError{errors.New("no EC2 IMDS role found")}), "no usable AWS credentials for secrets manager"},
		{context.DeadlineExceeded, "secrets manager unreachable"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, "secrets manager unreachable"},
	} {
		err := classify(tc.err)
		wantInvalid(t, err, tc.msg)
		noLeak(t, err, "hunter2")
	}
}

func TestSecretsManagerCacheBound(t *testing.T) {
	sm := NewSecretsManager(context.Background())
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	sm.now = clock.now
	for i := range smCacheMax + 10 {
		sm.store(fmt.Sprint(i), Secret{Username: "u"})
	}
	if n := len(sm.cache); n > smCacheMax {
		t.Errorf("cache holds %d entries, more than %d", n, smCacheMax)
	}
	if _, ok := sm.cached(fmt.Sprint(smCacheMax + 9)); !ok {
		t.Error("the newest entry is not cached")
	}
	clock.add(smCacheTTL)
	if _, ok := sm.cached(fmt.Sprint(smCacheMax + 9)); ok {
		t.Error("an entry is served after its TTL")
	}
}
