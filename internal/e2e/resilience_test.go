package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/internal/scenario"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestUnreachableSourceFailsThenRecovers: a source that cannot be reached
// turns the replicator FAILED with a clear stateInfo, and it recovers on
// its own when the source comes up. (In-process only: the source comes up
// as a kfake cluster on the port the spec named.)
func TestUnreachableSourceFailsThenRecovers(t *testing.T) {
	e := newEnv(t)
	port := freePort(t)
	arn := e.Create(scenario.Spec{Name: "unreachable", Earliest: true, SourceBootstrap: fmt.Sprintf("127.0.0.1:%d", port)})
	d := e.WaitState(arn, types.ReplicatorStateFailed, failAfter+10*time.Second)
	if code := aws.ToString(d.StateInfo.Code); code != "SourceUnreachable" && code != "DiscoveryFailed" {
		t.Fatalf("stateInfo %s: %s", code, aws.ToString(d.StateInfo.Message))
	}
	if !strings.Contains(aws.ToString(d.StateInfo.Message), fmt.Sprint(port)) {
		t.Fatalf("stateInfo message does not name the cluster: %s", aws.ToString(d.StateInfo.Message))
	}
	src, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, "back"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	e.WaitState(arn, types.ReplicatorStateRunning, 20*time.Second)
	cl, _ := kgo.NewClient(kgo.SeedBrokers(src.ListenAddrs()...))
	defer cl.Close()
	e.Produce(cl, &kgo.Record{Topic: "back", Value: []byte("hello")})
	e.ReadAll(e.Target(), e.Source().Alias()+".back", 1, 10*time.Second)
}
