package api_test

import (
	"context"
	"encoding"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// These tests keep openapi.yaml in step with the code:
//
//   - TestOpenAPIOperations: the eight AWS operations are documented with
//     their AWS method, path, success code and error responses; every other
//     authenticated operation is marked `x-extension: true` and uses either
//     the global sigv4 security or the worker token.
//   - TestOpenAPIMatchesRouter: every documented operation is routed and
//     every route is documented (walking the chi router), with the worker
//     fleet (extensions included) and without it (extensions left out).
//   - TestOpenAPIDispatch: a request to each documented authenticated
//     operation reaches the handler the router names after that operation
//     (signed operations), or the worker-token check (worker API).
//   - TestOpenAPISchemasMatchWireStructs: the schemas' member names and JSON
//     types are the json tags and Go types of the wire structs in wire.go and
//     status.go, and of the worker API's structs in package fleet.
//
// They need no database: they only look at the spec, the router and the
// wire structs. The router is built with a nil *postgres.Store as its
// fleet store: routes are registered and requests are refused before any
// handler could call it.

const (
	openAPIFile = "../openapi.yaml"
	fleetDir    = "../pkg/fleet"
)

// wireFiles are the files of package api that declare wire structs.
var wireFiles = []string{"wire.go", "status.go"}

// testWorkerToken is the worker token of the test servers; the tests never
// send it.
const testWorkerToken = "test-worker-token"

// nilFleet is a fleet store that must never be called: with it the server
// mounts the extensions (Config.Fleet != nil). Only the scrape-time gauges
// answer (empty), since gathering the registry collects them.
var nilFleet api.FleetStore = noGauges{}

type noGauges struct{ *postgres.Store }

func (noGauges) Gauges(context.Context, time.Duration) (postgres.FleetGauges, error) {
	return postgres.FleetGauges{}, nil
}

// awsOperations are the MSK Replicator operations, with the method, URI and
// success code the AWS API defines for them.
var awsOperations = map[string]struct {
	method, path string
	success      string
}{
	"CreateReplicator":      {"POST", "/replication/v1/replicators", "200"},
	"ListReplicators":       {"GET", "/replication/v1/replicators", "200"},
	"DescribeReplicator":    {"GET", "/replication/v1/replicators/{replicatorArn}", "200"},
	"DeleteReplicator":      {"DELETE", "/replication/v1/replicators/{replicatorArn}", "200"},
	"UpdateReplicationInfo": {"PUT", "/replication/v1/replicators/{replicatorArn}/replication-info", "200"},
	"TagResource":           {"POST", "/v1/tags/{resourceArn}", "204"},
	"UntagResource":         {"DELETE", "/v1/tags/{resourceArn}", "204"},
	"ListTagsForResource":   {"GET", "/v1/tags/{resourceArn}", "200"},
}

// awsErrorResponses are the error responses every AWS operation documents;
// ConflictException (409) is CreateReplicator's only.
var awsErrorResponses = []string{"400", "401", "403", "404", "429", "500", "503"}

// ---------------------------------------------------------------------------
// The parts of OpenAPI 3.0 the tests read.

type openAPIDoc struct {
	OpenAPI    string                          `yaml:"openapi"`
	Security   []map[string][]string           `yaml:"security"`
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		SecuritySchemes map[string]struct {
			Type   string `yaml:"type"`
			In     string `yaml:"in"`
			Name   string `yaml:"name"`
			Scheme string `yaml:"scheme"`
		} `yaml:"securitySchemes"`
		Responses map[string]oasResponse `yaml:"responses"`
		Schemas   map[string]*oasSchema  `yaml:"schemas"`
	} `yaml:"components"`
}

type oasOperation struct {
	OperationID string                 `yaml:"operationId"`
	Extension   bool                   `yaml:"x-extension"`
	Security    *[]map[string][]string `yaml:"security"` // nil: the global requirement
	Responses   map[string]oasResponse `yaml:"responses"`
}

type oasResponse struct {
	Ref     string               `yaml:"$ref"`
	Headers map[string]yaml.Node `yaml:"headers"`
	Content map[string]yaml.Node `yaml:"content"`
}

type oasSchema struct {
	Ref        string                `yaml:"$ref"`
	Type       string                `yaml:"type"`
	Required   []string              `yaml:"required"`
	Properties map[string]*oasSchema `yaml:"properties"`
	Items      *oasSchema            `yaml:"items"`
}

