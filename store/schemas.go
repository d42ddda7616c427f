package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PutSchema keeps the JSON Schema Harness served for entityType (for
// example "Pipelines" or "Triggers"), fetched at fetchedAt, in place of
// the one kept before.
func (s *Schemas) PutSchema(ctx context.Context, entityType string, schema []byte, fetchedAt time.Time) error {
	if entityType == "" {
		return errors.New("saving a Harness schema: no entity type")
	}
	if len(schema) == 0 {
		return fmt.Errorf("saving the Harness %s schema: it is empty", entityType)
	}
	err := s.db.writeTx(ctx, func(tx *sql.Tx, _ time.Time) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO harness_schemas (entity_type, schema, fetched_at) VALUES (?, ?, ?)
			ON CONFLICT (entity_type) DO UPDATE SET schema = excluded.schema, fetched_at = excluded.fetched_at`,
			entityType, schema, ms(fetchedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("saving the Harness %s schema: %w", entityType, err)
	}
	return nil
}

// Schema returns the JSON Schema kept for entityType and when it was
// fetched, or ErrNotFound when none is kept.
func (s *Schemas) Schema(ctx context.Context, entityType string) ([]byte, time.Time, error) {
	var schema []byte
	var fetchedAt sql.NullInt64
	err := s.db.read.QueryRowContext(ctx, `SELECT schema, fetched_at FROM harness_schemas WHERE entity_type = ?`, entityType).
		Scan(&schema, &fetchedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, fmt.Errorf("harness %s schema: %w", entityType, ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading the Harness %s schema: %w", entityType, err)
	}
	return schema, fromMS(fetchedAt), nil
}
