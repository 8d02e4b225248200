package pgserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNotFound is returned (wrapped) by BinDir and Start when no usable
// PostgreSQL server binaries are installed. Test harnesses may use it to skip.
var ErrNotFound = errors.New("PostgreSQL binaries not found (checked $PG_BINDIR, `pg_config --bindir`, " +
	"/usr/lib/postgresql/*/bin and $PATH for initdb, pg_ctl and postgres): install the PostgreSQL server " +
	"(e.g. apt-get install postgresql), set PG_BINDIR to its bin directory, or set DATABASE_URL " +
	"(TEST_DATABASE_URL for tests) to use an existing server")

// BinDir finds the directory holding the PostgreSQL server binaries (initdb,
// pg_ctl, postgres). It tries, in order: the PG_BINDIR environment variable,
// `pg_config --bindir`, the highest version of /usr/lib/postgresql/*/bin, and
// the directory of pg_ctl on PATH (symlinks resolved).
//
// A PG_BINDIR that is set but unusable is an error rather than being skipped.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		if err := checkBinDir(d); err != nil {
			return "", fmt.Errorf("pgserver: PG_BINDIR=%s: %w", d, err)
		}
		return d, nil
	}

	// pg_config may come from a client-only package (libpq-dev), whose bindir
	// lacks the server binaries, so its answer is checked like the others.
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(pgConfig, "--bindir").Output(); err == nil {
			if d := strings.TrimSpace(string(out)); d != "" && checkBinDir(d) == nil {
				return d, nil
			}
		}
	}

	if matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(matches) > 0 {
		// Highest version first: compare the numeric version component.
		slices.SortFunc(matches, func(a, b string) int {
			return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
		})
		for _, d := range matches {
			if checkBinDir(d) == nil {
				return d, nil
			}
		}
	}

	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if d := filepath.Dir(p); checkBinDir(d) == nil {
			return d, nil
		}
	}

	return "", fmt.Errorf("pgserver: %w", ErrNotFound)
}

// checkBinDir reports whether dir holds the binaries Start needs.
func checkBinDir(dir string) error {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s is not an executable file", filepath.Join(dir, name))
		}
	}
	return nil
}

// compareVersions compares dotted version strings ("9.6", "15") numerically;
// non-numeric parts compare as strings.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y string
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		xn, xerr := strconv.Atoi(x)
		yn, yerr := strconv.Atoi(y)
		switch {
		case xerr == nil && yerr == nil:
			if c := xn - yn; c != 0 {
				return c
			}
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return 0
}
