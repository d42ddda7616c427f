package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/outbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// onOperationResult records each attempt's effect on the pipeline's state
// and asks the reporter to refresh the commit's check runs.
func (a *App) onOperationResult(ctx context.Context, r outbox.Result) {
	a.metrics.operation(r)
	log := zerolog.Ctx(ctx)
	st, err := a.db.GetPipelineState(ctx, r.Op.Service)
	if err == nil && st.Pipeline == r.Op.Pipeline {
		switch r.Outcome {
		case outbox.OutcomeDone:
			st.LastError = ""
			st.HarnessState = store.HarnessInSync
			if r.Op.Kind == store.KindDelete {
				st.HarnessState = store.HarnessDeleted
			}
			st.LastAppliedCommit = r.Op.Commit
		case outbox.OutcomeFailed:
			st.HarnessState, st.LastError = store.HarnessFailed, errText(r.Err)
		case outbox.OutcomeRetry:
			st.HarnessState, st.LastError = store.HarnessPending, "retrying: "+errText(r.Err)
		}
		if err := a.db.UpsertPipelineState(ctx, st); err != nil {
			log.Warn().Err(err).Msg("updating pipeline state")
		}
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		log.Warn().Err(err).Msg("reading pipeline state")
	}
	if r.Outcome == outbox.OutcomeDone {
		a.audit(ctx, string(r.Op.Kind)+"-pipeline", r.Op.Pipeline, r.Result, r.Op.Commit)
	}
	a.reporter.touch(r.Op.Commit)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// reporter keeps the harness check runs of pipelines commits in step with
// their operations. Results are coalesced: a burst of results for one
// commit updates its check runs once.
type reporter struct {
	a       *App
	mu      sync.Mutex
	pending map[string]bool
	wake    chan struct{}
	// flushing serialises flushes, so a slow flush that read the
	// operations before a result cannot overwrite a newer report.
	flushing sync.Mutex
}

func newReporter(a *App) *reporter {
	return &reporter{a: a, pending: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// touch asks for commit's check runs to be refreshed.
func (r *reporter) touch(commit string) {
	if commit == "" {
		return
	}
	r.mu.Lock()
	r.pending[commit] = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *reporter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			r.flush(context.WithoutCancel(ctx)) // last state before exit, best effort
			return
		case <-r.wake:
		}
		// Let a burst of results arrive before updating GitHub.
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
		r.flush(ctx)
	}
}

func (r *reporter) flush(ctx context.Context) {
	r.flushing.Lock()
	defer r.flushing.Unlock()
	r.mu.Lock()
	commits := make([]string, 0, len(r.pending))
	for c := range r.pending {
		commits = append(commits, c)
	}
	r.pending = map[string]bool{}
	r.mu.Unlock()
	for _, c := range commits {
		if err := r.a.reportCommit(ctx, c); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str(LogKeySHA, c).Msg("updating harness check runs")
			r.mu.Lock()
			r.pending[c] = true // try again with the next result
			r.mu.Unlock()
		}
	}
}

// Flush updates every pending check run now (tests and shutdown).
func (a *App) Flush(ctx context.Context) { a.reporter.flush(ctx) }

// harnessReport is the harness check run's content for one commit.
type harnessReport struct {
	conclusion string // "" while operations are still running
	title      string
	summary    string
}

// reportCommit updates the harness check runs of a pipelines commit.
func (a *App) reportCommit(ctx context.Context, commit string) error {
	checks, err := a.loadHarnessChecks(ctx, commit)
	if err != nil || len(checks) == 0 {
		return err
	}
	ops, err := a.db.ListOperations(ctx, store.OperationFilter{Commit: commit, Limit: 100000})
	if err != nil {
		return err
	}
	unreadable, err := a.db.GetState(ctx, "unreadable:"+commit)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	rep := a.harnessReport(ops, unreadable)
	for _, c := range checks {
		run := CheckRun{Name: CheckHarness, DetailsURL: a.detailsURL(), Title: fitTitle(rep.title), Summary: fitText(rep.summary)}
		if rep.conclusion == "" {
			run.Status = statusInProgress
		} else {
			run.Status, run.Conclusion = statusCompleted, rep.conclusion
		}
		if err := a.gh.UpdateCheckRun(ctx, c.Repo, c.ID, run); err != nil {
			return err
		}
	}
	return nil
}

