package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var (
	testKey  = Key{AccessKeyID: "AKID", SecretAccessKey: "SECRET", AccountID: "123456789012"}
	otherKey = Key{AccessKeyID: "AKID2", SecretAccessKey: "SECRET2", AccountID: "210987654321"}
	t0       = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
)

const (
	testHost = "replicator.test"
	testARN  = "arn:aws:kafka:us-east-1:123456789012:replicator/my-rep/4a5b6c7d-0000-1111-2222-333344445555"
	// testARNPath is testARN as a single escaped path label, as both SDKs send it.
	testARNPath = "arn%3Aaws%3Akafka%3Aus-east-1%3A123456789012%3Areplicator%2Fmy-rep%2F4a5b6c7d-0000-1111-2222-333344445555"
)

func testVerifier(now time.Time) *Verifier {
	v := NewVerifier("us-east-1", "kafka", []Key{testKey, otherKey})
	v.Now = func() time.Time { return now }
	return v
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// signSpec describes a request to sign with the SDK's v4 signer.
type signSpec struct {
	method, target  string // target is path?query as sent on the wire
	body            []byte
	headers         map[string]string
	creds           aws.Credentials
	region, service string
	at              time.Time
	payloadHash     string // "" = SHA-256 of body
}

func defaultSpec() signSpec {
	return signSpec{
		method:  http.MethodPost,
		target:  "/replication/v1/replicators/" + testARNPath + "?b=2&a=x+y&a=%2F",
		body:    []byte(`{"description":"hello"}`),
		headers: map[string]string{"Content-Type": "application/json"},
		creds:   aws.Credentials{AccessKeyID: testKey.AccessKeyID, SecretAccessKey: testKey.SecretAccessKey},
		region:  "us-east-1", service: "kafka", at: t0,
	}
}

// sign returns a server-side request (as an http.Server would hand it to a
// handler) signed by the SDK signer. The signer rewrites URL.RawQuery into
// canonical form; the wire query is restored so its order is not canonical.
func sign(t testing.TB, s signSpec) *http.Request {
	t.Helper()
	r := httptest.NewRequest(s.method, "http://"+testHost+s.target, bytes.NewReader(s.body))
	for k, v := range s.headers {
		r.Header.Set(k, v)
	}
	if s.payloadHash == "" {
		s.payloadHash = hexSHA256(s.body)
	}
	rawQuery := r.URL.RawQuery
	if err := v4.NewSigner().SignHTTP(context.Background(), s.creds, r, s.payloadHash, s.service, s.region, s.at); err != nil {
		t.Fatal(err)
	}
	r.URL.RawQuery = rawQuery
	return r
}

func reasonOf(t testing.TB, err error) string {
	t.Helper()
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *AuthError", err, err)
	}
	return ae.Reason
}

