package api_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/pkg/netguard"
)

// Finding #8: a bootstrap broker in a denied range (link-local by default:
// cloud metadata; here also 10.0.0.0/8) is refused at Create with a
// BadRequestException naming the member, and nothing is stored.
func TestDeniedDestinationRefusedAtCreate(t *testing.T) {
	policy, err := netguard.Parse("", netguard.DefaultDenied+",10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, func(c *api.Config) { c.Destinations = policy })
	ctx := context.Background()
	for i, bs := range []string{"169.254.169.254:80", "127.0.0.1:9092,10.1.2.3:9092", "[fe80::1]:9092"} {
		member := "kafkaClusters[0].apacheKafkaCluster.bootstrapBrokerString"
		in := apacheCreate("denied")
		idx := 0
		if i == 1 {
			idx, member = 1, "kafkaClusters[1].apacheKafkaCluster.bootstrapBrokerString"
		}
		in.KafkaClusters[idx].ApacheKafkaCluster.BootstrapBrokerString = aws.String(bs)
		_, err := e.a.CreateReplicator(ctx, in)
		wantBadRequest(t, err, member)
		var br *types.BadRequestException
		if errors.As(err, &br) && !strings.Contains(br.ErrorMessage(), "REPLICATOR_DENIED_DESTINATIONS") {
			t.Errorf("message %q does not say which setting refused it", br.ErrorMessage())
		}
	}
	if l, err := e.a.ListReplicators(ctx, &kafka.ListReplicatorsInput{}); err != nil || len(l.Replicators) != 0 {
		t.Fatalf("refused creates stored something: %v %d", err, len(l.Replicators))
	}
	if _, err := e.a.CreateReplicator(ctx, apacheCreate("allowed")); err != nil {
		t.Fatalf("loopback bootstrap with the default policy: %v", err)
	}
}