// harnessReport summarises a commit's operations: in progress while any
// is pending or running; failure if any failed; action required while
// deletes are held for the mass-delete label; success otherwise.
func (a *App) harnessReport(ops []store.Operation, unreadable string) harnessReport {
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	count := map[store.OperationState]int{}
	var rows []string
	for _, op := range ops {
		count[op.State]++
		status := string(op.State)
		detail := op.Result
		switch op.State {
		case store.OpDone:
			status = "✅ done"
		case store.OpFailed:
			status = "❌ failed"
			detail = op.LastError
		case store.OpPending, store.OpRunning:
			status = "⏳ " + string(op.State)
			if op.LastError != "" {
				detail = fmt.Sprintf("attempt %d failed: %s; retrying", op.Attempts, op.LastError)
			}
		case store.OpHeld:
			status = "⏸️ held"
			detail = "waits for the label `" + MassDeleteLabel + "` on the bot PR"
		case store.OpSuperseded:
			status = "↪️ superseded"
			detail = fmt.Sprintf("by operation %d (a newer commit)", op.SupersededBy)
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s |", op.Pipeline, op.Kind, status, mdEscape(detail)))
	}
	var b strings.Builder
	total := len(ops)
	fmt.Fprintf(&b, "%d of %d operation(s) done", count[store.OpDone]+count[store.OpSuperseded], total)
	if n := count[store.OpFailed]; n > 0 {
		fmt.Fprintf(&b, ", %d failed", n)
	}
	if n := count[store.OpHeld]; n > 0 {
		fmt.Fprintf(&b, ", %d held", n)
	}
	b.WriteString(".\n\n| Pipeline | Operation | State | Detail |\n|---|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n"))
	b.WriteString("\n")
	if unreadable != "" {
		b.WriteString("\nThese files are not pipelines the app can apply:\n\n- " + strings.ReplaceAll(unreadable, "\n", "\n- ") + "\n")
	}

	rep := harnessReport{summary: b.String()}
	active := count[store.OpPending] + count[store.OpRunning]
	switch {
	case active > 0:
		rep.title = fmt.Sprintf("Applying to Harness: %d of %d done", count[store.OpDone]+count[store.OpSuperseded], total)
		for _, op := range ops {
			if (op.State == store.OpPending || op.State == store.OpRunning) && op.LastError != "" {
				rep.title = fmt.Sprintf("Retrying %s: %s", op.Pipeline, firstLine(op.LastError))
				break
			}
		}
	case count[store.OpFailed] > 0 || unreadable != "":
		rep.conclusion = conclusionFailure
		rep.title = fmt.Sprintf("%d Harness operation(s) failed", count[store.OpFailed])
		for _, op := range ops {
			if op.State == store.OpFailed {
				rep.title = fmt.Sprintf("%s failed: %s", op.Pipeline, firstLine(op.LastError))
				break
			}
		}
		if unreadable != "" && count[store.OpFailed] == 0 {
			rep.title = "Some files are not valid pipelines"
		}
	case count[store.OpHeld] > 0:
		rep.conclusion = conclusionActionRequired
		rep.title = fmt.Sprintf("%d delete(s) wait for the label %s", count[store.OpHeld], MassDeleteLabel)
	default:
		rep.conclusion = conclusionSuccess
		rep.title = fmt.Sprintf("Harness is up to date: %d operation(s) done", count[store.OpDone]+count[store.OpSuperseded])
	}
	return rep
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return cutUTF8(s, 150)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(cutUTF8(s, 500))
}
