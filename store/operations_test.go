package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

func upsert(pipeline, commit, content string) store.Operation {
	return store.Operation{
		Identifier: pipeline, Service: pipeline, Kind: store.KindUpdate, Commit: commit,
		ContentHash: content, YAML: []byte("pipeline: {identifier: " + pipeline + ", v: " + content + "}"),
	}
}

func del(pipeline, commit string) store.Operation {
	return store.Operation{Identifier: pipeline, Service: pipeline, Kind: store.KindDelete, Commit: commit}
}

func enqueue(tb testing.TB, db *store.DB, ops ...store.Operation) []int64 {
	tb.Helper()
	ids, err := db.Operations.Enqueue(context.Background(), ops)
	if err != nil {
		tb.Fatalf("EnqueueOperations: %v", err)
	}
	return ids
}

func claimOps(tb testing.TB, db *store.DB, worker string, max int) []store.Operation {
	tb.Helper()
	ops, err := db.Operations.Claim(context.Background(), worker, max, time.Minute)
	if err != nil {
		tb.Fatalf("ClaimOperations: %v", err)
	}
	return ops
}

func opIDs(ops []store.Operation) []int64 {
	var out []int64
	for _, o := range ops {
		out = append(out, o.ID)
	}
	return out
}

func getOp(tb testing.TB, db *store.DB, id int64) store.Operation {
	tb.Helper()
	o, err := db.Operations.Get(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

func TestEnqueueOperationsIsIdempotent(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	batch := []store.Operation{upsert("a", "p1", "h1"), upsert("b", "p1", "h1"), del("c", "p1")}
	first := enqueue(t, db, batch...)
	// The apply of p1 is replayed after a crash.
	c.Advance(time.Minute)
	second := enqueue(t, db, batch...)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("IDs of the replayed batch (-first +second):\n%s", diff)
	}
	stats, err := db.Operations.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.QueueStats{Pending: 3, OldestPending: c.Now().Add(-time.Minute), NextReady: c.Now().Add(-time.Minute)}
	if diff := cmp.Diff(want, stats); diff != "" {
		t.Errorf("QueueStats (-want +got):\n%s", diff)
	}

	// Replaying an operation that has since run adds nothing either.
	for _, o := range claimOps(t, db, "w", 10) {
		if err := db.Operations.Complete(ctx, o, "updated"); err != nil {
			t.Fatal(err)
		}
	}
	if again := enqueue(t, db, batch...); !cmp.Equal(first, again) {
		t.Errorf("IDs after completion = %v, want %v", again, first)
	}
	if got := claimOps(t, db, "w", 10); got != nil {
		t.Errorf("claim after replaying done operations = %v, want nothing", opIDs(got))
	}

	// A caller-chosen key enqueues the same change again (drift repair).
	repair := upsert("a", "p1", "h1")
	repair.Key = "reconcile:1:a"
	if ids := enqueue(t, db, repair, repair); ids[0] == first[0] || ids[0] != ids[1] {
		t.Errorf("drift repair IDs = %v, want one new ID", ids)
	}
}

func TestEnqueueOperationsValidates(t *testing.T) {
	db := mustOpen(t, nil)
	bad := map[string]store.Operation{
		"no pipeline":  {Kind: store.KindDelete},
		"unknown kind": {Identifier: "a", Kind: "rename"},
		"no yaml":      {Identifier: "a", Kind: store.KindCreate},
		"done state":   {Identifier: "a", Kind: store.KindDelete, State: store.OpDone},
	}
	for name, op := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := db.Operations.Enqueue(context.Background(), []store.Operation{op}); err == nil {
				t.Errorf("EnqueueOperations(%+v) succeeded", op)
			}
		})
	}
}

func TestNewerOperationSupersedesPending(t *testing.T) {
	db := mustOpen(t, newClock())
	old := enqueue(t, db, upsert("a", "p1", "h1"), upsert("b", "p1", "h1"))
	newer := enqueue(t, db, del("a", "p2"))

	a := getOp(t, db, old[0])
	if a.State != store.OpSuperseded || a.SupersededBy != newer[0] {
		t.Errorf("old op on a: %s by %d, want superseded by %d", a.State, a.SupersededBy, newer[0])
	}
	if b := getOp(t, db, old[1]); b.State != store.OpPending {
		t.Errorf("op on b: %s, want pending (other pipeline)", b.State)
	}
	if diff := cmp.Diff([]int64{old[1], newer[0]}, opIDs(claimOps(t, db, "w", 10))); diff != "" {
		t.Errorf("claimed (-want +got):\n%s", diff)
	}
}

