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

// blobTouchAfter is how old a blob's used_at gets before a read refreshes
// it, so that reads write at most once a day per blob.
const blobTouchAfter = 24 * time.Hour

// Get returns the cached contents of the given git blob SHAs; SHAs not
// in the cache are absent from the map. It marks the blobs it returns as
// used (at most once a day each), so PruneBlobs keeps them.
func (b *Blobs) Get(ctx context.Context, shas []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(shas))
	stale := ms(b.db.Now().Add(-blobTouchAfter))
	var touch []string
	for start := 0; start < len(shas); start += maxBlobsPerQuery {
		chunk := shas[start:min(start+maxBlobsPerQuery, len(shas))]
		args := make([]any, len(chunk))
		for i, s := range chunk {
			args[i] = s
		}
		rows, err := b.db.read.QueryContext(ctx, `SELECT sha, content, used_at FROM blobs WHERE sha IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("reading blobs: %w", err)
		}
		for rows.Next() {
			var sha string
			var content []byte
			var usedAt int64
			if err := rows.Scan(&sha, &content, &usedAt); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading blobs: %w", err)
			}
			out[sha] = content
			if usedAt < stale {
				touch = append(touch, sha)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("reading blobs: %w", err)
		}
	}
	if err := b.touch(ctx, touch); err != nil {
		return nil, err
	}
	return out, nil
}

// touch sets the used_at of the given blobs to now.
func (b *Blobs) touch(ctx context.Context, shas []string) error {
	if len(shas) == 0 {
		return nil
	}
	err := b.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		for start := 0; start < len(shas); start += maxBlobsPerQuery {
			chunk := shas[start:min(start+maxBlobsPerQuery, len(shas))]
			args := make([]any, 0, len(chunk)+1)
			args = append(args, ms(now))
			for _, s := range chunk {
				args = append(args, s)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE blobs SET used_at = ? WHERE sha IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("marking blobs used: %w", err)
	}
	return nil
}

// Prune deletes the cached blobs last used before cutoff and returns
// how many it deleted. A pruned blob is downloaded again if it is needed.
func (b *Blobs) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	return b.db.prune(ctx, "blobs", `DELETE FROM blobs WHERE used_at < ?`, ms(cutoff))
}

// Put caches blob contents by SHA and marks them used. The caller
// vouches that each SHA is the git blob SHA of its content; the content of
// a SHA already cached is left as is.
func (b *Blobs) Put(ctx context.Context, blobs map[string][]byte) error {
	if len(blobs) == 0 {
		return nil
	}
	shas := make([]string, 0, len(blobs))
	for s := range blobs {
		shas = append(shas, s)
	}
	sort.Strings(shas)
	err := b.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO blobs (sha, content, used_at) VALUES (?, ?, ?) ON CONFLICT (sha) DO UPDATE SET used_at = excluded.used_at`)
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
