package outbox_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/outbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// The crash test runs this test binary again as a child process that
// applies a history of commits and runs a Runner against a Harness stand-in
// served by the parent. The parent kills it with SIGKILL at random moments.
const (
	envCrashChild = "OUTBOX_CRASH_CHILD"
	envCrashDB    = "OUTBOX_CRASH_DB"
	envCrashURL   = "OUTBOX_CRASH_URL"

	crashOrg       = "default"
	crashProject   = "crash"
	crashCommits   = 100
	crashPipelines = 25
	crashSeed      = 42
	// crashPace is how long the child waits between applying two commits,
	// so that kills land while operations are being enqueued and run.
	crashPace = 30 * time.Millisecond
	// lastAppliedKey is where the child records the last commit it enqueued,
	// as the app records the last applied pipelines commit.
	lastAppliedKey = "crash.last_applied"
)

func TestMain(m *testing.M) {
	if os.Getenv(envCrashChild) == "1" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// crashCommit is one commit of the pipelines repository and the operations
// its apply enqueues.
type crashCommit struct {
	sha string
	ops []store.Operation
}

// crashHistory returns the same history of commits for a given seed, and
// the pipelines Harness must hold once all are applied. Every version of a
// pipeline's YAML is unique, so an effect can be traced to the commit it
// came from.
func crashHistory() ([]crashCommit, map[string][]byte) {
	rng := rand.New(rand.NewPCG(crashSeed, crashSeed))
	current := map[string][]byte{}
	var commits []crashCommit
	for i := range crashCommits {
		c := crashCommit{sha: fmt.Sprintf("c%03d", i)}
		for _, p := range rng.Perm(crashPipelines)[:1+rng.IntN(4)] {
			id := fmt.Sprintf("svc_%02d", p)
			_, exists := current[id]
			switch {
			case exists && rng.IntN(4) == 0:
				c.ops = append(c.ops, store.Operation{Identifier: id, Kind: store.KindDelete, Commit: c.sha})
				delete(current, id)
			default:
				kind := store.KindCreate
				if exists {
					kind = store.KindUpdate
				}
				y := fmt.Appendf(nil, "pipeline:\n  identifier: %s\n  name: %s\n  orgIdentifier: %s\n  projectIdentifier: %s\n  description: from %s\n  stages: []\n",
					id, id, crashOrg, crashProject, c.sha)
				c.ops = append(c.ops, store.Operation{Identifier: id, Kind: kind, Commit: c.sha, ContentHash: c.sha, YAML: y})
				current[id] = y
			}
		}
		commits = append(commits, c)
	}
	return commits, current
}

// harnessExecutor adapts the Harness client to the outbox, as the app does.
func harnessExecutor(c *harness.Client) outbox.Executor {
	return outbox.ExecutorFunc(func(ctx context.Context, op store.Operation) (string, error) {
		if op.Kind == store.KindDelete {
			existed, err := c.DeleteIfExists(ctx, op.Identifier)
			if err != nil {
				return "", err
			}
			if !existed {
				return "absent", nil
			}
			return "deleted", nil
		}
		action, err := c.CreateOrUpdate(ctx, op.Identifier, op.YAML)
		return action.String(), err
	})
}

func classifyHarness(err error) (bool, time.Duration) {
	after, _ := harness.RetryAfter(err)
	return harness.IsRetryable(err), after
}

// crashChild is the child process: it resumes applying the history where
// the last life stopped, runs the queue, and exits 0 once every commit is
// enqueued and no operation is left to run.
func crashChild() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	ctx := context.Background()
	db, err := store.Open(ctx, os.Getenv(envCrashDB))
	if err != nil {
		return fail(err)
	}
	client, err := harness.New(harness.Config{
		BaseURL: os.Getenv(envCrashURL), AccountID: harnesstest.DefaultAccountID, APIKey: harnesstest.DefaultAPIKey,
		OrgID: crashOrg, ProjectID: crashProject, CallTimeout: 2 * time.Second,
		Retry: harness.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
	})
	if err != nil {
		return fail(err)
	}
	r := outbox.New(db, harnessExecutor(client), outbox.Options{
		Concurrency: 4, Lease: 400 * time.Millisecond, PollInterval: 20 * time.Millisecond, Classify: classifyHarness,
		// Every kill counts as an attempt of the operations it interrupts.
		Backoff: outbox.Backoff{Base: time.Millisecond, Max: 20 * time.Millisecond, MaxAttempts: 1000},
	})
	go r.Run(ctx)
	fmt.Println("ready")

	commits, _ := crashHistory()
	next := 0
	if v, err := db.State.Get(ctx, lastAppliedKey); err == nil {
		last, err := strconv.Atoi(v)
		if err != nil {
			return fail(err)
		}
		next = last + 1
	} else if !errors.Is(err, store.ErrNotFound) {
		return fail(err)
	}
	for i := next; i < len(commits); i++ {
		// A kill between these two writes makes the next life enqueue
		// commit i again, which must add nothing.
		if _, err := db.Operations.Enqueue(ctx, commits[i].ops); err != nil {
			return fail(err)
		}
		if err := db.State.Set(ctx, lastAppliedKey, strconv.Itoa(i)); err != nil {
			return fail(err)
		}
		r.Notify()
		time.Sleep(crashPace)
	}
	for {
		s, err := db.Operations.Stats(ctx)
		if err != nil {
			return fail(err)
		}
		if s.Pending+s.Running+s.Held == 0 {
			return 0
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// crashLife starts the child and returns it once it reports ready.
func crashLife(tb testing.TB, env []string, stderr *bytes.Buffer) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Wait()
		tb.Fatalf("child did not start: %q, %v\n%s", line, err, stderr)
	}
	return cmd
}

// TestCrashRecovery kills a process running the outbox at random moments,
// at least 20 times, restarting it on the same database file each time. In
// the end every operation must be done (or superseded by a newer one that
// is), Harness must hold exactly the desired pipelines, the replayed applies
// must have enqueued nothing new, and no change may have taken effect twice:
// each pipeline's effects must move forward through its history.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills child processes")
	}
	srv := harnesstest.New(harnesstest.Options{Seed: 9})
	defer srv.Close()
	srv.SetLatency(2 * time.Millisecond)
	srv.FailFraction(0.05, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 503, AfterEffect: true})
	srv.FailFraction(0.05, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 502, HTML: true})

	dbPath := filepath.Join(t.TempDir(), "state.db")
	env := []string{envCrashChild + "=1", envCrashDB + "=" + dbPath, envCrashURL + "=" + srv.URL}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill schedule seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	const wantKills = 20
	kills := 0
	for kills < wantKills {
		var stderr bytes.Buffer
		cmd := crashLife(t, env, &stderr)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			t.Fatalf("child finished all the work after %d kills (%v); the history is too short to kill it %d times\n%s",
				kills, err, wantKills, &stderr)
		case <-time.After(time.Duration(10+rng.IntN(190)) * time.Millisecond):
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := <-exited; err == nil {
			// It finished just before the kill landed.
			t.Fatalf("child finished all the work after %d kills", kills)
		}
		kills++
	}

	// The last life runs to the end.
	var stderr bytes.Buffer
	cmd := crashLife(t, env, &stderr)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("last life: %v\n%s", err, &stderr)
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("last life did not finish\n%s", &stderr)
	}

	commits, desired := crashHistory()
	db, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	total := 0
	for _, c := range commits {
		total += len(c.ops)
	}
	stats, err := db.Operations.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Done+stats.Superseded != total || stats.Pending+stats.Running+stats.Held+stats.Failed != 0 {
		t.Errorf("QueueStats = %+v, want all %d operations done or superseded", stats, total)
	}
	ops, err := db.Operations.List(context.Background(), store.OperationFilter{Limit: total + 1})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]store.Operation{}
	for _, o := range ops {
		byID[o.ID] = o
	}
	for _, o := range ops {
		if o.State != store.OpSuperseded {
			continue
		}
		newer := byID[o.SupersededBy]
		if newer.ID <= o.ID || newer.Identifier != o.Identifier {
			t.Errorf("op %d superseded by %d (%s), want a newer op on %s", o.ID, newer.ID, newer.Identifier, o.Identifier)
		}
	}
	if diff := cmp.Diff(desired, srv.Pipelines(crashOrg, crashProject)); diff != "" {
		t.Errorf("Harness pipelines (-want +got):\n%s", diff)
	}
	checkEffectsMoveForward(t, commits, srv.Effects())
	t.Logf("%d kills, %d operations (%d done, %d superseded), %d effects, %d calls",
		kills, total, stats.Done, stats.Superseded, len(srv.Effects()), len(srv.Calls()))
}

