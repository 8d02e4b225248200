package replbench

import (
	"os/exec"
	"strings"
	"time"

	"github.com/openreplicator/replicator/internal/bench"
	"github.com/openreplicator/replicator/internal/proc"
)

// startProc starts argv with its output in logDir/<name>.log
// (internal/proc).
func startProc(logDir, name string, env []string, argv ...string) (*proc.Proc, error) {
	return proc.Start(name, logDir, argv[0], argv[1:], env)
}

// stopGrace is how long a SIGTERMed process may take before it is killed.
const stopGrace = 30 * time.Second

// machine describes the machine and the Java the brokers and MirrorMaker 2 run on.
func machine() string {
	java := "java ?"
	if out, err := exec.Command("java", "-version").CombinedOutput(); err == nil {
		java = strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
	}
	return bench.DescribeMachine().String() + ", " + java
}
