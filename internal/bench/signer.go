// Package bench holds the pieces of cmd/apibench: a minimal SigV4 signer, a
// closed-loop HTTP load generator with a log-linear latency histogram, a
// pgbench runner, the replicator seeding and the report.
package bench

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

const (
	amzDateLayout = "20060102T150405Z"
	dayLayout     = "20060102"
	// EmptyPayloadHash is the hex SHA-256 of an empty body.
	EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Signer signs requests with AWS Signature Version 4 (Authorization header
// form), signing only host and x-amz-date, as the AWS SDKs do for the MSK
// Replicator GET operations. The derived signing key is cached per day, so a
// signature costs two SHA-256 hashes: the canonical request and one HMAC.
// Signer is safe for concurrent use.
type Signer struct {
	AccessKeyID string
	Secret      string
	Region      string
	Service     string // "kafka"

	cached atomic.Pointer[dayKey]
}

type dayKey struct {
	day   string
	scope string // day/region/service/aws4_request
	key   []byte
}

// NewSigner returns a signer for the given credentials and scope.
func NewSigner(akid, secret, region, service string) *Signer {
	return &Signer{AccessKeyID: akid, Secret: secret, Region: region, Service: service}
}

func (s *Signer) keyFor(day string) *dayKey {
	if k := s.cached.Load(); k != nil && k.day == day {
		return k
	}
	k := hmacSHA256([]byte("AWS4"+s.Secret), day)
	for _, part := range []string{s.Region, s.Service, "aws4_request"} {
		k = hmacSHA256(k, part)
	}
	dk := &dayKey{day: day, scope: day + "/" + s.Region + "/" + s.Service + "/aws4_request", key: k}
	s.cached.Store(dk)
	return dk
}

// Sign sets X-Amz-Date and Authorization on req, which must have an empty
// body. The host signed is req.Host, or req.URL.Host when that is empty
// (what net/http sends).
func (s *Signer) Sign(req *http.Request, now time.Time) {
	now = now.UTC()
	amzDate := now.Format(amzDateLayout)
	dk := s.keyFor(now.Format(dayLayout))
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}

	var b strings.Builder
	b.Grow(256)
	b.WriteString(req.Method)
	b.WriteByte('\n')
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	// The SDKs escape the already-escaped path once more: '%' becomes %25.
	uriEncode(&b, path, false)
	b.WriteByte('\n')
	canonicalQuery(&b, req.URL.RawQuery)
	b.WriteString("\nhost:")
	b.WriteString(host)
	b.WriteString("\nx-amz-date:")
	b.WriteString(amzDate)
	b.WriteString("\n\nhost;x-amz-date\n")
	b.WriteString(EmptyPayloadHash)
	creq := sha256.Sum256([]byte(b.String()))

	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + dk.scope + "\n" + hex.EncodeToString(creq[:])
	sig := hex.EncodeToString(hmacSHA256(dk.key, sts))

	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+s.AccessKeyID+"/"+dk.scope+
		", SignedHeaders=host;x-amz-date, Signature="+sig)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalQuery writes the query with each name and value URI-encoded,
// pairs sorted by name then value.
func canonicalQuery(b *strings.Builder, raw string) {
	if raw == "" {
		return
	}
	q, _ := url.ParseQuery(raw)
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range q {
		for _, v := range vs {
			var kb, vb strings.Builder
			uriEncode(&kb, k, true)
			uriEncode(&vb, v, true)
			pairs = append(pairs, pair{kb.String(), vb.String()})
		}
	}
	slices.SortFunc(pairs, func(x, y pair) int {
		if c := strings.Compare(x.k, y.k); c != 0 {
			return c
		}
		return strings.Compare(x.v, y.v)
	})
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
}

// uriEncode percent-encodes every byte but A-Za-z0-9-._~ (and '/' unless
// encodeSlash) with upper-case hex, the AWS rule.
func uriEncode(b *strings.Builder, s string, encodeSlash bool) {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' && !encodeSlash {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
}

// EscapeLabel percent-encodes an ARN for use as one path segment, as the
// SDKs do for the {replicatorArn} label (':' → %3A, '/' → %2F).
func EscapeLabel(s string) string {
	var b strings.Builder
	uriEncode(&b, s, true)
	return b.String()
}
