package api

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

const seedCreate = `{"replicatorName":"r","serviceExecutionRoleArn":"arn:aws:iam::111111111111:role/R",
"kafkaClusters":[{"apacheKafkaCluster":{"apacheKafkaClusterId":"a","bootstrapBrokerString":"h:1"}},
{"apacheKafkaCluster":{"apacheKafkaClusterId":"b","bootstrapBrokerString":"h:2"},"clientAuthentication":{"saslScram":{"mechanism":"SHA512","secretArn":"arn:aws:secretsmanager:us-east-1:111111111111:secret:s"}}}],
"replicationInfoList":[{"sourceKafkaClusterId":"a","targetKafkaClusterId":"b","targetCompressionType":"NONE",
"topicReplication":{"topicsToReplicate":[".*"],"startingPosition":{"type":"EARLIEST"}},
"consumerGroupReplication":{"consumerGroupsToReplicate":[".*"],"consumerGroupOffsetSyncMode":"LEGACY"}}],
"tags":{"k":"v"},"logDelivery":{"replicatorLogDelivery":{"s3":{"enabled":true,"bucket":"bkt"}}}}`

// FuzzCreateDecoder feeds arbitrary bodies through the CreateReplicator
// decoder and validator: no panic, and whatever is accepted is a spec the
// rest of the system can rely on.
func FuzzCreateDecoder(f *testing.F) {
	f.Add([]byte(seedCreate))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"kafkaClusters":[{},{}]}`))
	f.Add([]byte(strings.Replace(seedCreate, `"h:1"`, `"[::1]:9092"`, 1)))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/replication/v1/replicators", nil)
		var req createReplicatorRequest
		if err := decode(r, body, &req); err != nil {
			return
		}
		rep, err := createToDomain(&req)
		if err != nil {
			return
		}
		if len(rep.Spec.Clusters) != 2 || len(rep.Spec.ReplicationInfo) != 1 {
			t.Fatalf("accepted %d clusters, %d flows", len(rep.Spec.Clusters), len(rep.Spec.ReplicationInfo))
		}
		ri := rep.Spec.ReplicationInfo[0]
		if ri.SourceAlias == ri.TargetAlias || rep.Spec.ClusterByAlias(ri.SourceAlias) == nil || rep.Spec.ClusterByAlias(ri.TargetAlias) == nil {
			t.Fatalf("flow %s → %s does not name two of the clusters", ri.SourceAlias, ri.TargetAlias)
		}
		for _, s := range append([]string{rep.Name, rep.Description, ri.TargetCompression}, ri.Topics.TopicsToReplicate...) {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				t.Fatalf("accepted a string PostgreSQL cannot store: %q", s)
			}
		}
		if len(rep.Tags) > 50 {
			t.Fatalf("accepted %d tags", len(rep.Tags))
		}
	})
}

// FuzzUpdateDecoder does the same for UpdateReplicationInfo bodies.
func FuzzUpdateDecoder(f *testing.F) {
	f.Add([]byte(`{"currentVersion":"V","topicReplication":{"topicsToReplicate":["a"],"topicsToExclude":[],"copyTopicConfigurations":true,"copyAccessControlListsForTopics":false,"detectAndCopyNewTopics":true}}`))
	f.Add([]byte(`{"currentVersion":"V","consumerGroupReplication":{"consumerGroupsToReplicate":[],"consumerGroupsToExclude":[],"detectAndCopyNewConsumerGroups":true,"synchroniseConsumerGroupOffsets":true}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("PUT", "/x", nil)
		var req updateReplicationInfoRequest
		if err := decode(r, body, &req); err != nil {
			return
		}
		if req.TopicReplication != nil {
			if tr, err := topicReplicationToDomain(req.TopicReplication, true); err == nil && len(tr.TopicsToReplicate) == 0 {
				t.Fatal("accepted an update without topicsToReplicate")
			}
		}
		if req.ConsumerGroupReplication != nil {
			_, _ = groupReplicationToDomain(req.ConsumerGroupReplication, true)
		}
		if req.LogDelivery != nil {
			_, _ = logDeliveryToDomain(req.LogDelivery)
		}
	})
}

// FuzzTagsDecoder covers TagResource bodies and the page-token decoder.
func FuzzTagsDecoder(f *testing.F) {
	f.Add([]byte(`{"tags":{"a":"b","c":null}}`), "cDE6YWJj")
	f.Fuzz(func(t *testing.T, body []byte, token string) {
		r := httptest.NewRequest("POST", "/x", nil)
		var req tagResourceRequest
		if err := decode(r, body, &req); err == nil && req.Tags != nil {
			tags := map[string]string{}
			for k, v := range req.Tags {
				tags[k] = str(v)
			}
			if validateTags(tags) == nil {
				for k := range tags {
					if strings.HasPrefix(strings.ToLower(k), "aws:") || strings.ContainsRune(k, 0) {
						t.Fatalf("accepted tag key %q", k)
					}
				}
			}
		}
		if name, ok := decodePageToken(token); ok && encodePageToken(name) != token {
			t.Fatalf("token %q decodes to %q which encodes differently", token, name)
		}
	})
}
