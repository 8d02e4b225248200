package replicator

import (
	"strings"
	"testing"
)

func TestParseARN(t *testing.T) {
	good := "arn:aws:kafka:us-east-1:123456789012:replicator/my-repl/7e7885e6-0453-4623-9990-84759ba89d17"
	a, err := ParseARN(good)
	if err != nil {
		t.Fatal(err)
	}
	if a.Region != "us-east-1" || a.AccountID != "123456789012" || a.Name != "my-repl" || a.ID != "7e7885e6-0453-4623-9990-84759ba89d17" || a.String() != good {
		t.Fatalf("%+v", a)
	}
	if _, err := ParseARN(good[:len(good)-36] + "7e7885e6-0453-4623-9990-84759ba89d17-4"); err != nil {
		t.Errorf("MSK-style suffix: %v", err)
	}
	for _, bad := range []string{
		"", "arn", "arn:aws:kafka", good + "/x", strings.Replace(good, "kafka", "s3", 1),
		strings.Replace(good, "aws:", "aws-mars:", 1), strings.Replace(good, "123456789012", "12345", 1),
		strings.Replace(good, "replicator/", "cluster/", 1), strings.Replace(good, "my-repl", "../etc", 1),
		strings.Replace(good, "my-repl", "", 1), strings.Replace(good, "us-east-1", "US_EAST", 1),
		"arn:aws:kafka:us-east-1:123456789012:replicator/my-repl/..%2F..",
	} {
		if _, err := ParseARN(bad); err == nil {
			t.Errorf("ParseARN(%q) succeeded", bad)
		}
	}
}

func FuzzParseARN(f *testing.F) {
	f.Add("arn:aws:kafka:us-east-1:123456789012:replicator/my-repl/7e7885e6-0453-4623-9990-84759ba89d17")
	f.Add("arn:aws:kafka:::replicator//")
	f.Add("arn:aws-cn:kafka:cn-north-1:123456789012:replicator/a/7e7885e6-0453-4623-9990-84759ba89d17-s2")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseARN(s)
		if err != nil {
			return
		}
		// A parsed ARN prints back to the same text and parses again.
		if a.String() != s {
			t.Fatalf("ParseARN(%q).String() = %q", s, a.String())
		}
		if !ValidName(a.Name) {
			t.Fatalf("invalid name %q accepted", a.Name)
		}
	})
}

func TestAliases(t *testing.T) {
	if got, ok := MSKClusterAlias("arn:aws:kafka:us-east-1:111122223333:cluster/common-green-us-east-1/361a2e04-ff39-48d4-9ee0-f810cd197370-s2"); !ok || got != "common-green-us-east-1-f810cd197370" {
		t.Errorf("MSK alias %q", got)
	}
	long, ok := MSKClusterAlias("arn:aws:kafka:us-east-1:111122223333:cluster/" + strings.Repeat("n", 40) + "/361a2e04-ff39-48d4-9ee0-f810cd197370-3")
	if !ok || long != strings.Repeat("n", 28)+"-f810cd197370" {
		t.Errorf("long MSK alias %q", long)
	}
	// Same cluster, same alias; the hash is SHA-256 of the id.
	if a := ApacheClusterAlias("primary"); a != ApacheClusterAlias("primary") || a != "primary-986a1b7135f4" {
		t.Errorf("apache alias %q", a)
	}
	if a := ApacheClusterAlias("my.cluster"); strings.Contains(a, ".") {
		t.Errorf("alias %q has a dot, which would break prefixed topic names", a)
	}
}

func TestPatterns(t *testing.T) {
	p, err := CompilePatterns([]string{"orders.*", "payments"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"orders": true, "orders.eu": true, "payments": true, "payments2": false, "xorders": false} {
		if p.Match(name) != want {
			t.Errorf("Match(%q) = %v", name, !want)
		}
	}
	if (Patterns{}).Match("x") {
		t.Error("empty patterns matched")
	}
	if _, err := CompilePatterns([]string{"(?!x)"}); err == nil {
		t.Error("look-ahead compiled")
	}
}
