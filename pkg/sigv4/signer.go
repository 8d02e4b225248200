package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sync/atomic"
	"time"
)

// emptyPayloadHash is the hex SHA-256 of an empty body.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Signer signs bodiless requests (GET, DELETE) the way the AWS SDKs sign
// them for this API: the Authorization header over host and x-amz-date, the
// payload hash of an empty body. It is the client side the project's own
// load generators use (cmd/bench); it caches the derived signing key for the
// day, so a signature costs one hash of the canonical request and one HMAC.
// Safe for concurrent use.
type Signer struct {
	AccessKeyID     string
	SecretAccessKey string
	Region          string
	Service         string // "kafka"

	cached atomic.Pointer[dayKey]
}

type dayKey struct {
	day   string
	scope string // day/region/service/aws4_request
	key   []byte
}

// NewSigner returns a signer for the given credentials and scope.
func NewSigner(accessKeyID, secretAccessKey, region, service string) *Signer {
	return &Signer{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey, Region: region, Service: service}
}

func (s *Signer) keyFor(day string) *dayKey {
	if k := s.cached.Load(); k != nil && k.day == day {
		return k
	}
	k := &dayKey{day: day, scope: day + "/" + s.Region + "/" + s.Service + "/" + scopeTerminator,
		key: signingKey(s.SecretAccessKey, day, s.Region, s.Service)}
	s.cached.Store(k)
	return k
}

// Sign sets X-Amz-Date and Authorization on r, which must have no body. The
// host signed is r.Host, or r.URL.Host when that is empty (what net/http
// sends).
func (s *Signer) Sign(r *http.Request, now time.Time) {
	amzDate := now.UTC().Format(amzDateLayout)
	k := s.keyFor(now.UTC().Format(scopeDateLayout))
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	creq := r.Method + "\n" + uriEncode(path, false) + "\n" + canonicalQuery(r.URL.RawQuery) +
		"\nhost:" + host + "\nx-amz-date:" + amzDate + "\n\nhost;x-amz-date\n" + emptyPayloadHash
	h := sha256.Sum256([]byte(creq))
	stringToSign := algorithm + "\n" + amzDate + "\n" + k.scope + "\n" + hex.EncodeToString(h[:])
	r.Header.Set("X-Amz-Date", amzDate)
	r.Header.Set("Authorization", algorithm+" Credential="+s.AccessKeyID+"/"+k.scope+
		", SignedHeaders=host;x-amz-date, Signature="+hex.EncodeToString(hmacSHA256(k.key, stringToSign)))
}
