package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"strings"
	"time"
)

// The values the store keeps are defined in package record; these names
// are the same types.
type (
	OperationKind  = record.OperationKind
	OperationState = record.OperationState
	Operation      = record.Operation
)

// Operation kinds and states, as in package record.
const (
	KindCreate   = record.KindCreate
	KindUpdate   = record.KindUpdate
	KindDelete   = record.KindDelete
	OpPending    = record.OpPending
	OpRunning    = record.OpRunning
	OpDone       = record.OpDone
	OpFailed     = record.OpFailed
	OpSuperseded = record.OpSuperseded
	OpHeld       = record.OpHeld
)

// defaultKey is the stable key of an operation that has none.
func defaultKey(o Operation) string { return record.DefaultKey(o) }

const operationCols = `id, dedupe_key, entity_kind, pipeline, parent, after_entities, service, path, kind,
	commit_sha, config_commit, content_hash, yaml, reason, state, attempts, last_error, result, not_before,
	lease_until, worker, superseded_by, created_at, updated_at, done_at`

func scanOperation(s rowScanner) (Operation, error) {
	var o Operation
	var notBefore, leaseUntil, supersededBy, createdAt, updatedAt, doneAt sql.NullInt64
	var after string
	err := s.Scan(&o.ID, &o.Key, &o.Entity, &o.Identifier, &o.Parent, &after, &o.Service, &o.Path, &o.Kind,
		&o.Commit, &o.ConfigCommit, &o.ContentHash, &o.YAML, &o.Reason, &o.State, &o.Attempts, &o.LastError, &o.Result,
		&notBefore, &leaseUntil, &o.Worker, &supersededBy, &createdAt, &updatedAt, &doneAt)
	if err != nil {
		return Operation{}, err
	}
	if err := json.Unmarshal([]byte(after), &o.After); err != nil {
		return Operation{}, fmt.Errorf("operation %d: reading its dependencies: %w", o.ID, err)
	}
	if len(o.After) == 0 {
		o.After = nil
	}
	o.NotBefore = fromMS(notBefore)
	o.LeaseUntil = fromMS(leaseUntil)
	o.SupersededBy = supersededBy.Int64
	o.CreatedAt = fromMS(createdAt)
	o.UpdatedAt = fromMS(updatedAt)
	o.DoneAt = fromMS(doneAt)
	return o, nil
}

func collectOperations(rows *sql.Rows) ([]Operation, error) {
	defer rows.Close()
	var ops []Operation
	for rows.Next() {
		o, err := scanOperation(rows)
		if err != nil {
			return nil, err
		}
		ops = append(ops, o)
	}
	return ops, rows.Err()
}

// Enqueue writes ops to the outbox in one transaction and returns
// their IDs in the order given.
//
// An operation whose Key (see Operation.Key) is already stored is not added
// again; the existing ID is returned, whatever its state. Each newly added
// operation supersedes the pending and held operations of the same entity
// enqueued before it (they become superseded, pointing at it). A running one
// is left to finish; the new one waits for it (see Claim).
//
// State may be empty (pending) or OpHeld; other fields maintained by the
// store are ignored. Create and update need YAML.
func (ob *Operations) Enqueue(ctx context.Context, ops []Operation) ([]int64, error) {
	for _, o := range ops {
		if err := validateOperation(o); err != nil {
			return nil, fmt.Errorf("enqueueing operations: %w", err)
		}
	}
	ids := make([]int64, len(ops))
	err := ob.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		st, err := prepareEnqueue(ctx, tx)
		if err != nil {
			return err
		}
		defer st.close()
		for i, o := range ops {
			if ids[i], err = st.enqueue(ctx, o, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("enqueueing operations: %w", err)
	}
	return ids, nil
}

// enqueueStmts are the statements of one Enqueue, prepared once per batch:
// parsing them would otherwise be half the cost of an enqueue.
type enqueueStmts struct {
	insert, existing, dep, place, supersede *sql.Stmt
}

func prepareEnqueue(ctx context.Context, tx *sql.Tx) (*enqueueStmts, error) {
	st := &enqueueStmts{}
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&st.insert, `INSERT INTO operations
			(dedupe_key, entity_kind, pipeline, parent, after_entities, service, path, kind, commit_sha,
			 config_commit, content_hash, yaml, reason, state, created_at, updated_at, place)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (dedupe_key) DO NOTHING
			RETURNING id`},
		{&st.existing, `SELECT id FROM operations WHERE dedupe_key = ?`},
		{&st.dep, `INSERT INTO operation_deps (op_id, entity_kind, identifier) VALUES (?, ?, ?)`},
		// The place of the operations the new one will supersede.
		{&st.place, `SELECT min(coalesce(place, id)) FROM operations
			WHERE entity_kind = ? AND pipeline = ? AND parent = ? AND state IN ('pending', 'held')`},
		{&st.supersede, `UPDATE operations
			SET state = 'superseded', superseded_by = ?1, updated_at = ?2, done_at = ?2
			WHERE entity_kind = ?3 AND pipeline = ?4 AND parent = ?5 AND id < ?1 AND state IN ('pending', 'held')`},
	} {
		var err error
		if *p.stmt, err = tx.PrepareContext(ctx, p.query); err != nil {
			st.close()
			return nil, err
		}
	}
	return st, nil
}

