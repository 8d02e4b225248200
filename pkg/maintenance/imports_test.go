package maintenance

import (
	"go/build"
	"strings"
	"testing"
)

// TestImportsNeitherStoreNorCallers: the maintenance services import the
// domain and the protocol; the store implements their interfaces and
// cmd/replicator wires it in.
func TestImportsNeitherStoreNorCallers(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/openreplicator/replicator/"
	allowed := map[string]bool{module + "pkg/fleet": true, module + "pkg/replicator": true}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, module) && !allowed[imp] {
			t.Errorf("package maintenance imports %s; only pkg/fleet and pkg/replicator of this module", imp)
		}
	}
}
