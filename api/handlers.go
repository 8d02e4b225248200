package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/openreplicator/replicator/pkg/replicator"
)

const (
	defaultPageSize = 100
	maxPageSize     = 100

	// destinationCheckTimeout bounds the name lookups of one Create.
	destinationCheckTimeout = 3 * time.Second
)

func (s *server) createReplicator(w http.ResponseWriter, r *http.Request, c *call) error {
	var req createReplicatorRequest
	if err := decode(r, c.body, &req); err != nil {
		return err
	}
	rep, err := createToDomain(&req)
	if err != nil {
		return err
	}
	// Name lookups of the destination check share one bound: a name that
	// does not resolve in time passes here, and the workers' dialer decides.
	checkCtx, cancel := context.WithTimeout(r.Context(), destinationCheckTimeout)
	defer cancel()
	for i, cl := range rep.Spec.Clusters {
		p := fmt.Sprintf("kafkaClusters[%d]", i)
		// Another account's cataloged cluster or secret is answered
		// exactly as a missing one: same exception, member and message.
		if cl.MSK != nil && (s.Catalog == nil || !s.Catalog.HasCluster(c.account, cl.MSK.ClusterARN)) {
			return replicator.Invalid(p+".amazonMskCluster.mskClusterArn",
				"MSK cluster %s was not found in this service's cluster catalog (REPLICATOR_CLUSTERS_FILE)", cl.MSK.ClusterARN)
		}
		if cl.Apache != nil && s.Destinations != nil {
			for _, b := range strings.Split(cl.Apache.BootstrapBrokers, ",") {
				if err := s.Destinations.Check(checkCtx, strings.TrimSpace(b)); err != nil {
					return replicator.Invalid(p+".apacheKafkaCluster.bootstrapBrokerString",
						"bootstrapBrokerString: broker %s is not a destination this service may connect to (REPLICATOR_ALLOWED_DESTINATIONS, REPLICATOR_DENIED_DESTINATIONS)",
						truncateForMessage(strings.TrimSpace(b)))
				}
			}
		}
		if a := cl.Auth; a != nil {
			arn, member := "", ""
			if a.SASLScram != nil {
				arn, member = a.SASLScram.SecretARN, ".clientAuthentication.saslScram.secretArn"
			} else {
				arn, member = a.MTLS.SecretARN, ".clientAuthentication.mTLS.secretArn"
			}
			if s.Secrets == nil {
				return replicator.Invalid(p+member, "secret %s cannot be resolved: secret not found", arn)
			}
			if err := s.Secrets.CheckSecret(r.Context(), c.account, arn); err != nil {
				return replicator.Invalid(p+member, "secret %s cannot be resolved: %s", arn, safeMessage(err))
			}
		}
	}
	rep.AccountID = c.account
	rep.ARN = replicator.ARN{Partition: "aws", Region: s.Region, AccountID: c.account, Name: rep.Name, ID: uuid.NewString()}
	rep.State = replicator.StateCreating
	rep.CurrentVersion = newVersion()
	if err := s.Store.CreateReplicatorWithinQuota(r.Context(), rep, s.QuotaReplicators); err != nil {
		return err
	}
	encode(w, http.StatusOK, createReplicatorResponse{
		ReplicatorArn: rep.ARN.String(), ReplicatorName: rep.Name, ReplicatorState: string(rep.State)})
	return nil
}

// safeMessage returns the user-safe text of err: a domain error's message,
// or a generic phrase.
func safeMessage(err error) string {
	if e, ok := err.(*replicator.Error); ok {
		return e.Message
	}
	return "lookup failed"
}

func (s *server) describeReplicator(w http.ResponseWriter, r *http.Request, c *call) error {
	arn, err := s.replicatorARN(r, "")
	if err != nil {
		return err
	}
	rep, err := s.Store.GetReplicator(r.Context(), c.account, arn)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, describeToWire(rep))
	return nil
}