// documentedOp is one operation of the spec.
type documentedOp struct {
	method, path string // path as in the spec, e.g. /v1/tags/{resourceArn}
	oasOperation
}

// authenticated says whether the operation needs credentials (SigV4 or
// the worker token).
func (o documentedOp) authenticated() bool { return o.Security == nil || len(*o.Security) > 0 }

// usesScheme says whether the operation's security requirement (its own, or
// the global [{sigv4: []}]) names the scheme.
func (o documentedOp) usesScheme(scheme string) bool {
	if o.Security == nil {
		return scheme == "sigv4"
	}
	for _, req := range *o.Security {
		if _, ok := req[scheme]; ok {
			return true
		}
	}
	return false
}

// workerTokenOnly says whether the operation's security is exactly
// [{workerToken: []}].
func (o documentedOp) workerTokenOnly() bool {
	return o.Security != nil && len(*o.Security) == 1 && len((*o.Security)[0]) == 1 && o.usesScheme("workerToken")
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) (*openAPIDoc, []documentedOp) {
	t.Helper()
	b, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", openAPIFile, err)
	}
	var ops []documentedOp
	for path, item := range doc.Paths {
		for key, node := range item {
			if !slices.Contains(httpMethods, key) {
				continue // parameters, summary, ...
			}
			op := documentedOp{method: strings.ToUpper(key), path: path}
			if err := node.Decode(&op.oasOperation); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			ops = append(ops, op)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return &doc, ops
}

// resolveResponse follows a #/components/responses reference.
func (d *openAPIDoc) resolveResponse(r oasResponse) (oasResponse, bool) {
	if r.Ref == "" {
		return r, true
	}
	got, ok := d.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")]
	return got, ok
}

// resolveSchema follows a #/components/schemas reference; it returns the
// schema and its name ("" for an inline schema).
func (d *openAPIDoc) resolveSchema(s *oasSchema) (*oasSchema, string) {
	if s == nil || s.Ref == "" {
		return s, ""
	}
	name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
	return d.Components.Schemas[name], name
}

// ---------------------------------------------------------------------------

func TestOpenAPIOperations(t *testing.T) {
	doc, ops := loadOpenAPI(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if s := doc.Components.SecuritySchemes["sigv4"]; s.Type != "apiKey" || s.In != "header" || s.Name != "Authorization" {
		t.Errorf("security scheme sigv4 = %+v, want an apiKey in the Authorization header", s)
	}
	if len(doc.Security) != 1 || len(doc.Security[0]) != 1 || doc.Security[0]["sigv4"] == nil {
		t.Errorf("global security = %v, want [{sigv4: []}]", doc.Security)
	}
	if s := doc.Components.SecuritySchemes["workerToken"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("security scheme workerToken = %+v, want http bearer", s)
	}

	seen := map[string]bool{}
	for _, op := range ops {
		name := op.method + " " + op.path
		if op.OperationID == "" {
			t.Errorf("%s: no operationId", name)
			continue
		}
		if seen[op.OperationID] {
			t.Errorf("%s: operationId %s is used twice", name, op.OperationID)
		}
		seen[op.OperationID] = true
		if op.Security != nil {
			for _, req := range *op.Security {
				for scheme := range req {
					if _, ok := doc.Components.SecuritySchemes[scheme]; !ok {
						t.Errorf("%s: security scheme %q is not defined", op.OperationID, scheme)
					}
				}
			}
		}

		aws, isAWS := awsOperations[op.OperationID]
		switch {
		case isAWS:
			if op.method != aws.method || op.path != aws.path {
				t.Errorf("%s: documented as %s, AWS has %s %s", op.OperationID, name, aws.method, aws.path)
			}
			if op.Extension || op.Security != nil {
				t.Errorf("%s: an AWS operation must use the global sigv4 security and have no x-extension", op.OperationID)
			}
			want := append([]string{aws.success}, awsErrorResponses...)
			if op.OperationID == "CreateReplicator" {
				want = append(want, "409")
			}
			if got := sortedKeys(op.Responses); !sameSet(got, want) {
				t.Errorf("%s: responses %v, want %v", op.OperationID, got, sortedCopy(want))
			}
			if r := op.Responses[aws.success]; aws.success == "204" && len(r.Content) != 0 {
				t.Errorf("%s: the 204 response must have no body", op.OperationID)
			}
		case op.authenticated():
			if !op.Extension {
				t.Errorf("%s (%s): an authenticated operation that is not an AWS operation must be marked x-extension: true", op.OperationID, name)
			}
			if op.Security != nil && !op.workerTokenOnly() {
				t.Errorf("%s: security %v, want the global sigv4 (no security of its own) or [{workerToken: []}]", op.OperationID, *op.Security)
			}
		}

		// Authenticated operations (AWS and extensions) answer errors with
		// the AWS error model: they can always answer 400, 401 and 500,
		// with the AWS error headers.
		if !op.authenticated() {
			continue
		}
		for _, code := range []string{"400", "401", "500"} {
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s: no %s response", op.OperationID, code)
			}
		}
		for code, r := range op.Responses {
			r, ok := doc.resolveResponse(r)
			if !ok {
				t.Errorf("%s: response %s: dangling $ref", op.OperationID, code)
				continue
			}
			if _, ok := r.Headers["X-Amzn-RequestId"]; !ok {
				t.Errorf("%s: response %s lacks the X-Amzn-RequestId header", op.OperationID, code)
			}
			if _, ok := r.Headers["X-Amzn-ErrorType"]; !ok && code >= "400" {
				t.Errorf("%s: error response %s lacks the X-Amzn-ErrorType header", op.OperationID, code)
			}
		}
	}
	for id := range awsOperations {
		if !seen[id] {
			t.Errorf("AWS operation %s is not documented", id)
		}
	}
}

// routerPattern turns a documented path into the chi pattern that routes
// it. The ARN labels contain %2F, so the router matches them (and any
// suffix such as /replication-info) with the catch-all "/*"; the handler
// splits the suffix off. Other labels are chi labels as they are.
func routerPattern(path string) string {
	for _, label := range []string{"{replicatorArn}", "{resourceArn}"} {
		if i := strings.Index(path, label); i >= 0 {
			return path[:i] + "*"
		}
	}
	return path
}

// walkRoutes lists the "METHOD pattern" routes of the server cfg builds.
func walkRoutes(t *testing.T, cfg api.Config) map[string]bool {
	t.Helper()
	h := api.NewServer(cfg)
	mux, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("api.NewServer returned %T, not a chi router; update this test", h)
	}
	routed := map[string]bool{}
	err := chi.Walk(mux, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return routed
}

func TestOpenAPIMatchesRouter(t *testing.T) {
	_, ops := loadOpenAPI(t)

	// With the worker fleet, every documented operation, extensions
	// included, is routed, and every route is documented.
	t.Run("fleet", func(t *testing.T) {
		routed := walkRoutes(t, api.Config{Region: "us-east-1", Fleet: nilFleet})
		documented := map[string]bool{}
		for _, op := range ops {
			key := op.method + " " + routerPattern(op.path)
			documented[key] = true
			if !routed[key] {
				t.Errorf("%s (%s %s) is documented but not routed (looked for %q)", op.OperationID, op.method, op.path, key)
			}
		}
		for key := range routed {
			if !documented[key] {
				t.Errorf("route %s is not documented in openapi.yaml", key)
			}
		}
	})

	// Signed operations can share a route (DescribeReplicator and the
	// status extension share GET /replication/v1/replicators/*), so the
	// walk cannot see them all: every operation the SigV4 adapter is given
	// (s.aws("Name", ...) in the package's source) must be documented as a
	// signed operation, and the other way round.
	t.Run("signed", func(t *testing.T) {
		adapted := signedOperationNames(t)
		signed := map[string]bool{}
		for _, op := range ops {
			if op.usesScheme("sigv4") {
				signed[op.OperationID] = true
				if !adapted[op.OperationID] {
					t.Errorf("%s is documented as a signed operation, but no s.aws(%q, ...) serves it", op.OperationID, op.OperationID)
				}
			}
		}
		for name := range adapted {
			if name != "Unknown" && !signed[name] {
				t.Errorf("the server serves signed operation %s (s.aws(%q, ...)), which openapi.yaml does not document", name, name)
			}
		}
	})

	// Without it, the AWS and operational endpoints are routed, and the
	// extensions' own routes are not. (The status extension shares
	// DescribeReplicator's route; TestOpenAPIDispatch checks where its
	// requests go.)
	t.Run("nofleet", func(t *testing.T) {
		routed := walkRoutes(t, api.Config{Region: "us-east-1"})
		core := map[string]bool{}
		for _, op := range ops {
			if !op.Extension {
				core[op.method+" "+routerPattern(op.path)] = true
			}
		}
		for _, op := range ops {
			key := op.method + " " + routerPattern(op.path)
			switch {
			case !op.Extension && !routed[key]:
				t.Errorf("%s (%s %s) is documented but not routed (looked for %q)", op.OperationID, op.method, op.path, key)
			case op.Extension && !core[key] && routed[key]:
				t.Errorf("extension %s (%s %s) is routed by a server without the worker fleet", op.OperationID, op.method, op.path)
			}
		}
		for key := range routed {
			if !core[key] {
				t.Errorf("route %s of a server without the worker fleet is not a documented AWS or operational endpoint", key)
			}
		}
	})
}

// signedOperationNames lists the operation names given to the SigV4
// adapter, s.aws("Name", handler), in the non-test files of package api.
func signedOperationNames(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "aws" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: s.aws called with a non-literal operation name; update this test", file)
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			names[name] = true
			return true
		})
	}
	if len(names) == 0 {
		t.Fatal("found no s.aws(\"Name\", ...) call in package api; update this test")
	}
	return names
}

