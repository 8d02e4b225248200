package api_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestImportsNoStore: the API imports the domain, the protocol and the
// request signing of this module, and takes the store as the interfaces it
// declares (Store, FleetStore); storage types and errors never reach it.
func TestImportsNoStore(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/openreplicator/replicator/"
	allowed := map[string]bool{module + "pkg/fleet": true, module + "pkg/replicator": true, module + "pkg/sigv4": true, module + "api/console": true}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, module) && !allowed[imp] {
			t.Errorf("package api imports %s; of this module only %v", imp, []string{"pkg/fleet", "pkg/replicator", "pkg/sigv4", "api/console"})
		}
	}
}
