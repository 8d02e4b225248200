package api_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"

	"github.com/openreplicator/replicator/api"
)

// Finding #5: an account may hold at most QuotaReplicators replicators.
// Concurrent creates cannot pass the quota together; the create over it is
// a BadRequestException for replicatorName that names the quota, and
// another account is not affected.
func TestReplicatorQuota(t *testing.T) {
	const quota = 3
	e := newEnvWith(t, func(c *api.Config) { c.QuotaReplicators = quota })
	ctx := context.Background()

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		refused []error
	)
	for i := range 12 {
		wg.Go(func() {
			_, err := e.a.CreateReplicator(ctx, apacheCreate(fmt.Sprintf("q-%02d", i)))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				created++
			} else {
				refused = append(refused, err)
			}
		})
	}
	wg.Wait()
	if created != quota {
		t.Fatalf("%d concurrent creates succeeded, want the quota %d", created, quota)
	}
	for _, err := range refused {
		var br *types.BadRequestException
		if !errors.As(err, &br) || aws.ToString(br.InvalidParameter) != "replicatorName" {
			t.Fatalf("create over the quota: %v, want BadRequestException(replicatorName)", err)
		}
		if msg := br.ErrorMessage(); !strings.Contains(msg, "quota") || !strings.Contains(msg, "REPLICATOR_QUOTA_REPLICATORS") || !strings.Contains(msg, fmt.Sprint(quota)) {
			t.Fatalf("message %q does not name the quota", msg)
		}
	}
	l, err := e.a.ListReplicators(ctx, &kafka.ListReplicatorsInput{})
	if err != nil || len(l.Replicators) != quota {
		t.Fatalf("A holds %d replicators (%v), want %d", len(l.Replicators), err, quota)
	}
	// Another account has its own quota.
	in := apacheCreate("q-b")
	in.KafkaClusters[1].ClientAuthentication.SaslScram.SecretArn = aws.String(scramARNB)
	if _, err := e.b.CreateReplicator(ctx, in); err != nil {
		t.Fatalf("B's first create: %v", err)
	}
}
