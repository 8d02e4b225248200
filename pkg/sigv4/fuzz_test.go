package sigv4

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary Authorization, X-Amz-Date and Date values,
// request targets and bodies to Verify. It must never panic, must fail only
// with an *AuthError, and must succeed only for the one request that was
// really signed (up to changes SigV4 does not cover, such as the wire order of
// an empty query or the scheme and host part of an absolute target).
func FuzzVerify(f *testing.F) {
	valid := defaultSpec()
	valid.target = "/replication/v1/replicators/" + testARNPath
	valid.headers = nil
	signed := sign(f, valid)
	validAuthz, validDate := signed.Header.Get("Authorization"), signed.Header.Get("X-Amz-Date")
	validSig := validAuthz[strings.LastIndex(validAuthz, "=")+1:]
	validPath := signed.URL.EscapedPath()
	v := testVerifier(t0)

	request := func(authz, amzDate, date, target, body string) *http.Request {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			u = &url.URL{Path: target}
		}
		r := &http.Request{Method: http.MethodPost, URL: u, Host: testHost, Header: http.Header{}, ContentLength: int64(len(body))}
		for name, value := range map[string]string{"Authorization": authz, "X-Amz-Date": amzDate, "Date": date} {
			if value != "" {
				r.Header.Set(name, value)
			}
		}
		return r
	}
	if _, err := v.Verify(request(validAuthz, validDate, "", valid.target, string(valid.body)), valid.body); err != nil {
		f.Fatalf("the valid seed does not verify: %v", err)
	}

	f.Add(validAuthz, validDate, "", valid.target, string(valid.body))
	f.Add(validAuthz, validDate, "", valid.target, string(valid.body)+" ")
	f.Add(validAuthz, "20260314T150927Z", "", valid.target, string(valid.body))
	f.Add(validAuthz, "", "Sat, 14 Mar 2026 15:09:26 GMT", valid.target, string(valid.body))
	f.Add(validAuthz, validDate, "", valid.target+"?a=1", string(valid.body))
	f.Add(validAuthz, validDate, "", strings.ReplaceAll(valid.target, "%2F", "/"), string(valid.body))
	f.Add(strings.Replace(validAuthz, "host;", "", 1), validDate, "", valid.target, string(valid.body))
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20260314/us-east-1/kafka/aws4_request, SignedHeaders=date;host, Signature="+validSig, "", "Sat, 14 Mar 2026 15:09:26 GMT", "/", "")
	f.Add("AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;, Signature=,", "x", "y", "%zz?%zz", "\x00")
	f.Add("AWS4-HMAC-SHA256 ,,", "00000000T000000Z", "", "", "")
	f.Add("", "", "", "*", "")

	f.Fuzz(func(t *testing.T, authz, amzDate, date, target, body string) {
		r := request(authz, amzDate, date, target, body)
		_, err := v.Verify(r, []byte(body))
		if err != nil {
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Reason == "" {
				t.Fatalf("error %v (%T) is not an *AuthError with a reason", err, err)
			}
			return
		}
		q, qerr := url.ParseQuery(r.URL.RawQuery)
		if body != string(valid.body) || amzDate != validDate || r.URL.EscapedPath() != validPath ||
			qerr != nil || len(q) != 0 || !strings.HasSuffix(authz, "Signature="+validSig) {
			t.Fatalf("forged request verified: authz=%q x-amz-date=%q date=%q target=%q body=%q", authz, amzDate, date, target, body)
		}
	})
}

// FuzzParseKeys checks that ParseKeys never panics, that what it accepts is
// valid, and that its errors do not depend on any secret.
func FuzzParseKeys(f *testing.F) {
	for _, s := range []string{
		"AKID:SECRET:123456789012",
		" AKID:SECRET:123456789012 , AKID2:se:cr:et:210987654321 ",
		"AKID:SECRET:123456789012,AKID:OTHER:123456789012",
		"AKID:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY:12345678901",
		"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		"", ",", ":::", "a:b:c,", "\x00:\xff:123456789012",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseKeys(s)
		if err != nil {
			// Replacing every secret (or every item that has no secret field)
			// by a placeholder must not change the error.
			items := strings.Split(s, ",")
			for i, item := range items {
				first, last := strings.IndexByte(item, ':'), strings.LastIndexByte(item, ':')
				switch {
				case first >= 0 && first != last && strings.TrimSpace(item[first+1:last]) != "":
					items[i] = item[:first+1] + "S" + item[last:]
				case (first < 0 || first == last) && strings.TrimSpace(item) != "":
					items[i] = "X"
				}
			}
			if _, err2 := ParseKeys(strings.Join(items, ",")); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("error depends on a secret: %q gives %v, with secrets replaced %v", s, err, err2)
			}
			return
		}
		if len(keys) != strings.Count(s, ",")+1 {
			t.Fatalf("%q: %d keys for %d items", s, len(keys), strings.Count(s, ",")+1)
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if !validAccessKeyID(k.AccessKeyID) || k.SecretAccessKey == "" || len(k.AccountID) != 12 ||
				strings.Trim(k.AccountID, "0123456789") != "" || seen[k.AccessKeyID] {
				t.Fatalf("%q: accepted invalid or repeated key %+v", s, k)
			}
			seen[k.AccessKeyID] = true
		}
		if v := NewVerifier("us-east-1", "kafka", keys); len(v.Keys) != len(keys) {
			t.Fatalf("NewVerifier lost keys")
		}
	})
}
