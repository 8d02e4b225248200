package replicator

import (
	"regexp"
	"strings"
)

// Patterns is a compiled list of topic or group patterns. Each pattern is a
// Go (RE2) regular expression matched against the whole name, as MirrorMaker
// 2 and MSK do; RE2 runs in linear time, so no pattern can stall a worker.
type Patterns struct{ re *regexp.Regexp }

// CompilePatterns compiles pats into one whole-name matcher. An empty list
// matches nothing.
func CompilePatterns(pats []string) (Patterns, error) {
	if len(pats) == 0 {
		return Patterns{}, nil
	}
	parts := make([]string, len(pats))
	for i, p := range pats {
		if _, err := regexp.Compile(p); err != nil {
			return Patterns{}, err
		}
		parts[i] = "(?:" + p + ")"
	}
	re, err := regexp.Compile("^(?:" + strings.Join(parts, "|") + ")$")
	if err != nil {
		return Patterns{}, err
	}
	return Patterns{re: re}, nil
}

// Match reports whether name matches one of the patterns.
func (p Patterns) Match(name string) bool { return p.re != nil && p.re.MatchString(name) }
