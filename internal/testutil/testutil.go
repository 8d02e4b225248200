// Package testutil holds the polling helpers the test suites share:
// deadlines are generous and scaled by REPLICATOR_TEST_TIME_SCALE on slow
// machines, and conditions are polled, never slept on.
package testutil

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Scale stretches d by REPLICATOR_TEST_TIME_SCALE (default 1).
func Scale(d time.Duration) time.Duration {
	if f, err := strconv.ParseFloat(os.Getenv("REPLICATOR_TEST_TIME_SCALE"), 64); err == nil && f > 0 {
		return time.Duration(float64(d) * f)
	}
	return d
}

// Eventually polls cond until it returns nil or the scaled deadline passes,
// and returns how long it took.
func Eventually(t testing.TB, within time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(Scale(within))
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, Scale(within), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
