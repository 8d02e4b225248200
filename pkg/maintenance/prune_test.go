package maintenance

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestMappingsPrunedEvery30SecondsKeepingAnHour: the leader removes
// offset mapping points older than an hour, once more than 30 seconds
// passed since it last did.
func TestMappingsPrunedEvery30SecondsKeepingAnHour(t *testing.T) {
	store := &fakeStore{lead: true}
	m, clock, _, _ := newTest(store)
	ctx := context.Background()
	pruned := func() bool {
		t.Helper()
		store.reset()
		if err := m.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		return strings.Contains(store.called(), "PruneMappings")
	}
	if !pruned() {
		t.Fatal("not pruned at the first tick")
	}
	if store.pruneAge != time.Hour {
		t.Fatalf("pruned points older than %s, want 1h", store.pruneAge)
	}
	clock.advance(30 * time.Second)
	if pruned() {
		t.Fatal("pruned again after 30 s")
	}
	clock.advance(time.Millisecond)
	if !pruned() {
		t.Fatal("not pruned again after 30.001 s")
	}
}
