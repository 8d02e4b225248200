package bench

import (
	"os"
	"strings"
	"testing"
)

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -2500: "-2,500"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCommandLineRedactsPasswords(t *testing.T) {
	got := CommandLine([]string{"fleet", "-jobs", "100", "-database-url=postgres://u:secret@db/x", "-out", "a b.md"})
	if strings.Contains(got, "secret") {
		t.Fatalf("password in %q", got)
	}
	if !strings.HasSuffix(got, " fleet -jobs 100 -database-url=postgres://u:xxxxx@db/x -out 'a b.md'") {
		t.Fatalf("command line %q", got)
	}
	if strings.Contains(os.Args[0], "go-build") && !strings.HasPrefix(got, "go run ./cmd/bench fleet ") {
		t.Fatalf("command line %q does not start with go run ./cmd/bench", got)
	}
}
