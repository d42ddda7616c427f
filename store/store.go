// Package store keeps the durable state of pipeline-orchestrator in one SQLite
// file: webhook deliveries waiting to be processed, the outbox of Harness
// operations, the last known state of every pipeline, the bot pull requests,
// small key/value facts, a cache of git blobs, the YAML schemas last
// fetched from Harness and an append-only audit log.
//
// Every method takes a context and is safe for concurrent use. Writes go
// through a single connection that begins its transactions with BEGIN
// IMMEDIATE, so writers queue inside the process instead of failing with
// SQLITE_BUSY; reads use a separate pool and, thanks to WAL, never wait for a
// writer. Other processes that open the same file are serialised by SQLite's
// busy timeout.
//
// Time is read from the clock given to Open (WithNow) and stored as Unix
// milliseconds, so leases and back-off can be driven by tests.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotFound is returned (wrapped) when a requested row does not exist.
var ErrNotFound = errors.New("not found")

// ErrLeaseLost is returned (wrapped) when a caller completes, retries,
// releases or extends a delivery or an operation it no longer holds: its
// lease expired and another worker claimed it, or it was already finished.
// The row is left as it is; the caller's work may have run twice, which the
// level-triggered loop and the idempotent Harness calls make harmless.
var ErrLeaseLost = errors.New("lease lost")

// DB is an open store. Create it with Open and release it with Close. Its
// parts each keep one kind of record in the same database.
type DB struct {
	// Deliveries are the recorded webhook deliveries and internal work.
	Deliveries *Deliveries
	// Operations are the outbox of Harness operations.
	Operations *Operations
	// Pipelines are what the app knows of each service's pipeline.
	Pipelines *Pipelines
	// Entities are the entity files applied to Harness, by path.
	Entities *Entities
	// BotPRs are the pull requests the app opened.
	BotPRs *BotPRs
	// Blobs cache file contents by git blob SHA.
	Blobs *Blobs
	// Audit is the append-only audit log.
	Audit *Audit
	// State holds the typed key/value facts of the loop.
	State *State
	// Schemas keeps the JSON Schemas fetched from Harness.
	Schemas *Schemas
	// Drift is the record of drift reconcile found.
	Drift *Drift

	write *sql.DB // one connection; every transaction is BEGIN IMMEDIATE
	read  *sql.DB // query_only connections for reads
	path  string
	cfg   config

	recording recordQueue // Deliveries.Record calls waiting for their transaction
}

// The parts of the store. Each is a view of the same DB.
type (
	Deliveries struct{ db *DB }
	Operations struct{ db *DB }
	Pipelines  struct{ db *DB }
	Entities   struct{ db *DB }
	BotPRs     struct{ db *DB }
	Blobs      struct{ db *DB }
	Audit      struct{ db *DB }
	State      struct{ db *DB }
	Schemas    struct{ db *DB }
	Drift      struct{ db *DB }
)

type config struct {
	now                 func() time.Time
	busyTimeout         time.Duration
	readConns           int
	maxDeliveryAttempts int
}

// Option changes how Open configures the store.
type Option func(*config)

// WithNow sets the clock the store reads for leases, back-off and
// timestamps. The default is time.Now.
func WithNow(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithBusyTimeout sets how long a transaction waits for a lock held by
// another process before it fails with SQLITE_BUSY. The default is 10s.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = d }
}

// WithReadConns sets the size of the read connection pool. The default is 4.
func WithReadConns(n int) Option {
	return func(c *config) { c.readConns = n }
}

// WithMaxDeliveryAttempts sets after how many attempts RetryDeliveries marks
// a delivery failed instead of pending. The default is 5.
func WithMaxDeliveryAttempts(n int) Option {
	return func(c *config) { c.maxDeliveryAttempts = n }
}

func defaultConfig() config {
	return config{
		now:                 time.Now,
		busyTimeout:         10 * time.Second,
		readConns:           4,
		maxDeliveryAttempts: 5,
	}
}

