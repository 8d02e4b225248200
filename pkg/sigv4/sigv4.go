// Package sigv4 verifies SigV4-signed requests (header form) for the control
// plane: requests to the REST API that emulates Amazon MSK's Replicator API,
// signed by AWS SDKs and CLIs with signing service name "kafka".
//
// Only the Authorization-header form of AWS Signature Version 4 is accepted;
// presigned (query-string) requests are not.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm       = "AWS4-HMAC-SHA256"
	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"
	scopeTerminator = "aws4_request"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	defaultMaxSkew  = 5 * time.Minute
)

// Key is one set of credentials the control plane accepts.
type Key struct {
	AccessKeyID     string
	SecretAccessKey string
	AccountID       string // 12 digits; the account the key acts for
}

// ParseKeys parses "AKID:SECRET:ACCOUNT_ID[,AKID:SECRET:ACCOUNT_ID...]".
// Whitespace around items and fields is ignored. The secret is everything
// between the first and the last ':' of an item. An empty list, an empty
// item, an invalid field or a repeated access key id is an error. Error
// messages identify items by position and never quote any field, so a
// misplaced secret cannot leak through them.
func ParseKeys(s string) ([]Key, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("sigv4: no keys given")
	}
	var keys []Key
	seen := make(map[string]int)
	for i, item := range strings.Split(s, ",") {
		n := i + 1
		item = strings.TrimSpace(item)
		first, last := strings.IndexByte(item, ':'), strings.LastIndexByte(item, ':')
		if first < 0 || first == last {
			return nil, fmt.Errorf("sigv4: key entry %d: want access-key-id:secret:account-id", n)
		}
		k := Key{
			AccessKeyID:     strings.TrimSpace(item[:first]),
			SecretAccessKey: strings.TrimSpace(item[first+1 : last]),
			AccountID:       strings.TrimSpace(item[last+1:]),
		}
		switch {
		case !validAccessKeyID(k.AccessKeyID):
			return nil, fmt.Errorf("sigv4: key entry %d: access key id is empty or has characters other than printable ascii without '/'", n)
		case k.SecretAccessKey == "":
			return nil, fmt.Errorf("sigv4: key entry %d: secret access key is empty", n)
		case len(k.AccountID) != 12 || strings.Trim(k.AccountID, "0123456789") != "":
			return nil, fmt.Errorf("sigv4: key entry %d: account id must be 12 digits", n)
		}
		if prev, dup := seen[k.AccessKeyID]; dup {
			return nil, fmt.Errorf("sigv4: key entry %d: duplicate access key id (same as entry %d)", n, prev)
		}
		seen[k.AccessKeyID] = n
		keys = append(keys, k)
	}
	return keys, nil
}

// validAccessKeyID reports whether id can appear in a credential scope:
// non-empty printable ASCII without spaces or '/'.
func validAccessKeyID(id string) bool {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '/' {
			return false
		}
	}
	return id != ""
}

// Verifier checks SigV4 Authorization headers. Its fields are read-only once
// it is in use, so one Verifier may serve concurrent requests.
type Verifier struct {
	Region  string           // expected region in the credential scope
	Service string           // expected service in the credential scope ("kafka")
	Keys    map[string]Key   // by access key id
	Now     func() time.Time // nil = time.Now
	MaxSkew time.Duration    // allowed distance between request and server time; 0 = 5 minutes
}

// NewVerifier returns a Verifier for region and service that accepts keys.
func NewVerifier(region, service string, keys []Key) *Verifier {
	m := make(map[string]Key, len(keys))
	for _, k := range keys {
		m[k.AccessKeyID] = k
	}
	return &Verifier{Region: region, Service: service, Keys: m}
}

// AuthError is returned for every authentication failure. Reason names the
// cause and is safe to show to the client: it never contains a secret.
type AuthError struct{ Reason string }

func (e *AuthError) Error() string { return "sigv4: " + e.Reason }

func authErr(format string, args ...any) error {
	return &AuthError{Reason: fmt.Sprintf(format, args...)}
}

