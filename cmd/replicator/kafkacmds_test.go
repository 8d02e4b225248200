package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func noEnv(string) string { return "" }

func startKafka(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "demo"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func runCmd(t *testing.T, ctx context.Context, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, noEnv, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestProduceConsumeJSON(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	addr := startKafka(t)

	out, errOut, err := runCmd(t, ctx, "produce", "--bootstrap", addr, "--topic", "demo", "--count", "25")
	if err != nil {
		t.Fatalf("produce: %v\n%s", err, errOut)
	}
	if !strings.HasPrefix(out, "produced 25 records to demo in ") || strings.Count(out, "\n") != 1 {
		t.Fatalf("produce printed %q", out)
	}

	out, errOut, err = runCmd(t, ctx, "consume", "--bootstrap", addr, "--topic", "demo",
		"--from-beginning", "--max", "25", "--format", "json", "--timeout", "10s")
	if err != nil {
		t.Fatalf("consume: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 25 {
		t.Fatalf("consume printed %d lines, want 25:\n%s", len(lines), out)
	}
	seen := map[string]bool{}
	for _, line := range lines {
		var r struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
			Timestamp string `json:"timestamp"`
			Key       string `json:"key"`
			Value     string `json:"value"`
			Headers   []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"headers"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		var i int
		if _, err := fmt.Sscanf(r.Key, "key-%d", &i); err != nil {
			t.Fatalf("key %q: %v", r.Key, err)
		}
		if r.Topic != "demo" || r.Partition < 0 || r.Partition > 2 || r.Offset < 0 {
			t.Errorf("record %s: topic %q partition %d offset %d", r.Key, r.Topic, r.Partition, r.Offset)
		}
		if r.Value != fmt.Sprintf("message-%d", i) {
			t.Errorf("record %s: value %q", r.Key, r.Value)
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "demo-seq" || r.Headers[0].Value != fmt.Sprint(i) {
			t.Errorf("record %s: headers %+v", r.Key, r.Headers)
		}
		if _, err := time.Parse(time.RFC3339Nano, r.Timestamp); err != nil {
			t.Errorf("record %s: timestamp: %v", r.Key, err)
		}
		seen[r.Key] = true
	}
	for i := range 25 {
		if !seen[fmt.Sprintf("key-%d", i)] {
			t.Errorf("key-%d missing", i)
		}
	}
}

func TestProduceOptionsConsumeTextGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	addr := startKafka(t)

	// A new topic, one partition, random values.
	_, errOut, err := runCmd(t, ctx, "produce", "--bootstrap", addr, "--topic", "fresh", "--count", "5",
		"--partitions", "2", "--partition", "1", "--value-size", "8", "--key-prefix", "k")
	if err != nil {
		t.Fatalf("produce: %v\n%s", err, errOut)
	}
	out, errOut, err := runCmd(t, ctx, "consume", "--bootstrap", addr, "--topic", "fresh",
		"--from-beginning", "--max", "5", "--group", "g1", "--timeout", "10s")
	if err != nil {
		t.Fatalf("consume: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("consume printed %d lines, want 5:\n%s", len(lines), out)
	}
	for i, line := range lines {
		if want := fmt.Sprintf("1 %d k%d ", i, i); !strings.HasPrefix(line, want) {
			t.Errorf("line %q, want prefix %q", line, want)
		}
	}

	// The group committed: consuming again in it finds nothing new.
	out, errOut, err = runCmd(t, ctx, "consume", "--bootstrap", addr, "--topic", "fresh",
		"--from-beginning", "--group", "g1", "--timeout", "1s")
	if err != nil || out != "" {
		t.Fatalf("second consume: err %v, printed %q\n%s", err, out, errOut)
	}

	// An out-of-range partition and --create=false on a missing topic fail.
	if _, _, err := runCmd(t, ctx, "produce", "--bootstrap", addr, "--topic", "fresh", "--partition", "2"); err == nil {
		t.Error("produce --partition 2 on a 2-partition topic succeeded")
	}
	if _, _, err := runCmd(t, ctx, "produce", "--bootstrap", addr, "--topic", "absent", "--create=false"); err == nil ||
		!strings.Contains(err.Error(), "does not exist") {
		t.Errorf("produce --create=false on a missing topic: %v", err)
	}
}

func TestConsumeEmptyTopicTimesOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	addr := startKafka(t)

	start := time.Now()
	out, errOut, err := runCmd(t, ctx, "consume", "--bootstrap", addr, "--topic", "demo", "--timeout", "1s")
	if err != nil {
		t.Fatalf("consume: %v\n%s", err, errOut)
	}
	if out != "" {
		t.Errorf("printed %q", out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}

	// With --max, too few records is an error.
	_, _, err = runCmd(t, ctx, "consume", "--bootstrap", addr, "--topic", "demo", "--timeout", "1s", "--max", "1")
	if err == nil || !strings.Contains(err.Error(), "got 0 of 1") {
		t.Errorf("consume --max 1 on an empty topic: %v", err)
	}
	// A missing topic is an error, not an idle wait.
	if _, _, err := runCmd(t, ctx, "consume", "--bootstrap", addr, "--topic", "absent", "--timeout", "1s"); err == nil {
		t.Error("consume of a missing topic succeeded")
	}
}

func TestProduceUnreachable(t *testing.T) {
	// A port nothing listens on fails at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()
	_, _, err = runCmd(t, t.Context(), "produce", "--bootstrap", refused, "--topic", "demo", "--timeout", "2s")
	if err == nil || !strings.Contains(err.Error(), "cannot reach Kafka at "+refused) {
		t.Errorf("refused: got %v", err)
	}

	// A port that accepts but never answers fails after --timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	_, _, err = runCmd(t, t.Context(), "produce", "--bootstrap", silent.Addr().String(), "--topic", "demo", "--timeout", "1s")
	if err == nil || !strings.Contains(err.Error(), "no answer from Kafka at "+silent.Addr().String()+" within 1s") {
		t.Errorf("silent: got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("silent: took %s", d)
	}
}

func TestKafkaCmdsRequireSettings(t *testing.T) {
	for _, cmd := range []string{"produce", "consume"} {
		if _, _, err := runCmd(t, t.Context(), cmd, "--topic", "demo"); err == nil || !strings.Contains(err.Error(), "--bootstrap") {
			t.Errorf("%s without --bootstrap: %v", cmd, err)
		}
	}
	_, errOut, err := runCmd(t, t.Context(), "consume", "-h")
	if err != errUsage || !strings.Contains(errOut, "REPLICATOR_BOOTSTRAP") {
		t.Errorf("consume -h: %v\n%s", err, errOut)
	}
}

func TestConsumeStartsAtEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	addr := startKafka(t)
	if _, errOut, err := runCmd(t, ctx, "produce", "--bootstrap", addr, "--topic", "demo", "--key-prefix", "old-"); err != nil {
		t.Fatalf("produce: %v\n%s", err, errOut)
	}

	type result struct {
		out, errOut string
		err         error
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, err := runCmd(t, ctx, "consume", "--bootstrap", addr, "--topic", "demo", "--max", "3", "--timeout", "20s")
		done <- result{out, errOut, err}
	}()
	// Keep producing until the consumer, which may still be starting, has
	// seen three new records.
	var r result
	for loop := true; loop; {
		select {
		case r = <-done:
			loop = false
		case <-time.After(200 * time.Millisecond):
			if _, errOut, err := runCmd(t, ctx, "produce", "--bootstrap", addr, "--topic", "demo", "--count", "1", "--key-prefix", "new-"); err != nil {
				t.Fatalf("produce: %v\n%s", err, errOut)
			}
		}
	}
	if r.err != nil {
		t.Fatalf("consume: %v\n%s", r.err, r.errOut)
	}
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("consume printed %d lines, want 3:\n%s", len(lines), r.out)
	}
	for _, line := range lines {
		if f := strings.Fields(line); len(f) != 4 || f[2] != "new-0" || f[3] != "message-0" {
			t.Errorf("line %q, want a new record", line)
		}
	}
}
