package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// These tests keep openapi.yaml in step with the code:
//
//   - TestOpenAPIOperations: the eight AWS operations are documented with
//     their AWS method, path, success code and error responses; every other
//     signed operation is marked `x-extension: true`.
//   - TestOpenAPIMatchesRouter: every documented operation is routed and
//     every route is documented (walking the chi router).
//   - TestOpenAPIDispatch: a request to each documented AWS operation reaches
//     the handler the router names after that operation.
//   - TestOpenAPISchemasMatchWireStructs: the schemas' member names and JSON
//     types are the json tags and Go types of the wire structs in wire.go.
//
// They need no database: they only look at the spec, the router and wire.go.

const (
	openAPIFile = "../openapi.yaml"
	wireFile    = "wire.go"
)

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
			Type string `yaml:"type"`
			In   string `yaml:"in"`
			Name string `yaml:"name"`
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

func (o documentedOp) signed() bool { return o.Security == nil || len(*o.Security) > 0 }

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
	if len(doc.Security) != 1 || doc.Security[0]["sigv4"] == nil {
		t.Errorf("global security = %v, want [{sigv4: []}]", doc.Security)
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
		case op.signed():
			if !op.Extension {
				t.Errorf("%s (%s): a signed operation that is not an AWS operation must be marked x-extension: true", op.OperationID, name)
			}
		}

		// Signed operations (AWS and extensions) go through the AWS error
		// adapter: they can always answer 400 and 500, with the AWS error
		// headers.
		if !op.signed() {
			continue
		}
		for _, code := range []string{"400", "500"} {
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

func TestOpenAPIMatchesRouter(t *testing.T) {
	_, ops := loadOpenAPI(t)
	h := api.NewServer(api.Config{Region: "us-east-1"})
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

	documented := map[string]bool{}
	for _, op := range ops {
		key := op.method + " " + routerPattern(op.path)
		documented[key] = true
		if routed[key] {
			continue
		}
		if op.Extension {
			// Extensions may be mounted by other packages (Config.Mount),
			// which this bare server does not have.
			t.Logf("extension %s (%s %s) is not routed by api.NewServer alone", op.OperationID, op.method, op.path)
			continue
		}
		t.Errorf("%s (%s %s) is documented but not routed (looked for %q)", op.OperationID, op.method, op.path, key)
	}
	for key := range routed {
		if !documented[key] {
			t.Errorf("route %s is not documented in openapi.yaml", key)
		}
	}
}

// denyAll refuses every request, so the test reaches the operation's
// adapter without a database or credentials.
type denyAll struct{}

func (denyAll) Authenticate(*http.Request, []byte) (string, error) {
	return "", &replicator.Error{Kind: replicator.KindUnauthorized, Message: "denied by test"}
}

func TestOpenAPIDispatch(t *testing.T) {
	_, ops := loadOpenAPI(t)
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(api.NewServer(api.Config{Region: "us-east-1", Auth: denyAll{}, Registry: reg}))
	defer srv.Close()

	// Labels as the SDKs send them: percent-encoded.
	const arn = "arn:aws:kafka:us-east-1:123456789012:replicator/my-repl/7e7885e6-0453-4623-9990-84759ba89d17"
	label := strings.NewReplacer(":", "%3A", "/", "%2F").Replace(arn)
	fill := strings.NewReplacer("{replicatorArn}", label, "{resourceArn}", label)

	for _, op := range ops {
		if _, ok := awsOperations[op.OperationID]; !ok {
			continue
		}
		req, err := http.NewRequest(op.method, srv.URL+fill.Replace(op.path), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-Amzn-ErrorType") != "UnauthorizedException" ||
			resp.Header.Get("X-Amzn-RequestId") == "" {
			t.Errorf("%s: unsigned request got %d %q (request ID %q), want 401 UnauthorizedException",
				op.OperationID, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), resp.Header.Get("X-Amzn-RequestId"))
		}
		if n := requestsCounted(t, reg, op.OperationID); n != 1 {
			t.Errorf("%s %s was counted %v times as operation %s, want 1 (the router sends it to another handler?)",
				op.method, op.path, n, op.OperationID)
		}
	}
}

// requestsCounted reads replicator_api_requests_total for one operation.
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
				if l.GetName() == "operation" && l.GetValue() == operation {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// ---------------------------------------------------------------------------
// Schemas versus wire structs.

// wireSchemas maps each object schema of openapi.yaml to the wire struct in
// wire.go that encodes or decodes it. The schema's properties must be the
// struct's json tags minus omit. For a response-only schema, its required
// members must be the members the struct always emits (no omitempty).
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
}

// notWireSchemas are object schemas with no wire struct (the handler
// encodes a map).
var notWireSchemas = []string{"HealthStatus", "Tags"}

// wireField is one JSON member of a wire struct.
type wireField struct {
	omitempty bool
	jsonType  string // OpenAPI type: string, boolean, integer, array, object; "" for any
	elem      string // the wire struct of the member, its items or its values, if any
}

// parseWireStructs reads the json tags of every struct type in wire.go.
func parseWireStructs(t *testing.T) map[string]map[string]wireField {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), wireFile, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	structs := map[string]map[string]wireField{}
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
			fields[name] = wireField{omitempty: slices.Contains(strings.Split(opts, ","), "omitempty"), jsonType: typ, elem: elem}
		}
		structs[ts.Name.Name] = fields
		return false
	})
	return structs
}

// jsonTypeOf gives the OpenAPI type a Go type encodes as, and the named
// struct it holds, if any.
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
	case *ast.Ident:
		switch e.Name {
		case "string":
			return "string", ""
		case "bool":
			return "boolean", ""
		case "int", "int32", "int64":
			return "integer", ""
		}
		return "object", e.Name
	}
	return "", "" // e.g. json.RawMessage: any JSON
}

func TestOpenAPISchemasMatchWireStructs(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	structs := parseWireStructs(t)

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
			// that struct (directly or as its items).
			if f.elem != "" {
				if resolved.Type == "array" {
					_, refName = doc.resolveSchema(resolved.Items)
				}
				if structOf[refName] != f.elem {
					t.Errorf("%s.%s refers to schema %q, which is not mapped to %s", m.schema, name, refName, f.elem)
				}
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