// denyAll refuses every request, so the test reaches the operation's
// adapter without a database or credentials.
type denyAll struct{}

func (denyAll) Authenticate(*http.Request, []byte) (string, error) {
	return "", &replicator.Error{Kind: replicator.KindUnauthorized, Message: "denied by test"}
}

// Every request of TestOpenAPIDispatch is refused before its handler runs:
// unsigned requests by denyAll, worker API requests by the worker-token
// check. So the nil fleet store is never called.
func TestOpenAPIDispatch(t *testing.T) {
	_, ops := loadOpenAPI(t)

	// Labels as the SDKs send them: percent-encoded.
	const arn = "arn:aws:kafka:us-east-1:123456789012:replicator/my-repl/7e7885e6-0453-4623-9990-84759ba89d17"
	label := strings.NewReplacer(":", "%3A", "/", "%2F").Replace(arn)
	fill := strings.NewReplacer("{replicatorArn}", label, "{resourceArn}", label, "{id}", "7e7885e6-0453-4623-9990-84759ba89d17")

	for _, withFleet := range []bool{true, false} {
		name := map[bool]string{true: "fleet", false: "nofleet"}[withFleet]
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			cfg := api.Config{Region: "us-east-1", Auth: denyAll{}, Registry: reg, WorkerToken: testWorkerToken}
			if withFleet {
				cfg.Fleet = nilFleet
			}
			srv := httptest.NewServer(api.NewServer(cfg))
			defer srv.Close()

			for _, op := range ops {
				if !op.authenticated() {
					continue // the operational endpoints call the store
				}
				url := srv.URL + fill.Replace(op.path)
				before, beforeOp := requestsCounted(t, reg, ""), requestsCounted(t, reg, op.OperationID)
				// Unsigned and without a worker token; for the worker API,
				// also with a wrong token.
				auths := []string{""}
				if op.usesScheme("workerToken") {
					auths = append(auths, "Bearer not-"+testWorkerToken)
				}
				for _, auth := range auths {
					wantUnauthorized(t, op, url, auth)
				}
				counted := requestsCounted(t, reg, op.OperationID) - beforeOp
				switch {
				case !withFleet && op.Extension:
					// Not mounted: the request must not reach the
					// extension (it falls to another route, or to the
					// unknown-operation handler).
					if counted != 0 {
						t.Errorf("%s %s reached %s on a server without the worker fleet", op.method, op.path, op.OperationID)
					}
				case op.usesScheme("sigv4"):
					if counted != 1 {
						t.Errorf("%s %s was counted %v times as operation %s, want 1 (the router sends it to another handler?)",
							op.method, op.path, counted, op.OperationID)
					}
				case op.usesScheme("workerToken"):
					// The worker API is outside the SigV4 adapter: a request
					// counted there fell to the unknown-operation handler.
					if n := requestsCounted(t, reg, "") - before; n != 0 {
						t.Errorf("%s %s was counted %v times by the SigV4 adapter (operation %q), want 0: is it routed?",
							op.method, op.path, n, countedOperations(t, reg))
					}
				}
			}
		})
	}
}

