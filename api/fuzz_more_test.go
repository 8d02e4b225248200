package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/replicator"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

// The targets in this file drive the real router and handlers over a
// store with no database behind it (noDatabase): a handler runs for real up
// to its first query, which panics on the nil store, and the recoverer
// answers 500 "internal error". So in these targets a 500 means exactly
// "the input passed every check of the handler and reached the store",
// and every other answer must be the JSON error the checks chose. Nothing
// is mocked: the inputs that need PostgreSQL to go further are covered by
// the tests in internal_input_test.go.

const (
	fuzzRegion  = "us-east-1"
	fuzzAccount = "111111111111"
	fuzzToken   = "fuzz-worker-token"
	fuzzARN     = "arn:aws:kafka:us-east-1:111111111111:replicator/orders-dr/7e7885e6-0453-4623-9990-84759ba89d17"
	fuzzID      = "7e7885e6-0453-4623-9990-84759ba89d17"
)

// noDatabase is a store whose every query panics (nil pool).
var noDatabase *postgres.Store

// fuzzAuth accepts every request as fuzzAccount: the targets that use it
// fuzz what comes after authentication.
type fuzzAuth struct{}

func (fuzzAuth) Authenticate(*http.Request, []byte) (string, error) { return fuzzAccount, nil }

// fuzzServer returns the real handler, with the worker API mounted.
func fuzzServer(auth Authenticator) (http.Handler, *server) {
	h := NewServer(Config{Region: fuzzRegion, Store: noDatabase, Fleet: noDatabase, Auth: auth, WorkerToken: fuzzToken})
	return h, &server{Config: Config{Region: fuzzRegion}}
}

// fuzzAnswer is what the server answered, checked to be one of its JSON
// errors: the status and X-Amzn-ErrorType of the error model, a JSON body
// with a message and nothing else.
type fuzzAnswer struct {
	status int
	errorBody
}

// reachedStore reports whether the request passed every check.
func (a fuzzAnswer) reachedStore() bool {
	return a.status == http.StatusInternalServerError && a.Message == "internal error"
}

func serveFuzz(t *testing.T, h http.Handler, r *http.Request) fuzzAnswer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: %d with Content-Type %q: %q", r.Method, r.URL, res.StatusCode, ct, b)
	}
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Message == "" {
		t.Fatalf("%s %s: %d, not a JSON error: %q", r.Method, r.URL, res.StatusCode, b)
	}
	typ := res.Header.Get("X-Amzn-ErrorType")
	found := false
	for _, m := range awsErrors {
		if m.status == res.StatusCode && m.typ == typ {
			found = true
		}
	}
	if !found || res.Header.Get("X-Amzn-RequestId") == "" {
		t.Fatalf("%s %s: %d %q is not an error of the error model: %q", r.Method, r.URL, res.StatusCode, typ, b)
	}
	if !utf8.ValidString(e.Message) || !utf8.ValidString(e.InvalidParameter) {
		t.Fatalf("%s %s: error is not valid UTF-8: %q", r.Method, r.URL, b)
	}
	return fuzzAnswer{res.StatusCode, e}
}