func TestNewerOperationWaitsForRunningOne(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	first := enqueue(t, db, upsert("a", "p1", "h1"))
	running := claimOps(t, db, "w1", 10)
	second := enqueue(t, db, upsert("a", "p2", "h2"))

	if got := getOp(t, db, first[0]); got.State != store.OpRunning {
		t.Fatalf("running op became %s, want it left running", got.State)
	}
	if got := claimOps(t, db, "w2", 10); got != nil {
		t.Fatalf("claim while a is running = %v, want nothing", opIDs(got))
	}
	if err := db.Operations.Complete(ctx, running[0], "updated"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(second, opIDs(claimOps(t, db, "w2", 10))); diff != "" {
		t.Errorf("claim after the running op finished (-want +got):\n%s", diff)
	}
}

func TestRetryWithNewerWaitingSupersedes(t *testing.T) {
	db := mustOpen(t, newClock())
	ctx := context.Background()
	enqueue(t, db, upsert("a", "p1", "h1"))
	running := claimOps(t, db, "w", 10)
	second := enqueue(t, db, upsert("a", "p2", "h2"))
	if err := db.Operations.Retry(ctx, running[0], "harness: 503", time.Time{}); err != nil {
		t.Fatal(err)
	}
	got := getOp(t, db, running[0].ID)
	if got.State != store.OpSuperseded || got.SupersededBy != second[0] || got.LastError != "harness: 503" {
		t.Errorf("retried op = %s by %d (%q), want superseded by %d", got.State, got.SupersededBy, got.LastError, second[0])
	}
}

func TestClaimOperationsOnePerPipelineInOrder(t *testing.T) {
	db := mustOpen(t, newClock())
	ctx := context.Background()
	// Three pipelines; a has a running op and a waiting one.
	enqueue(t, db, upsert("a", "p1", "h1"))
	aRunning := claimOps(t, db, "w", 1)
	ids := enqueue(t, db, upsert("a", "p2", "h2"), upsert("b", "p2", "h2"), upsert("c", "p2", "h2"))

	got := claimOps(t, db, "w", 10)
	if diff := cmp.Diff(ids[1:], opIDs(got)); diff != "" {
		t.Errorf("claimed (-want +got):\n%s", diff)
	}
	if err := db.Operations.Complete(ctx, aRunning[0], "ok"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids[:1], opIDs(claimOps(t, db, "w", 10))); diff != "" {
		t.Errorf("claimed after a finished (-want +got):\n%s", diff)
	}
}

func TestOperationLeaseExpiry(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	enqueue(t, db, upsert("a", "p1", "h1"))
	dead := claimOps(t, db, "dead", 1)

	c.Advance(59 * time.Second)
	if got := claimOps(t, db, "live", 1); got != nil {
		t.Fatalf("claim before the lease expired = %v", opIDs(got))
	}
	c.Advance(time.Second)
	live := claimOps(t, db, "live", 1)
	if len(live) != 1 || live[0].Attempts != 2 || live[0].Worker != "live" {
		t.Fatalf("claim after the lease expired = %+v, want the op at attempt 2", live)
	}
	// The old holder finishes late: its result must not count.
	for name, late := range map[string]func() error{
		"complete": func() error { return db.Operations.Complete(ctx, dead[0], "late") },
		"retry":    func() error { return db.Operations.Retry(ctx, dead[0], "late", c.Now()) },
		"fail":     func() error { return db.Operations.Fail(ctx, dead[0], "late") },
		"extend":   func() error { return db.Operations.Extend(ctx, dead[0], time.Minute) },
		"release":  func() error { return db.Operations.Release(ctx, dead[0]) },
	} {
		if err := late(); !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("%s by the old holder: %v, want ErrLeaseLost", name, err)
		}
	}
	if got := getOp(t, db, live[0].ID); got.State != store.OpRunning || got.Worker != "live" {
		t.Fatalf("op after the old holder's calls: %s by %q, want running by live", got.State, got.Worker)
	}
	if err := db.Operations.Complete(ctx, live[0], "updated"); err != nil {
		t.Fatal(err)
	}
	// And once done, nothing moves it back.
	if err := db.Operations.Fail(ctx, live[0], "again"); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("FailOperation after completion: %v, want ErrLeaseLost", err)
	}
	got := getOp(t, db, live[0].ID)
	if got.State != store.OpDone || got.Result != "updated" || !got.DoneAt.Equal(c.Now()) {
		t.Errorf("op = %s %q done at %v, want done %q at %v", got.State, got.Result, got.DoneAt, "updated", c.Now())
	}
}