// wantUnauthorized sends a request to op with the Authorization header auth
// (none if "") and wants a 401 UnauthorizedException in the AWS error model.
func wantUnauthorized(t *testing.T, op documentedOp, url, auth string) {
	t.Helper()
	req, err := http.NewRequest(op.method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Message *string `json:"message"`
	}
	decodeErr := json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-Amzn-ErrorType") != "UnauthorizedException" ||
		resp.Header.Get("X-Amzn-RequestId") == "" || decodeErr != nil || body.Message == nil {
		t.Errorf("%s with Authorization %q: got %d %q (request ID %q, body error %v), want 401 UnauthorizedException with an Error body",
			op.OperationID, auth, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), resp.Header.Get("X-Amzn-RequestId"), decodeErr)
	}
}

// requestsCounted reads replicator_api_requests_total for one operation,
// or for all of them if operation is "".
func requestsCounted(t *testing.T, reg *prometheus.Registry, operation string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "replicator_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation" && (operation == "" || l.GetValue() == operation) {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// countedOperations lists the operations replicator_api_requests_total has
// counted, for error messages.
func countedOperations(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, mf := range mfs {
		if mf.GetName() != "replicator_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation" && !slices.Contains(ops, l.GetValue()) {
					ops = append(ops, l.GetValue())
				}
			}
		}
	}
	sort.Strings(ops)
	return ops
}