// storable reports whether PostgreSQL can store s as text.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// FuzzListReplicatorsQuery fuzzes ListReplicators' query string
// (maxResults, replicatorNameFilter, nextToken) through the real handler:
// what reaches the store is exactly what the documented limits allow
// (maxResults one integer from 1 to 100, a filter of at most 128 characters that
// PostgreSQL can compare, a token this service issued), and everything
// else is a 400 naming the first bad parameter.
func FuzzListReplicatorsQuery(f *testing.F) {
	for _, q := range []string{
		"", "maxResults=10", "maxResults=100", "maxResults=0", "maxResults=101", "maxResults=-1", "maxResults=+5",
		"maxResults=1&maxResults=2", "maxResults=", "maxResults=9999999999999999999999", "maxResults=%31%30",
		"replicatorNameFilter=orders", "replicatorNameFilter=%00", "replicatorNameFilter=%FF", "replicatorNameFilter=%C3%BF",
		"replicatorNameFilter=a%7F", "replicatorNameFilter=" + strings.Repeat("a", 129),
		"replicatorNameFilter=" + strings.Repeat("%C3%A9", 128), "replicatorNameFilter=" + strings.Repeat("%C3%A9", 129), "replicatorNameFilter=a&replicatorNameFilter=b",
		"nextToken=" + encodePageToken("orders-dr"), "nextToken=" + encodePageToken("orders-dr") + "=", "nextToken=cDE6", "nextToken=!!",
		"nextToken=" + encodePageToken("-bad"), "maxResults=1&replicatorNameFilter=o&nextToken=" + encodePageToken("o1"), "a;b=c&maxResults=x",
	} {
		f.Add(q)
	}
	h, _ := fuzzServer(fuzzAuth{})
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest("GET", "/replication/v1/replicators", nil)
		r.URL.RawQuery = rawQuery
		a := serveFuzz(t, h, r)

		// The documented limits, checked independently of the handler.
		q := r.URL.Query()
		bad := ""
		if v, ok := q["maxResults"]; ok {
			n, err := strconv.ParseInt(v[0], 10, 64)
			if len(v) != 1 || err != nil || n < 1 || n > 100 {
				bad = "maxResults"
			}
		}
		if filter := q.Get("replicatorNameFilter"); bad == "" && (!storable(filter) || utf8.RuneCountInString(filter) > 128) {
			bad = "replicatorNameFilter"
		}
		if tok := q.Get("nextToken"); bad == "" && tok != "" {
			name, ok := decodePageToken(tok)
			if ok && (!replicator.ValidName(name) || encodePageToken(name) != tok) {
				t.Fatalf("token %q accepted as %q, which is not a name or encodes differently", tok, name)
			}
			if !ok {
				bad = "nextToken"
			}
		}
		switch {
		case bad == "" && !a.reachedStore():
			t.Fatalf("query %q within the limits refused: %d %+v", rawQuery, a.status, a.errorBody)
		case bad != "" && (a.status != http.StatusBadRequest || a.InvalidParameter != bad):
			t.Fatalf("query %q with a bad %s: %d %+v", rawQuery, bad, a.status, a.errorBody)
		}
	})
}

// validTagKeyOracle is MSK's tag key rule written out with unicode
// categories instead of the handler's regular expression.
func validTagKeyOracle(k string) bool {
	if !utf8.ValidString(k) || strings.HasPrefix(strings.ToLower(k), "aws:") {
		return false
	}
	n := 0
	for _, r := range k {
		n++
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Z, r) && !strings.ContainsRune("_./=+-@", r) {
			return false
		}
	}
	return n >= 1 && n <= 128
}

// FuzzUntagResourceKeys fuzzes UntagResource's tagKeys query parameters
// through the real handler: 1 to 50 keys, each a valid tag key (never
// invalid UTF-8, NUL or aws:), reach the store; anything else is a 400 on
// tagKeys.
func FuzzUntagResourceKeys(f *testing.F) {
	for _, q := range []string{
		"tagKeys=env", "tagKeys=env&tagKeys=team", "", "tagKeys=", "tagKeys=%00", "tagKeys=%FF", "tagKeys=aws%3Aname", "tagKeys=AWS:x",
		"tagKeys=" + strings.Repeat("k", 128), "tagKeys=" + strings.Repeat("k", 129), "tagKeys=%C3%A9t%C3%A9", "tagKeys=a+b", "tagKeys=a%09b",
		"tagKeys=%E2%80%A8", "tagKeys=%EF%BF%BD", "tagKeys=a&other=b", strings.Repeat("tagKeys=k&", 50), strings.Repeat("tagKeys=k&", 51),
	} {
		f.Add(q)
	}
	h, _ := fuzzServer(fuzzAuth{})
	path := "/v1/tags/" + url.PathEscape(fuzzARN)
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest("DELETE", path, nil)
		r.URL.RawQuery = rawQuery
		a := serveFuzz(t, h, r)
		keys := r.URL.Query()["tagKeys"]
		ok := len(keys) >= 1 && len(keys) <= 50
		for _, k := range keys {
			ok = ok && validTagKeyOracle(k)
		}
		switch {
		case ok && !a.reachedStore():
			t.Fatalf("valid tagKeys %q refused: %d %+v", keys, a.status, a.errorBody)
		case !ok && (a.status != http.StatusBadRequest || a.InvalidParameter != "tagKeys"):
			t.Fatalf("bad tagKeys %q: %d %+v", keys, a.status, a.errorBody)
		}
	})
}