// checkEffectsMoveForward replays the effects Harness saw against each
// pipeline's history: every create or update must install a version later
// than the last one installed, and every delete must match a delete later
// in the history. An operation that took effect twice, or out of order,
// breaks this.
func checkEffectsMoveForward(tb testing.TB, commits []crashCommit, effects []harnesstest.Effect) {
	tb.Helper()
	type step struct {
		yaml   []byte // nil for a delete
		commit int
	}
	history := map[string][]step{}
	for i, c := range commits {
		for _, o := range c.ops {
			history[o.Identifier] = append(history[o.Identifier], step{o.YAML, i})
		}
	}
	pos := map[string]int{} // pipeline -> index in its history of the last effect, -1 for none
	for id := range history {
		pos[id] = -1
	}
	for n, e := range effects {
		h := history[e.ID]
		found := -1
		for j := pos[e.ID] + 1; j < len(h); j++ {
			if e.Kind == "delete" && h[j].yaml == nil || e.Kind != "delete" && bytes.Equal(h[j].yaml, e.YAML) {
				found = j
				break
			}
		}
		if found < 0 {
			tb.Errorf("effect %d (%s %s) does not move %s forward from step %d of its history: applied twice or out of order",
				n, e.Kind, e.ID, e.ID, pos[e.ID])
			continue
		}
		pos[e.ID] = found
	}
}
