package faults

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Kind is a kind of fault the suite injects.
type Kind struct {
	ID    string // what FAULTS_KINDS names
	Label string // what the report shows
	// Default kinds run unless FAULTS_KINDS says otherwise; the others
	// only when named (today every kind is a default one).
	Default bool
}

// Kinds is every kind of fault, in the order the documentation lists them.
var Kinds = []Kind{
	{"worker-kill", "worker SIGKILL", true},
	{"zombie", "zombie worker (SIGSTOP past its lease)", true},
	{"pg-kill", "PostgreSQL SIGKILL", true},
	{"pg-stop", "PostgreSQL stop/start", true},
	{"serve-kill", "serve replica SIGKILL", true},
	{"source-leader-kill", "source partition leader SIGKILL", true},
	{"target-leader-kill", "target partition leader SIGKILL", true},
	{"source-restart", "source cluster restart", true},
	{"target-restart", "target cluster restart", true},
	{"net-broker-drop", "network: worker↔broker packets dropped", true},
	{"net-broker-delay", "network: worker↔broker delay", true},
	{"net-broker-cut", "network: worker↔broker connections cut", true},
	{"net-serve-drop", "network: a worker↔serve packets dropped", true},
	{"net-serve-delay", "network: a worker↔serve delay", true},
	{"net-serve-cut", "network: a worker↔serve connections cut", true},
	{"source-recreate", "source topic deleted and re-created", true},
	{"target-delete", "target topic deleted", true},
}

// KindByID returns the kind with that ID.
func KindByID(id string) (Kind, bool) {
	for _, k := range Kinds {
		if k.ID == id {
			return k, true
		}
	}
	return Kind{}, false
}

// SelectKinds reads a FAULTS_KINDS value: a comma-separated list of kind
// IDs, "default" (the default kinds), "all" (every kind), and "-ID" to
// leave one out, applied left to right; empty means "default". The result
// keeps the order of Kinds.
func SelectKinds(spec string) ([]Kind, error) {
	if strings.TrimSpace(spec) == "" {
		spec = "default"
	}
	on := map[string]bool{}
	for _, tok := range strings.Split(spec, ",") {
		tok = strings.TrimSpace(tok)
		switch {
		case tok == "":
		case tok == "default" || tok == "all":
			for _, k := range Kinds {
				if k.Default || tok == "all" {
					on[k.ID] = true
				}
			}
		case strings.HasPrefix(tok, "-"):
			if _, ok := KindByID(tok[1:]); !ok {
				return nil, unknownKind(tok[1:])
			}
			delete(on, tok[1:])
		default:
			if _, ok := KindByID(tok); !ok {
				return nil, unknownKind(tok)
			}
			on[tok] = true
		}
	}
	var out []Kind
	for _, k := range Kinds {
		if on[k.ID] {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("FAULTS_KINDS=%q selects no fault", spec)
	}
	return out, nil
}

func unknownKind(id string) error {
	ids := make([]string, len(Kinds))
	for i, k := range Kinds {
		ids[i] = k.ID
	}
	return fmt.Errorf("unknown fault kind %q (known: %s, default, all)", id, strings.Join(ids, ", "))
}

// Schedule is every selected kind `rounds` times in a seeded random order,
// cut to at most max faults (0: no cap) so that every kind still comes
// before any comes twice.
func Schedule(kinds []Kind, rounds, maxFaults int, rng *rand.Rand) []Kind {
	var out []Kind
	for range max(rounds, 1) {
		round := slices.Clone(kinds)
		rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		out = append(out, round...)
	}
	if maxFaults > 0 && len(out) > maxFaults {
		out = out[:maxFaults]
	}
	return out
}
