package faults

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func ids(ks []Kind) string {
	var out []string
	for _, k := range ks {
		out = append(out, k.ID)
	}
	return strings.Join(out, ",")
}

func TestSelectKinds(t *testing.T) {
	def, err := SelectKinds("")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range def {
		if !k.Default {
			t.Errorf("%s in the default set", k.ID)
		}
	}
	if !strings.Contains(ids(def), "source-recreate") || !strings.Contains(ids(def), "pg-kill") {
		t.Errorf("default = %s", ids(def))
	}
	all, _ := SelectKinds("all")
	if len(all) != len(Kinds) {
		t.Errorf("all = %d kinds, want %d", len(all), len(Kinds))
	}
	got, err := SelectKinds("target-delete, source-recreate")
	if err != nil || ids(got) != "source-recreate,target-delete" {
		t.Errorf("got %s, %v (want the order of Kinds)", ids(got), err)
	}
	got, _ = SelectKinds("default,target-delete,-zombie")
	if !strings.Contains(ids(got), "target-delete") || strings.Contains(ids(got), "zombie") || len(got) != len(def)-1 {
		t.Errorf("default+target-delete-zombie = %s", ids(got))
	}
	if _, err := SelectKinds("worker-kil"); err == nil || !strings.Contains(err.Error(), "known: worker-kill") {
		t.Errorf("a misspelt kind: %v", err)
	}
	if _, err := SelectKinds("-worker-kill,-zombie,zombie,-zombie"); err == nil {
		t.Error("an empty selection was accepted")
	}
}

func TestSchedule(t *testing.T) {
	kinds, _ := SelectKinds("default")
	a := Schedule(kinds, 2, 0, rand.New(rand.NewPCG(7, 8)))
	b := Schedule(kinds, 2, 0, rand.New(rand.NewPCG(7, 8)))
	if ids(a) != ids(b) {
		t.Fatal("the same seed gave two schedules")
	}
	if len(a) != 2*len(kinds) {
		t.Fatalf("%d faults, want %d", len(a), 2*len(kinds))
	}
	// Every kind comes once in each round.
	first := strings.Split(ids(a[:len(kinds)]), ",")
	slices.Sort(first)
	want := strings.Split(ids(kinds), ",")
	slices.Sort(want)
	if !slices.Equal(first, want) {
		t.Errorf("round 1 = %v", first)
	}
	if c := Schedule(kinds, 2, 5, rand.New(rand.NewPCG(7, 8))); len(c) != 5 || ids(c) != ids(a[:5]) {
		t.Errorf("capped schedule %s", ids(c))
	}
}
