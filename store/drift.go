package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
)

// DriftEvent is record.DriftEvent.
type DriftEvent = record.DriftEvent

// Record appends drift events, and returns their ids in order. An event
// whose repair is done already is recorded repaired.
func (d *Drift) Record(ctx context.Context, events []DriftEvent) ([]int64, error) {
	ids := make([]int64, len(events))
	err := d.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		for i, e := range events {
			at := e.At
			if at.IsZero() {
				at = now
			}
			var op any
			if e.OperationID != 0 {
				op = e.OperationID
			}
			// The repair may be done already: the runner can claim it
			// between its enqueue and this record, and then its Repaired
			// found no event to mark.
			if err := tx.QueryRowContext(ctx, `INSERT INTO drift_events
				(at, commit_sha, entity_kind, identifier, drift, diff, operation_id, repaired_at)
				VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT done_at FROM operations WHERE id = ?7 AND state = 'done'))
				RETURNING id`, ms(at), e.Commit, e.Entity, e.Identifier, e.Drift, e.Diff, op).Scan(&ids[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recording drift: %w", err)
	}
	return ids, nil
}

// Repaired marks the drift events repaired by the operation done now.
func (d *Drift) Repaired(ctx context.Context, operationID int64) error {
	err := d.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `UPDATE drift_events SET repaired_at = ? WHERE operation_id = ? AND repaired_at IS NULL`,
			ms(now), operationID)
		return err
	})
	if err != nil {
		return fmt.Errorf("marking drift repaired: %w", err)
	}
	return nil
}

// List returns up to limit drift events, newest first.
func (d *Drift) List(ctx context.Context, limit int) ([]DriftEvent, error) {
	rows, err := d.db.read.QueryContext(ctx, `SELECT id, at, commit_sha, entity_kind, identifier, drift, diff,
		operation_id, repaired_at FROM drift_events ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing drift: %w", err)
	}
	defer rows.Close()
	var out []DriftEvent
	for rows.Next() {
		var e DriftEvent
		var at, repaired, op sql.NullInt64
		if err := rows.Scan(&e.ID, &at, &e.Commit, &e.Entity, &e.Identifier, &e.Drift, &e.Diff, &op, &repaired); err != nil {
			return nil, fmt.Errorf("listing drift: %w", err)
		}
		e.At, e.RepairedAt, e.OperationID = fromMS(at), fromMS(repaired), op.Int64
		out = append(out, e)
	}
	return out, rows.Err()
}