func TestRetryFailAndRelease(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	ids := enqueue(t, db, upsert("a", "p1", "h1"), upsert("b", "p1", "h1"), upsert("c", "p1", "h1"))
	ops := claimOps(t, db, "w", 3)

	if err := db.Operations.Retry(ctx, ops[0], "harness: 429", c.Now().Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := db.Operations.Fail(ctx, ops[1], "harness: 400 INVALID_REQUEST"); err != nil {
		t.Fatal(err)
	}
	if err := db.Operations.Release(ctx, ops[2]); err != nil {
		t.Fatal(err)
	}
	// c was released: claimable at once, attempt not counted. a waits 30s.
	got := claimOps(t, db, "w", 3)
	if len(got) != 1 || got[0].ID != ids[2] || got[0].Attempts != 1 {
		t.Fatalf("claim = %+v, want op %d at attempt 1", got, ids[2])
	}
	stats, err := db.Operations.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.QueueStats{Pending: 1, Running: 1, Failed: 1, OldestPending: c.Now(), NextReady: c.Now().Add(30 * time.Second)}
	if diff := cmp.Diff(want, stats); diff != "" {
		t.Errorf("QueueStats (-want +got):\n%s", diff)
	}
	c.Advance(30 * time.Second)
	again := claimOps(t, db, "w", 3)
	if len(again) != 1 || again[0].ID != ids[0] || again[0].Attempts != 2 || again[0].LastError != "harness: 429" {
		t.Fatalf("claim after back-off = %+v", again)
	}
	failed, err := db.Operations.List(ctx, store.OperationFilter{States: []store.OperationState{store.OpFailed}})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].ID != ids[1] || failed[0].LastError != "harness: 400 INVALID_REQUEST" {
		t.Errorf("failed operations = %+v", failed)
	}
}

func TestHeldDeletes(t *testing.T) {
	db := mustOpen(t, newClock())
	ctx := context.Background()
	held := del("a", "p2")
	held.State = store.OpHeld
	ids := enqueue(t, db, held, del("b", "p2"), upsert("c", "p2", "h2"))

	if n, err := db.Operations.HoldDeletes(ctx, "p2"); err != nil || n != 1 {
		t.Fatalf("HoldDeletes = %d, %v; want 1 (the pending delete of b)", n, err)
	}
	if diff := cmp.Diff(ids[2:], opIDs(claimOps(t, db, "w", 10))); diff != "" {
		t.Errorf("claim with deletes held (-want +got):\n%s", diff)
	}
	if n, err := db.Operations.ReleaseHeld(ctx, "p2"); err != nil || n != 2 {
		t.Fatalf("ReleaseHeld = %d, %v; want 2", n, err)
	}
	if diff := cmp.Diff(ids[:2], opIDs(claimOps(t, db, "w", 10))); diff != "" {
		t.Errorf("claim after release (-want +got):\n%s", diff)
	}

	// A held delete is superseded when the service comes back.
	again := del("d", "p3")
	again.State = store.OpHeld
	h := enqueue(t, db, again)
	back := enqueue(t, db, upsert("d", "p4", "h4"))
	if got := getOp(t, db, h[0]); got.State != store.OpSuperseded || got.SupersededBy != back[0] {
		t.Errorf("held delete = %s by %d, want superseded by %d", got.State, got.SupersededBy, back[0])
	}
}