func TestParseKeys(t *testing.T) {
	keys, err := ParseKeys("  AKID:SECRET:123456789012 ,\tAKID2:se:cr/et+:210987654321\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []Key{testKey, {AccessKeyID: "AKID2", SecretAccessKey: "se:cr/et+", AccountID: "210987654321"}}
	if len(keys) != len(want) || keys[0] != want[0] || keys[1] != want[1] {
		t.Fatalf("got %+v, want %+v", keys, want)
	}

	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	for _, in := range []string{
		"",
		"   ",
		"AKID:" + secret,                    // no account id
		secret,                              // no separators at all
		"AKID:" + secret + ":12345678901",   // 11 digits
		"AKID:" + secret + ":1234567890123", // 13 digits
		"AKID:" + secret + ":12345678901x",  // not digits
		"AKID:123456789012:" + secret,       // fields swapped
		":" + secret + ":123456789012",      // empty access key id
		"AK/ID:" + secret + ":123456789012", // '/' cannot appear in a scope
		"AKID::123456789012",                // empty secret
		"AKID:" + secret + ":123456789012,", // empty trailing entry
		"AKID:" + secret + ":123456789012,,B:s:123456789012",    // empty middle entry
		"AKID:x:123456789012, AKID:" + secret + ":210987654321", // duplicate id
	} {
		keys, err := ParseKeys(in)
		if err == nil {
			t.Errorf("ParseKeys(%q) = %+v, want error", in, keys)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "K7MDENG") {
			t.Errorf("ParseKeys(%q) error leaks the secret: %v", in, err)
		}
	}
}

func TestNewVerifier(t *testing.T) {
	v := NewVerifier("eu-west-1", "kafka", []Key{testKey, otherKey})
	if v.Region != "eu-west-1" || v.Service != "kafka" || len(v.Keys) != 2 || v.Keys["AKID2"] != otherKey {
		t.Fatalf("NewVerifier = %+v", v)
	}
}

// TestVerifySDKSigned signs typical control-plane requests with the SDK signer
// and checks that they verify, that the SDK path was used and that the
// hand-built canonical request agrees with it.
func TestVerifySDKSigned(t *testing.T) {
	v := testVerifier(t0)
	spec := func(method, target string, body []byte, headers map[string]string) signSpec {
		s := defaultSpec()
		s.method, s.target, s.body, s.headers = method, target, body, headers
		return s
	}
	withToken := defaultSpec()
	withToken.creds.SessionToken = "session/token=="
	cases := map[string]signSpec{
		"describe":       spec(http.MethodGet, "/replication/v1/replicators/"+testARNPath, nil, nil),
		"list":           spec(http.MethodGet, "/replication/v1/replicators?replicatorNameFilter=my+rep&nextToken=a%2Fb%3D%3D&maxResults=5", nil, nil),
		"untag":          spec(http.MethodDelete, "/v1/tags/"+testARNPath+"?tagKeys=zeta&tagKeys=alpha&tagKeys=a%20b", nil, nil),
		"create":         defaultSpec(),
		"session token":  withToken,
		"extra headers":  spec(http.MethodPost, "/x", []byte("{}"), map[string]string{"Content-Type": "application/json", "User-Agent": "ua", "X-Custom": "  a   b  "}),
		"empty path":     spec(http.MethodGet, "", nil, nil),
		"odd characters": spec(http.MethodGet, "/a%20b/%25/c+d/!$&'()*,;=:@/%7E~?q=%E2%82%AC&r=a+b&s=&t&a-b=1&a=2", nil, nil),
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			r := sign(t, s)
			key, err := v.Verify(r, s.body)
			if err != nil {
				t.Fatalf("Verify: %v (Authorization %q)", err, r.Header.Get("Authorization"))
			}
			if key != testKey {
				t.Fatalf("key = %+v", key)
			}
			a, err := parseAuthorization(r.Header.Get("Authorization"))
			if err != nil {
				t.Fatal(err)
			}
			values, err := signedHeaderValues(r, a.signedHeaders)
			if err != nil {
				t.Fatal(err)
			}
			ph := hexSHA256(s.body)
			if got, ok := sdkSignature(r, a, testKey, t0, ph, values); !ok || got != a.signature {
				t.Errorf("sdkSignature = %q, %v; want %q, true", got, ok, a.signature)
			}
			if got := manualSignature(r, a, testKey, t0, ph, values); got != a.signature {
				t.Errorf("manualSignature = %q, want %q", got, a.signature)
			}
		})
	}
}

// handSign is an independent SigV4 implementation for tests: it signs a
// canonical request given literally.
func handSign(secret, amzDate, scope, canonicalRequest string) string {
	h := sha256.Sum256([]byte(canonicalRequest))
	stringToSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	k := []byte("AWS4" + secret)
	for _, part := range append(strings.Split(scope, "/"), stringToSign) {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(part))
		k = m.Sum(nil)
	}
	return hex.EncodeToString(k)
}

func TestHandSignMatchesAWSVector(t *testing.T) {
	creq := "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + hexSHA256(nil)
	got := handSign("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830T123600Z", "20150830/us-east-1/service/aws4_request", creq)
	if want := "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"; got != want {
		t.Fatalf("handSign = %s, want %s", got, want)
	}
}

