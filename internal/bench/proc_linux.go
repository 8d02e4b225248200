//go:build linux

package bench

import (
	"os/exec"
	"syscall"
)

// SetChildAttrs puts the child in its own process group (so a terminal's
// Ctrl-C reaches only us, and we stop it in order) and has the kernel kill
// it if we die without cleaning up.
func SetChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
