// Table tests of topic config sync (sync.go).

package kafka

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestConfigChanges: a target topic's configs follow its source's for the
// keys the service manages, and only those.
func TestConfigChanges(t *testing.T) {
	for _, c := range []struct {
		name      string
		want, cur map[string]string
		mine      []string
		ops       []string // "set k=v" or "delete k", sorted
		mineAfter []string
	}{
		{name: "in step", want: map[string]string{"retention.ms": "1"}, cur: map[string]string{"retention.ms": "1"},
			mineAfter: []string{"retention.ms"}}, // copied at creation: managed from now on
		{name: "a new key", want: map[string]string{"retention.ms": "1"}, cur: map[string]string{},
			ops: []string{"set retention.ms=1"}},
		{name: "a changed key", want: map[string]string{"retention.ms": "2"}, cur: map[string]string{"retention.ms": "1"},
			mine: []string{"retention.ms"}, ops: []string{"set retention.ms=2"}, mineAfter: []string{"retention.ms"}},
		{name: "a key the source no longer sets is removed", want: map[string]string{}, cur: map[string]string{"retention.ms": "1"},
			mine: []string{"retention.ms"}, ops: []string{"delete retention.ms"},
			mineAfter: []string{"retention.ms"}}, // until the target took the deletion
		{name: "... unless it is gone from the target already", want: map[string]string{}, cur: map[string]string{},
			mine: []string{"retention.ms"}},
		{name: "a key set on the target by someone else is left alone", want: map[string]string{},
			cur: map[string]string{"retention.ms": "1", "segment.ms": "9"}},
		{name: "together", want: map[string]string{"a": "1", "b": "2"}, cur: map[string]string{"a": "1", "b": "1", "c": "3", "d": "4"},
			mine: []string{"c"}, ops: []string{"delete c", "set b=2"}, mineAfter: []string{"a", "c"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			mine := map[string]bool{}
			for _, k := range c.mine {
				mine[k] = true
			}
			var ops []string
			for _, op := range configChanges(c.want, c.cur, mine) {
				switch op.Op {
				case kadm.SetConfig:
					ops = append(ops, "set "+op.Name+"="+*op.Value)
				case kadm.DeleteConfig:
					ops = append(ops, "delete "+op.Name)
				default:
					t.Fatalf("op %v", op.Op)
				}
			}
			slices.Sort(ops)
			if !slices.Equal(ops, c.ops) {
				t.Errorf("ops %v, want %v", ops, c.ops)
			}
			if got := slices.Sorted(maps.Keys(mine)); !slices.Equal(got, c.mineAfter) {
				t.Errorf("managed keys %v, want %v", got, c.mineAfter)
			}
		})
	}
}

// TestTopicConfigs: only the configs set on the topic itself count (not
// the broker's or the defaults), with a value, and those copied.
func TestTopicConfigs(t *testing.T) {
	v := func(s string) *string { return &s }
	cs := []kadm.Config{
		{Key: "retention.ms", Value: v("1"), Source: 1},
		{Key: "min.insync.replicas", Value: v("2"), Source: 1},
		{Key: "segment.bytes", Value: v("3"), Source: 5}, // the default
		{Key: "cleanup.policy", Value: v("compact"), Source: 4},
		{Key: "sensitive", Value: nil, Source: 1},
	}
	got := topicConfigs(cs, nil)
	if len(got) != 2 || got["retention.ms"] != "1" || got["min.insync.replicas"] != "2" {
		t.Errorf("all: %v", got)
	}
	got = topicConfigs(cs, CopiesConfig)
	if len(got) != 1 || got["retention.ms"] != "1" {
		t.Errorf("copied: %v", got)
	}
	got = topicConfigs(cs, func(k string) bool { return strings.HasPrefix(k, "x") })
	if len(got) != 0 {
		t.Errorf("none: %v", got)
	}
}

// TestConfigsApplied: once the target took the alterations, keys set are
// the service's and keys deleted no longer; a failed attempt leaves mine
// as configChanges left it, so that the next sync asks again.
func TestConfigsApplied(t *testing.T) {
	mine := map[string]bool{"c": true}
	ops := configChanges(map[string]string{"b": "2"}, map[string]string{"b": "1", "c": "3"}, mine)
	if !mine["c"] || mine["b"] {
		t.Fatalf("before the target took them: %v", mine)
	}
	again := configChanges(map[string]string{"b": "2"}, map[string]string{"b": "1", "c": "3"}, mine)
	if len(again) != len(ops) {
		t.Fatalf("after a failed attempt: %d alterations, want the same %d again", len(again), len(ops))
	}
	configsApplied(ops, mine)
	if got := slices.Sorted(maps.Keys(mine)); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after the target took them: %v, want [b]", got)
	}
}
