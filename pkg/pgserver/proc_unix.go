//go:build unix

package pgserver

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// setProcessGroup puts cmd in its own process group and makes cancellation
// kill the whole group, so runuser's child does not outlive it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}

// killProcess sends SIGKILL to pid; a process that is already gone is not an error.
func killProcess(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// inaccessibleTo returns the first of dir and its ancestors that the user
// uid/gid cannot search (traverse), or "" if all are searchable. Only
// permission bits are considered (not ACLs or supplementary groups).
func inaccessibleTo(dir string, uid, gid int) string {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return p
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return ""
		}
		perm := fi.Mode().Perm()
		var bit os.FileMode = 0o001
		switch {
		case int(st.Uid) == uid:
			bit = 0o100
		case int(st.Gid) == gid:
			bit = 0o010
		}
		if perm&bit == 0 {
			return p
		}
		if parent := filepath.Dir(p); parent == p {
			return ""
		}
	}
}
