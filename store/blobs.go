package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"
)

// maxBlobsPerQuery keeps IN lists below SQLite's variable limit.
const maxBlobsPerQuery = 500

// GetBlobs returns the cached contents of the given git blob SHAs; SHAs not
// in the cache are absent from the map.
func (db *DB) GetBlobs(ctx context.Context, shas []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(shas))
	for start := 0; start < len(shas); start += maxBlobsPerQuery {
		chunk := shas[start:min(start+maxBlobsPerQuery, len(shas))]
		args := make([]any, len(chunk))
		for i, s := range chunk {
			args[i] = s
		}
		rows, err := db.read.QueryContext(ctx, `SELECT sha, content FROM blobs WHERE sha IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("reading blobs: %w", err)
		}
		for rows.Next() {
			var sha string
			var content []byte
			if err := rows.Scan(&sha, &content); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading blobs: %w", err)
			}
			out[sha] = content
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("reading blobs: %w", err)
		}
	}
	return out, nil
}

// PutBlobs caches blob contents by SHA. The caller vouches that each SHA is
// the git blob SHA of its content; a SHA already cached is left as is.
func (db *DB) PutBlobs(ctx context.Context, blobs map[string][]byte) error {
	if len(blobs) == 0 {
		return nil
	}
	shas := make([]string, 0, len(blobs))
	for s := range blobs {
		shas = append(shas, s)
	}
	sort.Strings(shas)
	err := db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO blobs (sha, content, added_at) VALUES (?, ?, ?) ON CONFLICT (sha) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, s := range shas {
			if _, err := stmt.ExecContext(ctx, s, blobs[s], ms(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("caching blobs: %w", err)
	}
	return nil
}
