package e2e

import (
	"testing"

	"github.com/openreplicator/replicator/internal/scenario"
)

// The scenarios both systems run (internal/scenario), here on kfake in
// one process; internal/integration runs them on real Kafka.

func TestCopyKeepsRecordsInOrder(t *testing.T) { scenario.CopyKeepsRecordsInOrder(t, newEnv(t)) }

func TestIdenticalNames(t *testing.T) { scenario.IdenticalNames(t, newEnv(t)) }

func TestLatestSkipsOldRecordsButNotNewTopics(t *testing.T) {
	scenario.NewTopicsAndPartitions(t, newEnv(t))
}

func TestInternalAndExcludedTopicsAreNotCopied(t *testing.T) {
	scenario.InternalAndExcludedTopicsAreNotCopied(t, newEnv(t))
}

func TestCompression(t *testing.T) { scenario.Compression(t, newEnv(t)) }

func TestTopicConfigsFollowTheSource(t *testing.T) {
	scenario.TopicConfigsFollowTheSource(t, newEnv(t))
}

func TestTopicACLsAreCopied(t *testing.T) { scenario.TopicACLsAreCopied(t, newEnv(t)) }

func TestGroupOffsetsTranslated(t *testing.T) { scenario.GroupOffsetsTranslated(t, newEnv(t)) }

func TestFailoverAndFailbackIdentical(t *testing.T) {
	scenario.FailoverAndFailbackIdentical(t, newEnv(t))
}

func TestSASLScramTarget(t *testing.T) { scenario.SASLScramTarget(t, newEnv(t, withSASLTarget())) }

func TestActiveActiveIdenticalNoLoops(t *testing.T) {
	scenario.ActiveActiveIdenticalNoLoops(t, newEnv(t))
}

func TestPrefixedActiveActiveNoLoops(t *testing.T) {
	scenario.PrefixedActiveActiveNoLoops(t, newEnv(t))
}

func TestDeletedReplicatorSeriesDisappear(t *testing.T) {
	scenario.DeletedReplicatorSeriesDisappear(t, newEnv(t))
}

func TestPropertyCommittedRecordsAndOffsets(t *testing.T) {
	scenario.PropertyCommittedRecordsAndOffsets(t, newEnv(t))
}

func TestRecordLimits(t *testing.T) { scenario.RecordLimits(t, newEnv(t)) }