func (s *server) listReplicators(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	limit := defaultPageSize
	if v, ok := q["maxResults"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > maxPageSize || len(v) > 1 {
			return replicator.Invalid("maxResults", "maxResults must be an integer from 1 to %d", maxPageSize)
		}
		limit = n
	}
	prefix := q.Get("replicatorNameFilter")
	if !utf8.ValidString(prefix) || strings.ContainsRune(prefix, 0) {
		return replicator.Invalid("replicatorNameFilter", "replicatorNameFilter must be valid UTF-8 without NUL characters")
	}
	if utf8.RuneCountInString(prefix) > 128 {
		return replicator.Invalid("replicatorNameFilter", "replicatorNameFilter must be at most 128 characters")
	}
	after := ""
	if tok := q.Get("nextToken"); tok != "" {
		var ok bool
		if after, ok = decodePageToken(tok); !ok {
			return replicator.Invalid("nextToken", "nextToken is not a token this service issued")
		}
	}
	reps, err := s.Store.ListReplicators(r.Context(), c.account, prefix, after, limit+1)
	if err != nil {
		return err
	}
	out := listReplicatorsResponse{Replicators: []replicatorSummary{}}
	if len(reps) > limit {
		reps = reps[:limit]
		out.NextToken = encodePageToken(reps[limit-1].Name)
	}
	for _, rep := range reps {
		out.Replicators = append(out.Replicators, summaryToWire(rep))
	}
	encode(w, http.StatusOK, out)
	return nil
}

// Page tokens carry the last name of the page. Names are unique per account
// and pages are ordered by name, so rows inserted while a client pages
// cause neither duplicates nor gaps.
const pageTokenPrefix = "p1:"

func encodePageToken(lastName string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenPrefix + lastName))
}

func decodePageToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil {
		return "", false
	}
	name, ok := strings.CutPrefix(string(b), pageTokenPrefix)
	return name, ok && replicator.ValidName(name)
}

func (s *server) deleteReplicator(w http.ResponseWriter, r *http.Request, c *call) error {
	arn, err := s.replicatorARN(r, "")
	if err != nil {
		return err
	}
	version := r.URL.Query().Get("currentVersion")
	rep, err := s.Store.DeleteReplicator(r.Context(), c.account, arn, version)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, arnStateResponse{ReplicatorArn: rep.ARN.String(), ReplicatorState: string(replicator.StateDeleting)})
	return nil
}

func (s *server) updateReplicationInfo(w http.ResponseWriter, r *http.Request, c *call) error {
	arn, err := s.replicatorARN(r, "/replication-info")
	if err != nil {
		return err
	}
	var req updateReplicationInfoRequest
	if err := decode(r, c.body, &req); err != nil {
		return err
	}
	if str(req.CurrentVersion) == "" {
		return replicator.Invalid("currentVersion", "currentVersion is required")
	}
	if req.TopicReplication == nil && req.ConsumerGroupReplication == nil && req.LogDelivery == nil {
		return replicator.Invalid("topicReplication", "an update must change at least one of topicReplication, consumerGroupReplication and logDelivery")
	}
	var (
		topics *replicator.TopicReplication
		groups *replicator.ConsumerGroupReplication
		logs   *replicator.LogDelivery
	)
	if req.TopicReplication != nil {
		t, err := topicReplicationToDomain(req.TopicReplication, true)
		if err != nil {
			return err
		}
		topics = &t
	}
	if req.ConsumerGroupReplication != nil {
		g, err := groupReplicationToDomain(req.ConsumerGroupReplication, true)
		if err != nil {
			return err
		}
		groups = &g
	}
	if req.LogDelivery != nil {
		if logs, err = logDeliveryToDomain(req.LogDelivery); err != nil {
			return err
		}
	}
	rep, err := s.Store.UpdateReplicator(r.Context(), c.account, arn, *req.CurrentVersion, newVersion(), func(rep *replicator.Replicator) error {
		if rep.State == replicator.StateDeleting {
			return replicator.Invalid("replicatorArn", "the replicator is being deleted")
		}
		ri := &rep.Spec.ReplicationInfo[0]
		for _, ref := range []struct {
			member, alias string
			arn, id       *string
		}{
			{"source", ri.SourceAlias, req.SourceKafkaClusterArn, req.SourceKafkaClusterID},
			{"target", ri.TargetAlias, req.TargetKafkaClusterArn, req.TargetKafkaClusterID},
		} {
			if ref.arn == nil && ref.id == nil {
				continue
			}
			alias, err := clusterRef(ref.member, ref.arn, ref.id, rep.Spec.Clusters)
			if err != nil {
				return err
			}
			if alias != ref.alias {
				return replicator.Invalid(ref.member+"KafkaClusterArn", "the replicator's %s is a different cluster", ref.member)
			}
		}
		if topics != nil {
			topics.StartingPosition, topics.TopicNameConfiguration = ri.Topics.StartingPosition, ri.Topics.TopicNameConfiguration
			ri.Topics = *topics
		}
		if groups != nil {
			groups.OffsetSyncMode = ri.Groups.OffsetSyncMode
			ri.Groups = *groups
		}
		if req.LogDelivery != nil {
			rep.Spec.LogDelivery = logs
		}
		rep.State, rep.StateCode, rep.StateMessage = replicator.StateUpdating, "", ""
		return nil
	})
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, arnStateResponse{ReplicatorArn: rep.ARN.String(), ReplicatorState: string(rep.State)})
	return nil
}

