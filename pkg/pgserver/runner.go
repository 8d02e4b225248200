package pgserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// serverUser is the account the server runs as when we are root, since
// PostgreSQL refuses to run as root.
const serverUser = "postgres"

// runner runs PostgreSQL binaries, as serverUser (through runuser) when the
// current process is root, directly otherwise.
type runner struct {
	binDir  string
	runuser string // path of runuser; "" = run binaries directly
	uid     int    // owner to give files the server writes; -1 = leave as is
	gid     int
}

func newRunner() (*runner, error) {
	binDir, err := BinDir()
	if err != nil {
		return nil, err
	}
	r := &runner{binDir: binDir, uid: -1, gid: -1}
	if os.Geteuid() != 0 {
		return r, nil
	}

	u, err := user.Lookup(serverUser)
	if err != nil {
		return nil, fmt.Errorf("pgserver: running as root, and PostgreSQL refuses to run as root, "+
			"but there is no %q user to run it as: create one (useradd --system %s), run as a non-root user, "+
			"or set DATABASE_URL to use an existing server: %w", serverUser, serverUser, err)
	}
	if r.uid, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("pgserver: user %s: bad uid %q", serverUser, u.Uid)
	}
	if r.gid, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("pgserver: user %s: bad gid %q", serverUser, u.Gid)
	}
	if r.runuser, err = findRunuser(); err != nil {
		return nil, err
	}
	return r, nil
}

// findRunuser looks for runuser (util-linux) on PATH and in the sbin
// directories, which are often missing from a non-login PATH.
func findRunuser() (string, error) {
	if p, err := exec.LookPath("runuser"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("pgserver: running as root, and PostgreSQL refuses to run as root, "+
		"but runuser (util-linux) was not found to run it as %q: install util-linux, run as a non-root user, "+
		"or set DATABASE_URL to use an existing server", serverUser)
}

// asRoot reports whether binaries run as serverUser rather than as us.
func (r *runner) asRoot() bool { return r.runuser != "" }

// command builds a command running the PostgreSQL binary name. The process
// (and anything it spawns in its process group) is killed when ctx is done.
func (r *runner) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(r.binDir, name)
	var cmd *exec.Cmd
	if r.asRoot() {
		cmd = exec.CommandContext(ctx, r.runuser, append([]string{"-u", serverUser, "--", path}, args...)...)
		// Our working directory may not be accessible to serverUser.
		cmd.Dir = "/"
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	setProcessGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// chown gives path to serverUser when running as root.
func (r *runner) chown(path string) error {
	if r.uid < 0 {
		return nil
	}
	if err := os.Lchown(path, r.uid, r.gid); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	return nil
}
