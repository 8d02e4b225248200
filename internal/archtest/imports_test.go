// Package archtest keeps the import rules of the tree (README, Layout):
// arrows point down, from the binary to the runtimes to the domain, and
// each outside dependency has one home. It reads the non-test Go files of
// every package and fails on an import a rule forbids.
package archtest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/openreplicator/replicator/"

// rule says what a package (a path relative to the module root) must not
// import: packages of this module by path prefix, or outside modules by
// path prefix. only, when set, lists the only module packages it may
// import.
type rule struct {
	pkg    string
	never  []string
	only   []string // module packages allowed (nil: any not in never)
	stdlib bool     // only the standard library and the module packages in only
}

var rules = []rule{
	// The domain imports only the standard library.
	{pkg: "pkg/replicator", stdlib: true},
	// The worker protocol: the domain and the standard library.
	{pkg: "pkg/fleet", stdlib: true, only: []string{"pkg/replicator"}},
	// The engine implements the protocol's interfaces; it never reaches up
	// to the runtime that drives it, the API or the store.
	{pkg: "pkg/kafka", never: []string{"workers", "api", "pkg/postgres", "pkg/maintenance", "cmd", "internal", "github.com/jackc/pgx"}},
	// The store: the only SQL; it knows nothing of HTTP, Kafka or workers.
	{pkg: "pkg/postgres", never: []string{"api", "workers", "pkg/kafka", "pkg/maintenance", "cmd", "internal", "github.com/twmb/franz-go"}},
	// The scheduler's services declare the store methods they need.
	{pkg: "pkg/maintenance", never: []string{"pkg/postgres", "api", "workers", "pkg/kafka", "cmd", "internal", "github.com/jackc/pgx"}},
	// The HTTP surface speaks the domain and the protocol, never storage
	// types, and never Kafka.
	{pkg: "api", never: []string{"pkg/postgres", "pkg/kafka", "workers", "pkg/maintenance", "cmd", "internal", "github.com/jackc/pgx", "github.com/twmb/franz-go"}},
	// The worker runtime drives any Engine (package fleet's interfaces).
	{pkg: "workers", never: []string{"pkg/kafka", "pkg/postgres", "api", "pkg/maintenance", "cmd", "internal", "github.com/jackc/pgx", "github.com/twmb/franz-go"}},
	// Small libraries import nothing of the product's layers.
	{pkg: "pkg/sigv4", never: []string{"api", "workers", "pkg/postgres", "pkg/kafka", "pkg/maintenance", "cmd", "internal"}},
	{pkg: "pkg/catalog", never: []string{"api", "workers", "pkg/postgres", "pkg/kafka", "pkg/maintenance", "cmd", "internal"}},
	{pkg: "pkg/netguard", stdlib: true},
	{pkg: "pkg/logx", stdlib: true},
	{pkg: "pkg/pgserver", never: []string{"api", "workers", "pkg/postgres", "pkg/kafka", "pkg/maintenance", "cmd", "internal"}},
	// The binary wires the product; test and benchmark tooling stays out.
	{pkg: "cmd/replicator", never: []string{"internal"}},
}

func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		imports := packageImports(t, filepath.Join(root, r.pkg))
		if len(imports) == 0 {
			t.Errorf("%s: no Go files (the rule names a package that moved?)", r.pkg)
			continue
		}
		for imp, file := range imports {
			local, inModule := strings.CutPrefix(imp, module)
			switch {
			case inModule && r.only != nil && !slices.Contains(r.only, local):
				t.Errorf("%s imports %s (%s); it may import only %v of this module", r.pkg, imp, file, r.only)
			case r.stdlib && !inModule && strings.Contains(strings.Split(imp, "/")[0], "."):
				t.Errorf("%s imports %s (%s); it may import only the standard library", r.pkg, imp, file)
			case r.stdlib && inModule && r.only == nil:
				t.Errorf("%s imports %s (%s); it may import only the standard library", r.pkg, imp, file)
			}
		}
		// What it reaches through other packages of the module counts too.
		for imp, via := range reachable(t, root, r.pkg) {
			local, inModule := strings.CutPrefix(imp, module)
			target := imp
			if inModule {
				target = local
			}
			for _, n := range r.never {
				if target == n || strings.HasPrefix(target, n+"/") {
					t.Errorf("%s reaches %s (through %s): it must not import %s", r.pkg, imp, via, n)
				}
			}
		}
	}
}

// reachable returns every import reachable from the package pkg through
// packages of this module, each with the module package that imports it.
func reachable(t *testing.T, root, pkg string) map[string]string {
	t.Helper()
	out := map[string]string{}
	seen := map[string]bool{pkg: true}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for imp := range packageImports(t, filepath.Join(root, p)) {
			if _, ok := out[imp]; !ok {
				out[imp] = p
			}
			if local, ok := strings.CutPrefix(imp, module); ok && !seen[local] {
				seen[local] = true
				queue = append(queue, local)
			}
		}
	}
	return out
}

// packageImports returns the imports of the non-test Go files in dir, each
// with a file that has it.
func packageImports(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			out[p] = name
		}
	}
	return out
}
