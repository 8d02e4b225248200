package bench

import "testing"

func TestEscapeLabel(t *testing.T) {
	got := EscapeLabel("arn:aws:kafka:us-east-1:1:replicator/n/i")
	want := "arn%3Aaws%3Akafka%3Aus-east-1%3A1%3Areplicator%2Fn%2Fi"
	if got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}
