package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// seedHistory writes n finished deliveries and n finished operations in one
// transaction, as a long-running installation accumulates them.
func seedHistory(tb testing.TB, db *DB, n int) {
	tb.Helper()
	err := db.writeTx(context.Background(), func(tx *sql.Tx, now time.Time) error {
		for i := range n {
			if _, err := tx.Exec(`INSERT INTO deliveries (delivery_id, event, repo, work_key, received_at, state, updated_at, done_at)
				VALUES (?, 'push', ?, 'propose', ?, 'done', ?, ?)`,
				fmt.Sprintf("old-%d", i), fmt.Sprintf("org/r%d", i%20), ms(now), ms(now), ms(now)); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO operations (dedupe_key, pipeline, kind, state, created_at, updated_at, done_at)
				VALUES (?, ?, 'delete', 'done', ?, ?, ?)`,
				fmt.Sprintf("old-%d", i), fmt.Sprintf("svc_%d", i%300), ms(now), ms(now), ms(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkClaim measures one claim-and-complete cycle with a live backlog
// of 20 pending items, over a history of finished rows.
func BenchmarkClaim(b *testing.B) {
	ctx := context.Background()
	kinds := []struct {
		name string
		add  func(db *DB, n int) error
		// cycle claims one item and completes it.
		cycle func(db *DB) error
	}{
		{
			"deliveries",
			func(db *DB, n int) error {
				_, err := db.Deliveries.Record(ctx, Delivery{ID: fmt.Sprint(n), Event: "push", Repo: fmt.Sprintf("org/r%d", n%20), Key: fmt.Sprint(n)})
				return err
			},
			func(db *DB) error {
				ds, err := db.Deliveries.Claim(ctx, "w", time.Minute)
				if err != nil || len(ds) != 1 {
					return fmt.Errorf("claim = %d, %v", len(ds), err)
				}
				return db.Deliveries.Complete(ctx, ds, "ok")
			},
		},
		{
			"operations",
			func(db *DB, n int) error {
				_, err := db.Operations.Enqueue(ctx, []Operation{{Identifier: fmt.Sprintf("svc_%d", n%300), Kind: KindDelete, Commit: fmt.Sprint(n)}})
				return err
			},
			func(db *DB) error {
				ops, err := db.Operations.Claim(ctx, "w", 1, time.Minute)
				if err != nil || len(ops) != 1 {
					return fmt.Errorf("claim = %d, %v", len(ops), err)
				}
				return db.Operations.Complete(ctx, ops[0], "ok")
			},
		},
	}
	for _, history := range []int{0, 20000} {
		for _, k := range kinds {
			b.Run(fmt.Sprintf("%s/history=%d", k.name, history), func(b *testing.B) {
				db, err := Open(ctx, filepath.Join(b.TempDir(), "s.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				seedHistory(b, db, history)
				n := 0
				for ; n < 20; n++ {
					if err := k.add(db, n); err != nil {
						b.Fatal(err)
					}
				}
				for b.Loop() {
					if err := k.cycle(db); err != nil {
						b.Fatal(err)
					}
					n++
					if err := k.add(db, n); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