func (st *enqueueStmts) close() {
	for _, s := range []*sql.Stmt{st.insert, st.existing, st.dep, st.place, st.supersede} {
		if s != nil {
			s.Close()
		}
	}
}

// enqueue inserts o unless its key is in the store already, records what
// it waits for, and supersedes the older waiting operations of its
// entity, taking the place of the oldest of them in the queue (see
// claimableSQL). It returns o's id, or the id of the operation with its
// key.
func (st *enqueueStmts) enqueue(ctx context.Context, o Operation, now time.Time) (int64, error) {
	key := o.Key
	if key == "" {
		key = defaultKey(o)
	}
	state := o.State
	if state == "" {
		state = OpPending
	}
	entity := o.Entity
	if entity == "" {
		entity = record.EntityPipeline
	}
	after, err := json.Marshal(append([]string{}, o.After...))
	if err != nil {
		return 0, fmt.Errorf("operation %q: %w", key, err)
	}
	var place sql.NullInt64
	if err := st.place.QueryRowContext(ctx, entity, o.Identifier, o.Parent).Scan(&place); err != nil {
		return 0, fmt.Errorf("operation %q: %w", key, err)
	}
	var id int64
	err = st.insert.QueryRowContext(ctx, key, entity, o.Identifier, o.Parent, string(after), o.Service, o.Path, o.Kind,
		o.Commit, o.ConfigCommit, o.ContentHash, o.YAML, o.Reason, state, ms(now), ms(now), place).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		if err := st.existing.QueryRowContext(ctx, key).Scan(&id); err != nil {
			return 0, fmt.Errorf("operation %q: %w", key, err)
		}
		return id, nil
	}
	if err != nil {
		return 0, fmt.Errorf("operation %q: %w", key, err)
	}
	for _, a := range o.After {
		kind, identifier, _ := strings.Cut(a, "/")
		if _, err := st.dep.ExecContext(ctx, id, kind, identifier); err != nil {
			return 0, fmt.Errorf("operation %q: %w", key, err)
		}
	}
	if _, err := st.supersede.ExecContext(ctx, id, ms(now), entity, o.Identifier, o.Parent); err != nil {
		return 0, fmt.Errorf("superseding operations on %s: %w", o.Identifier, err)
	}
	return id, nil
}

func validateOperation(o Operation) error {
	if o.Identifier == "" {
		return fmt.Errorf("operation without an entity identifier")
	}
	for _, a := range o.After {
		if kind, id, ok := strings.Cut(a, "/"); !ok || kind == "" || id == "" {
			return fmt.Errorf("operation on %s: dependency %q is not kind/identifier", o.Identifier, a)
		}
	}
	switch o.Kind {
	case KindCreate, KindUpdate:
		if len(o.YAML) == 0 {
			return fmt.Errorf("%s of %s without YAML", o.Kind, o.Identifier)
		}
	case KindDelete:
	default:
		return fmt.Errorf("operation on %s: unknown kind %q", o.Identifier, o.Kind)
	}
	switch o.State {
	case "", OpPending, OpHeld:
	default:
		return fmt.Errorf("operation on %s: cannot enqueue in state %q", o.Identifier, o.State)
	}
	return nil
}

