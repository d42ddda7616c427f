package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// A process killed while it held claims leaves them running until their
// leases run out; its successor ends them at once with ExpireLeases.
func TestExpireLeasesOfDeadWorkers(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	record(t, db, delivery("d1", "org/a", "apply"), delivery("d2", "org/b", "apply"))
	enqueue(t, db, upsert("p1", "c1", "h1"), upsert("p2", "c1", "h1"))

	deadDeliveries, err := db.Deliveries.Claim(ctx, "dead", time.Hour)
	if err != nil || len(deadDeliveries) != 1 {
		t.Fatalf("claim by dead = %v, %v", ids(deadDeliveries), err)
	}
	if live, err := db.Deliveries.Claim(ctx, "live", time.Hour); err != nil || len(live) != 1 {
		t.Fatalf("claim by live = %v, %v", ids(live), err)
	}
	deadOps := claimOps(t, db, "dead", 1)
	claimOps(t, db, "live", 1)

	holders, err := db.LeaseHolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"dead", "live"}, holders); diff != "" {
		t.Errorf("LeaseHolders (-want +got):\n%s", diff)
	}

	n, err := db.ExpireLeases(ctx, []string{"dead", "unknown"})
	if err != nil || n != 2 {
		t.Fatalf("ExpireLeases = %d, %v; want 2 claims ended", n, err)
	}
	// Without advancing the clock, the dead worker's work is claimable and
	// the live worker's is not.
	got, err := db.Deliveries.Claim(ctx, "next", time.Hour)
	if err != nil || len(got) != 1 || got[0].ID != deadDeliveries[0].ID || got[0].Attempts != 2 {
		t.Fatalf("claim after ExpireLeases = %+v, %v; want %s at attempt 2", got, err, deadDeliveries[0].ID)
	}
	if more, err := db.Deliveries.Claim(ctx, "next", time.Hour); err != nil || more != nil {
		t.Errorf("second claim = %v, %v; the live worker's delivery must stay claimed", ids(more), err)
	}
	ops := claimOps(t, db, "next", 2)
	if len(ops) != 1 || ops[0].ID != deadOps[0].ID || ops[0].Attempts != 2 {
		t.Fatalf("claim of operations after ExpireLeases = %v; want only op %d at attempt 2", opIDs(ops), deadOps[0].ID)
	}
	// The dead worker cannot finish what it no longer holds.
	if err := db.Deliveries.Complete(ctx, deadDeliveries, "late"); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("CompleteDeliveries by the dead worker: %v, want ErrLeaseLost", err)
	}
	if n, err := db.ExpireLeases(ctx, nil); err != nil || n != 0 {
		t.Errorf("ExpireLeases(nil) = %d, %v", n, err)
	}
}