// ---------------------------------------------------------------------------
// Schemas versus wire structs.

// wireSchemas maps each object schema of openapi.yaml to the wire struct
// that encodes or decodes it: a struct of wire.go or status.go by its name,
// or a struct of package fleet (the worker API) as "fleet.Name". The
// schema's properties must be the struct's json members minus omit. For a
// response schema, its required members must be the members the struct
// always emits (no omitempty).
var wireSchemas = []struct {
	schema, goStruct string
	omit             []string
	response         bool
}{
	{"CreateReplicatorRequest", "createReplicatorRequest", nil, false},
	{"CreateReplicatorResponse", "createReplicatorResponse", nil, true},
	{"KafkaCluster", "wireKafkaCluster", []string{"kafkaClusterAlias"}, false},
	{"KafkaClusterDescription", "wireKafkaCluster", nil, true},
	{"AmazonMskCluster", "wireAmazonMskCluster", nil, false},
	{"ApacheKafkaCluster", "wireApacheKafkaCluster", nil, false},
	{"KafkaClusterClientVpcConfig", "wireVpcConfig", nil, false},
	{"KafkaClusterClientAuthentication", "wireClientAuth", nil, false},
	{"KafkaClusterSaslScramAuthentication", "wireSaslScram", nil, false},
	{"KafkaClusterMTLSAuthentication", "wireMTLS", nil, false},
	{"KafkaClusterEncryptionInTransit", "wireEncryption", nil, false},
	{"ReplicationInfo", "wireReplicationInf", []string{"sourceKafkaClusterAlias", "targetKafkaClusterAlias"}, false},
	{"ReplicationInfoDescription", "wireReplicationInf", []string{"sourceKafkaClusterArn", "sourceKafkaClusterId", "targetKafkaClusterArn", "targetKafkaClusterId"}, true},
	{"TopicReplication", "wireTopicReplication", nil, false},
	{"TopicReplicationUpdate", "wireTopicReplication", []string{"startingPosition", "topicNameConfiguration"}, false},
	{"ReplicationStartingPosition", "wireTypeOnly", nil, false},
	{"ReplicationTopicNameConfiguration", "wireTypeOnly", nil, false},
	{"ConsumerGroupReplication", "wireConsumerGroupReplication", nil, false},
	{"ConsumerGroupReplicationUpdate", "wireConsumerGroupReplication", []string{"consumerGroupOffsetSyncMode"}, false},
	{"LogDelivery", "wireLogDelivery", nil, false},
	{"ReplicatorLogDelivery", "wireReplicatorLogDelivery", nil, false},
	{"CloudWatchLogs", "wireCloudWatchLogs", nil, false},
	{"Firehose", "wireFirehose", nil, false},
	{"S3", "wireS3", nil, false},
	{"ReplicationStateInfo", "stateInfo", nil, true},
	{"DescribeReplicatorResponse", "describeReplicatorResponse", nil, true},
	{"ListReplicatorsResponse", "listReplicatorsResponse", nil, true},
	{"ReplicatorSummary", "replicatorSummary", nil, true},
	{"KafkaClusterSummary", "kafkaClusterSummary", nil, true},
	{"ReplicationInfoSummary", "replicationInfoSummary", nil, true},
	{"UpdateReplicationInfoRequest", "updateReplicationInfoRequest", nil, false},
	{"DeleteReplicatorResponse", "arnStateResponse", nil, true},
	{"UpdateReplicationInfoResponse", "arnStateResponse", nil, true},
	{"TagResourceRequest", "tagResourceRequest", nil, false},
	{"ListTagsForResourceResponse", "listTagsResponse", nil, true},
	{"Error", "errorBody", nil, true},

	// The status extension (status.go).
	{"ReplicatorStatusResponse", "statusResponse", nil, true},
	{"ReplicatorStatusSummary", "statusSummary", nil, true},
	{"JobStatus", "jobStatus", nil, true},
	{"ReplicatorStateEvent", "stateEvent", nil, true},

	// The worker API (package fleet). PartitionProgress and JobError are
	// in worker reports and in the status response.
	{"Lease", "fleet.Lease", nil, true},
	{"AcquireRequest", "fleet.AcquireRequest", nil, false},
	{"AcquireResponse", "fleet.AcquireResponse", nil, true},
	{"JobReport", "fleet.JobReport", nil, false},
	{"PartitionProgress", "fleet.PartitionProgress", nil, true},
	{"JobError", "fleet.JobError", nil, true},
	{"HeartbeatRequest", "fleet.HeartbeatRequest", nil, false},
	{"HeartbeatResponse", "fleet.HeartbeatResponse", nil, true},
	{"ReleaseRequest", "fleet.ReleaseRequest", nil, false},
	{"Topology", "fleet.Topology", nil, false},
	{"TopicInfo", "fleet.TopicInfo", nil, false},
	{"PartitionInfo", "fleet.PartitionInfo", nil, false},
	{"TopologyResponse", "fleet.TopologyResponse", nil, true},
	{"Notice", "fleet.Notice", nil, false},
	{"ReplicatorSpec", "fleet.ReplicatorSpec", nil, true},
	{"WorkerInfo", "fleet.WorkerInfo", nil, true},
	{"HeldJob", "fleet.HeldJob", nil, true},
	{"MappingPoint", "fleet.MappingPoint", nil, true},
	{"MappingsResponse", "fleet.MappingsResponse", nil, true},
}

