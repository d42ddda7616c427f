package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// clock is a settable time source for leases and back-off.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// mustOpen opens a store on a new file in a temporary directory.
func mustOpen(tb testing.TB, c *clock, opts ...store.Option) *store.DB {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "state.db"), c, opts...)
}

func mustOpenPath(tb testing.TB, path string, c *clock, opts ...store.Option) *store.DB {
	tb.Helper()
	if c != nil {
		opts = append([]store.Option{store.WithNow(c.Now)}, opts...)
	}
	db, err := store.Open(context.Background(), path, opts...)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestOpenNewFileAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "state.db")

	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open on a new file: %v", err)
	}
	if v, err := db.SchemaVersion(ctx); err != nil || v != store.LatestSchemaVersion() {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, store.LatestSchemaVersion())
	}
	if err := db.State.Set(ctx, "catalog.last_good", "abc123"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Opening again runs the migrations again: they must be no-ops.
	for range 2 {
		db, err = store.Open(ctx, path)
		if err != nil {
			t.Fatalf("reopening: %v", err)
		}
		if v, err := db.SchemaVersion(ctx); err != nil || v != store.LatestSchemaVersion() {
			t.Fatalf("SchemaVersion after reopen = %d, %v; want %d", v, err, store.LatestSchemaVersion())
		}
		got, err := db.State.Get(ctx, "catalog.last_good")
		if err != nil || got != "abc123" {
			t.Fatalf("GetState after reopen = %q, %v; want abc123", got, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenConcurrentlyOnNewFile(t *testing.T) {
	// Two processes starting at once on a fresh file must both come up, and
	// each migration must be applied once.
	path := filepath.Join(t.TempDir(), "state.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			db, err := store.Open(context.Background(), path)
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
		}
	}
	db := mustOpenPath(t, path, nil)
	if v, err := db.SchemaVersion(context.Background()); err != nil || v != store.LatestSchemaVersion() {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, store.LatestSchemaVersion())
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", "state.db?mode=ro"} {
		if db, err := store.Open(context.Background(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
}

func TestPingAndWritable(t *testing.T) {
	db := mustOpen(t, nil)
	ctx := context.Background()
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := db.Writable(ctx); err != nil {
		t.Errorf("Writable: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.Writable(cctx); err == nil {
		t.Errorf("Writable with a cancelled context succeeded")
	}
}

func TestState(t *testing.T) {
	db := mustOpen(t, nil)
	ctx := context.Background()
	if _, err := db.State.Get(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetState(missing) error = %v, want ErrNotFound", err)
	}
	for _, v := range []string{"one", "two"} {
		if err := db.State.Set(ctx, "k", v); err != nil {
			t.Fatal(err)
		}
		got, err := db.State.Get(ctx, "k")
		if err != nil || got != v {
			t.Fatalf("GetState = %q, %v; want %q", got, err, v)
		}
	}
}

// TestPruneState checks that old entries under a prefix go, newer ones and
// other prefixes stay, and that an entry about a commit with open
// operations stays however old it is.
func TestPruneState(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	set := func(keys ...string) {
		t.Helper()
		for _, k := range keys {
			if err := db.State.Set(ctx, k, "v"); err != nil {
				t.Fatal(err)
			}
		}
	}
	set("check:old", "harness-checks:done1", "harness-checks:held1", "harness-checks:pending1", "catalog.last_good")
	enqueue(t, db, store.Operation{Identifier: "a_cd", Kind: store.KindDelete, Commit: "held1", State: store.OpHeld},
		store.Operation{Identifier: "b_cd", Kind: store.KindDelete, Commit: "pending1"},
		store.Operation{Identifier: "c_cd", Kind: store.KindDelete, Commit: "done1"},
		upsert("d_cd", "old", "h1"), upsert("d_cd", "done1", "h2")) // the second supersedes the first
	done := claimOps(t, db, "w", 10)
	for _, o := range done {
		if o.Commit == "done1" {
			if err := db.Operations.Complete(ctx, o, "created"); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.Advance(48 * time.Hour)
	set("check:new", "harness-checks:new1")

	cutoff := c.Now().Add(-24 * time.Hour)
	pruned, err := db.PruneHistory(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	// The finished operations: c_cd's delete, and d_cd's update with the
	// one it superseded (which points at it).
	if diff := cmp.Diff(map[string]int64{"check run ids": 1, "harness check runs": 1, "finished operations": 3}, pruned); diff != "" {
		t.Errorf("PruneHistory (-want +got):\n%s", diff)
	}
	var left []string
	for _, k := range []string{"check:old", "check:new", "harness-checks:done1", "harness-checks:held1",
		"harness-checks:pending1", "harness-checks:new1", "catalog.last_good"} {
		if _, err := db.State.Get(ctx, k); err == nil {
			left = append(left, k)
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	want := []string{"check:new", "harness-checks:held1", "harness-checks:pending1", "harness-checks:new1", "catalog.last_good"}
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("entries left (-want +got):\n%s", diff)
	}
}

func TestPipelineStates(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	if _, err := db.Pipelines.Get(ctx, "payment-service"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetPipelineState of unknown service: %v, want ErrNotFound", err)
	}
	pay := store.PipelineState{
		Service: "payment-service", Pipeline: "payment_service_cd", Path: "pipelines/payment-service-cd.yaml",
		Archetype: "api", Team: "payments", LastRenderedCommit: "c1", ContentHash: "h1",
	}
	if err := db.Pipelines.Upsert(ctx, pay); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	pay.HarnessState = store.HarnessInSync
	pay.LastAppliedCommit = "p1"
	if err := db.Pipelines.Upsert(ctx, pay); err != nil {
		t.Fatal(err)
	}
	audit := store.PipelineState{Service: "audit-listener", Pipeline: "audit_listener_cd", HarnessState: store.HarnessFailed, LastError: "boom"}
	if err := db.Pipelines.Upsert(ctx, audit); err != nil {
		t.Fatal(err)
	}
	pay.UpdatedAt = c.Now()
	audit.UpdatedAt = c.Now()

	got, err := db.Pipelines.Get(ctx, "payment-service")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pay, got); diff != "" {
		t.Errorf("GetPipelineState (-want +got):\n%s", diff)
	}
	list, err := db.Pipelines.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.PipelineState{audit, pay}, list); diff != "" {
		t.Errorf("ListPipelineStates (-want +got):\n%s", diff)
	}
	if err := db.Pipelines.Upsert(ctx, store.PipelineState{Service: "x", Pipeline: "x", HarnessState: "bogus"}); err == nil {
		t.Errorf("UpsertPipelineState with an unknown Harness state succeeded")
	}
}

func TestBotPRs(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	const repo = "company-harness/harness-pipelines"
	if _, err := db.BotPRs.Open(ctx, repo); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("OpenBotPR with none: %v, want ErrNotFound", err)
	}
	old := store.BotPR{Repo: repo, Number: 7, State: store.PROpen, HeadSHA: "a", DesiredHash: "d1", SourceCommits: []string{"cfg1"}}
	if err := db.BotPRs.Upsert(ctx, old); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	old.State = store.PRMerged
	if err := db.BotPRs.Upsert(ctx, old); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	cur := store.BotPR{Repo: repo, Number: 9, State: store.PROpen, HeadSHA: "b", DesiredHash: "d2", SourceCommits: []string{"cfg2", "tpl1"}}
	if err := db.BotPRs.Upsert(ctx, cur); err != nil {
		t.Fatal(err)
	}
	old.UpdatedAt = c.Now().Add(-time.Minute)
	cur.UpdatedAt = c.Now()

	got, err := db.BotPRs.Open(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cur, got); diff != "" {
		t.Errorf("OpenBotPR (-want +got):\n%s", diff)
	}
	list, err := db.BotPRs.List(ctx, repo, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.BotPR{cur, old}, list); diff != "" {
		t.Errorf("ListBotPRs (-want +got):\n%s", diff)
	}
}

func TestAuditLog(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	entries := []store.AuditEntry{
		{Actor: "app", Action: "harness.create", Subject: "payment_service_cd", Commit: "p1"},
		{Actor: "app", Action: "pr.open", Subject: "org/pipelines#3", Detail: "2 changes"},
		{Actor: "app", Action: "harness.update", Subject: "payment_service_cd", Commit: "p2"},
	}
	for _, e := range entries {
		if err := db.Audit.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
	}
	got, err := db.Audit.List(ctx, store.AuditFilter{Subject: "payment_service_cd"})
	if err != nil {
		t.Fatal(err)
	}
	start := newClock().Now()
	want := []store.AuditEntry{
		{ID: 3, At: start.Add(2 * time.Second), Actor: "app", Action: "harness.update", Subject: "payment_service_cd", Commit: "p2"},
		{ID: 1, At: start, Actor: "app", Action: "harness.create", Subject: "payment_service_cd", Commit: "p1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListAudit (-want +got):\n%s", diff)
	}
	all, err := db.Audit.List(ctx, store.AuditFilter{})
	if err != nil || len(all) != 3 {
		t.Errorf("ListAudit(all) = %d entries, %v; want 3", len(all), err)
	}
	for name, tt := range map[string]struct {
		f    store.AuditFilter
		want []int64
	}{
		"by action":             {store.AuditFilter{Action: "harness.create"}, []int64{1}},
		"by commit":             {store.AuditFilter{Commit: "p2"}, []int64{3}},
		"by action and commit":  {store.AuditFilter{Action: "harness.create", Commit: "p2"}, nil},
		"by subject and action": {store.AuditFilter{Subject: "payment_service_cd", Action: "harness.update"}, []int64{3}},
	} {
		got, err := db.Audit.List(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if diff := cmp.Diff(tt.want, ids); diff != "" {
			t.Errorf("ListAudit %s (-want +got):\n%s", name, diff)
		}
	}
}

func TestLastPropose(t *testing.T) {
	db := mustOpen(t, nil)
	ctx := context.Background()
	if _, ok, err := db.State.LastPropose(ctx); ok || err != nil {
		t.Fatalf("LastPropose on a new store = %v, %v; want none", ok, err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, rep := range []store.ProposeReport{
		{At: at, Result: "changed", Text: "bot PR #42 opened", BotPR: 42, ConfigCommit: "c0ffee"},
		{At: at.Add(time.Minute), Result: "unchanged", Text: "no pipeline change"},
	} {
		if err := db.State.SetLastPropose(ctx, rep); err != nil {
			t.Fatal(err)
		}
		got, ok, err := db.State.LastPropose(ctx)
		if err != nil || !ok {
			t.Fatalf("LastPropose = %v, %v", ok, err)
		}
		if diff := cmp.Diff(rep, got); diff != "" {
			t.Errorf("LastPropose (-want +got):\n%s", diff)
		}
	}
}

func TestConnectorState(t *testing.T) {
	db := mustOpen(t, nil)
	ctx := context.Background()
	if got, err := db.State.Connector(ctx); err != nil || got != (store.ConnectorState{}) {
		t.Fatalf("Connector on a new store = %+v, %v; want none", got, err)
	}
	want := store.ConnectorState{Org: "default", Project: "platform", Identifier: "github_platform_next_cross_org", Hash: "ab12", InstallationID: 7}
	if err := db.State.SetConnector(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := db.State.Connector(ctx); err != nil || got != want {
		t.Errorf("Connector = %+v, %v; want %+v", got, err, want)
	}
	if err := db.State.SetHarnessNote(ctx, "c1", "install the App"); err != nil {
		t.Fatal(err)
	}
	if got, err := db.State.HarnessNote(ctx, "c1"); err != nil || got != "install the App" {
		t.Errorf("HarnessNote(c1) = %q, %v", got, err)
	}
	if got, err := db.State.HarnessNote(ctx, "c2"); err != nil || got != "" {
		t.Errorf("HarnessNote(c2) = %q, %v; want none", got, err)
	}
}

func TestDriftEventsAreRecordedAndMarkedRepaired(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := mustOpen(t, c)
	ids := enqueue(t, db, upsert("a_cd", "c1", "h1"))
	events := []store.DriftEvent{
		{Commit: "c1", Entity: "pipeline", Identifier: "a_cd", Drift: "different", Diff: "-timeout: 10m\n+timeout: 99m", OperationID: ids[0]},
		{Commit: "c1", Entity: "service", Identifier: "b", Drift: "missing"},
	}
	if _, err := db.Drift.Record(ctx, events); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	if err := db.Drift.Repaired(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	got, err := db.Drift.List(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Identifier != "a_cd" || !got[1].RepairedAt.Equal(c.Now()) || !got[0].RepairedAt.IsZero() {
		t.Errorf("drift events = %+v; want a_cd repaired now, b not", got)
	}
	if got[1].Diff != events[0].Diff || got[1].Drift != "different" || got[1].OperationID != ids[0] {
		t.Errorf("a_cd's event = %+v", got[1])
	}
}

// The runner may finish a repair before reconcile records the drift it
// repairs: the event is then recorded repaired, at the time the repair
// was done.
func TestDriftRecordedAfterItsRepairIsDoneIsRepaired(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := mustOpen(t, c)
	ids := enqueue(t, db, upsert("a_cd", "c1", "h1"), upsert("b_cd", "c1", "h1"))
	claimed := claimOps(t, db, "w", 1)
	if err := db.Operations.Complete(ctx, claimed[0], "updated"); err != nil {
		t.Fatal(err)
	}
	doneAt := c.Now()
	if err := db.Drift.Repaired(ctx, ids[0]); err != nil { // no event to mark yet
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	if _, err := db.Drift.Record(ctx, []store.DriftEvent{
		{Commit: "c1", Entity: "pipeline", Identifier: "a_cd", Drift: "different", OperationID: ids[0]},
		{Commit: "c1", Entity: "pipeline", Identifier: "b_cd", Drift: "different", OperationID: ids[1]},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Drift.List(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[1].RepairedAt.Equal(doneAt) || !got[0].RepairedAt.IsZero() {
		t.Errorf("drift events = %+v; want a_cd repaired when its operation was done, b_cd (still pending) not", got)
	}
}