func TestListOperationsFilters(t *testing.T) {
	db := mustOpen(t, newClock())
	ctx := context.Background()
	ids := enqueue(t, db, upsert("a", "p1", "h1"), upsert("b", "p1", "h1"), upsert("a", "p2", "h2"))
	tests := []struct {
		name string
		f    store.OperationFilter
		want []int64
	}{
		{"all, newest first", store.OperationFilter{}, []int64{ids[2], ids[1], ids[0]}},
		{"pipeline", store.OperationFilter{Identifier: "a"}, []int64{ids[2], ids[0]}},
		{"commit", store.OperationFilter{Commit: "p1"}, []int64{ids[1], ids[0]}},
		{"state", store.OperationFilter{States: []store.OperationState{store.OpSuperseded}}, []int64{ids[0]}},
		{"limit", store.OperationFilter{Limit: 1}, []int64{ids[2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Operations.List(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, opIDs(got)); diff != "" {
				t.Errorf("ListOperations(%+v) (-want +got):\n%s", tt.f, diff)
			}
		})
	}
	if _, err := db.Operations.Get(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOperation(999): %v, want ErrNotFound", err)
	}
}

// TestListLatestOperations checks that Latest keeps each entity's newest
// operation only, and that entities of other kinds with the same
// identifier are entities of their own.
func TestListLatestOperations(t *testing.T) {
	db := mustOpen(t, newClock())
	ctx := context.Background()
	ids := enqueue(t, db, upsert("a", "p1", "h1"), upsert("b", "p1", "h1"), entityOp("service", "a", "p1"), upsert("a", "p2", "h2"))
	for name, tt := range map[string]struct {
		f    store.OperationFilter
		want []int64
	}{
		"every entity":            {store.OperationFilter{Latest: true}, []int64{ids[3], ids[2], ids[1]}},
		"with a state":            {store.OperationFilter{Latest: true, States: []store.OperationState{store.OpSuperseded}}, nil},
		"of one pipeline":         {store.OperationFilter{Latest: true, Identifier: "a"}, []int64{ids[3]}},
		"of one entity of a kind": {store.OperationFilter{Latest: true, Entity: "service", Identifier: "a"}, []int64{ids[2]}},
	} {
		got, err := db.Operations.List(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, opIDs(got)); diff != "" {
			t.Errorf("%s: ListOperations(%+v) (-want +got):\n%s", name, tt.f, diff)
		}
	}
}

func BenchmarkEnqueue(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			db := mustOpen(b, nil)
			ops := make([]store.Operation, batch)
			n := 0
			b.ResetTimer()
			for b.Loop() {
				for i := range ops {
					n++
					ops[i] = upsert(fmt.Sprintf("svc_%d", n%500), fmt.Sprintf("c%d", n), "h")
				}
				if _, err := db.Operations.Enqueue(context.Background(), ops); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/op-enqueued")
		})
	}
}

// entityOp is an upsert of an entity of kind that waits for after.
func entityOp(kind, id, commit string, after ...string) store.Operation {
	o := upsert(id, commit, "h-"+id)
	o.Entity, o.After = kind, after
	return o
}

// TestOperationsWaitForTheEntitiesTheyDependOn checks the dependency
// order of entities: a pipeline is saved only once its Service's earlier
// operation finished, and deletes in reverse; operations on entities of
// other kinds with the same identifier do not wait for each other.
func TestOperationsWaitForTheEntitiesTheyDependOn(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := mustOpen(t, c)
	ids := enqueue(t, db,
		entityOp("environment", "prod", "c1"),
		entityOp("infrastructure", "prod_euw1_k8s", "c1", "environment/prod"),
		entityOp("service", "pay", "c1"),
		entityOp("pipeline", "pay", "c1", "service/pay", "environment/prod", "infrastructure/prod_euw1_k8s"),
		entityOp("trigger", "pay_new_image", "c1", "pipeline/pay"),
	)
	step := func(want ...int64) []store.Operation {
		t.Helper()
		got := claimOps(t, db, "w", 10)
		if diff := cmp.Diff(want, opIDs(got)); diff != "" {
			t.Fatalf("claimed (-want +got):\n%s", diff)
		}
		return got
	}
	// The environment and the Service (the same identifier as the pipeline,
	// another kind) go first; the infrastructure waits for its environment.
	first := step(ids[0], ids[2])
	if err := db.Operations.Complete(ctx, first[0], "created"); err != nil {
		t.Fatal(err)
	}
	step(ids[1])
	// The pipeline still waits for its Service, then for the
	// infrastructure.
	if err := db.Operations.Fail(ctx, first[1], "permanent"); err != nil {
		t.Fatal(err)
	}
	step() // a failed Service no longer blocks, but the infrastructure is running
	infra := getOp(t, db, ids[1])
	if err := db.Operations.Complete(ctx, infra, "created"); err != nil {
		t.Fatal(err)
	}
	pipeline := step(ids[3])
	if err := db.Operations.Complete(ctx, pipeline[0], "created"); err != nil {
		t.Fatal(err)
	}
	step(ids[4])
}