// fuzzARNOps are the operations that take an ARN path label, with the
// suffix after it and a body that passes their other checks.
var fuzzARNOps = []struct {
	method, prefix, suffix, query, body string
	resource                            bool
}{
	{"GET", "/replication/v1/replicators/", "", "", "", false},
	{"DELETE", "/replication/v1/replicators/", "", "currentVersion=V", "", false},
	{"PUT", "/replication/v1/replicators/", "/replication-info", "",
		`{"currentVersion":"V","consumerGroupReplication":{"consumerGroupsToReplicate":["a"],"consumerGroupsToExclude":[],"detectAndCopyNewConsumerGroups":true,"synchroniseConsumerGroupOffsets":true}}`, false},
	{"GET", "/replication/v1/replicators/", "/status", "", "", false},
	{"GET", "/v1/tags/", "", "", "", true},
	{"POST", "/v1/tags/", "", "", `{"tags":{"k":"v"}}`, true},
	{"DELETE", "/v1/tags/", "", "tagKeys=k", "", true},
}

// arnLabelRequest builds the request of op for an escaped label; ok is
// false when no client could send that path.
func arnLabelRequest(op int, label string) (*http.Request, bool) {
	o := fuzzARNOps[op]
	u, err := url.ParseRequestURI(o.prefix + label + o.suffix)
	if err != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(label, "?#") {
		return nil, false
	}
	u.RawQuery = o.query
	r := httptest.NewRequest(o.method, "/", strings.NewReader(o.body))
	r.URL = u
	r.RequestURI = u.RequestURI()
	return r, true
}

// labelARN is what the handler of op makes of the request's label: chi's
// own match of the path, then the handler's parser.
func labelARN(mux chi.Routes, s *server, op int, r *http.Request) (arn string, routed bool, err error) {
	rctx := chi.NewRouteContext()
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	if !mux.Match(rctx, r.Method, path) || rctx.RoutePattern() != fuzzARNOps[op].prefix+"*" {
		return "", false, nil
	}
	r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
	o := fuzzARNOps[op]
	if o.resource {
		arn, err = s.resourceARN(r)
		return arn, true, err
	}
	if o.method == "GET" && o.suffix == "" && strings.HasSuffix(rctx.URLParam("*"), "/status") {
		return "", false, nil // the status extension's route: op 3 covers it
	}
	arn, err = s.replicatorARN(r, o.suffix)
	return arn, true, err
}

