//go:build !unix

package pgserver

import (
	"os"
	"os/exec"
)

func setProcessGroup(*exec.Cmd) {}

func killProcess(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	_ = p.Kill()
	return nil
}

func processAlive(int) bool { return false }

func inaccessibleTo(string, int, int) string { return "" }