// Verify checks r (whose body has already been read into body; r.Body must
// not be read by Verify) and returns the key that signed it. Every failure is
// an *AuthError.
func (v *Verifier) Verify(r *http.Request, body []byte) (Key, error) {
	authz := r.Header.Values("Authorization")
	switch {
	case len(authz) == 0:
		return Key{}, authErr("missing Authorization header")
	case len(authz) > 1:
		return Key{}, authErr("malformed Authorization header: more than one Authorization header")
	}
	a, err := parseAuthorization(authz[0])
	if err != nil {
		return Key{}, err
	}
	t, dateHeader, err := requestTime(r.Header)
	if err != nil {
		return Key{}, err
	}
	now, skew := time.Now, v.MaxSkew
	if v.Now != nil {
		now = v.Now
	}
	if skew <= 0 {
		skew = defaultMaxSkew
	}
	if d := now().Sub(t); d > skew || d < -skew {
		return Key{}, authErr("request time is more than %s from the server time", humanDuration(skew))
	}
	if day := t.Format(scopeDateLayout); a.date != day {
		return Key{}, authErr("credential scope date %q does not match the request date %q", a.date, day)
	}
	if a.region != v.Region {
		return Key{}, authErr("credential scope region %q does not match %q", a.region, v.Region)
	}
	if a.service != v.Service {
		return Key{}, authErr("credential scope service %q does not match %q", a.service, v.Service)
	}
	for _, h := range []string{"host", dateHeader} {
		if !slices.Contains(a.signedHeaders, h) {
			return Key{}, authErr("SignedHeaders must include %s", h)
		}
	}
	key, ok := v.Keys[a.accessKeyID]
	if !ok {
		return Key{}, authErr("unknown access key id")
	}
	if r.URL == nil {
		return Key{}, authErr("request has no URL")
	}
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		return Key{}, authErr("malformed query string")
	}
	payloadHash, err := payloadHash(r.Header, body)
	if err != nil {
		return Key{}, err
	}
	values, err := signedHeaderValues(r, a.signedHeaders)
	if err != nil {
		return Key{}, err
	}
	want, ok := sdkSignature(r, a, key, t, payloadHash, values)
	if !ok {
		want = manualSignature(r, a, key, t, payloadHash, values)
	}
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return Key{}, authErr("signature does not match")
	}
	return key, nil
}

// authorization is a parsed Authorization header.
type authorization struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string // lower case, sorted, unique
	signedHeadersRaw                   string
	signature                          string // 64 lower-case hex digits
}

// parseAuthorization parses
// "AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/region/service/aws4_request, SignedHeaders=a;b, Signature=hex".
// The three components may come in any order, each exactly once.
func parseAuthorization(s string) (authorization, error) {
	bad := func(why string) (authorization, error) {
		return authorization{}, authErr("malformed Authorization header: %s", why)
	}
	rest, ok := strings.CutPrefix(s, algorithm+" ")
	if !ok {
		return bad("want algorithm " + algorithm)
	}
	parts := strings.Split(rest, ",")
	if len(parts) != 3 {
		return bad("want Credential, SignedHeaders and Signature")
	}
	var cred, signed, sig string
	for _, p := range parts {
		name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || value == "" {
			return bad("want name=value components")
		}
		var dst *string
		switch name {
		case "Credential":
			dst = &cred
		case "SignedHeaders":
			dst = &signed
		case "Signature":
			dst = &sig
		default:
			return bad("unknown component")
		}
		if *dst != "" {
			return bad("repeated component")
		}
		*dst = value
	}

	a := authorization{signedHeadersRaw: signed, signature: sig}
	c := strings.Split(cred, "/")
	if len(c) != 5 || c[4] != scopeTerminator || slices.Contains(c, "") {
		return bad("Credential must be access-key-id/yyyymmdd/region/service/aws4_request")
	}
	a.accessKeyID, a.date, a.region, a.service = c[0], c[1], c[2], c[3]
	if d, err := time.Parse(scopeDateLayout, a.date); err != nil || d.Format(scopeDateLayout) != a.date {
		return bad("credential scope date must be yyyymmdd")
	}

	a.signedHeaders = strings.Split(signed, ";")
	for i, h := range a.signedHeaders {
		if !validHeaderName(h) {
			return bad("SignedHeaders must be lower-case header names separated by ';'")
		}
		if i > 0 && h <= a.signedHeaders[i-1] {
			return bad("SignedHeaders must be sorted and without repeats")
		}
		if h == "authorization" {
			return bad("SignedHeaders must not include authorization")
		}
	}

	if len(sig) != 64 || strings.Trim(sig, "0123456789abcdef") != "" {
		return bad("Signature must be 64 lower-case hex digits")
	}
	return a, nil
}