// FuzzARNPathLabel fuzzes the percent-encoded {replicatorArn} and
// {resourceArn} labels of the seven operations that take one, through the
// real router: the answer agrees with the handler's parser, an accepted
// label is a canonical replicator ARN of this region (it parses back to
// itself and is reached again from its escaped and its raw form), and
// anything else is a JSON 400 or 404.
func FuzzARNPathLabel(f *testing.F) {
	esc := url.PathEscape(fuzzARN)
	for op := range fuzzARNOps {
		for _, l := range []string{
			esc, fuzzARN, strings.ToUpper(esc), strings.Replace(esc, "us-east-1", "eu-west-1", 1), esc + "%2F", esc + "/x",
			strings.Replace(esc, "%3A", ":", 2), "", "arn%3A", "arn%3Aaws%3As3%3A%3A%3Abucket", "..%2F..%2Fetc%2Fpasswd",
			"%", "%zz", "%00", "%FF", esc + "%00", strings.Replace(esc, "orders-dr", "orders%2Fdr", 1),
			strings.Replace(esc, "7e7885e6", "7E7885E6", 1), strings.Replace(esc, "-84759ba89d17", "-84759ba89d17-s2", 1),
			"replication-info", esc + "/replication-info", esc + "/status", "arn:aws-cn:kafka:us-east-1:111111111111:replicator/a/" + fuzzID,
		} {
			f.Add(uint8(op), l)
		}
	}
	h, s := fuzzServer(fuzzAuth{})
	mux := h.(chi.Routes)
	f.Fuzz(func(t *testing.T, op uint8, label string) {
		i := int(op) % len(fuzzARNOps)
		r, ok := arnLabelRequest(i, label)
		if !ok {
			return
		}
		want, routed, err := labelARN(mux, s, i, r)
		a := serveFuzz(t, h, r)
		if !routed {
			return // another operation's path; serveFuzz checked the answer
		}
		if err != nil {
			st := awsErrors[replicator.KindOf(err)].status
			if a.status != st || (st != http.StatusBadRequest && st != http.StatusNotFound) {
				t.Fatalf("%s %s: parser says %v (%d), router answered %d %+v", r.Method, r.URL, err, st, a.status, a.errorBody)
			}
			return
		}
		if !a.reachedStore() {
			t.Fatalf("%s %s: parser accepted %q, router answered %d %+v", r.Method, r.URL, want, a.status, a.errorBody)
		}
		p, perr := replicator.ParseARN(want)
		if perr != nil || p.String() != want || p.Region != fuzzRegion || !storable(want) {
			t.Fatalf("label %q accepted as %q, which is not a canonical ARN of %s (%v)", label, want, fuzzRegion, perr)
		}
		for _, again := range []string{url.PathEscape(want), want} {
			r2, ok := arnLabelRequest(i, again)
			if !ok {
				t.Fatalf("ARN %q cannot be sent back as %q", want, again)
			}
			if got, routed, err := labelARN(mux, s, i, r2); !routed || err != nil || got != want {
				t.Fatalf("ARN %q sent back as %q reads as %q, %v", want, again, got, err)
			}
		}
	})
}

