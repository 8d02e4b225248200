package workers_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/workers"
)

// downPlane is a control plane that cannot be reached.
type downPlane struct{}

var errDown = errors.New("dial tcp 127.0.0.1:8080: connect: connection refused")

func (downPlane) Acquire(context.Context, fleet.AcquireRequest) (fleet.AcquireResponse, error) {
	return fleet.AcquireResponse{}, errDown
}
func (downPlane) Heartbeat(context.Context, fleet.HeartbeatRequest) (fleet.HeartbeatResponse, error) {
	return fleet.HeartbeatResponse{}, errDown
}
func (downPlane) Release(context.Context, fleet.ReleaseRequest) error { return errDown }
func (downPlane) ReportTopology(context.Context, fleet.Topology) (fleet.TopologyResponse, error) {
	return fleet.TopologyResponse{}, errDown
}
func (downPlane) Spec(context.Context, string) (*fleet.ReplicatorSpec, error) { return nil, errDown }

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRepeatedFailuresAreLoggedOnce (issue 11, finding 10): a worker whose
// control plane is down logs the failure once, then once per interval with
// a count, not at every attempt.
func TestRepeatedFailuresAreLoggedOnce(t *testing.T) {
	var buf lockedBuf
	w := workers.New(workers.Config{ID: "w-down", ControlPlane: downPlane{}, AcquireInterval: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = w.Run(ctx) // about 200 acquires in that second
	if n := strings.Count(buf.String(), "worker: acquire failed"); n != 1 {
		t.Fatalf("%d lines for the failing acquires, want 1 (then one per interval):\n%s", n, buf.String())
	}
}