// validHeaderName reports whether h is a lower-case HTTP header name (token).
func validHeaderName(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return h != ""
}

// requestTime returns the request's signing time and the header it came from:
// X-Amz-Date (yyyymmddThhmmssZ) or, only when that is absent, Date.
func requestTime(h http.Header) (time.Time, string, error) {
	if vs := h.Values("X-Amz-Date"); len(vs) > 0 {
		if len(vs) > 1 {
			return time.Time{}, "", authErr("more than one X-Amz-Date header")
		}
		t, err := time.Parse(amzDateLayout, vs[0])
		if err != nil || t.Format(amzDateLayout) != vs[0] {
			return time.Time{}, "", authErr("malformed X-Amz-Date: want yyyymmddThhmmssZ")
		}
		return t, "x-amz-date", nil
	}
	vs := h.Values("Date")
	switch {
	case len(vs) == 0:
		return time.Time{}, "", authErr("missing X-Amz-Date header")
	case len(vs) > 1:
		return time.Time{}, "", authErr("more than one Date header")
	}
	t, err := http.ParseTime(vs[0])
	if err != nil {
		return time.Time{}, "", authErr("malformed Date header")
	}
	return t.UTC(), "date", nil
}

// payloadHash returns the payload hash for the canonical request: always
// the hex SHA-256 of the body actually received, so the signature covers
// the body. X-Amz-Content-Sha256, when sent, must be that hash: the
// literal UNSIGNED-PAYLOAD (which would let a captured request be replayed
// with another body) and the STREAMING-* chunked forms are refused.
func payloadHash(h http.Header, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	actual := hex.EncodeToString(sum[:])
	vs := h.Values("X-Amz-Content-Sha256")
	switch {
	case len(vs) == 0:
		return actual, nil
	case len(vs) > 1:
		return "", authErr("more than one X-Amz-Content-Sha256 header")
	case vs[0] == unsignedPayload:
		return "", authErr("X-Amz-Content-Sha256 UNSIGNED-PAYLOAD is not accepted: this service requires the SHA-256 of the body in the signature")
	case strings.HasPrefix(vs[0], "STREAMING-"):
		return "", authErr("X-Amz-Content-Sha256 %s is not accepted: this service does not take streaming (chunk-signed) payloads", truncate(vs[0]))
	case vs[0] != actual:
		return "", authErr("X-Amz-Content-Sha256 does not match the request body")
	}
	return actual, nil
}

// truncate bounds a client-supplied value quoted in an error.
func truncate(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// signedHeaderValues collects the values of every signed header. host comes
// from r.Host, content-length from the header or else r.ContentLength.
func signedHeaderValues(r *http.Request, names []string) (map[string][]string, error) {
	values := make(map[string][]string, len(names))
	for _, name := range names {
		vs := r.Header.Values(name)
		switch {
		case name == "host":
			vs = []string{r.Host}
		case name == "content-length" && len(vs) == 0 && r.ContentLength >= 0:
			vs = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		if len(vs) == 0 {
			return nil, authErr("signed header %s is missing from the request", name)
		}
		values[name] = vs
	}
	return values, nil
}

// humanDuration renders whole minutes as "5 minutes", anything else as Go does.
func humanDuration(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "1 minute"
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}
