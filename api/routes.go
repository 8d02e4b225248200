package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/openreplicator/replicator/api/console"
)

// routes is the whole HTTP surface on one screen. The replicator and tag
// operations route on a wildcard because the ARN label arrives
// percent-encoded (%3A, %2F) from the SDKs but may arrive raw from curl.
func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.withRequestID, s.recoverer)

	r.Get("/healthz", s.handleHealthz)
	r.Get("/readyz", s.handleReadyz)
	if !s.SeparateMetrics {
		r.Method(http.MethodGet, "/metrics", MetricsHandler(s.Registry, s.MetricsToken))
	}
	r.Method(http.MethodGet, "/console*", http.StripPrefix("/console", console.Handler())) // the web console (/console redirects to /console/)

	// The eight AWS operations (SigV4-signed).
	r.Method(http.MethodPost, "/replication/v1/replicators", s.aws("CreateReplicator", s.createReplicator))
	r.Method(http.MethodGet, "/replication/v1/replicators", s.aws("ListReplicators", s.listReplicators))
	r.Method(http.MethodGet, "/replication/v1/replicators/*", s.describeOrStatus())
	r.Method(http.MethodDelete, "/replication/v1/replicators/*", s.aws("DeleteReplicator", s.deleteReplicator))
	r.Method(http.MethodPut, "/replication/v1/replicators/*", s.aws("UpdateReplicationInfo", s.updateReplicationInfo))
	r.Method(http.MethodPost, "/v1/tags/*", s.aws("TagResource", s.tagResource))
	r.Method(http.MethodDelete, "/v1/tags/*", s.aws("UntagResource", s.untagResource))
	r.Method(http.MethodGet, "/v1/tags/*", s.aws("ListTagsForResource", s.listTagsForResource))

	// The worker API and operator endpoints (worker token).
	s.mountFleet(r)
	r.NotFound(s.aws("Unknown", s.unknownOperation).ServeHTTP)
	r.MethodNotAllowed(s.aws("Unknown", s.unknownOperation).ServeHTTP)
	return r
}
