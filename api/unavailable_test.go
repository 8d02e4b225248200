package api_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/pkg/pgserver"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

// TestDatabaseDown: while PostgreSQL is down the API answers 503
// ServiceUnavailableException (which the SDKs retry), never a 500, and it
// serves again once the database is back.
func TestDatabaseDown(t *testing.T) {
	if _, err := pgserver.BinDir(); err != nil {
		t.Skipf("no PostgreSQL binaries: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Options{Database: "down"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if err := postgres.Migrate(ctx, srv.URL(), nil); err != nil {
		t.Fatal(err)
	}
	store, err := postgres.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	hs := httptest.NewServer(api.NewServer(api.Config{Region: region, Store: store,
		Auth: api.SigV4(sigv4.NewVerifier(region, "kafka", []sigv4.Key{keyA}))}))
	defer hs.Close()
	c := sdkClient(hs.URL, keyA)
	in := apacheCreate("down")
	in.KafkaClusters[1].ClientAuthentication = nil
	out, err := c.CreateReplicator(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Halt("fast"); err != nil {
		t.Fatal(err)
	}
	var su *types.ServiceUnavailableException
	_, err = c.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: out.ReplicatorArn})
	if !errors.As(err, &su) {
		t.Fatalf("Describe with the database down: %v, want ServiceUnavailableException", err)
	}
	_, err = c.ListReplicators(ctx, &kafka.ListReplicatorsInput{})
	if !errors.As(err, &su) {
		t.Fatalf("List with the database down: %v, want ServiceUnavailableException", err)
	}
	if err := srv.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := c.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: out.ReplicatorArn})
		if err == nil {
			if aws.ToString(d.ReplicatorName) != "down" {
				t.Fatalf("described %q", aws.ToString(d.ReplicatorName))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving 30 s after the database came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