// TestBotocoreStyle checks requests signed the way botocore signs MSK
// rest-json calls: the path labels are percent-encoded once on the wire and
// again in the canonical URI, the query is sent in model order (here
// deliberately unsorted) and sorted only in the canonical request, and the
// signed headers are host;x-amz-date plus content-type and
// x-amz-security-token when present. The canonical requests are written out
// literally, independently of the package's code.
func TestBotocoreStyle(t *testing.T) {
	const amzDate = "20260314T150926Z"
	const scope = "20260314/us-east-1/kafka/aws4_request"
	body := `{"kafkaClusters": [], "replicatorName": "my-rep"}`
	cases := []struct {
		name, method, target, body string
		headers                    map[string]string // besides Host and X-Amz-Date
		signed, creq               string
		payloadHash                string
	}{
		{
			name: "DescribeReplicator", method: "GET", target: "/replication/v1/replicators/" + testARNPath,
			signed: "host;x-amz-date",
			creq: "GET\n/replication/v1/replicators/arn%253Aaws%253Akafka%253Aus-east-1%253A123456789012%253Areplicator%252Fmy-rep%252F4a5b6c7d-0000-1111-2222-333344445555\n\n" +
				"host:" + testHost + "\nx-amz-date:" + amzDate + "\n\nhost;x-amz-date\n" + hexSHA256(nil),
		},
		{
			name: "ListReplicators", method: "GET", target: "/replication/v1/replicators?replicatorNameFilter=my%20rep&nextToken=a%2Fb%3D%3D&maxResults=5",
			signed: "host;x-amz-date",
			creq: "GET\n/replication/v1/replicators\nmaxResults=5&nextToken=a%2Fb%3D%3D&replicatorNameFilter=my%20rep\n" +
				"host:" + testHost + "\nx-amz-date:" + amzDate + "\n\nhost;x-amz-date\n" + hexSHA256(nil),
		},
		{
			name: "UntagResource", method: "DELETE", target: "/v1/tags/" + testARNPath + "?tagKeys=zeta&tagKeys=alpha",
			signed: "host;x-amz-date",
			creq: "DELETE\n/v1/tags/arn%253Aaws%253Akafka%253Aus-east-1%253A123456789012%253Areplicator%252Fmy-rep%252F4a5b6c7d-0000-1111-2222-333344445555\ntagKeys=alpha&tagKeys=zeta\n" +
				"host:" + testHost + "\nx-amz-date:" + amzDate + "\n\nhost;x-amz-date\n" + hexSHA256(nil),
		},
		{
			name: "CreateReplicator", method: "POST", target: "/replication/v1/replicators", body: body,
			headers: map[string]string{"Content-Type": "application/json", "X-Amz-Security-Token": "tok/en+==", "User-Agent": "Boto3/1.40 md/Botocore#1.40", "Content-Length": "49"},
			signed:  "content-type;host;x-amz-date;x-amz-security-token",
			creq: "POST\n/replication/v1/replicators\n\ncontent-type:application/json\nhost:" + testHost + "\nx-amz-date:" + amzDate +
				"\nx-amz-security-token:tok/en+==\n\ncontent-type;host;x-amz-date;x-amz-security-token\n" + hexSHA256([]byte(body)),
		},
	}
	v := testVerifier(t0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "http://"+testHost+c.target, strings.NewReader(c.body))
			r.Header.Set("X-Amz-Date", amzDate)
			for k, val := range c.headers {
				r.Header.Set(k, val)
			}
			sig := handSign(testKey.SecretAccessKey, amzDate, scope, c.creq)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/"+scope+", SignedHeaders="+c.signed+", Signature="+sig)
			if key, err := v.Verify(r, []byte(c.body)); err != nil || key != testKey {
				t.Fatalf("Verify = %+v, %v", key, err)
			}
			if _, err := v.Verify(r, []byte(c.body+" ")); err == nil {
				t.Fatal("Verify accepted a different body")
			}
		})
	}
}

