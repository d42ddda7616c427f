package app_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// A run of the app killed while it held a delivery and an operation leaves
// them claimed. The next run on the same store takes them over at once,
// rather than leaving the repository's lane blocked until the leases run
// out.
func TestRestartTakesOverTheClaimsOfAKilledRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	ctx := context.Background()
	if err := w.App.Stop(); err != nil {
		t.Fatal(err)
	}

	// The killed run: a process of this host that has ended.
	ended := exec.Command(os.Args[0], "-test.run=^$")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	runner := fmt.Sprintf("%s-%d-0badf00d", host, ended.Process.Pid)
	db, err := store.Open(ctx, w.App.Config.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Deliveries.Record(ctx, store.Delivery{ID: "claimed-by-a-killed-run", Event: "push", Repo: w.PipelinesRepo, Key: "propose"}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Deliveries.Claim(ctx, runner+"/d0", time.Hour); err != nil || len(got) != 1 {
		t.Fatalf("claim = %v, %v", got, err)
	}
	if _, err := db.Operations.Enqueue(ctx, []store.Operation{{Identifier: "ghost_cd", Kind: store.KindDelete, Commit: "c1"}}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Operations.Claim(ctx, runner, 1, time.Hour); err != nil || len(got) != 1 {
		t.Fatalf("claim = %v, %v", got, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	if err := w.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	w.settle() // fails if the claims wait for their hour-long leases
	ds, err := w.App.DB.Deliveries.Recent(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.ID == "claimed-by-a-killed-run" && (d.State != store.DeliveryDone || d.Attempts != 2) {
			t.Errorf("delivery is %s after %d attempts, want done after 2", d.State, d.Attempts)
		}
	}
	ops, err := w.App.DB.Operations.List(ctx, store.OperationFilter{Identifier: "ghost_cd"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].State != store.OpDone || ops[0].Attempts != 2 {
		t.Errorf("operations on ghost_cd = %+v, want the delete done at attempt 2", ops)
	}
}
