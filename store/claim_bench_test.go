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
	for _, history := range []int{0, 20000} {
		b.Run(fmt.Sprintf("deliveries/history=%d", history), func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(ctx, filepath.Join(b.TempDir(), "s.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			seedHistory(b, db, history)
			n := 0
			add := func() {
				n++
				if _, err := db.RecordDelivery(ctx, Delivery{ID: fmt.Sprint(n), Event: "push", Repo: fmt.Sprintf("org/r%d", n%20), Key: fmt.Sprint(n)}); err != nil {
					b.Fatal(err)
				}
			}
			for range 20 {
				add()
			}
			for b.Loop() {
				ds, err := db.ClaimDeliveries(ctx, "w", time.Minute)
				if err != nil || len(ds) != 1 {
					b.Fatalf("claim = %d, %v", len(ds), err)
				}
				if err := db.CompleteDeliveries(ctx, ds, "ok"); err != nil {
					b.Fatal(err)
				}
				add()
			}
		})
		b.Run(fmt.Sprintf("operations/history=%d", history), func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(ctx, filepath.Join(b.TempDir(), "s.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			seedHistory(b, db, history)
			n := 0
			add := func() {
				n++
				if _, err := db.EnqueueOperations(ctx, []Operation{{Pipeline: fmt.Sprintf("svc_%d", n%300), Kind: KindDelete, Commit: fmt.Sprint(n)}}); err != nil {
					b.Fatal(err)
				}
			}
			for range 20 {
				add()
			}
			for b.Loop() {
				ops, err := db.ClaimOperations(ctx, "w", 1, time.Minute)
				if err != nil || len(ops) != 1 {
					b.Fatalf("claim = %d, %v", len(ops), err)
				}
				if err := db.CompleteOperation(ctx, ops[0], "ok"); err != nil {
					b.Fatal(err)
				}
				add()
			}
		})
	}
}
