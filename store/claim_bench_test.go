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

// bootstrapOps are the operations of a first apply of n services, as the
// planner orders and links them: the settings' 3 environments and 4
// infrastructure definitions, then per service its Service, its pipeline
// (after its Service and the environments and infrastructure definitions)
// and its trigger (after its pipeline). Each carries a few kilobytes of
// YAML, as rendered entities do.
func bootstrapOps(n int) []Operation {
	yaml := make([]byte, 4<<10)
	for i := range yaml {
		yaml[i] = 'a' + byte(i%26)
	}
	var ops, envInfra []Operation
	var envKeys []string
	for _, e := range []struct{ kind, id, parent string }{
		{"environment", "int", ""}, {"environment", "pre", ""}, {"environment", "prod", ""},
		{"infrastructure", "int_euw1", "int"}, {"infrastructure", "pre_euw1", "pre"},
		{"infrastructure", "prod_euw1", "prod"}, {"infrastructure", "prod_euw2", "prod"},
	} {
		op := Operation{Entity: e.kind, Identifier: e.id, Parent: e.parent, Kind: KindCreate, Commit: "c1", ContentHash: e.id, YAML: yaml}
		if e.parent != "" {
			op.After = []string{"environment/" + e.parent}
		}
		envInfra = append(envInfra, op)
		envKeys = append(envKeys, e.kind+"/"+e.id)
	}
	ops = append(ops, envInfra...)
	for i := range n {
		svc := fmt.Sprintf("svc_%04d", i)
		ops = append(ops,
			Operation{Entity: "service", Identifier: svc, Kind: KindCreate, Commit: "c1", ContentHash: svc, YAML: yaml})
	}
	for i := range n {
		svc := fmt.Sprintf("svc_%04d", i)
		ops = append(ops, Operation{Entity: "pipeline", Identifier: svc + "_cd", Kind: KindCreate, Commit: "c1", ContentHash: svc,
			YAML: yaml, After: append([]string{"service/" + svc}, envKeys...)})
	}
	for i := range n {
		svc := fmt.Sprintf("svc_%04d", i)
		ops = append(ops, Operation{Entity: "trigger", Identifier: svc + "_cd_new_image", Parent: svc + "_cd", Kind: KindCreate,
			Commit: "c1", ContentHash: svc, YAML: yaml, After: []string{"pipeline/" + svc + "_cd"}})
	}
	return ops
}

// BenchmarkDrainBootstrap measures how long the outbox takes to claim and
// complete, eight at a time as the workers do, every operation of a first
// apply of 1,500 services (4,507 operations with their dependencies).
func BenchmarkDrainBootstrap(b *testing.B) {
	ctx := context.Background()
	ops := bootstrapOps(1500)
	for b.Loop() {
		b.StopTimer()
		db, err := Open(ctx, filepath.Join(b.TempDir(), "s.db"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.Operations.Enqueue(ctx, ops); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		done := 0
		for done < len(ops) {
			claimed, err := db.Operations.Claim(ctx, "w", 8, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			if len(claimed) == 0 {
				b.Fatalf("nothing claimable after %d of %d operations", done, len(ops))
			}
			for _, op := range claimed {
				if err := db.Operations.Complete(ctx, op, "ok"); err != nil {
					b.Fatal(err)
				}
			}
			done += len(claimed)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}