// Claim leases up to max ready operations to worker, oldest
// first. Ready means pending with NotBefore reached, or running with an
// expired lease (its worker died). An operation is only claimed when no
// other operation of its entity is running under a live lease, none older
// than it is still open (pending, running or held), and no operation of
// an entity it waits for (Operation.After) placed before it in the queue
// is still open (see claimableSQL): the
// operations of one entity (its kind, identifier and parent: a trigger of
// another pipeline is another entity) never run concurrently and run in the order
// enqueued, and an entity is changed after those it depends on.
// Each claim increments Attempts; the returned values identify the claim
// and are passed back to CompleteOperation and its siblings.
//
// It returns nil when nothing is ready.
func (ops *Operations) Claim(ctx context.Context, worker string, max int, lease time.Duration) ([]Operation, error) {
	if worker == "" || lease <= 0 || max <= 0 {
		return nil, fmt.Errorf("claiming operations: worker, a positive lease and a positive max are required")
	}
	var claimed []Operation
	err := ops.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		// Expired leases first (a worker died holding them), then what is
		// pending, each in id order: each query walks operations_ready and
		// stops at max claimable rows.
		ids, err := claimable(ctx, tx, `o.state = 'running' AND o.lease_until <= ?1`, ms(now), max)
		if err != nil {
			return err
		}
		more, err := claimable(ctx, tx, `o.state = 'pending' AND o.not_before <= ?1`, ms(now), max-len(ids))
		if err != nil {
			return err
		}
		ids = append(ids, more...)
		for _, id := range ids {
			o, err := scanOperation(tx.QueryRowContext(ctx, `UPDATE operations
				SET state = 'running', worker = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
				WHERE id = ? RETURNING `+operationCols,
				worker, ms(now.Add(lease)), ms(now), id))
			if err != nil {
				return err
			}
			claimed = append(claimed, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claiming operations: %w", err)
	}
	return claimed, nil
}

// claimableSQL selects, in id order, the operations that ready matches
// (a condition on o) and that nothing holds back: no operation of the same
// entity runs under a live lease or is older and still open, and no
// operation of an entity it waits for is still open with an earlier place
// in the queue. An operation's place is its id, or the place of the
// operations it superseded (column place, NULL for its own id): a trigger
// queued after its pipeline's create still waits for the update that
// superseded that create, although the update was queued after it.
// Places are distinct and totally ordered, so no two operations can wait
// for each other.
const claimableSQL = `SELECT o.id FROM operations o
	WHERE o.state IN ('pending', 'running') AND %s
	  AND NOT EXISTS (SELECT 1 FROM operations p
	                  WHERE p.entity_kind = o.entity_kind AND p.pipeline = o.pipeline AND p.parent = o.parent
	                    AND p.state = 'running' AND p.lease_until > ?1)
	  AND NOT EXISTS (SELECT 1 FROM operations p
	                  WHERE p.entity_kind = o.entity_kind AND p.pipeline = o.pipeline AND p.parent = o.parent
	                    AND p.state IN ('pending', 'running', 'held') AND p.id < o.id)
	  AND NOT EXISTS (SELECT 1 FROM operation_deps d, operations p
	                  WHERE d.op_id = o.id AND p.entity_kind = d.entity_kind AND p.pipeline = d.identifier
	                    AND p.state IN ('pending', 'running', 'held')
	                    AND coalesce(p.place, p.id) < coalesce(o.place, o.id))
	ORDER BY o.id LIMIT ?2`

// claimable returns up to max ids of operations ready to claim (see
// claimableSQL).
func claimable(ctx context.Context, tx *sql.Tx, ready string, now int64, max int) ([]int64, error) {
	if max <= 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(claimableSQL, ready), now, max)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// finish applies update (a SET clause) to op if op's claim still
// holds it (same worker and attempt, still running); otherwise it changes
// nothing and returns ErrLeaseLost.
func (o *Operations) finish(ctx context.Context, op Operation, update func(tx *sql.Tx, now time.Time) (string, []any, error)) error {
	err := o.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		set, args, err := update(tx, now)
		if err != nil {
			return err
		}
		args = append(args, op.ID, op.Worker, op.Attempts)
		res, err := tx.ExecContext(ctx, `UPDATE operations SET `+set+`
			WHERE id = ? AND worker = ? AND attempts = ? AND state = 'running'`, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrLeaseLost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("operation %d: %w", op.ID, err)
	}
	return nil
}

// Complete marks the claimed op done with result (e.g. "created",
// "updated", "unchanged", "deleted", "absent"). If the claim was lost it
// changes nothing and returns ErrLeaseLost: the operation ran twice, which
// the idempotent executor makes harmless, and the state never goes back.
func (o *Operations) Complete(ctx context.Context, op Operation, result string) error {
	err := o.finish(ctx, op, func(_ *sql.Tx, now time.Time) (string, []any, error) {
		return `state = 'done', result = ?, last_error = '', lease_until = NULL, updated_at = ?, done_at = ?`,
			[]any{result, ms(now), ms(now)}, nil
	})
	if err != nil {
		return fmt.Errorf("completing %w", err)
	}
	return nil
}

// Retry records a failed attempt of the claimed op: it becomes
// pending again from notBefore on, keeping errMsg as LastError. If a newer
// operation on the same pipeline is waiting, op is marked superseded by it
// instead, since the newer one will converge the pipeline anyway.
func (o *Operations) Retry(ctx context.Context, op Operation, errMsg string, notBefore time.Time) error {
	err := o.finish(ctx, op, func(tx *sql.Tx, now time.Time) (string, []any, error) {
		var newer sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT min(id) FROM operations
			WHERE pipeline = ? AND id > ? AND state IN ('pending', 'held')`, op.Identifier, op.ID).Scan(&newer)
		if err != nil {
			return "", nil, err
		}
		if newer.Valid {
			return `state = 'superseded', superseded_by = ?, last_error = ?, lease_until = NULL, updated_at = ?, done_at = ?`,
				[]any{newer.Int64, errMsg, ms(now), ms(now)}, nil
		}
		return `state = 'pending', last_error = ?, not_before = ?, lease_until = NULL, updated_at = ?`,
			[]any{errMsg, ms(notBefore), ms(now)}, nil
	})
	if err != nil {
		return fmt.Errorf("retrying %w", err)
	}
	return nil
}

// Fail marks the claimed op failed for good (a permanent error, or
// out of attempts). It stays visible in ListOperations and QueueStats.
func (o *Operations) Fail(ctx context.Context, op Operation, errMsg string) error {
	err := o.finish(ctx, op, func(_ *sql.Tx, now time.Time) (string, []any, error) {
		return `state = 'failed', last_error = ?, lease_until = NULL, updated_at = ?, done_at = ?`,
			[]any{errMsg, ms(now), ms(now)}, nil
	})
	if err != nil {
		return fmt.Errorf("failing %w", err)
	}
	return nil
}

// Release gives the claimed op back untried (graceful shutdown): it
// becomes pending at once and the attempt is not counted.
func (o *Operations) Release(ctx context.Context, op Operation) error {
	err := o.finish(ctx, op, func(_ *sql.Tx, now time.Time) (string, []any, error) {
		return `state = 'pending', attempts = attempts - 1, worker = '', lease_until = NULL, updated_at = ?`,
			[]any{ms(now)}, nil
	})
	if err != nil {
		return fmt.Errorf("releasing %w", err)
	}
	return nil
}

// Extend renews the lease on the claimed op to now+lease while a
// long call runs. ErrLeaseLost means another worker has it: stop the call.
func (o *Operations) Extend(ctx context.Context, op Operation, lease time.Duration) error {
	err := o.finish(ctx, op, func(_ *sql.Tx, now time.Time) (string, []any, error) {
		return `lease_until = ?, updated_at = ?`, []any{ms(now.Add(lease)), ms(now)}, nil
	})
	if err != nil {
		return fmt.Errorf("extending lease of %w", err)
	}
	return nil
}

// HoldDeletes puts the pending deletes of commit on hold (they wait for
// ReleaseHeld) and returns how many it held. Enqueueing them with State
// OpHeld is preferable, since a runner may claim a pending delete before
// this call.
func (o *Operations) HoldDeletes(ctx context.Context, commit string) (int, error) {
	n, err := o.setStateByCommit(ctx, commit, `state = 'held'`, `kind = 'delete' AND state = 'pending'`)
	if err != nil {
		return 0, fmt.Errorf("holding deletes of %s: %w", commit, err)
	}
	return n, nil
}

// ReleaseHeld makes the held operations of commit pending (ready at once)
// and returns how many it released.
func (o *Operations) ReleaseHeld(ctx context.Context, commit string) (int, error) {
	n, err := o.setStateByCommit(ctx, commit, `state = 'pending', not_before = 0`, `state = 'held'`)
	if err != nil {
		return 0, fmt.Errorf("releasing held operations of %s: %w", commit, err)
	}
	return n, nil
}

func (o *Operations) setStateByCommit(ctx context.Context, commit, set, where string) (int, error) {
	var n int64
	err := o.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		res, err := tx.ExecContext(ctx, `UPDATE operations SET `+set+`, updated_at = ? WHERE commit_sha = ? AND `+where, ms(now), commit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// Get returns the operation with the given ID, or ErrNotFound.
func (ops *Operations) Get(ctx context.Context, id int64) (Operation, error) {
	o, err := scanOperation(ops.db.read.QueryRowContext(ctx, `SELECT `+operationCols+` FROM operations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Operation{}, fmt.Errorf("operation %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Operation{}, fmt.Errorf("reading operation %d: %w", id, err)
	}
	return o, nil
}

// OperationFilter selects operations for ListOperations. Zero fields do not
// filter.
type OperationFilter struct {
	States []OperationState
	// Entity and Identifier select one entity's operations (an empty
	// Entity with an Identifier means a pipeline); Entity alone those of
	// every entity of its kind.
	Entity     string
	Identifier string
	// Service selects the operations of one catalog service's entities.
	Service string
	Commit  string
	// Latest leaves out every operation that a newer operation of the
	// same entity follows: what is left is where each entity stands.
	Latest bool
	Limit  int // default 100
}

// List returns the operations matching f, newest first.
func (o *Operations) List(ctx context.Context, f OperationFilter) ([]Operation, error) {
	var where []string
	var args []any
	if len(f.States) > 0 {
		where = append(where, `state IN (`+placeholders(len(f.States))+`)`)
		for _, s := range f.States {
			args = append(args, s)
		}
	}
	switch {
	case f.Identifier != "":
		entity := f.Entity
		if entity == "" {
			entity = record.EntityPipeline
		}
		where = append(where, `entity_kind = ? AND pipeline = ?`)
		args = append(args, entity, f.Identifier)
	case f.Entity != "":
		where = append(where, `entity_kind = ?`)
		args = append(args, f.Entity)
	}
	if f.Service != "" {
		where = append(where, `service = ?`)
		args = append(args, f.Service)
	}
	if f.Commit != "" {
		where = append(where, `commit_sha = ?`)
		args = append(args, f.Commit)
	}
	if f.Latest {
		where = append(where, `NOT EXISTS (SELECT 1 FROM operations n
			WHERE n.entity_kind = operations.entity_kind AND n.pipeline = operations.pipeline AND n.id > operations.id)`)
	}
	q := `SELECT ` + operationCols + ` FROM operations`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := o.db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing operations: %w", err)
	}
	ops, err := collectOperations(rows)
	if err != nil {
		return nil, fmt.Errorf("listing operations: %w", err)
	}
	return ops, nil
}

// QueueStats counts the operations of the outbox by state.
type QueueStats struct {
	Pending, Running, Failed, Done, Held, Superseded int
	// OldestPending is when the oldest pending operation was enqueued; zero
	// when none is pending.
	OldestPending time.Time
	// NextReady is the earliest time at which a pending operation's back-off
	// ends or a running one's lease expires; zero when there is none.
	NextReady time.Time
}

// Stats counts the operations of the outbox by state.
func (o *Operations) Stats(ctx context.Context) (QueueStats, error) {
	var s QueueStats
	counts, err := countByState(ctx, o.db.read, "operations")
	if err != nil {
		return QueueStats{}, fmt.Errorf("counting operations: %w", err)
	}
	s.Pending, s.Running, s.Failed = counts["pending"], counts["running"], counts["failed"]
	s.Done, s.Held, s.Superseded = counts["done"], counts["held"], counts["superseded"]
	var oldest sql.NullInt64
	if err := o.db.read.QueryRowContext(ctx, `SELECT min(created_at) FROM operations WHERE state = 'pending'`).Scan(&oldest); err != nil {
		return QueueStats{}, fmt.Errorf("counting operations: %w", err)
	}
	s.OldestPending = fromMS(oldest)
	if s.NextReady, err = o.NextReady(ctx); err != nil {
		return QueueStats{}, err
	}
	return s, nil
}

// countByState counts the rows of table (deliveries or operations) by
// state, using the state index rather than reading the rows.
func countByState(ctx context.Context, q *sql.DB, table string) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT state, count(*) FROM `+table+` GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, err
		}
		counts[state] = n
	}
	return counts, rows.Err()
}

// NextReady returns the earliest time at which a pending operation's
// back-off ends or a running operation's lease expires; zero when no
// operation is pending or running. A time in the past means an operation is
// ready but may be waiting behind a running one of its pipeline.
func (o *Operations) NextReady(ctx context.Context) (time.Time, error) {
	var pending, running sql.NullInt64
	err := o.db.read.QueryRowContext(ctx, `SELECT
			(SELECT min(max(not_before, created_at)) FROM operations WHERE state = 'pending'),
			(SELECT min(lease_until) FROM operations WHERE state = 'running')`).Scan(&pending, &running)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading next ready operation: %w", err)
	}
	next := fromMS(pending)
	if r := fromMS(running); !r.IsZero() && (next.IsZero() || r.Before(next)) {
		next = r
	}
	return next, nil
}