// notWireSchemas are object schemas with no wire struct (the handler
// encodes a map).
var notWireSchemas = []string{"HealthStatus", "Tags", "ListWorkersResponse", "ReleaseResponse"}

// fleetNotWireTypes are the structs of package fleet that never travel
// between a worker and the control plane: what a worker hands the engine
// that runs its jobs (engine.go).
var fleetNotWireTypes = []string{"TaskEnv", "TopologyError"}

// fleetWireTypes are the structs of package fleet, the worker API's wire
// types. Their json members are read by reflection; every struct declared in
// package fleet must be listed, or in fleetNotWireTypes.
var fleetWireTypes = []reflect.Type{
	reflect.TypeFor[fleet.Lease](),
	reflect.TypeFor[fleet.AcquireRequest](),
	reflect.TypeFor[fleet.AcquireResponse](),
	reflect.TypeFor[fleet.JobReport](),
	reflect.TypeFor[fleet.PartitionProgress](),
	reflect.TypeFor[fleet.JobError](),
	reflect.TypeFor[fleet.HeartbeatRequest](),
	reflect.TypeFor[fleet.HeartbeatResponse](),
	reflect.TypeFor[fleet.ReleaseRequest](),
	reflect.TypeFor[fleet.Topology](),
	reflect.TypeFor[fleet.TopicInfo](),
	reflect.TypeFor[fleet.PartitionInfo](),
	reflect.TypeFor[fleet.TopologyResponse](),
	reflect.TypeFor[fleet.Notice](),
	reflect.TypeFor[fleet.ReplicatorSpec](),
	reflect.TypeFor[fleet.WorkerInfo](),
	reflect.TypeFor[fleet.HeldJob](),
	reflect.TypeFor[fleet.MappingPoint](),
	reflect.TypeFor[fleet.MappingsResponse](),
}