// TestAWSTestSuite runs vectors from the AWS SigV4 test suite whose paths
// need no escaping (so the double escaping of the canonical URI is moot).
// The 2011 vectors sign the Date header instead of X-Amz-Date.
func TestAWSTestSuite(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	v2015 := NewVerifier("us-east-1", "service", []Key{{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret, AccountID: "123456789012"}})
	v2015.Now = func() time.Time { return time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC) }
	v2011 := NewVerifier("us-east-1", "host", []Key{{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret, AccountID: "123456789012"}})
	v2011.Now = func() time.Time { return time.Date(2011, 9, 9, 23, 36, 0, 0, time.UTC) }

	cases := []struct {
		name, method, target, body string
		headers                    [][2]string
		signed, signature          string
		old                        bool // 2011 suite: Date header, host host.foo.com, service "host"
	}{
		{name: "get-vanilla", method: "GET", target: "/", signed: "host;x-amz-date",
			signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{name: "get-vanilla-query-order-key-case", method: "GET", target: "/?Param2=value2&Param1=value1", signed: "host;x-amz-date",
			signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{name: "get-vanilla-query-order-value", method: "GET", target: "/?Param1=value2&Param1=value1", signed: "host;x-amz-date",
			signature: "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
		{name: "get-vanilla-utf8-query", method: "GET", target: "/?%E1%88%B4=bar", signed: "host;x-amz-date",
			signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
		{name: "get-unreserved", method: "GET", target: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", signed: "host;x-amz-date",
			signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
		{name: "get-header-key-duplicate", method: "GET", target: "/", signed: "host;my-header1;x-amz-date",
			headers:   [][2]string{{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
			signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
		{name: "get-header-value-order", method: "GET", target: "/", signed: "host;my-header1;x-amz-date",
			headers:   [][2]string{{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}},
			signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
		{name: "get-header-value-trim", method: "GET", target: "/", signed: "host;my-header1;my-header2;x-amz-date",
			headers:   [][2]string{{"My-Header1", " value1"}, {"My-Header2", `"a   b   c"`}},
			signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
		{name: "post-x-www-form-urlencoded", method: "POST", target: "/", body: "Param1=value1", signed: "content-type;host;x-amz-date",
			headers:   [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}},
			signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
		{name: "2011 get-vanilla", method: "GET", target: "/", signed: "date;host", old: true,
			signature: "b27ccfbfa7df52a200ff74193ca6e32d4b48b8856fab7ebf1c595d0670a7e470"},
		{name: "2011 post-vanilla", method: "POST", target: "/", signed: "date;host", old: true,
			signature: "22902d79e148b64e7571c3565769328423fe276eae4b26f83afceda9e767f726"},
		{name: "2011 get-unreserved", method: "GET", target: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", signed: "date;host", old: true,
			signature: "830cc36d03f0f84e6ee4953fbe701c1c8b71a0372c63af9255aa364dd183281e"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host, v, scope := "example.amazonaws.com", v2015, "20150830/us-east-1/service/aws4_request"
			if c.old {
				host, v, scope = "host.foo.com", v2011, "20110909/us-east-1/host/aws4_request"
			}
			r := httptest.NewRequest(c.method, "http://"+host+c.target, strings.NewReader(c.body))
			if c.old {
				r.Header.Set("Date", "Mon, 09 Sep 2011 23:36:00 GMT")
			} else {
				r.Header.Set("X-Amz-Date", "20150830T123600Z")
			}
			for _, h := range c.headers {
				r.Header.Add(h[0], h[1])
			}
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"+scope+", SignedHeaders="+c.signed+", Signature="+c.signature)
			if _, err := v.Verify(r, []byte(c.body)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), c.signature[:4], "0000", 1))
			if _, err := v.Verify(r, []byte(c.body)); err == nil || reasonOf(t, err) != "signature does not match" {
				t.Fatalf("Verify with a changed signature = %v", err)
			}
		})
	}
}

// TestManualPath covers signed-header lists the SDK signer cannot reproduce
// (so the hand-built canonical request is used), each signed independently.
func TestManualPath(t *testing.T) {
	const amzDate = "20260314T150926Z"
	const scope = "20260314/us-east-1/kafka/aws4_request"
	cases := []struct {
		name, method, body string
		headers            map[string]string
		signed, creq       string
	}{
		{
			name: "user-agent signed", method: "GET", headers: map[string]string{"X-Amz-Date": amzDate, "User-Agent": "curl/8"},
			signed: "host;user-agent;x-amz-date",
			creq:   "GET\n/\n\nhost:" + testHost + "\nuser-agent:curl/8\nx-amz-date:" + amzDate + "\n\nhost;user-agent;x-amz-date\n" + hexSHA256(nil),
		},
		{
			name: "content-length 0 signed", method: "POST", headers: map[string]string{"X-Amz-Date": amzDate, "Content-Length": "0"},
			signed: "content-length;host;x-amz-date",
			creq:   "POST\n/\n\ncontent-length:0\nhost:" + testHost + "\nx-amz-date:" + amzDate + "\n\ncontent-length;host;x-amz-date\n" + hexSHA256(nil),
		},
		{
			name: "date header", method: "PUT", body: "x", headers: map[string]string{"Date": "Sat, 14 Mar 2026 15:09:26 GMT"},
			signed: "date;host",
			creq:   "PUT\n/\n\ndate:Sat, 14 Mar 2026 15:09:26 GMT\nhost:" + testHost + "\n\ndate;host\n" + hexSHA256([]byte("x")),
		},
	}
	v := testVerifier(t0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "http://"+testHost+"/", strings.NewReader(c.body))
			for k, val := range c.headers {
				r.Header.Set(k, val)
			}
			sig := handSign(testKey.SecretAccessKey, amzDate, scope, c.creq)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/"+scope+", SignedHeaders="+c.signed+", Signature="+sig)
			if _, err := v.Verify(r, []byte(c.body)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			a, _ := parseAuthorization(r.Header.Get("Authorization"))
			values, _ := signedHeaderValues(r, a.signedHeaders)
			if _, ok := sdkSignature(r, a, testKey, t0, hexSHA256([]byte(c.body)), values); ok {
				t.Error("sdkSignature claims to reproduce the list; the manual path was not exercised")
			}
		})
	}
}

func TestPayloadHashHeader(t *testing.T) {
	v := testVerifier(t0)

	// Finding #7: a request signed with UNSIGNED-PAYLOAD (correctly, by the
	// key's owner) is refused whatever its body, so a captured one cannot
	// be replayed with another body; so are the streaming forms.
	s := defaultSpec()
	s.payloadHash = unsignedPayload
	s.headers = map[string]string{"X-Amz-Content-Sha256": unsignedPayload}
	r := sign(t, s)
	for _, body := range [][]byte{s.body, []byte("any body at all")} {
		if _, err := v.Verify(r, body); err == nil || !strings.Contains(reasonOf(t, err), "UNSIGNED-PAYLOAD is not accepted") {
			t.Fatalf("UNSIGNED-PAYLOAD: %v", err)
		}
	}
	for _, streaming := range []string{"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"} {
		s = defaultSpec()
		s.payloadHash = streaming
		s.headers = map[string]string{"X-Amz-Content-Sha256": streaming}
		if _, err := v.Verify(sign(t, s), s.body); err == nil || !strings.Contains(reasonOf(t, err), streaming+" is not accepted") {
			t.Fatalf("%s: %v", streaming, err)
		}
	}

	// An attacker cannot turn a request with a signed body into an unsigned one.
	s = defaultSpec()
	r = sign(t, s)
	r.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	if _, err := v.Verify(r, []byte("forged")); err == nil {
		t.Fatalf("UNSIGNED-PAYLOAD added: accepted")
	}

	s = defaultSpec()
	s.headers = map[string]string{"X-Amz-Content-Sha256": hexSHA256(s.body)}
	r = sign(t, s)
	if _, err := v.Verify(r, s.body); err != nil {
		t.Fatalf("matching X-Amz-Content-Sha256: %v", err)
	}
	if _, err := v.Verify(r, []byte("other")); err == nil || reasonOf(t, err) != "X-Amz-Content-Sha256 does not match the request body" {
		t.Fatalf("mismatching X-Amz-Content-Sha256: %v", err)
	}
}

func TestSkew(t *testing.T) {
	r := sign(t, defaultSpec())
	body := defaultSpec().body
	for _, d := range []time.Duration{0, 4 * time.Minute, -4 * time.Minute, 5 * time.Minute, -5 * time.Minute} {
		if _, err := testVerifier(t0.Add(d)).Verify(r, body); err != nil {
			t.Errorf("server time %v from request: %v", d, err)
		}
	}
	for _, d := range []time.Duration{6 * time.Minute, -6 * time.Minute, 5*time.Minute + time.Second, 24 * time.Hour} {
		_, err := testVerifier(t0.Add(d)).Verify(r, body)
		if err == nil || reasonOf(t, err) != "request time is more than 5 minutes from the server time" {
			t.Errorf("server time %v from request: %v", d, err)
		}
	}
	v := testVerifier(t0.Add(90 * time.Second))
	v.MaxSkew = time.Minute
	if _, err := v.Verify(r, body); err == nil || reasonOf(t, err) != "request time is more than 1 minute from the server time" {
		t.Errorf("MaxSkew 1m: %v", err)
	}
}

func TestRejections(t *testing.T) {
	body := defaultSpec().body
	validAuthz := sign(t, defaultSpec()).Header.Get("Authorization")
	sig := validAuthz[strings.LastIndex(validAuthz, "=")+1:]
	cred := "Credential=AKID/20260314/us-east-1/kafka/aws4_request"
	signed := "SignedHeaders=content-length;content-type;host;x-amz-date"
	if !strings.Contains(validAuthz, cred) || !strings.Contains(validAuthz, signed) {
		t.Fatalf("unexpected SDK Authorization header %q", validAuthz)
	}

	type tc struct {
		name   string
		mutate func(r *http.Request, body *[]byte) *http.Request // after signing; may return a new request
		reason string                                            // exact, or prefix when ending in ": "
		spec   func(s *signSpec)                                 // before signing
	}
	setAuthz := func(v string) func(*http.Request, *[]byte) *http.Request {
		return func(r *http.Request, _ *[]byte) *http.Request {
			r.Header.Set("Authorization", v)
			return r
		}
	}
	const malformed = "malformed Authorization header: "
	cases := []tc{
		{name: "missing header", reason: "missing Authorization header",
			mutate: func(r *http.Request, _ *[]byte) *http.Request { r.Header.Del("Authorization"); return r }},
		{name: "two headers", reason: malformed,
			mutate: func(r *http.Request, _ *[]byte) *http.Request {
				r.Header.Add("Authorization", r.Header.Get("Authorization"))
				return r
			}},
		{name: "unknown key", reason: "unknown access key id", spec: func(s *signSpec) { s.creds.AccessKeyID = "NOPE" }},
		{name: "wrong secret", reason: "signature does not match", spec: func(s *signSpec) { s.creds.SecretAccessKey = "WRONG" }},
		{name: "other key's secret", reason: "signature does not match", spec: func(s *signSpec) { s.creds.SecretAccessKey = otherKey.SecretAccessKey }},
		{name: "tampered body", reason: "signature does not match",
			mutate: func(r *http.Request, b *[]byte) *http.Request {
				*b = []byte(`{"description":"hellO"}`)
				return r
			}},
		{name: "tampered query value", reason: "signature does not match",
			mutate: func(r *http.Request, _ *[]byte) *http.Request {
				r.URL.RawQuery = "b=3&a=x+y&a=%2F"
				return r
			}},
		{name: "added query parameter", reason: "signature does not match",
			mutate: func(r *http.Request, _ *[]byte) *http.Request { r.URL.RawQuery += "&c=1"; return r }},
		{name: "removed query", reason: "signature does not match",
			mutate: func(r *http.Request, _ *[]byte) *http.Request { r.URL.RawQuery = ""; return r }},
		{name: "malformed query", reason: "malformed query string",
			mutate: func(r *http.Request, _ *[]byte) *http.Request { r.URL.RawQuery += "&c=%zz"; return r }},
		{name: "tampered path", reason: "signature does not match", mutate: retarget("/replication/v1/replicators/" + strings.Replace(testARNPath, "my-rep", "my-req", 1))},
		{name: "escaped slash unescaped", reason: "signature does not match", mutate: retarget("/replication/v1/replicators/" + strings.ReplaceAll(testARNPath, "%2F", "/"))},
		{name: "escaped colon unescaped", reason: "signature does not match", mutate: retarget("/replication/v1/replicators/" + strings.ReplaceAll(testARNPath, "%3A", ":"))},
		{name: "tampered method", reason: "signature does not match",
			mutate: func(r *http.Request, _ *[]byte) *http.Request { r.Method = http.MethodPut; return r }},
		{name: "tampered host", reason: "signature does not match",
			mutate: func(r *http.Request, _ *[]byte) *http.Request { r.Host = "evil.test"; return r }},
		{name: "tampered signed header", reason: "signature does not match",
			mutate: func(r *http.Request, _ *[]byte) *http.Request {
				r.Header.Set("Content-Type", "text/plain")
				return r
			}},
		{name: "signed header removed", reason: "signed header content-type is missing from the request",
			mutate: func(r *http.Request, _ *[]byte) *http.Request { r.Header.Del("Content-Type"); return r }},
		{name: "wrong region", reason: `credential scope region "eu-west-1" does not match "us-east-1"`, spec: func(s *signSpec) { s.region = "eu-west-1" }},
		{name: "wrong service", reason: `credential scope service "s3" does not match "kafka"`, spec: func(s *signSpec) { s.service = "s3" }},
		{name: "scope date differs", reason: `credential scope date "20260313" does not match the request date "20260314"`,
			mutate: setAuthz(strings.Replace(validAuthz, "/20260314/", "/20260313/", 1))},
		{name: "host not signed", reason: "SignedHeaders must include host",
			mutate: setAuthz(algorithm + " " + cred + ", SignedHeaders=content-length;content-type;x-amz-date, Signature=" + sig)},
		{name: "x-amz-date not signed", reason: "SignedHeaders must include x-amz-date",
			mutate: setAuthz(algorithm + " " + cred + ", SignedHeaders=content-length;content-type;host, Signature=" + sig)},
		{name: "signed header list changed", reason: "signature does not match",
			mutate: setAuthz(algorithm + " " + cred + ", SignedHeaders=content-type;host;x-amz-date, Signature=" + sig)},
		{name: "missing X-Amz-Date", reason: "missing X-Amz-Date header",
			mutate: func(r *http.Request, _ *[]byte) *http.Request { r.Header.Del("X-Amz-Date"); return r }},
		{name: "X-Amz-Date extended format", reason: "malformed X-Amz-Date: want yyyymmddThhmmssZ",
			mutate: func(r *http.Request, _ *[]byte) *http.Request {
				r.Header.Set("X-Amz-Date", "2026-03-14T15:09:26Z")
				return r
			}},
		{name: "X-Amz-Date short hour", reason: "malformed X-Amz-Date: want yyyymmddThhmmssZ",
			mutate: func(r *http.Request, _ *[]byte) *http.Request {
				r.Header.Set("X-Amz-Date", "20260314T50926Z")
				return r
			}},
		{name: "X-Amz-Date moved by a second", reason: "signature does not match",
			mutate: func(r *http.Request, _ *[]byte) *http.Request {
				r.Header.Set("X-Amz-Date", "20260314T150927Z")
				return r
			}},
		{name: "Date header ignored when X-Amz-Date present", reason: "signature does not match",
			mutate: func(r *http.Request, _ *[]byte) *http.Request {
				r.Header.Set("Date", "Sat, 14 Mar 2026 15:09:26 GMT")
				r.Header.Set("X-Amz-Date", "20260314T150927Z")
				return r
			}},
	}
	for _, garbage := range []string{
		"",
		"Bearer abc",
		"AWS4-HMAC-SHA1 " + cred + ", " + signed + ", Signature=" + sig,
		algorithm,
		algorithm + " ",
		algorithm + " " + cred,
		algorithm + " " + cred + ", " + signed,
		algorithm + " " + cred + ", " + signed + ", Signature=" + sig + ", Extra=1",
		algorithm + " " + cred + ", " + signed + ", Signature=" + strings.ToUpper(sig),
		algorithm + " " + cred + ", " + signed + ", Signature=" + sig[:63],
		algorithm + " " + cred + ", " + signed + ", Signature=" + sig[:63] + "g",
		algorithm + " " + cred + ", " + signed + ", Signature=",
		algorithm + " " + cred + ", " + signed + ", Signatur=" + sig,
		algorithm + " " + cred + ", " + cred + ", Signature=" + sig,
		algorithm + " " + cred + ", " + signed + ", " + sig,
		algorithm + " Credential=AKID/20260314/us-east-1/kafka, " + signed + ", Signature=" + sig,
		algorithm + " Credential=AKID/20260314/us-east-1/kafka/aws4_request/x, " + signed + ", Signature=" + sig,
		algorithm + " Credential=AKID/20260314/us-east-1/kafka/aws5_request, " + signed + ", Signature=" + sig,
		algorithm + " Credential=/20260314/us-east-1/kafka/aws4_request, " + signed + ", Signature=" + sig,
		algorithm + " Credential=AKID/20261314/us-east-1/kafka/aws4_request, " + signed + ", Signature=" + sig,
		algorithm + " Credential=AKID/2026031/us-east-1/kafka/aws4_request, " + signed + ", Signature=" + sig,
		algorithm + " Credential=AKID/20260314//kafka/aws4_request, " + signed + ", Signature=" + sig,
		algorithm + " " + cred + ", SignedHeaders=x-amz-date;host, Signature=" + sig,
		algorithm + " " + cred + ", SignedHeaders=host;host;x-amz-date, Signature=" + sig,
		algorithm + " " + cred + ", SignedHeaders=Host;x-amz-date, Signature=" + sig,
		algorithm + " " + cred + ", SignedHeaders=host;;x-amz-date, Signature=" + sig,
		algorithm + " " + cred + ", SignedHeaders=host; x-amz-date, Signature=" + sig,
		algorithm + " " + cred + ", SignedHeaders=authorization;host;x-amz-date, Signature=" + sig,
		algorithm + " " + cred + "; " + signed + "; Signature=" + sig,
		"\x00\xff" + strings.Repeat(",", 1000),
	} {
		cases = append(cases, tc{name: "malformed " + garbage, reason: malformed, mutate: setAuthz(garbage)})
	}

	v := testVerifier(t0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := defaultSpec()
			if c.spec != nil {
				c.spec(&s)
			}
			r := sign(t, s)
			b := s.body
			if c.mutate != nil {
				r = c.mutate(r, &b)
			}
			_, err := v.Verify(r, b)
			if err == nil {
				t.Fatal("Verify succeeded")
			}
			got := reasonOf(t, err)
			if strings.HasSuffix(c.reason, ": ") && strings.HasPrefix(got, c.reason) || got == c.reason {
				return
			}
			t.Fatalf("reason %q, want %q", got, c.reason)
		})
	}
	// The untouched request verifies, so every rejection above is due to its mutation.
	if _, err := v.Verify(sign(t, defaultSpec()), body); err != nil {
		t.Fatalf("unmodified request: %v", err)
	}
}

// retarget moves the signed headers to a request for another target.
func retarget(target string) func(*http.Request, *[]byte) *http.Request {
	return func(r *http.Request, _ *[]byte) *http.Request {
		n := httptest.NewRequest(r.Method, "http://"+testHost+target+"?"+r.URL.RawQuery, nil)
		n.Header = r.Header.Clone()
		n.ContentLength = r.ContentLength
		return n
	}
}

func TestAuthErrorNeverLeaksSecret(t *testing.T) {
	s := defaultSpec()
	s.creds.SecretAccessKey = "WRONG"
	r := sign(t, s)
	_, err := testVerifier(t0).Verify(r, s.body)
	for _, secret := range []string{testKey.SecretAccessKey, otherKey.SecretAccessKey, "WRONG"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q contains a secret", err)
		}
	}
}
