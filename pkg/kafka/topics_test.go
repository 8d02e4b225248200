// Tests on the kfake rig of target and source topics deleted or created
// again (issue 11, finding 3).

package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/kafka"
)

// Issue 11, finding 3: a deleted target topic.

// TestDeletedTargetTopicIsCreatedAgain: the target topic of one topic is
// deleted while the replication runs. The other topic keeps being copied;
// the deleted one is created again with the source topic's configs and
// receives every record produced after the deletion, in order; the job
// that re-created it says so in a notice until the notice is acknowledged.
func TestDeletedTargetTopicIsCreatedAgain(t *testing.T) {
	r := newRig(t, rigOpts{spec: copyConfigs})
	r.createTopic(r.src, "a", 1, map[string]*string{"retention.ms": str("123456789")})
	r.createTopic(r.src, "b", 1, nil)
	prod := r.client(r.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r.produce(prod, recs("a", 0, seq("a", 0, 5)...)...)
	r.produce(prod, recs("b", 0, seq("b", 0, 5)...)...)
	ta := r.start("a", 0, -1, "")
	r.start("b", 0, -1, "")
	r.waitCopies("src.a", 0, seq("a", 0, 5), 10*time.Second)
	r.waitCopies("src.b", 0, seq("b", 0, 5), 10*time.Second)

	if resp, err := r.admin(r.dst).DeleteTopics(context.Background(), "src.a"); err != nil || resp["src.a"].Err != nil {
		t.Fatalf("deleting the target topic: %v %v", err, resp)
	}
	r.produce(prod, recs("a", 0, seq("a", 5, 25)...)...)
	r.produce(prod, recs("b", 0, seq("b", 5, 25)...)...)
	r.waitCopies("src.b", 0, seq("b", 0, 25), 10*time.Second)

	eventually(t, 20*time.Second, "the target topic is back with every record produced after the deletion", func() error {
		got := firstCopies(values(r.read(r.dst, "src.a", 0)))
		// Records copied before the deletion went with the topic; those
		// after it must all be there, in order.
		var after []string
		for _, v := range got {
			if slices.Contains(seq("a", 5, 25), v) {
				after = append(after, v)
			}
		}
		if !slices.Equal(after, seq("a", 5, 25)) {
			return fmt.Errorf("records after the deletion: %v", after)
		}
		return nil
	})
	rc, err := r.admin(r.dst).DescribeTopicConfigs(context.Background(), "src.a")
	if err != nil || rc[0].Err != nil {
		t.Fatal(err, rc)
	}
	retention := ""
	for _, c := range rc[0].Configs {
		if c.Key == "retention.ms" && c.Value != nil {
			retention = *c.Value
		}
	}
	if retention != "123456789" {
		t.Fatalf("the re-created topic lacks the source's configs: retention.ms %q", retention)
	}
	var notice fleet.Notice
	eventually(t, 5*time.Second, "a notice says the topic was created again", func() error {
		for _, n := range ta.Report().Notices {
			if n.Code == kafka.NoticeTargetTopicRecreated {
				notice = n
				return nil
			}
		}
		return fmt.Errorf("notices %+v", ta.Report().Notices)
	})
	if !strings.Contains(notice.Message, "src.a") {
		t.Errorf("the notice does not name the topic: %s", notice.Message)
	}
	if rep := ta.Report(); len(rep.Notices) != 1 {
		t.Fatalf("the notice is reported until acknowledged: %+v", rep.Notices)
	}
	ta.(fleet.NoticeAcker).AckNotices(time.Now())
	if rep := ta.Report(); len(rep.Notices) != 0 {
		t.Fatalf("notices after acknowledging them: %+v", rep.Notices)
	}
	if rep := ta.Report(); rep.Error != nil {
		t.Fatalf("error after recovering: %+v", rep.Error)
	}
}

// Issue 11, finding 1 (engine side): a source topic deleted and created
// again under the same name.

// TestRecreatedSourceTopicStopsItsJob: a job copies the topic its lease
// names (by topic ID). When the source topic is deleted and created
// again, the job copies nothing of the new topic and reports
// SourceTopicRecreated; a new job for the new topic, started on the same
// worker while the old one still runs, copies the new topic from its
// start. A job whose lease names the old topic copies nothing at all. The
// metadata job reports each topic's ID, and reports again when it changes.
func TestRecreatedSourceTopicStopsItsJob(t *testing.T) {
	r := newRig(t, rigOpts{})
	id1 := r.createTopic(r.src, "re", 1, nil)
	_, topology := r.startMeta()
	eventually(t, 10*time.Second, "the metadata job reports the topic's ID", func() error {
		if ts := topology(); len(ts) != 1 || ts[0].ID != id1 {
			return fmt.Errorf("topology %+v, want ID %s", ts, id1)
		}
		return nil
	})
	prod := r.client(r.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r.produce(prod, recs("re", 0, "old0", "old1")...)
	old := r.start("re", 0, -1, id1)
	r.waitCopies("src.re", 0, []string{"old0", "old1"}, 10*time.Second)

	if _, err := r.admin(r.src).DeleteTopics(context.Background(), "re"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the topic is gone", func() error {
		if td, err := r.admin(r.src).ListTopics(context.Background(), "re"); err != nil || td["re"].Err == nil {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	id2 := r.createTopic(r.src, "re", 1, nil)
	if id2 == id1 {
		t.Fatal("the new topic has the old ID")
	}
	// (A producer that wrote to the old topic refuses the new one.)
	r.produce(r.client(r.src), recs("re", 0, "new0", "new1", "new2")...)
	eventually(t, 15*time.Second, "the old job reports the re-created topic", func() error {
		if rep := old.Report(); rep.Error == nil || rep.Error.Code != kafka.CodeSourceTopicRecreated {
			return fmt.Errorf("error %+v", rep.Error)
		}
		return nil
	})
	eventually(t, 10*time.Second, "the metadata job reports the new ID", func() error {
		if ts := topology(); len(ts) != 1 || ts[0].ID != id2 {
			return fmt.Errorf("topology %+v, want ID %s", ts, id2)
		}
		return nil
	})
	if got := firstCopies(values(r.read(r.dst, "src.re", 0))); !slices.Equal(got, []string{"old0", "old1"}) {
		t.Fatalf("the old job copied from the new topic: %v", got)
	}
	// A job whose lease names the old topic copies nothing.
	stale := r.start("re", 0, 0, id1)
	eventually(t, 10*time.Second, "a job leased for the old topic refuses to copy", func() error {
		if rep := stale.Report(); rep.Error == nil || rep.Error.Code != kafka.CodeSourceTopicRecreated {
			return fmt.Errorf("error %+v", rep.Error)
		}
		return nil
	})
	stale.Abort()
	// The control plane's new job for the new topic, granted to this
	// worker before the old job is stopped.
	r.start("re", 0, -1, id2)
	old.Abort()
	r.waitCopies("src.re", 0, []string{"old0", "old1", "new0", "new1", "new2"}, 15*time.Second)
}

// TestLeaseTopicIDCheckedBeforeCopying: a job's lease names a topic ID
// the source no longer has; the job never copies a record.
func TestLeaseTopicIDCheckedBeforeCopying(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.createTopic(r.src, "x", 1, nil)
	r.produce(r.client(r.src), &kgo.Record{Topic: "x", Value: []byte("v")})
	task := r.start("x", 0, -1, "AAAAAAAAAAAAAAAAAAAAAA==")
	eventually(t, 10*time.Second, "the job refuses to copy", func() error {
		if rep := task.Report(); rep.Error == nil || rep.Error.Code != kafka.CodeSourceTopicRecreated || rep.Checkpoint != nil {
			return fmt.Errorf("report %+v", rep)
		}
		return nil
	})
	if got := r.read(r.dst, "src.x", 0); len(got) != 0 {
		t.Fatalf("copied %v", values(got))
	}
}

// TestTargetTopicRecreatedElsewhereIsFollowed: someone deletes the target
// topic and creates it again at once (a new topic ID under the same
// name). franz-go then fails the topic's records with UNKNOWN_TOPIC_ID
// until it is purged; the engine purges it and copies on into the new
// topic, in order.
func TestTargetTopicRecreatedElsewhereIsFollowed(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.createTopic(r.src, "c", 1, nil)
	prod := r.client(r.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r.produce(prod, recs("c", 0, seq("c", 0, 3)...)...)
	r.start("c", 0, -1, "")
	r.waitCopies("src.c", 0, seq("c", 0, 3), 10*time.Second)
	adm := r.admin(r.dst)
	if _, err := adm.DeleteTopics(context.Background(), "src.c"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the target topic is created again", func() error {
		_, err := adm.CreateTopic(context.Background(), 1, 1, nil, "src.c")
		return err
	})
	r.produce(prod, recs("c", 0, seq("c", 3, 10)...)...)
	r.waitCopies("src.c", 0, seq("c", 3, 10), 20*time.Second)
}

// TestJobStartingOnADeletedTargetTopicCreatesIt: the target topic is
// deleted while no job of it runs on the worker that created it; the next
// job of that topic there creates it again instead of waiting for it.
func TestJobStartingOnADeletedTargetTopicCreatesIt(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.createTopic(r.src, "d", 1, nil)
	r.createTopic(r.src, "keep", 1, nil)
	prod := r.client(r.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r.produce(prod, recs("d", 0, "d0")...)
	r.start("keep", 0, -1, "") // keeps the replication (and what it knows) alive on the worker
	first := r.start("d", 0, -1, "")
	r.waitCopies("src.d", 0, []string{"d0"}, 10*time.Second)
	if err := first.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.admin(r.dst).DeleteTopics(context.Background(), "src.d"); err != nil {
		t.Fatal(err)
	}
	r.produce(prod, recs("d", 0, "d1")...)
	r.start("d", 0, 1, "")
	r.waitCopies("src.d", 0, []string{"d1"}, 15*time.Second)
}
