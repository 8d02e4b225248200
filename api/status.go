package api

import (
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// describeOrStatus routes GET .../replicators/{arn} to DescribeReplicator
// and GET .../replicators/{arn}/status to the status extension.
func (s *server) describeOrStatus() http.Handler {
	describe := s.aws("DescribeReplicator", s.describeReplicator)
	status := s.aws("DescribeReplicatorStatus", s.replicatorStatus)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Fleet != nil && strings.HasSuffix(chi.URLParam(r, "*"), "/status") {
			status.ServeHTTP(w, r)
			return
		}
		describe.ServeHTTP(w, r)
	})
}

// Wire types of the status extension.
type statusResponse struct {
	ReplicatorArn   string        `json:"replicatorArn"`
	ReplicatorName  string        `json:"replicatorName"`
	ReplicatorState string        `json:"replicatorState"`
	StateInfo       *stateInfo    `json:"stateInfo,omitempty"`
	CurrentVersion  string        `json:"currentVersion"`
	SpecVersion     int64         `json:"specVersion"`
	Summary         statusSummary `json:"summary"`
	Jobs            []jobStatus   `json:"jobs"`
	Events          []stateEvent  `json:"events"`
}

type statusSummary struct {
	Jobs             int     `json:"jobs"`
	LeasedJobs       int     `json:"leasedJobs"`
	Partitions       int     `json:"partitions"`
	Workers          int     `json:"workers"`
	MessageLag       int64   `json:"messageLag"`
	MaxLatencyMillis float64 `json:"maxLatencyMillis"`
	BytesPerSec      float64 `json:"bytesPerSec"`
	RecordsPerSec    float64 `json:"recordsPerSec"`
	RecordsCopied    int64   `json:"recordsCopied"`
}

type jobStatus struct {
	JobID          int64                    `json:"jobId"`
	Kind           string                   `json:"kind"`
	Topic          string                   `json:"topic,omitempty"`
	Partition      *int32                   `json:"partition,omitempty"`
	Owner          string                   `json:"owner,omitempty"`
	Epoch          int64                    `json:"epoch"`
	LeaseExpiresAt string                   `json:"leaseExpiresAt,omitempty"`
	HeartbeatAt    string                   `json:"heartbeatAt,omitempty"`
	SpecVersion    int64                    `json:"specVersion"`
	Checkpoint     *int64                   `json:"checkpoint,omitempty"`
	Error          *fleet.JobError          `json:"error,omitempty"`
	Progress       *fleet.PartitionProgress `json:"progress,omitempty"`
}

type stateEvent struct {
	At      string `json:"at"`
	State   string `json:"state"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

func optTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(*t)
}

// replicatorStatus is GET /replication/v1/replicators/{arn}/status: each
// job's owner, lease and latest report, with per-partition lag and latency,
// and the replicator's recent state changes. SigV4-signed and scoped to the
// caller's account like the AWS operations.
func (s *server) replicatorStatus(w http.ResponseWriter, r *http.Request, c *call) error {
	arn, err := s.replicatorARN(r, "/status")
	if err != nil {
		return err
	}
	rep, err := s.Store.GetReplicator(r.Context(), c.account, arn)
	if err != nil {
		return err
	}
	jobs, err := s.Fleet.Jobs(r.Context(), rep.ARN.ID)
	if err != nil {
		return err
	}
	events, err := s.Fleet.Events(r.Context(), rep.ARN.ID, 20)
	if err != nil {
		return err
	}
	out := statusResponse{
		ReplicatorArn: rep.ARN.String(), ReplicatorName: rep.Name, ReplicatorState: string(rep.State),
		CurrentVersion: rep.CurrentVersion, SpecVersion: rep.SpecVersion, Jobs: []jobStatus{}, Events: []stateEvent{},
	}
	if rep.StateCode != "" || rep.StateMessage != "" {
		out.StateInfo = &stateInfo{Code: rep.StateCode, Message: rep.StateMessage}
	}
	owners := map[string]bool{}
	for _, j := range jobs {
		js := jobStatus{JobID: j.JobID, Kind: j.Kind, Owner: j.Owner, Epoch: j.Epoch, LeaseExpiresAt: optTime(j.LeaseExpiresAt),
			HeartbeatAt: optTime(j.HeartbeatAt), SpecVersion: j.SpecVersion, Error: j.Error, Progress: j.Progress}
		out.Summary.Jobs++
		if j.Owner != "" {
			out.Summary.LeasedJobs++
			owners[j.Owner] = true
		}
		if j.Kind == fleet.KindPartition {
			p := j.Partition
			js.Topic, js.Partition, js.Checkpoint = j.Topic, &p, j.NextOffset
			out.Summary.Partitions++
		}
		if pr := j.Progress; pr != nil {
			// Saturating: a lag comes from the high watermark the
			// tenant's source states.
			if lag := max(pr.Lag, 0); out.Summary.MessageLag > math.MaxInt64-lag {
				out.Summary.MessageLag = math.MaxInt64
			} else {
				out.Summary.MessageLag += lag
			}
			out.Summary.BytesPerSec += pr.BytesPerSec
			out.Summary.RecordsPerSec += pr.RecordsPerSec
			out.Summary.RecordsCopied += pr.Records
			out.Summary.MaxLatencyMillis = max(out.Summary.MaxLatencyMillis, pr.LatencyMillis)
		}
		out.Jobs = append(out.Jobs, js)
	}
	out.Summary.Workers = len(owners)
	for _, e := range events {
		out.Events = append(out.Events, stateEvent{At: formatTime(e.At), State: string(e.State), Code: e.Code, Message: e.Message})
	}
	encode(w, http.StatusOK, out)
	return nil
}