// stringsIn returns every string in v: struct fields, map keys and
// values, slice elements.
func stringsIn(v reflect.Value, out []string) []string {
	switch v.Kind() {
	case reflect.String:
		out = append(out, v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			out = stringsIn(v.Elem(), out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out = stringsIn(v.Field(i), out)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			out = stringsIn(v.Index(i), out)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			out = stringsIn(it.Key(), stringsIn(it.Value(), out))
		}
	}
	return out
}

// workerOps are the worker API's request bodies.
var workerOps = []struct {
	path string
	new  func() any
}{
	{"/internal/v1/acquire", func() any { return new(fleet.AcquireRequest) }},
	{"/internal/v1/heartbeat", func() any { return new(fleet.HeartbeatRequest) }},
	{"/internal/v1/release", func() any { return new(fleet.ReleaseRequest) }},
	{"/internal/v1/topology", func() any { return new(fleet.Topology) }},
}

func workerIDOf(v any) string {
	switch v := v.(type) {
	case *fleet.AcquireRequest:
		return v.WorkerID
	case *fleet.HeartbeatRequest:
		return v.WorkerID
	case *fleet.ReleaseRequest:
		return v.WorkerID
	case *fleet.Topology:
		return v.WorkerID
	}
	panic("unknown request")
}

// FuzzWorkerRequest fuzzes the bodies (and Content-Type) of the worker
// API's acquire, heartbeat (job reports with checkpoints, target
// checkpoints -- the offset mapping points --, progress and errors),
// release and topology through the real handlers, with the right worker
// token. A body reaches the store only if it is JSON of the request's
// shape whose strings PostgreSQL can store, with a workerId of 1 to 200
// printable characters and, for topology, topic names of 1 to 249
// bytes and partitions from 0; it survives a JSON round trip unchanged.
// Invalid UTF-8 and NUL are never accepted. Everything else is a 400.
func FuzzWorkerRequest(f *testing.F) {
	seeds := [][]string{
		{`{"workerId":"worker-a","max":0,"info":{"host":"ip-10-0-1-17"}}`, `{"workerId":"w","max":-1}`, `{"workerId":"w","info":{"\ud800":"x"}}`,
			`{"workerId":"w","max":9223372036854775808}`, `{"workerId":"w","info":null}`, `{"workerId":"a\u2028b"}`, `{"workerId":"a\u0000"}`,
			`{"workerId":"` + strings.Repeat("é", 200) + `"}`, `{"workerId":"` + strings.Repeat("é", 201) + `"}`},
		{`{"workerId":"worker-a","jobs":[{"jobId":2,"epoch":3,"specVersion":1,"checkpoint":123457,"targetCheckpoint":98001,
"progress":{"targetTopic":"src.orders.eu","lastOffset":123456,"highWatermark":123468,"lag":12,"latencyMillis":35.5,"bytesPerSec":20480,"recordsPerSec":200,"records":123456,"bytes":12641280}}]}`,
			`{"workerId":"w","jobs":[{"jobId":1,"epoch":1,"error":{"code":"SourceUnreachable","message":"dial tcp: refused","since":"2024-02-06T01:57:28.654321Z"}}]}`,
			`{"workerId":"w","jobs":[{"jobId":-1,"epoch":-1,"checkpoint":-5,"targetCheckpoint":-3,"progress":{"latencyMillis":1e308,"lag":-9223372036854775808}}]}`,
			`{"workerId":"w","jobs":[{"jobId":1,"epoch":1,"error":{"code":"c","message":"m","since":"0000-01-01T00:00:00-14:00"}}]}`,
			`{"workerId":"w","jobs":[{"jobId":1,"epoch":1,"error":{"since":"not a time"}}]}`, `{"workerId":"w","jobs":null}`, `{"workerId":"w","jobs":{}}`},
		{`{"workerId":"worker-a","jobs":[{"jobId":2,"epoch":3,"specVersion":1,"checkpoint":123500,"targetCheckpoint":98044}],"leaving":true}`,
			`{"workerId":"w","leaving":"yes"}`},
		{`{"workerId":"worker-a","jobId":1,"epoch":3,"specVersion":1,"topics":[{"name":"orders.eu","partitions":[{"partition":0,"earliest":0,"latest":123468}]}]}`,
			`{"workerId":"w","topics":[{"name":"","partitions":[{"partition":0}]}]}`, `{"workerId":"w","topics":[{"name":"t","partitions":[{"partition":-1}]}]}`,
			`{"workerId":"w","topics":[{"name":"` + strings.Repeat("t", 250) + `"}]}`, `{"workerId":"w","topics":[{"name":"t","partitions":[{"partition":2147483648}]}]}`,
			`{"workerId":"w","topics":null}`},
	}
	for op, bodies := range seeds {
		for _, b := range append(bodies, `[]`, `null`, `{}`, `"x"`, `{`, `{}{}`, "{\"workerId\":\"\xff\"}", ``, ` `) {
			f.Add(uint8(op), []byte(b), "application/json")
		}
		f.Add(uint8(op), []byte(bodies[0]), "")
		f.Add(uint8(op), []byte(bodies[0]), "text/plain")
		f.Add(uint8(op), []byte(bodies[0]), "application/problem+json; charset=utf-8")
	}
	h, _ := fuzzServer(fuzzAuth{})
	f.Fuzz(func(t *testing.T, op uint8, body []byte, contentType string) {
		o := workerOps[int(op)%len(workerOps)]
		r := httptest.NewRequest("POST", o.path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+fuzzToken)
		if contentType != "" {
			if !utf8.ValidString(contentType) || strings.ContainsAny(contentType, "\r\n\x00") {
				return
			}
			r.Header.Set("Content-Type", contentType)
		}
		a := serveFuzz(t, h, r)
		if !a.reachedStore() {
			if a.status != http.StatusBadRequest || a.InvalidParameter == "" {
				t.Fatalf("%s %q: %d %+v", o.path, body, a.status, a.errorBody)
			}
			return
		}
		// Accepted: check it against the rules, independently of the
		// handler's checks.
		if mt, _, err := mime.ParseMediaType(contentType); contentType != "" && (err != nil || !strings.Contains(mt, "json")) {
			t.Fatalf("%s accepted Content-Type %q", o.path, contentType)
		}
		if !utf8.Valid(body) || bytes.Contains(body, []byte(`\u0000`)) {
			t.Fatalf("%s accepted a body with invalid UTF-8 or NUL: %q", o.path, body)
		}
		v := o.new()
		if err := decode(r, body, v); err != nil {
			t.Fatalf("%s accepted %q, which does not decode: %v", o.path, body, err)
		}
		id := workerIDOf(v)
		if id == "" || utf8.RuneCountInString(id) > 200 {
			t.Fatalf("%s accepted workerId %q", o.path, id)
		}
		for _, c := range id {
			if !unicode.IsPrint(c) && !unicode.IsSpace(c) {
				t.Fatalf("%s accepted workerId %q with %U", o.path, id, c)
			}
		}
		for _, s := range stringsIn(reflect.ValueOf(v), nil) {
			if !storable(s) {
				t.Fatalf("%s accepted a string PostgreSQL cannot store: %q", o.path, s)
			}
		}
		if topo, ok := v.(*fleet.Topology); ok {
			for _, ti := range topo.Topics {
				if ti.Name == "" || len(ti.Name) > 249 {
					t.Fatalf("topology accepted topic name %q", ti.Name)
				}
				for _, p := range ti.Partitions {
					if p.Partition < 0 {
						t.Fatalf("topology accepted partition %d", p.Partition)
					}
				}
			}
		}
		// What the handler stores re-encodes to a body it accepts again,
		// and decoding that changes nothing.
		b1, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s accepted %q, which does not re-encode: %v", o.path, body, err)
		}
		r2 := httptest.NewRequest("POST", o.path, bytes.NewReader(b1))
		r2.Header.Set("Authorization", "Bearer "+fuzzToken)
		if a2 := serveFuzz(t, h, r2); !a2.reachedStore() {
			t.Fatalf("%s accepted %q but not its re-encoding %q: %d %+v", o.path, body, b1, a2.status, a2.errorBody)
		}
		v2 := o.new()
		if err := decode(r2, b1, v2); err != nil {
			t.Fatal(err)
		}
		if b2, _ := json.Marshal(v2); !bytes.Equal(b1, b2) {
			t.Fatalf("%s: %q round-trips to %q", o.path, b1, b2)
		}
	})
}

var canonicalUUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// FuzzWorkerReplicatorID fuzzes the {id} of GET /internal/v1/replicators/{id}
// and .../{id}/mappings through the real router: only a canonical UUID
// (what a lease's replicatorId is, and what PostgreSQL can compare with
// the id column) reaches the store; any other id is a 400 on id, and a
// path that matches neither route is a JSON 404.
func FuzzWorkerReplicatorID(f *testing.F) {
	for _, id := range []string{fuzzID, strings.ToUpper(fuzzID), "x", "", fuzzID + "-s2", "{" + fuzzID + "}", strings.ReplaceAll(fuzzID, "-", ""),
		"urn:uuid:" + fuzzID, fuzzID[:35] + "g", "%37e7885e6-0453-4623-9990-84759ba89d17", fuzzID + "%2Fmappings", "..", "%00", "%FF"} {
		f.Add(id, false)
		f.Add(id, true)
	}
	h, _ := fuzzServer(fuzzAuth{})
	mux := h.(chi.Routes)
	f.Fuzz(func(t *testing.T, id string, mappings bool) {
		path := "/internal/v1/replicators/" + id
		if mappings {
			path += "/mappings"
		}
		u, err := url.ParseRequestURI(path)
		if err != nil || u.RawQuery != "" || strings.ContainsAny(id, "?#") {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL, r.RequestURI = u, u.RequestURI()
		r.Header.Set("Authorization", "Bearer "+fuzzToken)
		a := serveFuzz(t, h, r)
		rctx := chi.NewRouteContext()
		routePath := u.RawPath
		if routePath == "" {
			routePath = u.Path
		}
		if !mux.Match(rctx, "GET", routePath) || !strings.HasPrefix(rctx.RoutePattern(), "/internal/v1/replicators/{id}") {
			if a.status != http.StatusNotFound {
				t.Fatalf("GET %s matches no worker route: %d %+v", path, a.status, a.errorBody)
			}
			return
		}
		param := rctx.URLParam("id")
		switch ok := canonicalUUID.MatchString(param); {
		case ok && !a.reachedStore():
			t.Fatalf("GET %s: id %q refused: %d %+v", path, param, a.status, a.errorBody)
		case !ok && (a.status != http.StatusBadRequest || a.InvalidParameter != "id"):
			t.Fatalf("GET %s: id %q: %d %+v", path, param, a.status, a.errorBody)
		}
	})
}

// FuzzAuthHeaders fuzzes the Authorization and X-Amz-Date headers and the
// body of every route behind authentication, with the real SigV4 verifier
// and worker token: the AWS operations answer a JSON 401 (nobody can sign
// without a key), the worker API a JSON 401 unless the header is exactly
// the bearer worker token, and nothing is ever a 5xx before
// authentication or a plain-text answer. This includes the reported
// symptom, a SigV4 header and the body [] on the worker API.
func FuzzAuthHeaders(f *testing.F) {
	routes := []struct{ method, path string }{
		{"POST", "/internal/v1/acquire"}, {"POST", "/internal/v1/heartbeat"}, {"POST", "/internal/v1/release"},
		{"POST", "/internal/v1/topology"}, {"GET", "/internal/v1/replicators/" + fuzzID}, {"GET", "/internal/v1/replicators/" + fuzzID + "/mappings"},
		{"GET", "/v1/workers"}, {"POST", "/replication/v1/replicators"}, {"GET", "/replication/v1/replicators"},
		{"GET", "/replication/v1/replicators/" + url.PathEscape(fuzzARN)}, {"DELETE", "/v1/tags/" + url.PathEscape(fuzzARN) + "?tagKeys=k"},
		{"GET", "/replication/v1/replicators/" + url.PathEscape(fuzzARN) + "/status"}, {"PATCH", "/internal/v1/acquire"},
	}
	sig := "AWS4-HMAC-SHA256 Credential=AKIDAAAAAAAAAAAAAAAA/20260101/us-east-1/kafka/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64)
	for i := range routes {
		for _, auth := range []string{"", sig, "Bearer ", "Bearer " + fuzzToken, "Bearer " + fuzzToken + " ", "bearer " + fuzzToken, "Bearer wrong", "garbage",
			"AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kafka/aws4_request"} {
			for _, body := range []string{"[]", "", "{}", "null", "{"} {
				f.Add(uint8(i), auth, "20260101T000000Z", []byte(body))
			}
		}
	}
	keys := []sigv4.Key{{AccessKeyID: "AKIDAAAAAAAAAAAAAAAA", SecretAccessKey: "secretA/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", AccountID: fuzzAccount}}
	h, _ := fuzzServer(SigV4(sigv4.NewVerifier(fuzzRegion, "kafka", keys)))
	f.Fuzz(func(t *testing.T, route uint8, auth, date string, body []byte) {
		if len(body) > 4096 {
			return
		}
		rt := routes[int(route)%len(routes)]
		r := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		// Only what an HTTP/1.1 server lets through reaches a handler:
		// net/http refuses control characters in header values with a
		// plain-text 400 of its own.
		for _, v := range []string{auth, date} {
			for _, c := range []byte(v) {
				if c < 0x20 && c != '\t' || c == 0x7f {
					return
				}
			}
		}
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("Content-Type", "application/json")
		a := serveFuzz(t, h, r)
		worker := strings.HasPrefix(rt.path, "/internal/") || rt.path == "/v1/workers"
		switch {
		case worker && rt.method != "PATCH" && auth == "Bearer "+fuzzToken:
			if a.status == http.StatusUnauthorized || (a.status >= 500 && !a.reachedStore()) {
				t.Fatalf("%s %s with the worker token: %d %+v", rt.method, rt.path, a.status, a.errorBody)
			}
		case a.status != http.StatusUnauthorized:
			t.Fatalf("%s %s with Authorization %q: %d %+v", rt.method, rt.path, auth, a.status, a.errorBody)
		}
	})
}
