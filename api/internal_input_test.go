package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/internal/pgtest"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

// newFleetEnv is a control plane over a fresh database with the worker API
// mounted (worker token testWorkerToken) and SigV4 for account A.
func newFleetEnv(t *testing.T) *env {
	t.Helper()
	store := pgtest.Store(t)
	srv := httptest.NewServer(api.NewServer(api.Config{Region: region, Store: store, Fleet: store, WorkerToken: testWorkerToken,
		Auth: api.SigV4(sigv4.NewVerifier(region, "kafka", []sigv4.Key{keyA}))}))
	t.Cleanup(srv.Close)
	return &env{url: srv.URL, store: store, a: sdkClient(srv.URL, keyA)}
}

// rawHTTP sends one HTTP/1.1 request over its own connection, head and
// body in two writes (as most clients do), asks the server to close the
// connection, and reads everything it sends back. A connection reset fails
// the test: a client may never see the answer. (A server that answers
// without reading the body and then closes resets the connection when
// the body arrives: the worker API did so before it read the body of
// requests without a valid token.)
func rawHTTP(t *testing.T, baseURL, method, path string, header map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: %d\r\n", method, path, len(body))
	for k, v := range header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n")
	if _, err := c.Write([]byte(head.String())); err != nil {
		t.Fatal(err)
	}
	_, werr := c.Write(body)
	raw, rerr := io.ReadAll(c)
	if rerr != nil {
		t.Fatalf("%s %s: reading the answer: %v (write: %v; read %q)", method, path, rerr, werr, raw)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("%s %s: %v in %q", method, path, err, raw)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// wantJSONError checks an error answer: status, AWS error type, and a JSON
// body with a message and the invalid parameter.
func wantJSONError(t *testing.T, what string, status int, h http.Header, body []byte, wantStatus int, wantType, wantParam string) {
	t.Helper()
	var e struct{ Message, InvalidParameter string }
	if err := json.Unmarshal(body, &e); err != nil || h.Get("Content-Type") != "application/json" || e.Message == "" {
		t.Fatalf("%s: %d %q is not a JSON error: %q", what, status, h.Get("Content-Type"), body)
	}
	if status != wantStatus || h.Get("X-Amzn-ErrorType") != wantType || e.InvalidParameter != wantParam {
		t.Fatalf("%s: %d %s %+v, want %d %s on %q", what, status, h.Get("X-Amzn-ErrorType"), e, wantStatus, wantType, wantParam)
	}
}

// TestWorkerAPIAuthAndBadBodies is the schemathesis report (a plain-text
// 400 or a connection reset from /internal/v1/* for a SigV4 Authorization
// header and the body []): every worker-API endpoint, without a token,
// with SigV4, with a wrong token and with the right one, with bodies [],
// null, {}, invalid JSON and over the size limit, answers a JSON error (or,
// for the reads, its answer) over a connection that is not reset.
func TestWorkerAPIAuthAndBadBodies(t *testing.T) {
	e := newFleetEnv(t)
	const unknownID = "0b6b1b3e-2f4a-4c56-9a57-3e1d8e8a9c01"
	sig := "AWS4-HMAC-SHA256 Credential=AKIDAAAAAAAAAAAAAAAA/20260101/us-east-1/kafka/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64)
	huge := bytes.Repeat([]byte(" "), 2<<20)
	bodies := map[string][]byte{"[]": []byte(`[]`), "null": []byte(`null`), "{}": []byte(`{}`), "invalid": []byte(`{"workerId":`), "huge": huge}
	for _, ep := range []struct {
		method, path string
		post         bool
	}{
		{"POST", "/internal/v1/acquire", true}, {"POST", "/internal/v1/heartbeat", true}, {"POST", "/internal/v1/release", true},
		{"POST", "/internal/v1/topology", true}, {"GET", "/internal/v1/replicators/" + unknownID, false},
		{"GET", "/internal/v1/replicators/" + unknownID + "/mappings", false}, {"GET", "/v1/workers", false},
	} {
		for authName, auth := range map[string]map[string]string{
			"none": nil, "sigv4": {"Authorization": sig, "X-Amz-Date": "20260101T000000Z"},
			"wrong": {"Authorization": "Bearer not-" + testWorkerToken}, "right": {"Authorization": "Bearer " + testWorkerToken},
		} {
			for bodyName, body := range bodies {
				what := fmt.Sprintf("%s %s auth=%s body=%s", ep.method, ep.path, authName, bodyName)
				h := map[string]string{"Content-Type": "application/json"}
				for k, v := range auth {
					h[k] = v
				}
				status, header, b := rawHTTP(t, e.url, ep.method, ep.path, h, body)
				switch {
				case authName != "right":
					wantJSONError(t, what, status, header, b, 401, "UnauthorizedException", "")
				case bodyName == "huge" && ep.path == "/internal/v1/topology":
					// Topology reports may be larger (32 MiB); 2 MiB of blanks is an empty body.
					wantJSONError(t, what, status, header, b, 400, "BadRequestException", "workerId")
				case bodyName == "huge":
					wantJSONError(t, what, status, header, b, 400, "BadRequestException", "body")
				case ep.post && (bodyName == "null" || bodyName == "{}"):
					wantJSONError(t, what, status, header, b, 400, "BadRequestException", "workerId")
				case ep.post:
					wantJSONError(t, what, status, header, b, 400, "BadRequestException", "body")
				case strings.HasSuffix(ep.path, unknownID):
					wantJSONError(t, what, status, header, b, 404, "NotFoundException", "replicatorArn") // replicator.ErrNotFound
				default: // the reads ignore the body
					if status != 200 || header.Get("Content-Type") != "application/json" || !json.Valid(b) {
						t.Fatalf("%s: %d %q", what, status, b)
					}
				}
			}
		}
	}
}

// TestWorkerAPIReplicatorID: an {id} that is not a UUID is a 400, not a
// 500 from PostgreSQL's uuid column.
func TestWorkerAPIReplicatorID(t *testing.T) {
	e := newFleetEnv(t)
	auth := map[string]string{"Authorization": "Bearer " + testWorkerToken}
	const id = "0b6b1b3e-2f4a-4c56-9a57-3e1d8e8a9c01"
	for _, bad := range []string{"x", id + "-s2", "%7B" + id + "%7D", strings.ReplaceAll(id, "-", ""), "urn:uuid:" + id, id[:35] + "g", "%00", "%FF"} {
		for _, suffix := range []string{"", "/mappings"} {
			path := "/internal/v1/replicators/" + bad + suffix
			st, h, b := rawHTTP(t, e.url, "GET", path, auth, nil)
			wantJSONError(t, path, st, h, b, 400, "BadRequestException", "id")
		}
	}
	st, h, b := rawHTTP(t, e.url, "GET", "/internal/v1/replicators/"+strings.ToUpper(id), auth, nil)
	wantJSONError(t, "upper-case UUID", st, h, b, 404, "NotFoundException", "replicatorArn")
	if st, _, b := rawHTTP(t, e.url, "GET", "/internal/v1/replicators/"+id+"/mappings", auth, nil); st != 200 || string(bytes.TrimSpace(b)) != `{"points":[]}` {
		t.Fatalf("mappings of an unknown replicator: %d %s", st, b)
	}
}

// TestTopologyReportLimits: a metadata job's report of a topic name
// PostgreSQL cannot index was a 500; names must be 1 to 249 characters
// (Kafka's limit) and partitions not negative.
func TestTopologyReportLimits(t *testing.T) {
	e := newFleetEnv(t)
	l := metadataLease(t, e, "topo")
	auth := map[string]string{"Authorization": "Bearer " + testWorkerToken, "Content-Type": "application/json"}
	report := func(topics string) (int, http.Header, []byte) {
		body := fmt.Sprintf(`{"workerId":"w","jobId":%d,"epoch":%d,"token":%q,"specVersion":%d,"topics":%s}`, l.JobID, l.Epoch, l.Token, l.SpecVersion, topics)
		return rawHTTP(t, e.url, "POST", "/internal/v1/topology", auth, []byte(body))
	}
	// Incompressible, so that PostgreSQL cannot squeeze it into an index entry.
	var long strings.Builder
	for i := 0; long.Len() < 4000; i++ {
		fmt.Fprintf(&long, "%x", uint32(i)*2654435761)
	}
	for _, tc := range []struct{ topics, param string }{
		{`[{"name":"` + long.String() + `","partitions":[{"partition":0}]}]`, "topics.name"},
		{`[{"name":"` + strings.Repeat("t", 250) + `","partitions":[{"partition":0}]}]`, "topics.name"},
		{`[{"name":"","partitions":[{"partition":0}]}]`, "topics.name"},
		{`[{"name":"t","partitions":[{"partition":-1}]}]`, "topics.partitions.partition"},
	} {
		st, h, b := report(tc.topics)
		wantJSONError(t, fmt.Sprintf("topology %.40s", tc.topics), st, h, b, 400, "BadRequestException", tc.param)
	}
	if st, _, b := report(`[{"name":"` + strings.Repeat("t", 249) + `","partitions":[{"partition":0},{"partition":1}]}]`); st != 200 || string(bytes.TrimSpace(b)) != `{"added":2,"removed":0}` {
		t.Fatalf("valid topology: %d %s", st, b)
	}
}

// TestListReplicatorsNameFilterInput: filters PostgreSQL cannot compare
// (NUL, invalid UTF-8) are a 400, and valid ones whose byte-incremented
// upper bound was invalid UTF-8 (ending in U+007F or in a character whose
// last byte is 0xBF) list normally instead of a 500.
func TestListReplicatorsNameFilterInput(t *testing.T) {
	e := newFleetEnv(t)
	for _, name := range []string{"raw", "rawx"} {
		body := []byte(`{"replicatorName":"` + name + `","serviceExecutionRoleArn":"arn:aws:iam::111111111111:role/R",
"kafkaClusters":[{"apacheKafkaCluster":{"apacheKafkaClusterId":"a","bootstrapBrokerString":"h:1"}},{"apacheKafkaCluster":{"apacheKafkaClusterId":"b","bootstrapBrokerString":"h:2"}}],
"replicationInfoList":[{"sourceKafkaClusterId":"a","targetKafkaClusterId":"b","targetCompressionType":"NONE","topicReplication":{"topicsToReplicate":[".*"]},"consumerGroupReplication":{"consumerGroupsToReplicate":[]}}]}`)
		if st, _, out := rawCall(t, e, keyA, "POST", "/replication/v1/replicators", body, map[string]string{"Content-Type": "application/json"}); st != 200 {
			t.Fatalf("create %s: %d %v", name, st, out)
		}
	}
	for _, bad := range []string{"%00", "a%00", "%FF", "raw%C3"} {
		st, h, body := rawCall(t, e, keyA, "GET", "/replication/v1/replicators?replicatorNameFilter="+bad, nil, nil)
		wantRawError(t, st, h, body, 400, "BadRequestException", "replicatorNameFilter")
	}
	for filter, want := range map[string]int{
		"raw": 2, "rawx": 1, "raw\x7f": 0, "ÿ": 0, "raw\u07ff": 0, "\ud7ff": 0, "\U0010ffff": 0, "raw\U0010ffff": 0, "\uffff": 0,
	} {
		st, _, body := rawCall(t, e, keyA, "GET", "/replication/v1/replicators?replicatorNameFilter="+url.QueryEscape(filter), nil, nil)
		reps, _ := body["replicators"].([]any)
		if st != 200 || len(reps) != want {
			t.Fatalf("filter %q: %d %v, want %d replicators", filter, st, body, want)
		}
	}
}