func (s *server) tagResource(w http.ResponseWriter, r *http.Request, c *call) error {
	arn, err := s.resourceARN(r)
	if err != nil {
		return err
	}
	var req tagResourceRequest
	if err := decode(r, c.body, &req); err != nil {
		return err
	}
	if req.Tags == nil {
		return replicator.Invalid("tags", "tags is required")
	}
	tags := make(map[string]string, len(req.Tags))
	for k, v := range req.Tags {
		tags[k] = str(v)
	}
	if err := validateTags(tags); err != nil {
		return err
	}
	if err := s.Store.TagResource(r.Context(), c.account, arn, tags); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) untagResource(w http.ResponseWriter, r *http.Request, c *call) error {
	arn, err := s.resourceARN(r)
	if err != nil {
		return err
	}
	keys := r.URL.Query()["tagKeys"]
	if len(keys) == 0 {
		return replicator.Invalid("tagKeys", "tagKeys is required")
	}
	if len(keys) > 50 {
		return replicator.Invalid("tagKeys", "at most 50 tagKeys can be removed at once")
	}
	for _, k := range keys {
		if err := validateTagKey(k); err != nil {
			return replicator.Invalid("tagKeys", "%s", err.(*replicator.Error).Message)
		}
	}
	if err := s.Store.UntagResource(r.Context(), c.account, arn, keys); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) listTagsForResource(w http.ResponseWriter, r *http.Request, c *call) error {
	arn, err := s.resourceARN(r)
	if err != nil {
		return err
	}
	tags, err := s.Store.ListTags(r.Context(), c.account, arn)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, listTagsResponse{Tags: tags})
	return nil
}

// replicatorARN extracts the {replicatorArn} label (followed by suffix) from
// the escaped path. An ARN that cannot be a replicator ARN is a bad
// request; one for another region is simply not found.
func (s *server) replicatorARN(r *http.Request, suffix string) (string, error) {
	label, ok := pathLabel(r, suffix)
	if !ok || label == "" {
		if !ok {
			return "", replicator.NotFound("", "no operation matches %s %s", r.Method, truncateForMessage(r.URL.EscapedPath()))
		}
		return "", replicator.Invalid("replicatorArn", "replicatorArn is required")
	}
	a, err := replicator.ParseARN(label)
	if err != nil {
		return "", replicator.Invalid("replicatorArn", "replicatorArn is not a valid replicator ARN")
	}
	if a.Region != s.Region {
		return "", replicator.ErrNotFound
	}
	return a.String(), nil
}

// resourceARN extracts the {resourceArn} label of the tag operations. Only
// replicators are resources here, so any other well-formed ARN is not found.
func (s *server) resourceARN(r *http.Request) (string, error) {
	label, _ := pathLabel(r, "")
	if label == "" {
		return "", replicator.Invalid("resourceArn", "resourceArn is required")
	}
	if !strings.HasPrefix(label, "arn:") || len(label) > maxARN {
		return "", replicator.Invalid("resourceArn", "resourceArn is not a valid ARN")
	}
	a, err := replicator.ParseARN(label)
	if err != nil || a.Region != s.Region {
		return "", replicator.NotFound("resourceArn", "resource not found")
	}
	return a.String(), nil
}

// pathLabel returns the unescaped wildcard part of the path without suffix.
// ok is false when suffix is required but missing.
func pathLabel(r *http.Request, suffix string) (string, bool) {
	raw := chi.URLParam(r, "*")
	if suffix != "" {
		var found bool
		if raw, found = strings.CutSuffix(raw, suffix); !found {
			return "", false
		}
	} else if i := strings.LastIndexByte(raw, '/'); i >= 0 && strings.HasPrefix(raw, "arn%3A") {
		// An escaped ARN has no raw '/': anything after one is an unknown
		// sub-resource (for example GET .../replication-info).
		return "", false
	} else if strings.HasSuffix(raw, "/replication-info") {
		return "", false
	}
	label, err := url.PathUnescape(raw)
	if err != nil {
		return "", true
	}
	return label, true
}
