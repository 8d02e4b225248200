// The engine's imports, checked.

package kafka

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/openreplicator/replicator/"

// TestImportsPointDown: the engine imports the protocol it implements
// (pkg/fleet), the domain and a few leaf packages of the module, never the
// worker runtime that drives it, the API or the store, not even through
// another package (issue 12: arrows point down).
func TestImportsPointDown(t *testing.T) {
	direct := moduleImports(t, module+"pkg/kafka")
	allowed := []string{"pkg/fleet", "pkg/replicator", "pkg/catalog", "pkg/netguard", "pkg/logx"}
	for _, p := range direct {
		if !slices.Contains(allowed, p) {
			t.Errorf("pkg/kafka imports %s; it may import only %v of the module", p, allowed)
		}
	}
	seen := map[string][]string{} // package → the import path that reached it
	var walk func(p string, via []string)
	walk = func(p string, via []string) {
		if _, ok := seen[p]; ok {
			return
		}
		seen[p] = via
		for _, q := range moduleImports(t, module+p) {
			walk(q, append(slices.Clip(via), q))
		}
	}
	walk("pkg/kafka", []string{"pkg/kafka"})
	for p, via := range seen {
		for _, bad := range []string{"workers", "api", "pkg/postgres", "pkg/scheduler", "cmd", "internal"} {
			if p == bad || strings.HasPrefix(p, bad+"/") {
				t.Errorf("pkg/kafka depends on %s: %s", p, strings.Join(via, " → "))
			}
		}
	}
}

// moduleImports returns the packages of this module (paths relative to its
// root) that the non-test files of package path import.
func moduleImports(t *testing.T, path string) []string {
	t.Helper()
	pkg, err := build.Import(path, ".", 0)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, imp := range pkg.Imports {
		if rel, ok := strings.CutPrefix(imp, module); ok {
			out = append(out, rel)
		}
	}
	return out
}