// opaqueWireTypes are structs that the spec documents as free-form objects
// (type object, no properties): fleet.ReplicatorSpec's spec is the domain
// spec with Go field names.
var opaqueWireTypes = []string{"replicator.Spec"}

// selectorTypes are the JSON types of named types of other packages that
// do not encode as objects, as the AST shows them ("" for any JSON).
var selectorTypes = map[string]string{
	"time.Time":       "string",
	"json.RawMessage": "",
}

// wireField is one JSON member of a wire struct.
type wireField struct {
	omitempty bool
	jsonType  string // OpenAPI type: string, boolean, integer, number, array, object; "" for any
	elem      string // the wire struct of the member, its items or its values, if any
}

// parseWireStructs reads the json members of every struct type declared in
// wireFiles (by name) and of fleetWireTypes (as "fleet.Name").
func parseWireStructs(t *testing.T) map[string]map[string]wireField {
	t.Helper()
	structs := map[string]map[string]wireField{}
	for _, file := range wireFiles {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			fields := map[string]wireField{}
			for _, fld := range st.Fields.List {
				if fld.Tag == nil {
					continue
				}
				tag, _ := strconv.Unquote(fld.Tag.Value)
				name, opts, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
				if name == "" || name == "-" {
					continue
				}
				typ, elem := jsonTypeOf(fld.Type)
				fields[name] = wireField{omitempty: omits(opts), jsonType: typ, elem: elem}
			}
			if _, dup := structs[ts.Name.Name]; dup {
				t.Fatalf("wire struct %s is declared twice in %v", ts.Name.Name, wireFiles)
			}
			structs[ts.Name.Name] = fields
			return false
		})
	}

	for _, typ := range fleetWireTypes {
		fields := map[string]wireField{}
		for f := range typ.Fields() {
			if !f.IsExported() {
				continue
			}
			if f.Anonymous {
				t.Fatalf("%s embeds %s: teach parseWireStructs about embedded structs", typ, f.Type)
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			jt, elem := jsonTypeOfType(f.Type)
			fields[name] = wireField{omitempty: omits(opts), jsonType: jt, elem: elem}
		}
		structs[typ.String()] = fields
	}
	return structs
}

// omits says whether json tag options may leave the member out.
func omits(opts string) bool {
	o := strings.Split(opts, ",")
	return slices.Contains(o, "omitempty") || slices.Contains(o, "omitzero")
}

// jsonTypeOf gives the OpenAPI type a Go type encodes as, and the named
// struct it holds, if any ("pkg.Name" for another package's).
func jsonTypeOf(e ast.Expr) (typ, elem string) {
	switch e := e.(type) {
	case *ast.StarExpr:
		return jsonTypeOf(e.X)
	case *ast.ArrayType:
		_, elem = jsonTypeOf(e.Elt)
		return "array", elem
	case *ast.MapType:
		_, elem = jsonTypeOf(e.Value)
		return "object", elem
	case *ast.SelectorExpr:
		pkg, ok := e.X.(*ast.Ident)
		if !ok {
			return "", ""
		}
		name := pkg.Name + "." + e.Sel.Name
		if typ, ok := selectorTypes[name]; ok {
			return typ, ""
		}
		return "object", name
	case *ast.Ident:
		switch e.Name {
		case "string":
			return "string", ""
		case "bool":
			return "boolean", ""
		case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
			return "integer", ""
		case "float32", "float64":
			return "number", ""
		}
		return "object", e.Name
	}
	return "", "" // e.g. any: any JSON
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// jsonTypeOfType is jsonTypeOf for a reflected type; the struct it holds is
// named "pkg.Name".
func jsonTypeOfType(t reflect.Type) (typ, elem string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return "string", ""
	case t.Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(jsonMarshalerType):
		return "", ""
	case t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType):
		return "string", ""
	}
	switch t.Kind() {
	case reflect.String:
		return "string", ""
	case reflect.Bool:
		return "boolean", ""
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer", ""
	case reflect.Float32, reflect.Float64:
		return "number", ""
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string", "" // base64
		}
		_, elem = jsonTypeOfType(t.Elem())
		return "array", elem
	case reflect.Map:
		_, elem = jsonTypeOfType(t.Elem())
		return "object", elem
	case reflect.Struct:
		return "object", t.String()
	}
	return "", ""
}

