package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
)

// EntityState is record.EntityState.
type EntityState = record.EntityState

// List returns every entity file applied, by path.
func (e *Entities) List(ctx context.Context) ([]EntityState, error) {
	rows, err := e.db.read.QueryContext(ctx, `SELECT path, kind, identifier, parent, service, content_hash,
		last_rendered_commit, updated_at FROM entities ORDER BY path`)
	if err != nil {
		return nil, fmt.Errorf("listing entities: %w", err)
	}
	defer rows.Close()
	var out []EntityState
	for rows.Next() {
		var s EntityState
		var updated sql.NullInt64
		if err := rows.Scan(&s.Path, &s.Kind, &s.Identifier, &s.Parent, &s.Service, &s.ContentHash,
			&s.LastRenderedCommit, &updated); err != nil {
			return nil, fmt.Errorf("listing entities: %w", err)
		}
		s.UpdatedAt = fromMS(updated)
		out = append(out, s)
	}
	return out, rows.Err()
}

// Record writes, in one transaction, what an apply enqueued: the entity
// files now applied (replacing what was known at their paths) and the
// paths of those removed.
func (e *Entities) Record(ctx context.Context, applied []EntityState, removed []string) error {
	err := e.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		for _, s := range applied {
			if s.Path == "" || s.Kind == "" || s.Identifier == "" || s.ContentHash == "" {
				return fmt.Errorf("entity %q: path, kind, identifier and content hash are required", s.Path)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO entities
				(path, kind, identifier, parent, service, content_hash, last_rendered_commit, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (path) DO UPDATE SET kind = excluded.kind, identifier = excluded.identifier,
					parent = excluded.parent, service = excluded.service, content_hash = excluded.content_hash,
					last_rendered_commit = excluded.last_rendered_commit, updated_at = excluded.updated_at`,
				s.Path, s.Kind, s.Identifier, s.Parent, s.Service, s.ContentHash, s.LastRenderedCommit, ms(now)); err != nil {
				return err
			}
		}
		for _, p := range removed {
			if _, err := tx.ExecContext(ctx, `DELETE FROM entities WHERE path = ?`, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording applied entities: %w", err)
	}
	return nil
}
