package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// maxBodyBytes bounds every request body. The largest valid request (two
// clusters with CA certificates, 50 tags, 200 patterns) is far smaller.
const maxBodyBytes = 1 << 20

// encode writes v as JSON with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode parses a JSON request body into v. It accepts an empty body as
// "{}", refuses content types other than JSON, invalid UTF-8, NUL
// characters (PostgreSQL cannot store them) and trailing data, and names the
// member whose type is wrong.
func decode(r *http.Request, body []byte, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "application/x-amz-json-1.1") {
			return replicator.Invalid("Content-Type", "the request body must be application/json")
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !utf8.Valid(body) {
		return replicator.Invalid("body", "the request body is not valid UTF-8")
	}
	if bytes.Contains(body, []byte(`\u0000`)) {
		return replicator.Invalid("body", "the request body contains a NUL character")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" { // the body itself: [], "x", 1
				return replicator.Invalid("body", "the request body must be a JSON object")
			}
			return replicator.Invalid(te.Field, "member %s must be of type %s", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return replicator.Invalid("body", "the request body is not valid JSON")
	}
	if dec.More() {
		return replicator.Invalid("body", "the request body has data after the JSON object")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice":
		return "list"
	case "map", "struct":
		return "structure"
	case "ptr":
		return "a value of the modeled type"
	}
	return goKind
}
