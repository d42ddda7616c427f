package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/outbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// clock is a settable time source shared by the store and the runner.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func mustOpen(tb testing.TB, c *clock) *store.DB {
	tb.Helper()
	var opts []store.Option
	if c != nil {
		opts = append(opts, store.WithNow(c.Now))
	}
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "state.db"), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// transientError is a failure worth retrying, optionally with a Retry-After.
type transientError struct{ retryAfter time.Duration }

func (e transientError) Error() string {
	return fmt.Sprintf("harness: 503 (retry after %s)", e.retryAfter)
}

// permanentError is a failure that retrying cannot fix.
type permanentError struct{ msg string }

func (e permanentError) Error() string { return e.msg }

func classify(err error) (bool, time.Duration) {
	var t transientError
	if errors.As(err, &t) {
		return true, t.retryAfter
	}
	return false, 0
}

// fakeHarness is a stateful stand-in executor. It applies operations to its
// pipelines map, fails where fail says (before or after the write), and
// records violations of the ordering contract: two operations of one
// pipeline at once, or an operation older than one already applied.
type fakeHarness struct {
	mu         sync.Mutex
	pipelines  map[string]string
	running    map[string]bool
	lastID     map[string]int64
	calls      map[int64]int
	violations []string
	// fail, when set, returns the error for this call and whether it
	// happens after the write took effect.
	fail func(op store.Operation) (err error, afterEffect bool)
	// block, when set, is called while the operation is running.
	block func(ctx context.Context, op store.Operation) error
}

func newFakeHarness() *fakeHarness {
	return &fakeHarness{
		pipelines: map[string]string{}, running: map[string]bool{},
		lastID: map[string]int64{}, calls: map[int64]int{},
	}
}

func (f *fakeHarness) Execute(ctx context.Context, op store.Operation) (string, error) {
	f.mu.Lock()
	if f.running[op.Identifier] {
		f.violations = append(f.violations, fmt.Sprintf("op %d started while %s was running", op.ID, op.Identifier))
	}
	if op.ID < f.lastID[op.Identifier] {
		f.violations = append(f.violations, fmt.Sprintf("op %d on %s ran after op %d", op.ID, op.Identifier, f.lastID[op.Identifier]))
	}
	f.running[op.Identifier] = true
	f.lastID[op.Identifier] = op.ID
	f.calls[op.ID]++
	var err error
	var after bool
	if f.fail != nil {
		err, after = f.fail(op)
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running[op.Identifier] = false
		f.mu.Unlock()
	}()

	if f.block != nil {
		if err := f.block(ctx, op); err != nil {
			return "", err
		}
	}
	if err != nil && !after {
		return "", err
	}
	f.mu.Lock()
	result := "deleted"
	switch op.Kind {
	case store.KindDelete:
		if _, ok := f.pipelines[op.Identifier]; !ok {
			result = "absent"
		}
		delete(f.pipelines, op.Identifier)
	default:
		switch old, ok := f.pipelines[op.Identifier]; {
		case !ok:
			result = "created"
		case old == string(op.YAML):
			result = "unchanged"
		default:
			result = "updated"
		}
		f.pipelines[op.Identifier] = string(op.YAML)
	}
	f.mu.Unlock()
	return result, err
}

func (f *fakeHarness) state() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.pipelines {
		out[k] = v
	}
	return out
}

func (f *fakeHarness) checkViolations(tb testing.TB) {
	tb.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.violations {
		tb.Error(v)
	}
}

func upsert(pipeline, commit, content string) store.Operation {
	return store.Operation{Identifier: pipeline, Kind: store.KindUpdate, Commit: commit, ContentHash: content,
		YAML: []byte(pipeline + "@" + content)}
}

func del(pipeline, commit string) store.Operation {
	return store.Operation{Identifier: pipeline, Kind: store.KindDelete, Commit: commit}
}

