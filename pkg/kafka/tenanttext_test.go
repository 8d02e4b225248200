// Tests that errors shown to a tenant hold no text from the workers'
// network.

package kafka

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// A job error a tenant reads must not tell what answers at an address
// they named (finding 8): network errors and the client's own reading of a
// non-Kafka answer become one generic text; Kafka's answers and domain
// errors stay, with the context in front of them.
func TestTenantText(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5432}, Err: syscall.ECONNREFUSED}
	http := fmt.Errorf("invalid large response size %d > limit %d; the four size bytes are 'HTTP' in ascii, the beginning of an HTTP response; is your broker port correct?", 1213486160, 104857600)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"refused behind our context", fmt.Errorf("listing source topics: %w", refused), "listing source topics: " + noAnswer},
		{"an HTTP server's answer", fmt.Errorf("listing source topics: %w", http), "listing source topics: " + noAnswer},
		{"bare", refused, noAnswer},
		{"two of our wrappers", fmt.Errorf("target topic t: %w", fmt.Errorf("listing: %w", refused)), "target topic t: listing: " + noAnswer},
		{"kafka's answer", fmt.Errorf("configs of t: %w", kerr.TopicAuthorizationFailed), "configs of t: " + kerr.TopicAuthorizationFailed.Error()},
		{"domain error", fmt.Errorf("secret x: %w", replicator.Invalid("secretArn", "secret not found")), "secret x: secret not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tenantText(tc.err)
			if got != tc.want {
				t.Fatalf("tenantText = %q, want %q", got, tc.want)
			}
			for _, leak := range []string{"5432", "127.0.0.1", "HTTP", "refused"} {
				if strings.Contains(got, leak) && !errors.Is(tc.err, kerr.TopicAuthorizationFailed) {
					t.Fatalf("tenantText leaks %q: %q", leak, got)
				}
			}
		})
	}
}
