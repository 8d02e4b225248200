// Tests of the fence of a partition's writes (fence.go).

package kafka

import (
	"context"
	"errors"
	"testing"
)

// TestLeaseCtx: the context of a partition's records is done once its
// lease is seen stale, a record of it failed, or its records timed out,
// and stays so until the partition is rewound with a fresh lease
// (unfence): a renewal alone lets nothing through.
func TestLeaseCtx(t *testing.T) {
	fresh := true
	c := newLeaseCtx(context.Background(), func() bool { return fresh })
	done := func() bool {
		select {
		case <-c.Done():
			return true
		default:
			return false
		}
	}
	step := func(what string, wantOK bool, wantErr error) {
		t.Helper()
		if c.ok() != wantOK || done() == wantOK || !errors.Is(c.Err(), wantErr) {
			t.Fatalf("%s: ok %v, done %v, err %v; want ok %v, err %v", what, c.ok(), done(), c.Err(), wantOK, wantErr)
		}
	}
	step("fresh", true, nil)
	fresh = false
	step("stale", false, errLeaseStale)
	fresh = true
	step("renewed, not rewound: still fenced", false, errLeaseStale)
	if !c.unfence() {
		t.Fatal("unfence with a fresh lease")
	}
	step("rewound", true, nil)

	c.fail()
	step("a record failed", false, errPartitionFailed)
	fresh = false
	if c.unfence() {
		t.Fatal("unfenced with a stale lease")
	}
	fresh = true
	c.unfence()
	step("rewound after the failure", true, nil)

	c.timedOut.Store(true)
	step("timed out", false, errDeliveryTimeout)
	c.unfence()
	step("rewound after the timeout", true, nil)

	c.cancel()
	if !done() || !errors.Is(c.Err(), context.Canceled) || errors.Is(c.Err(), errLeaseStale) {
		t.Fatalf("aborted: done %v, err %v", done(), c.Err())
	}
	for _, err := range []error{errLeaseStale, errPartitionFailed, errDeliveryTimeout} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%v is not a cancellation: the partition would not rewind", err)
		}
	}
}