// fleetStructNames lists the struct types declared in package fleet.
func fleetStructNames(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fleetDir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				if ts := spec.(*ast.TypeSpec); ts.Name.IsExported() {
					if _, ok := ts.Type.(*ast.StructType); ok {
						names = append(names, ts.Name.Name)
					}
				}
			}
		}
	}
	return names
}

func TestOpenAPISchemasMatchWireStructs(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	structs := parseWireStructs(t)

	for _, name := range fleetStructNames(t) {
		if _, ok := structs["fleet."+name]; !ok && !slices.Contains(fleetNotWireTypes, name) {
			t.Errorf("package fleet declares struct %s, which is not in fleetWireTypes: add it there, to openapi.yaml and to wireSchemas", name)
		}
	}

	// Which wire struct each schema name stands for, to check $refs.
	structOf := map[string]string{}
	usedStructs := map[string]bool{}
	for _, m := range wireSchemas {
		structOf[m.schema] = m.goStruct
		usedStructs[m.goStruct] = true
	}

	for _, m := range wireSchemas {
		s := doc.Components.Schemas[m.schema]
		fields, ok := structs[m.goStruct]
		if s == nil || !ok {
			t.Errorf("%s ↔ %s: schema present %v, struct present %v", m.schema, m.goStruct, s != nil, ok)
			continue
		}
		var want []string
		for name := range fields {
			if !slices.Contains(m.omit, name) {
				want = append(want, name)
			}
		}
		if got := sortedKeys(s.Properties); !sameSet(got, want) {
			t.Errorf("%s: properties %v, but %s has json members %v", m.schema, got, m.goStruct, sortedCopy(want))
		}

		for name, prop := range s.Properties {
			f, ok := fields[name]
			if !ok {
				continue
			}
			resolved, refName := doc.resolveSchema(prop)
			if resolved == nil {
				t.Errorf("%s.%s: dangling $ref %s", m.schema, name, prop.Ref)
				continue
			}
			if f.jsonType != "" && resolved.Type != f.jsonType {
				t.Errorf("%s.%s: type %q, but %s encodes it as %q", m.schema, name, resolved.Type, m.goStruct, f.jsonType)
			}
			// A member that holds a wire struct must refer to a schema of
			// that struct (directly or as its items); one that holds an
			// opaque struct must be a free-form object.
			if f.elem == "" {
				continue
			}
			if slices.Contains(opaqueWireTypes, f.elem) {
				if resolved.Type != "object" || len(resolved.Properties) != 0 {
					t.Errorf("%s.%s holds %s, which must be documented as a free-form object (no properties)", m.schema, name, f.elem)
				}
				continue
			}
			if resolved.Type == "array" {
				_, refName = doc.resolveSchema(resolved.Items)
			}
			if structOf[refName] != f.elem {
				t.Errorf("%s.%s refers to schema %q, which is not mapped to %s", m.schema, name, refName, f.elem)
			}
		}

		if m.response {
			var always []string
			for _, name := range want {
				if !fields[name].omitempty {
					always = append(always, name)
				}
			}
			if !sameSet(s.Required, always) {
				t.Errorf("%s: required %v, but %s always emits %v", m.schema, sortedCopy(s.Required), m.goStruct, sortedCopy(always))
			}
		}
	}

	for name, s := range doc.Components.Schemas {
		if s.Type == "object" && structOf[name] == "" && !slices.Contains(notWireSchemas, name) {
			t.Errorf("schema %s is not mapped to a wire struct: add it to wireSchemas or notWireSchemas", name)
		}
	}
	for name := range structs {
		if !usedStructs[name] {
			t.Errorf("wire struct %s is not described by any schema: add it to openapi.yaml and wireSchemas", name)
		}
	}
}

// ---------------------------------------------------------------------------

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

func sameSet(a, b []string) bool {
	return slices.Equal(sortedCopy(a), sortedCopy(b))
}
