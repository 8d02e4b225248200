//go:build integration

package integration

import (
	"testing"

	"github.com/openreplicator/replicator/internal/scenario"
)

// The scenarios both systems run (internal/scenario), here with real
// processes on real Kafka; internal/e2e runs them on kfake in one process.

func TestCopyKeepsRecordsInOrder(t *testing.T) {
	scenario.CopyKeepsRecordsInOrder(t, newSystem(t, "copy"))
}

func TestIdenticalNames(t *testing.T) { scenario.IdenticalNames(t, newSystem(t, "identical")) }

func TestNewTopicsAndPartitions(t *testing.T) {
	scenario.NewTopicsAndPartitions(t, newSystem(t, "discovery"))
}

func TestInternalAndExcludedTopicsAreNotCopied(t *testing.T) {
	scenario.InternalAndExcludedTopicsAreNotCopied(t, newSystem(t, "filters"))
}

func TestCompression(t *testing.T) { scenario.Compression(t, newSystem(t, "zstd")) }

func TestTopicConfigsFollowTheSource(t *testing.T) {
	scenario.TopicConfigsFollowTheSource(t, newSystem(t, "configs"))
}

func TestTopicACLsAreCopied(t *testing.T) { scenario.TopicACLsAreCopied(t, newSystem(t, "acls")) }

func TestGroupOffsetsTranslated(t *testing.T) {
	scenario.GroupOffsetsTranslated(t, newSystem(t, "groups"))
}

func TestFailoverAndFailbackIdentical(t *testing.T) {
	scenario.FailoverAndFailbackIdentical(t, newSystem(t, "failback"))
}

func TestSASLScramTarget(t *testing.T) { scenario.SASLScramTarget(t, newSystem(t, "scram")) }

func TestActiveActiveIdenticalNoLoops(t *testing.T) {
	scenario.ActiveActiveIdenticalNoLoops(t, newSystem(t, "active-active"))
}

func TestPrefixedActiveActiveNoLoops(t *testing.T) {
	scenario.PrefixedActiveActiveNoLoops(t, newSystem(t, "prefixed-aa"))
}

func TestDeletedReplicatorSeriesDisappear(t *testing.T) {
	scenario.DeletedReplicatorSeriesDisappear(t, newSystem(t, "series"))
}

func TestPropertyCommittedRecordsAndOffsets(t *testing.T) {
	scenario.PropertyCommittedRecordsAndOffsets(t, newSystem(t, "property"))
}

func TestRecordLimits(t *testing.T) { scenario.RecordLimits(t, newSystem(t, "limits")) }

func TestTimestampRefusedByTheTarget(t *testing.T) {
	scenario.TimestampRefusedByTheTarget(t, newSystem(t, "stamps"))
}