func TestOperationsOfOtherKindsWithTheSameIdentifierDoNotSupersede(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ids := enqueue(t, db, entityOp("service", "pay", "c1"))
	more := enqueue(t, db, entityOp("pipeline", "pay", "c2"), entityOp("service", "pay", "c2"))
	if got := getOp(t, db, ids[0]); got.State != store.OpSuperseded || got.SupersededBy != more[1] {
		t.Errorf("the older Service operation is %s (by %d), want superseded by the newer Service one %d", got.State, got.SupersededBy, more[1])
	}
	if got := getOp(t, db, more[0]); got.State != store.OpPending {
		t.Errorf("the pipeline operation is %s, want pending", got.State)
	}
}

// Harness scopes a trigger's identifier by its pipeline: the same
// identifier under another pipeline is another trigger, whose operations
// neither supersede nor wait for each other.
func TestTriggersOfOtherPipelinesAreOtherEntities(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	a, b := entityOp("trigger", "on_image", "c1"), entityOp("trigger", "on_image", "c1")
	a.Parent, b.Parent = "pay_cd", "cart_cd"
	b.ContentHash = "other"
	ids := enqueue(t, db, a, b)
	for _, id := range ids {
		if got := getOp(t, db, id); got.State != store.OpPending {
			t.Errorf("operation %d on trigger %s/%s is %s, want pending", id, got.Parent, got.Identifier, got.State)
		}
	}
	claimed, err := db.Operations.Claim(context.Background(), "w", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 2 {
		t.Errorf("claimed %d operations, want both triggers at once", len(claimed))
	}
}

func TestEnqueueRefusesAMalformedDependency(t *testing.T) {
	db := mustOpen(t, newClock())
	if _, err := db.Operations.Enqueue(context.Background(), []store.Operation{entityOp("pipeline", "p", "c", "service")}); err == nil {
		t.Error("a dependency that is not kind/identifier was enqueued")
	}
}

// A trigger queued after its pipeline's create must still wait when a
// newer change of the pipeline supersedes that create before it runs:
// the newer operation takes the create's place in the queue. Run first,
// the trigger would be saved before its pipeline exists, and Harness
// keeps such a trigger disabled.
func TestAnOperationWaitsForTheChangeThatSupersededWhatItWaitedFor(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, newClock())
	first := enqueue(t, db,
		entityOp("pipeline", "pay", "c1"),
		entityOp("trigger", "pay_new_image", "c1", "pipeline/pay"),
	)
	// The next commit changes the pipeline only: the trigger's operation
	// stays, the pipeline's create is superseded, twice.
	second := enqueue(t, db, entityOp("pipeline", "pay", "c2"))
	third := enqueue(t, db, entityOp("pipeline", "pay", "c3"))
	if got := getOp(t, db, first[0]).State; got != store.OpSuperseded {
		t.Fatalf("the first pipeline operation is %s, want superseded", got)
	}
	if got := getOp(t, db, second[0]).State; got != store.OpSuperseded {
		t.Fatalf("the second pipeline operation is %s, want superseded", got)
	}
	claimed := claimOps(t, db, "w", 10)
	if diff := cmp.Diff([]int64{third[0]}, opIDs(claimed)); diff != "" {
		t.Fatalf("claimed (-want +got):\n%s", diff)
	}
	if err := db.Operations.Complete(ctx, claimed[0], "created"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{first[1]}, opIDs(claimOps(t, db, "w", 10))); diff != "" {
		t.Fatalf("claimed after the pipeline (-want +got):\n%s", diff)
	}
}
