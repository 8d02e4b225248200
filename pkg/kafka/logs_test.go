// Tests that repeated errors are logged at a bounded rate.

package kafka_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/openreplicator/replicator/internal/testutil"
)

// Issue 11, finding 10 (engine side): 39,170 fetch-error lines in 5 s
// while a topic was missing.

// TestMissingSourceTopicLogsAreRateLimited: while a job's source topic is
// missing, the broker answers every fetch of it with UNKNOWN_TOPIC_ID (as
// Kafka does for a deleted topic fetched by ID; injected here, since
// kfake lets franz-go go quiet instead), and franz-go hands that error
// back at every poll. The engine logs it once, then once per interval
// with a count, and does not spin on it.
func TestMissingSourceTopicLogsAreRateLimited(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.createTopic(r.src, "gone", 1, nil)
	r.produce(r.client(r.src), &kgo.Record{Topic: "gone", Value: []byte("a")})
	r.start("gone", 0, -1, "")
	r.waitCopies("src.gone", 0, []string{"a"}, 10*time.Second)
	r.src.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "gone", Err: kerr.UnknownTopicID, Count: -1})
	// franz-go retries the error quietly a few times (about 8 s) before
	// it hands it back.
	eventually(t, 30*time.Second, "the fetch error is logged", func() error {
		if n := r.logs.count("engine: fetch error", "UNKNOWN_TOPIC_ID"); n == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	before := r.logs.count("engine: fetch error")
	window := testutil.Scale(3 * time.Second)
	time.Sleep(window) // a measurement window, not a wait for a condition
	n := r.logs.count("engine: fetch error") - before
	t.Logf("%d more fetch-error lines in %s", n, window)
	if n > 1 {
		t.Fatalf("%d fetch-error lines in %s after the first: repeated errors are not rate-limited", n, window)
	}
}
