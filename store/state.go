package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Get returns the value stored under key, or ErrNotFound. Keys name
// small facts such as the last good catalog commit.
func (st *State) Get(ctx context.Context, key string) (string, error) {
	var v string
	err := st.db.read.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("state %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("reading state %q: %w", key, err)
	}
	return v, nil
}

// Set stores value under key, replacing any previous value.
func (st *State) Set(ctx context.Context, key, value string) error {
	err := st.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			key, value, ms(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("saving state %q: %w", key, err)
	}
	return nil
}

// prune deletes the entries whose key starts with prefix and that
// were last set before cutoff, and returns how many it deleted.
func (st *State) prune(ctx context.Context, prefix string, cutoff time.Time) (int64, error) {
	return st.db.prune(ctx, "state "+prefix, `DELETE FROM kv WHERE substr(key, 1, length(?1)) = ?1 AND updated_at < ?2`,
		prefix, ms(cutoff))
}

// pruneCommit is prune for entries keyed prefix + a pipelines
// commit SHA: an entry is kept, however old, while an operation of that
// commit is still open (pending, running or held), since whoever reports
// on the commit still needs it.
func (st *State) pruneCommit(ctx context.Context, prefix string, cutoff time.Time) (int64, error) {
	return st.db.prune(ctx, "state "+prefix, `DELETE FROM kv WHERE substr(key, 1, length(?1)) = ?1 AND updated_at < ?2
		AND NOT EXISTS (SELECT 1 FROM operations o
			WHERE o.commit_sha = substr(kv.key, length(?1) + 1) AND o.state IN ('pending', 'running', 'held'))`,
		prefix, ms(cutoff))
}

// prune runs one DELETE statement in a write transaction and returns how
// many rows it deleted; what names the rows in errors.
func (db *DB) prune(ctx context.Context, what, query string, args ...any) (int64, error) {
	var n int64
	err := db.writeTx(ctx, func(tx *sql.Tx, _ time.Time) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pruning %s: %w", what, err)
	}
	return n, nil
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	ID      int64     // set by the store
	At      time.Time // set by the store when zero
	Actor   string    // who acted: "app", a GitHub login, "admin-api"
	Action  string    // what was done, e.g. "harness.update", "pr.open"
	Subject string    // what it was done to, e.g. a pipeline or "owner/repo#12"
	Detail  string
	Commit  string
}

// Append appends e to the audit log. The log cannot be changed or deleted:
// the schema rejects UPDATE and DELETE on it.
func (a *Audit) Append(ctx context.Context, e AuditEntry) error {
	if e.Actor == "" || e.Action == "" {
		return fmt.Errorf("auditing: actor and action are required")
	}
	err := a.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		at := e.At
		if at.IsZero() {
			at = now
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, subject, detail, commit_sha)
			VALUES (?, ?, ?, ?, ?, ?)`, ms(at), e.Actor, e.Action, e.Subject, e.Detail, e.Commit)
		return err
	})
	if err != nil {
		return fmt.Errorf("auditing %s %s: %w", e.Action, e.Subject, err)
	}
	return nil
}

// AuditFilter selects entries for ListAudit. Zero fields do not filter.
type AuditFilter struct {
	Subject string
	Action  string
	Commit  string
	Limit   int // default 100
}

// auditQuery is the query of List: only the filters given are in its
// WHERE clause, so that SQLite reads the log, which is never pruned,
// through the index of one of them (audit_log_subject, audit_log_action,
// audit_log_commit) rather than scanning it.
func auditQuery(f AuditFilter, limit int) (string, []any) {
	var where []string
	var args []any
	for _, c := range []struct{ column, value string }{{"subject", f.Subject}, {"action", f.Action}, {"commit_sha", f.Commit}} {
		if c.value != "" {
			where = append(where, c.column+" = ?")
			args = append(args, c.value)
		}
	}
	query := `SELECT id, at, actor, action, subject, detail, commit_sha FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return query + ` ORDER BY id DESC LIMIT ?`, append(args, limit)
}

// List returns the audit entries matching f, newest first.
func (a *Audit) List(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	query, args := auditQuery(f, limit)
	rows, err := a.db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("listing audit log: %w", err)
	}
	defer rows.Close()
	var es []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at sql.NullInt64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Subject, &e.Detail, &e.Commit); err != nil {
			return nil, fmt.Errorf("listing audit log: %w", err)
		}
		e.At = fromMS(at)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing audit log: %w", err)
	}
	return es, nil
}
