package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/openreplicator/replicator/internal/proc"
)

// BuildReplicator builds ./cmd/replicator of the repository the benchmark
// runs in into out.
func BuildReplicator(ctx context.Context, out string) error {
	root, err := proc.RepoRoot()
	if err != nil {
		return fmt.Errorf("run from the repository: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/replicator")
	cmd.Dir = root
	SetChildAttrs(cmd)
	b, err := cmd.CombinedOutput()
	if err != nil {
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		return fmt.Errorf("go build ./cmd/replicator: %w\n%s", err, strings.TrimSpace(string(b)))
	}
	return nil
}
