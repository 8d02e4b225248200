package sigv4

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The expected signature is computed in one of two ways.
//
// Normally the request is rebuilt carrying exactly the headers the client
// signed and re-signed with the SDK's own signer (sdkSignature), so the
// canonicalisation (double-escaped path, sorted and re-encoded query, trimmed
// header values) is the SDK's. That covers the Go SDK and botocore as they sign
// control-plane requests.
//
// The SDK signer cannot reproduce every signed-header list a SigV4 client may
// send: it always signs host and x-amz-date (so a Date-header request differs),
// signs content-length only when it is > 0 (from Request.ContentLength, not the
// header), and never signs User-Agent, X-Amzn-Trace-Id, Expect or
// Transfer-Encoding. When the list the SDK produced differs from the client's,
// the canonical request is built here by the same rules (manualSignature);
// tests check that both ways agree wherever the SDK can be used.

// sdkSignature re-signs r with the SDK signer. ok is false when the SDK
// cannot sign exactly the client's header list.
func sdkSignature(r *http.Request, a authorization, key Key, t time.Time, payloadHash string, values map[string][]string) (sig string, ok bool) {
	req := &http.Request{
		Method: r.Method,
		// Path and RawPath give the same EscapedPath as r; the signer escapes
		// it once more, as clients do. It also rewrites RawQuery of req only.
		URL:    &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: make(http.Header, len(values)),
	}
	for name, vs := range values {
		switch name {
		case "host", "x-amz-date": // the signer takes these from req.Host and t
		case "content-length": // the signer takes this from req.ContentLength if > 0
			if n, err := strconv.ParseInt(vs[0], 10, 64); len(vs) == 1 && err == nil && n > 0 && strconv.FormatInt(n, 10) == vs[0] {
				req.ContentLength = n
			}
		default:
			req.Header[textproto.CanonicalMIMEHeaderKey(name)] = slices.Clone(vs)
		}
	}
	creds := aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, req, payloadHash, a.service, a.region, t); err != nil {
		return "", false
	}
	got, err := parseAuthorization(req.Header.Get("Authorization"))
	if err != nil || got.signedHeadersRaw != a.signedHeadersRaw {
		return "", false
	}
	return got.signature, true
}

// manualSignature computes the signature from a canonical request built here,
// following the rules the SDK signer applies.
func manualSignature(r *http.Request, a authorization, key Key, t time.Time, payloadHash string, values map[string][]string) string {
	var creq strings.Builder
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	creq.WriteString(r.Method + "\n" + uriEncode(path, false) + "\n" + canonicalQuery(r.URL.RawQuery) + "\n")
	for _, name := range a.signedHeaders {
		creq.WriteString(name + ":")
		for i, v := range values[name] {
			if i > 0 {
				creq.WriteByte(',')
			}
			creq.WriteString(trimAll(v))
		}
		creq.WriteByte('\n')
	}
	creq.WriteString("\n" + a.signedHeadersRaw + "\n" + payloadHash)

	creqHash := sha256.Sum256([]byte(creq.String()))
	scope := a.date + "/" + a.region + "/" + a.service + "/" + scopeTerminator
	stringToSign := algorithm + "\n" + t.UTC().Format(amzDateLayout) + "\n" + scope + "\n" + hex.EncodeToString(creqHash[:])

	return hex.EncodeToString(hmacSHA256(signingKey(key.SecretAccessKey, a.date, a.region, a.service), stringToSign))
}

// signingKey derives the key of one day's scope from the secret.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	for _, part := range []string{region, service, scopeTerminator} {
		k = hmacSHA256(k, part)
	}
	return k
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalQuery encodes each name and value of the (already validated) raw
// query and sorts the pairs by encoded name, then encoded value.
func canonicalQuery(raw string) string {
	q, _ := url.ParseQuery(raw)
	var pairs [][2]string
	for name, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, [2]string{uriEncode(name, true), uriEncode(v, true)})
		}
	}
	slices.SortFunc(pairs, func(x, y [2]string) int {
		return cmp.Or(strings.Compare(x[0], y[0]), strings.Compare(x[1], y[1]))
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p[0] + "=" + p[1]
	}
	return strings.Join(parts, "&")
}

// uriEncode percent-encodes every byte except A-Za-z0-9-._~ (and '/' unless
// encodeSlash), with upper-case hex: the AWS URI-encoding rule.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' && !encodeSlash {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + string(hexDigits[c>>4]) + string(hexDigits[c&15]))
		}
	}
	return b.String()
}

// trimAll trims surrounding white space and collapses runs of spaces.
func trimAll(s string) string {
	s = strings.TrimSpace(s)
	for strings.Contains(s, "  ") {
		s = strings.ReplaceAll(s, "  ", " ")
	}
	return s
}
