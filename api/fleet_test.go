package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// workerLease is a lease as the worker API grants it.
type workerLease struct {
	JobID, Epoch, SpecVersion int64
	Kind, Token               string
}

// metadataLease creates a replicator named name in account A and acquires
// its metadata job for worker "w" through the worker API.
func metadataLease(t *testing.T, e *env, name string) workerLease {
	t.Helper()
	create := []byte(`{"replicatorName":"` + name + `","serviceExecutionRoleArn":"arn:aws:iam::111111111111:role/R",
"kafkaClusters":[{"apacheKafkaCluster":{"apacheKafkaClusterId":"a","bootstrapBrokerString":"h:1"}},{"apacheKafkaCluster":{"apacheKafkaClusterId":"b","bootstrapBrokerString":"h:2"}}],
"replicationInfoList":[{"sourceKafkaClusterId":"a","targetKafkaClusterId":"b","targetCompressionType":"NONE","topicReplication":{"topicsToReplicate":[".*"]},"consumerGroupReplication":{"consumerGroupsToReplicate":[]}}]}`)
	if st, _, body := rawCall(t, e, keyA, "POST", "/replication/v1/replicators", create, map[string]string{"Content-Type": "application/json"}); st != 200 {
		t.Fatalf("create: %d %v", st, body)
	}
	auth := map[string]string{"Authorization": "Bearer " + testWorkerToken, "Content-Type": "application/json"}
	st, _, b := rawHTTP(t, e.url, "POST", "/internal/v1/acquire", auth, []byte(`{"workerId":"w"}`))
	var acq struct{ Leases []workerLease }
	if err := json.Unmarshal(b, &acq); st != 200 || err != nil || len(acq.Leases) != 1 || acq.Leases[0].Kind != "metadata" {
		t.Fatalf("acquire: %d %s", st, b)
	}
	return acq.Leases[0]
}

// TestTopologyUnderALostLeaseIsAConflict: a topology report under a lease
// that is not the job's current one (here a token that is not the lease's)
// is answered 409 ConflictException on jobId, "the lease on this job is
// lost": the store's fleet.ErrLeaseLost, with no mapping of its own in the
// API.
func TestTopologyUnderALostLeaseIsAConflict(t *testing.T) {
	e := newFleetEnv(t)
	l := metadataLease(t, e, "lost")
	auth := map[string]string{"Authorization": "Bearer " + testWorkerToken, "Content-Type": "application/json"}
	body := fmt.Sprintf(`{"workerId":"w","jobId":%d,"epoch":%d,"token":"not-the-lease-token","specVersion":%d,"topics":[]}`, l.JobID, l.Epoch, l.SpecVersion)
	st, h, b := rawHTTP(t, e.url, "POST", "/internal/v1/topology", auth, []byte(body))
	wantJSONError(t, "topology under a lost lease", st, h, b, 409, "ConflictException", "jobId")
	if !strings.Contains(string(b), `"the lease on this job is lost"`) {
		t.Fatalf("message: %s", b)
	}
}
