// Tests on the kfake rig of topic config sync.

package kafka_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/openreplicator/replicator/internal/testutil"
)

// topicConfig returns the value of a config set on the topic itself
// ("" and false when it is not: a default, or not set).
func (r *rig) topicConfig(c *kfake.Cluster, topic, key string) (string, bool) {
	r.t.Helper()
	rc, err := r.admin(c).DescribeTopicConfigs(context.Background(), topic)
	if err != nil || len(rc) != 1 || rc[0].Err != nil {
		return "", false
	}
	for _, cf := range rc[0].Configs {
		if cf.Key == key && cf.Source == kmsg.ConfigSourceDynamicTopicConfig && cf.Value != nil {
			return *cf.Value, true
		}
	}
	return "", false
}

// TestConfigRemovedAtTheSourceIsRemovedAfterAFailedAttempt: a config the
// service set on a target topic and the source no longer sets is removed
// from the target, also when the first attempt to remove it fails (the
// key was forgotten with that attempt, and stayed on the target for good).
func TestConfigRemovedAtTheSourceIsRemovedAfterAFailedAttempt(t *testing.T) {
	r := newRig(t, rigOpts{spec: copyConfigs})
	ctx := context.Background()
	r.createTopic(r.src, "cfg", 1, nil)
	r.startMeta()
	eventually(t, testutil.Scale(20*time.Second), "target topic created", func() error {
		td, err := r.admin(r.dst).ListTopics(ctx, "src.cfg")
		if err != nil {
			return err
		}
		return td["src.cfg"].Err
	})
	set := func(c *kfake.Cluster, topic string, op kadm.IncrementalOp, v *string) {
		t.Helper()
		resp, err := r.admin(c).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: op, Name: "retention.ms", Value: v}}, topic)
		if err == nil {
			for _, rr := range resp {
				if rr.Err != nil {
					err = rr.Err
				}
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	set(r.src, "cfg", kadm.SetConfig, str("3600000"))
	eventually(t, testutil.Scale(20*time.Second), "the source's retention.ms on the target", func() error {
		if v, ok := r.topicConfig(r.dst, "src.cfg", "retention.ms"); !ok || v != "3600000" {
			return fmt.Errorf("retention.ms %q (set %v)", v, ok)
		}
		return nil
	})
	// The target refuses the next change once.
	var refused atomic.Int32
	r.dst.ControlKey(int16(kmsg.IncrementalAlterConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
		in := req.(*kmsg.IncrementalAlterConfigsRequest)
		out := in.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
		for _, res := range in.Resources {
			rr := kmsg.NewIncrementalAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, kerr.PolicyViolation.Code
			out.Resources = append(out.Resources, rr)
		}
		refused.Add(1)
		return out, nil, true
	})
	set(r.src, "cfg", kadm.DeleteConfig, nil)
	eventually(t, testutil.Scale(20*time.Second), "the target refused a change", func() error {
		if refused.Load() == 0 {
			return fmt.Errorf("no change asked")
		}
		return nil
	})
	eventually(t, testutil.Scale(10*time.Second), "retention.ms removed from the target", func() error {
		if v, ok := r.topicConfig(r.dst, "src.cfg", "retention.ms"); ok {
			return fmt.Errorf("still set: %q", v)
		}
		return nil
	})
}