// Open opens (creating it if needed) the SQLite database at path, applies
// every migration the file does not have yet and returns the store.
//
// The file is put in WAL mode with foreign keys on and synchronous=FULL.
// FULL rather than NORMAL: in WAL mode NORMAL survives a process crash but
// may lose the last commits on a power cut or kernel panic, and the webhook
// handler acknowledges a delivery to GitHub as soon as its insert commits;
// a delivery lost after the 2xx would never be sent again. The price is one
// fsync per commit, far below the event rates of this service.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.readConns < 1 {
		cfg.readConns = 1
	}
	if cfg.maxDeliveryAttempts < 1 {
		cfg.maxDeliveryAttempts = 1
	}
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("opening store: invalid database path %q", path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("opening store: %w", err)
		}
	}

	write, err := openWriter(path, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	db := &DB{write: write, path: path, cfg: cfg}
	db.Deliveries, db.Operations, db.Pipelines, db.BotPRs = &Deliveries{db}, &Operations{db}, &Pipelines{db}, &BotPRs{db}
	db.Blobs, db.Audit, db.State, db.Entities, db.Drift = &Blobs{db}, &Audit{db}, &State{db}, &Entities{db}, &Drift{db}
	db.Schemas = &Schemas{db}
	if err := connect(ctx, write, cfg.busyTimeout); err != nil {
		write.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	if err := db.migrate(ctx, len(migrations)); err != nil {
		write.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	db.read, err = openReader(path, cfg)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	if err := db.read.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	return db, nil
}

// connect makes the writer's first connection. Putting a new file in WAL
// mode takes an exclusive lock, and when another process is doing the same
// SQLite answers SQLITE_BUSY at once instead of waiting for the busy
// timeout; connect retries for up to timeout. Later connections find the
// file in WAL mode already.
func connect(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(5+rand.IntN(20)) * time.Millisecond):
		}
	}
}

// dsn returns the data source name of path with the pragmas every
// connection runs when it opens, plus extra.
func dsn(path string, cfg config, extra url.Values) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	for k, vs := range extra {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	return path + "?" + q.Encode()
}

// openWriter opens the write pool: a single connection whose transactions
// begin IMMEDIATE, taking SQLite's write lock up front. database/sql queues
// this process's writers on that one connection, so they never race for the
// lock; a deferred transaction that reads first and writes later could
// instead fail with SQLITE_BUSY without waiting for the busy timeout.
func openWriter(path string, cfg config) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, cfg, url.Values{"_txlock": {"immediate"}}))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// openReader opens the read pool. query_only guards against a write slipping
// onto a connection that would not serialise it.
func openReader(path string, cfg config) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, cfg, url.Values{"_pragma": {"query_only(1)"}}))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(cfg.readConns)
	db.SetMaxIdleConns(cfg.readConns)
	return db, nil
}

// Close closes both connection pools. Transactions in progress are rolled
// back by SQLite; committed data is already on disk.
func (db *DB) Close() error {
	var errs []error
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing store: %w", err)
	}
	return nil
}

// Path returns the file the store was opened on.
func (db *DB) Path() string { return db.path }

// Now returns the store's clock reading, truncated to the millisecond
// precision the store keeps. Callers that compute back-off deadlines use it
// so that their times and the store's agree.
func (db *DB) Now() time.Time { return db.cfg.now().UTC().Truncate(time.Millisecond) }

// Ping checks that the database can be read (liveness of the read pool).
func (db *DB) Ping(ctx context.Context) error {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return fmt.Errorf("pinging store: %w", err)
	}
	return nil
}

// Writable checks that the store can take its write lock within the busy
// timeout, which is what readiness means for a process that must record
// webhook deliveries. It writes nothing.
func (db *DB) Writable(ctx context.Context) error {
	err := db.writeTx(ctx, func(tx *sql.Tx, _ time.Time) error {
		var n int
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n)
	})
	if err != nil {
		return fmt.Errorf("checking store is writable: %w", err)
	}
	return nil
}

// writeTx runs fn in an IMMEDIATE transaction on the writer connection and
// commits it when fn returns nil. now is read once, so every row written by
// one transaction carries the same time.
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx, now time.Time) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx, db.Now()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

// ms converts t to the stored form: Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// nullMS stores the zero time as NULL.
func nullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMS reads a stored time; NULL and 0 read as the zero time.
func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid || v.Int64 == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

// placeholders returns "?, ?, ?" for n parameters.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// rowScanner is satisfied by *sql.Row and *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// Unfinished describes the work not finished yet: deliveries and outbox
// operations that are pending (back-offs included) or running, e.g.
// "3 deliveries, 1 operations"; "" when there is none. Tests and the demo
// wait on it.
func (db *DB) Unfinished(ctx context.Context) (string, error) {
	ds, err := db.Deliveries.Stats(ctx)
	if err != nil {
		return "", err
	}
	qs, err := db.Operations.Stats(ctx)
	if err != nil {
		return "", err
	}
	var parts []string
	if n := ds.Pending + ds.Running; n > 0 {
		parts = append(parts, fmt.Sprintf("%d deliveries", n))
	}
	if n := qs.Pending + qs.Running; n > 0 {
		parts = append(parts, fmt.Sprintf("%d operations", n))
	}
	return strings.Join(parts, ", "), nil
}
