package postgres_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/openreplicator/replicator/pkg/fleet"
	"github.com/openreplicator/replicator/pkg/replicator"
)

// TestStoreErrorsNameTheirOperation: an error from the store names the
// operation that failed (for the logs), and is still the domain error the
// API answers with the same status and message as before.
func TestStoreErrorsNameTheirOperation(t *testing.T) {
	f := newFleetDB(t)
	rid := f.create("named", replicator.StartEarliest)
	missing := strings.Replace(f.arn("named"), rid, "00000000-0000-0000-0000-000000000000", 1)
	for _, tc := range []struct {
		name, op string
		err      error
		is       error
		kind     replicator.Kind
		message  string
	}{
		{name: "not found", op: `GetReplicator("` + missing + `")`, is: replicator.ErrNotFound, kind: replicator.KindNotFound, message: "replicator not found",
			err: func() error { _, err := f.s.GetReplicator(f.ctx, account, missing); return err }()},
		{name: "name taken", op: `CreateReplicatorWithinQuota("` + account + `", "named")`, kind: replicator.KindConflict, message: `a replicator named "named" already exists`,
			err: func() error {
				r, err := f.s.GetReplicator(f.ctx, account, f.arn("named"))
				if err != nil {
					t.Fatal(err)
				}
				r.ARN.ID = "00000000-0000-0000-0000-000000000001"
				return f.s.CreateReplicator(f.ctx, r)
			}()},
		{name: "lease lost", op: `ReportTopology("w1", job `, is: fleet.ErrLeaseLost, kind: replicator.KindConflict, message: "the lease on this job is lost",
			err: func() error {
				_, err := f.s.ReportTopology(f.ctx, fleet.Topology{WorkerID: "w1", JobID: 1, Epoch: 1, Token: "forged"}, f.quota)
				return err
			}()},
		{name: "tag limit", op: `TagResource("` + f.arn("named") + `")`, kind: replicator.KindInvalid, message: "a resource can have at most 50 tags",
			err: func() error {
				tags := map[string]string{}
				for i := range 51 {
					tags[string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
				}
				return f.s.TagResource(f.ctx, account, f.arn("named"), tags)
			}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var de *replicator.Error
			if !errors.As(tc.err, &de) || de.Kind != tc.kind || de.Message != tc.message {
				t.Fatalf("%v: want a %v error saying %q", tc.err, tc.kind, tc.message)
			}
			if tc.is != nil && !errors.Is(tc.err, tc.is) {
				t.Fatalf("%v is not %v", tc.err, tc.is)
			}
			if !strings.HasPrefix(tc.err.Error(), "postgres: "+tc.op) {
				t.Fatalf("%q does not name its operation %s", tc.err, tc.op)
			}
		})
	}
}
