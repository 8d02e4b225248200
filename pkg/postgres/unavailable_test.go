package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openreplicator/replicator/pkg/pgserver"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// TestUnavailable stops the server under an open store: the errors the
// store returns then are told apart from failed statements, and reach the
// store's callers as domain errors of KindUnavailable that name the
// operation.
func TestUnavailable(t *testing.T) {
	if _, err := pgserver.BinDir(); err != nil {
		t.Skipf("no PostgreSQL binaries: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Options{Database: "unavailable"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if err := Migrate(ctx, srv.URL(), nil); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ListReplicators(ctx, "111111111111", "", "", 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "SELECT no_such_column FROM replicators"); err == nil || unavailable(err) {
		t.Fatalf("a failed statement counts as unavailable: %v", err)
	}
	if unavailable(nil) || unavailable(context.Canceled) || unavailable(errors.New("boom")) {
		t.Fatal("Unavailable of nil, Canceled or a plain error")
	}
	if err := srv.Halt("fast"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // a pooled connection that died, then new connections refused
		qctx, qc := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.ListReplicators(qctx, "111111111111", "", "", 10)
		qc()
		if err == nil || !unavailable(err) {
			t.Fatalf("attempt %d with the server down: %v (Unavailable %v)", i, err, unavailable(err))
		}
		if replicator.KindOf(err) != replicator.KindUnavailable || !strings.Contains(err.Error(), "ListReplicators(") {
			t.Fatalf("attempt %d with the server down: %v, want a KindUnavailable error naming ListReplicators", i, err)
		}
	}
	if err := srv.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := s.ListReplicators(ctx, "111111111111", "", "", 10)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover after the server came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
