package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"
)

// LeaseHolders returns the workers that hold a claim on a delivery or an
// operation (running, whether their lease is live or expired), sorted.
func (db *DB) LeaseHolders(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT worker FROM deliveries WHERE state = 'running'
		UNION SELECT worker FROM operations WHERE state = 'running'`)
	if err != nil {
		return nil, fmt.Errorf("listing lease holders: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			return nil, fmt.Errorf("listing lease holders: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing lease holders: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// ExpireLeases ends now the leases that workers hold on deliveries and
// operations, and returns how many claims it ended. The work becomes
// claimable at once, exactly as when a lease runs out: the interrupted
// claim counts as an attempt, and a late call by the old holder gets
// ErrLeaseLost once another worker has claimed the work. It is for workers
// known to be dead, such as those of a process killed before it could
// release its claims.
func (db *DB) ExpireLeases(ctx context.Context, workers []string) (int, error) {
	if len(workers) == 0 {
		return 0, nil
	}
	args := make([]any, 0, len(workers)+1)
	var n int64
	err := db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		n = 0
		args = append(args[:0], ms(now))
		for _, w := range workers {
			args = append(args, w)
		}
		for _, table := range []string{"deliveries", "operations"} {
			res, err := tx.ExecContext(ctx, `UPDATE `+table+` SET lease_until = ?1
				WHERE state = 'running' AND lease_until > ?1 AND worker IN (`+placeholders(len(workers))+`)`, args...)
			if err != nil {
				return err
			}
			rows, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += rows
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("expiring leases: %w", err)
	}
	return int(n), nil
}
