package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// Store is the Postgres-backed store. All its methods are safe for
// concurrent use; several `serve` replicas may share one database.
type Store struct {
	pool *pgxpool.Pool
	// leases is a pool of connections reserved for the statements that
	// keep leases alive (heartbeats, releases): a burst of acquires or API
	// reads never makes a live worker's renewal wait for a connection. nil
	// in stores built without Open.
	leases *pgxpool.Pool
	// acquiring bounds the acquires that run at once to half of pool's
	// connections (nil: unbounded).
	acquiring chan struct{}
	specs     *specCache
}

// Open connects to url and checks the connection.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := parseConfig(url)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	// As many connections as the main pool: heartbeats are most of the
	// load of a fleet (half as many cost about half of their throughput in
	// the fleet benchmark, on 2 cores).
	lcfg := cfg.Copy()
	lcfg.MaxConns = cfg.MaxConns
	lcfg.ConnConfig.RuntimeParams["application_name"] = "replicator-leases"
	leases, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, leases: leases, acquiring: make(chan struct{}, max(1, cfg.MaxConns/2)), specs: newSpecCache(20_000)}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return s, nil
}

func parseConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can echo the URL, password included.
		return nil, errors.New("postgres: DATABASE_URL is not a valid connection string")
	}
	if cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "replicator"
	// The service's queries are short; JIT compilation only adds latency
	// (the scheduler's aggregate over 10,000 replicators spent 355 of 420 ms
	// compiling).
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	return cfg, nil
}

// Close releases every connection.
func (s *Store) Close() {
	s.pool.Close()
	if s.leases != nil {
		s.leases.Close()
	}
}

// leasePool is the pool of lease-keeping statements.
func (s *Store) leasePool() *pgxpool.Pool {
	if s.leases != nil {
		return s.leases
	}
	return s.pool
}

// Ping checks that the database answers (readiness).
func (s *Store) Ping(ctx context.Context) (err error) {
	defer wrap(&err, "Ping")
	return s.pool.Ping(ctx)
}

// Pool exposes the pool to tests and tools in this module.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// specCache keeps decoded specs by replicator ID and spec version: a spec
// never changes without its version, and decoding it is most of the CPU of
// a read. Bounded: when full it starts over.
type specCache struct {
	mu    sync.Mutex
	max   int
	m     map[specKey]replicator.Spec
	byARN map[string]int64 // the newest spec version cached for an ARN
}

type specKey struct {
	id      string
	version int64
}

func newSpecCache(max int) *specCache {
	return &specCache{max: max, m: map[specKey]replicator.Spec{}, byARN: map[string]int64{}}
}

// versionOf returns the spec version cached for arn, or -1.
func (c *specCache) versionOf(arn string) int64 {
	if c == nil {
		return -1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.byARN[arn]; ok {
		return v
	}
	return -1
}

func (c *specCache) get(id string, version int64) (replicator.Spec, bool) {
	if c == nil {
		return replicator.Spec{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[specKey{id, version}]
	return s, ok
}

func (c *specCache) put(id, arn string, version int64, s replicator.Spec) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
		clear(c.byARN)
	}
	c.m[specKey{id, version}] = s
	if version > c.byARN[arn] {
		c.byARN[arn] = version
	}
}