func enqueue(tb testing.TB, db *store.DB, ops ...store.Operation) []int64 {
	tb.Helper()
	ids, err := db.Operations.Enqueue(context.Background(), ops)
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

// drainAll drains, moving the clock to the next back-off end in between,
// until no operation is pending or running.
func drainAll(tb testing.TB, db *store.DB, r *outbox.Runner, c *clock) {
	tb.Helper()
	ctx := context.Background()
	for range 10000 {
		if err := r.Drain(ctx); err != nil {
			tb.Fatal(err)
		}
		s, err := db.Operations.Stats(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if s.Pending == 0 && s.Running == 0 {
			return
		}
		c.Set(s.NextReady)
	}
	tb.Fatalf("queue did not drain")
}

func TestBackoffDelayIsBounded(t *testing.T) {
	b := outbox.Backoff{Base: time.Second, Max: 30 * time.Second}
	tests := []struct {
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{1, 0, 0},
		{1, 0.5, 500 * time.Millisecond},
		{2, 0.5, time.Second},
		{3, 0.5, 2 * time.Second},
		{5, 0.5, 8 * time.Second},
		{6, 0.5, 15 * time.Second}, // 32s capped at 30s
		{64, 0.5, 15 * time.Second},
		{1 << 30, 0.5, 15 * time.Second},
		{0, 0.5, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("attempt=%d,rnd=%v", tt.attempt, tt.rnd), func(t *testing.T) {
			if got := b.Delay(tt.attempt, tt.rnd); got != tt.want {
				t.Errorf("Delay(%d, %v) = %v, want %v", tt.attempt, tt.rnd, got, tt.want)
			}
		})
	}
	for attempt := 1; attempt < 200; attempt++ {
		if got := b.Delay(attempt, 0.999999); got < 0 || got > b.Max {
			t.Errorf("Delay(%d) = %v, outside [0, %v]", attempt, got, b.Max)
		}
	}
}

// TestFlakyHarnessConverges runs 200 operations against an executor that
// fails 30% of its calls (a third of them after the write took effect, a
// third with a Retry-After): every operation ends done, Harness ends in the
// desired state, and every wait stays within the back-off bounds.
func TestFlakyHarnessConverges(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	h := newFakeHarness()
	var rmu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	h.fail = func(store.Operation) (error, bool) {
		rmu.Lock()
		defer rmu.Unlock()
		if rng.Float64() >= 0.3 {
			return nil, false
		}
		switch rng.IntN(3) {
		case 0:
			return transientError{}, true // 5xx after the write took effect
		case 1:
			return transientError{retryAfter: time.Duration(1+rng.IntN(90)) * time.Second}, false
		default:
			return transientError{}, false
		}
	}
	backoff := outbox.Backoff{Base: time.Second, Max: 30 * time.Second, MaxAttempts: 50}
	var (
		mu      sync.Mutex
		results = map[outbox.Outcome]int{}
		badWait []string
	)
	r := outbox.New(db, h, outbox.Options{
		Worker: "w", Concurrency: 4, Lease: time.Minute, Backoff: backoff, Classify: classify,
		OnResult: func(_ context.Context, res outbox.Result) {
			mu.Lock()
			defer mu.Unlock()
			results[res.Outcome]++
			if res.Outcome != outbox.OutcomeRetry {
				return
			}
			wait := res.NotBefore.Sub(c.Now())
			var want time.Duration
			var te transientError
			if errors.As(res.Err, &te) && te.retryAfter > 0 {
				want = min(te.retryAfter, backoff.Max)
			}
			if (want > 0 && wait != want) || wait < 0 || wait > backoff.Max {
				badWait = append(badWait, fmt.Sprintf("op %d waits %v after %v", res.Op.ID, wait, res.Err))
			}
		},
	})

	// Four applies of 50 pipelines each: create all, update all, delete
	// ten and update the rest, re-create the ten and update the rest.
	desired := map[string]string{}
	for round := range 4 {
		var ops []store.Operation
		commit := fmt.Sprintf("p%d", round)
		for i := range 50 {
			name := fmt.Sprintf("svc_%02d", i)
			if round == 2 && i < 10 {
				ops = append(ops, del(name, commit))
				delete(desired, name)
				continue
			}
			op := upsert(name, commit, commit)
			ops = append(ops, op)
			desired[name] = string(op.YAML)
		}
		enqueue(t, db, ops...)
		drainAll(t, db, r, c)
	}

	stats, err := db.Operations.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Done != 200 || stats.Failed+stats.Pending+stats.Running+stats.Superseded != 0 {
		t.Errorf("QueueStats = %+v, want 200 done and nothing else", stats)
	}
	if diff := cmp.Diff(desired, h.state()); diff != "" {
		t.Errorf("Harness state (-want +got):\n%s", diff)
	}
	if results[outbox.OutcomeRetry] < 40 {
		t.Errorf("only %d retries; the fault injection did not work", results[outbox.OutcomeRetry])
	}
	for _, w := range badWait {
		t.Error(w)
	}
	h.checkViolations(t)
}

func TestPermanentErrorFailsAfterOneAttempt(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	h := newFakeHarness()
	h.fail = func(op store.Operation) (error, bool) {
		if op.Identifier == "bad" {
			return permanentError{"harness: 400 INVALID_REQUEST: bad yaml"}, false
		}
		return nil, false
	}
	r := outbox.New(db, h, outbox.Options{Worker: "w", Classify: classify})
	ids := enqueue(t, db, upsert("bad", "p1", "h1"), upsert("good", "p1", "h1"))
	drainAll(t, db, r, c)

	bad, err := db.Operations.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if bad.State != store.OpFailed || bad.Attempts != 1 || bad.LastError != "harness: 400 INVALID_REQUEST: bad yaml" {
		t.Errorf("bad op = %s after %d attempts (%q), want failed after 1", bad.State, bad.Attempts, bad.LastError)
	}
	if h.calls[ids[0]] != 1 {
		t.Errorf("executor called %d times for a permanent error, want 1", h.calls[ids[0]])
	}
	good, err := db.Operations.Get(context.Background(), ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if good.State != store.OpDone || good.Result != "created" {
		t.Errorf("good op = %s %q, want done created", good.State, good.Result)
	}
}

func TestRetryableErrorFailsAfterMaxAttempts(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	h := newFakeHarness()
	h.fail = func(store.Operation) (error, bool) { return transientError{}, false }
	r := outbox.New(db, h, outbox.Options{
		Worker: "w", Classify: classify, Backoff: outbox.Backoff{Base: time.Second, Max: time.Minute, MaxAttempts: 3},
	})
	ids := enqueue(t, db, upsert("a", "p1", "h1"))
	drainAll(t, db, r, c)

	op, err := db.Operations.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if op.State != store.OpFailed || op.Attempts != 3 || !strings.HasPrefix(op.LastError, "giving up after 3 attempts") {
		t.Errorf("op = %s after %d attempts (%q), want failed after 3", op.State, op.Attempts, op.LastError)
	}
	if h.calls[ids[0]] != 3 {
		t.Errorf("executor called %d times, want 3", h.calls[ids[0]])
	}
}

func TestInterruptedTooOftenFailsWithoutRunning(t *testing.T) {
	// An operation whose every attempt died with the process (it may be
	// what kills it) is failed instead of being tried again.
	c := newClock()
	db := mustOpen(t, c)
	ids := enqueue(t, db, upsert("a", "p1", "h1"))
	for range 2 {
		if _, err := db.Operations.Claim(context.Background(), "dying", 1, time.Minute); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Minute)
	}
	h := newFakeHarness()
	r := outbox.New(db, h, outbox.Options{Worker: "w", Backoff: outbox.Backoff{MaxAttempts: 2}})
	if err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	op, err := db.Operations.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if op.State != store.OpFailed || h.calls[ids[0]] != 0 {
		t.Errorf("op = %s (%q) after %d calls, want failed without a call", op.State, op.LastError, h.calls[ids[0]])
	}
}

// TestRunKeepsPipelineOrderUnderConcurrency enqueues from several
// goroutines while a Runner works with four slots and a flaky executor: no
// two operations of a pipeline may overlap, none may run after a newer one,
// and each pipeline ends with the content of its last operation.
func TestRunKeepsPipelineOrderUnderConcurrency(t *testing.T) {
	db := mustOpen(t, nil)
	h := newFakeHarness()
	var rmu sync.Mutex
	rng := rand.New(rand.NewPCG(3, 4))
	h.fail = func(store.Operation) (error, bool) {
		rmu.Lock()
		defer rmu.Unlock()
		if rng.Float64() < 0.2 {
			return transientError{}, rng.IntN(2) == 0
		}
		return nil, false
	}
	h.block = func(ctx context.Context, _ store.Operation) error {
		rmu.Lock()
		d := time.Duration(5+rng.IntN(20)) * time.Millisecond
		rmu.Unlock()
		time.Sleep(d) // long enough for newer operations to arrive meanwhile
		return nil
	}
	r := outbox.New(db, h, outbox.Options{
		Worker: "w", Concurrency: 4, PollInterval: 20 * time.Millisecond, Classify: classify,
		Backoff: outbox.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond, MaxAttempts: 100},
	})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error)
	go func() { runDone <- r.Run(ctx) }()

	// Fewer pipelines than slots: a newer operation always finds a free slot
	// while the older one of its pipeline runs.
	const enqueuers, perEnqueuer, pipelines = 4, 75, 3
	var mu sync.Mutex
	last := map[string]int64{} // pipeline -> highest op ID enqueued
	content := map[int64]string{}
	var wg sync.WaitGroup
	for e := range enqueuers {
		wg.Go(func() {
			for i := range perEnqueuer {
				op := upsert(fmt.Sprintf("svc_%d", (e+i)%pipelines), fmt.Sprintf("e%d-%d", e, i), "c")
				if i%10 == 9 {
					op = del(op.Identifier, op.Commit)
				}
				ids, err := db.Operations.Enqueue(ctx, []store.Operation{op})
				if err != nil {
					t.Error(err)
					return
				}
				r.Notify()
				mu.Lock()
				if ids[0] > last[op.Identifier] {
					last[op.Identifier] = ids[0]
				}
				content[ids[0]] = string(op.YAML)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	waitIdle(t, db)
	cancel()
	if err := <-runDone; err != nil {
		t.Fatalf("Run: %v", err)
	}

	want := map[string]string{}
	for p, id := range last {
		if c := content[id]; c != "" {
			want[p] = c
		}
	}
	if diff := cmp.Diff(want, h.state()); diff != "" {
		t.Errorf("Harness state (-want +got):\n%s", diff)
	}
	stats, err := db.Operations.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Done+stats.Superseded != enqueuers*perEnqueuer || stats.Failed != 0 {
		t.Errorf("QueueStats = %+v, want all %d done or superseded", stats, enqueuers*perEnqueuer)
	}
	h.checkViolations(t)
}

// waitIdle waits until no operation is pending or running.
func waitIdle(tb testing.TB, db *store.DB) {
	tb.Helper()
	for {
		s, err := db.Operations.Stats(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		if s.Pending == 0 && s.Running == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLostLeaseDoesNotRegressState(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	ids := enqueue(t, db, upsert("a", "p1", "h1"))
	h := newFakeHarness()
	var taken []store.Operation
	h.block = func(ctx context.Context, op store.Operation) error {
		// While this call hangs, the lease runs out and another worker
		// takes the operation over.
		c.Advance(2 * time.Minute)
		var err error
		taken, err = db.Operations.Claim(ctx, "other", 1, time.Minute)
		return err
	}
	var got []outbox.Result
	r := outbox.New(db, h, outbox.Options{
		Worker: "w", Lease: time.Minute,
		OnResult: func(_ context.Context, res outbox.Result) { got = append(got, res) },
	})
	if err := r.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(taken) != 1 {
		t.Fatalf("the other worker claimed %d operations, want 1", len(taken))
	}
	if len(got) != 1 || got[0].Outcome != outbox.OutcomeLeaseLost || !errors.Is(got[0].Err, store.ErrLeaseLost) {
		t.Fatalf("results = %+v, want one lease_lost", got)
	}
	op, err := db.Operations.Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if op.State != store.OpRunning || op.Worker != "other" {
		t.Errorf("op = %s by %q, want still running by the new holder", op.State, op.Worker)
	}
	if err := db.Operations.Complete(ctx, taken[0], "unchanged"); err != nil {
		t.Errorf("the new holder cannot complete: %v", err)
	}
}

func TestLeaseIsRenewedDuringLongCalls(t *testing.T) {
	db := mustOpen(t, nil)
	ctx := context.Background()
	ids := enqueue(t, db, upsert("a", "p1", "h1"))
	// Renewed every 500ms, so a renewal may be up to a second late on a
	// loaded machine before the lease runs out.
	const lease = 1500 * time.Millisecond
	h := newFakeHarness()
	var stolen []store.Operation
	h.block = func(ctx context.Context, op store.Operation) error {
		// Run for two leases; another worker keeps trying to claim.
		end := time.Now().Add(2 * lease)
		for time.Now().Before(end) {
			ops, err := db.Operations.Claim(ctx, "thief", 1, lease)
			if err != nil {
				return err
			}
			stolen = append(stolen, ops...)
			time.Sleep(lease / 10)
		}
		return nil
	}
	r := outbox.New(db, h, outbox.Options{Worker: "w", Lease: lease})
	if err := r.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(stolen) != 0 {
		t.Errorf("another worker claimed the operation during the call: %+v", stolen)
	}
	op, err := db.Operations.Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if op.State != store.OpDone || op.Attempts != 1 {
		t.Errorf("op = %s after %d attempts, want done after 1", op.State, op.Attempts)
	}
}

func TestRunShutdown(t *testing.T) {
	tests := []struct {
		name      string
		grace     time.Duration
		finish    bool // the call ends on its own once shutdown starts
		wantState store.OperationState
		wantTries int
	}{
		{"call finishes within grace", time.Minute, true, store.OpDone, 1},
		{"call outlives grace", 50 * time.Millisecond, false, store.OpPending, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustOpen(t, nil)
			ids := enqueue(t, db, upsert("a", "p1", "h1"))
			started := make(chan struct{})
			shutdown := make(chan struct{})
			h := newFakeHarness()
			h.block = func(ctx context.Context, _ store.Operation) error {
				close(started)
				<-shutdown
				if tt.finish {
					return nil
				}
				<-ctx.Done()
				return ctx.Err()
			}
			r := outbox.New(db, h, outbox.Options{Worker: "w", ShutdownGrace: tt.grace})
			ctx, cancel := context.WithCancel(context.Background())
			runDone := make(chan error)
			go func() { runDone <- r.Run(ctx) }()
			<-started
			cancel()
			close(shutdown)
			if err := <-runDone; err != nil {
				t.Fatalf("Run: %v", err)
			}
			op, err := db.Operations.Get(context.Background(), ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if op.State != tt.wantState || op.Attempts != tt.wantTries {
				t.Errorf("op = %s after %d attempts, want %s after %d", op.State, op.Attempts, tt.wantState, tt.wantTries)
			}
		})
	}
}

func TestNotifyWakesRun(t *testing.T) {
	db := mustOpen(t, nil)
	h := newFakeHarness()
	done := make(chan int64, 1)
	r := outbox.New(db, h, outbox.Options{
		Worker: "w", PollInterval: time.Hour,
		OnResult: func(_ context.Context, res outbox.Result) { done <- res.Op.ID },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error)
	go func() { runDone <- r.Run(ctx) }()
	// Run has found the queue empty and sleeps for an hour; only Notify can
	// wake it before then.
	ids := enqueue(t, db, upsert("a", "p1", "h1"))
	r.Notify()
	if got := <-done; got != ids[0] {
		t.Errorf("ran op %d, want %d", got, ids[0])
	}
	cancel()
	<-runDone
}
