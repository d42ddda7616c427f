package loop

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/checkrun"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/snapshot"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// Apply converges Harness to the pipelines repo's default branch: every
// pipeline file whose content differs from what was last applied becomes
// one durable operation (planner.Apply). A push that changed templates or
// settings asks for a new proposal; so does one that changed pipelines (a
// bot PR merged, or a pipeline edited by hand): the bot PR's base moved,
// and a proposal made while the bot PR was being merged may have gone to
// the merged PR, or be based on the old head.
func (l *Loop) Apply(ctx context.Context, triggers []work.Trigger) (work.Outcome, error) {
	pipes, err := l.Reader.Pipelines(ctx)
	if err != nil {
		return work.Outcome{}, err
	}
	outcome, queued, err := l.applyAt(ctx, pipes, triggers)
	if err != nil {
		return work.Outcome{}, err
	}
	proposed, err := l.Store.State.ProposedInputs(ctx)
	if err != nil {
		return work.Outcome{}, err
	}
	if proposed != pipes.InputsHash || queued > 0 {
		more, err := l.Propose(ctx, triggers)
		if err != nil {
			return work.Outcome{}, err
		}
		outcome = outcome.Then(more)
	}
	return outcome, nil
}

// applyAt enqueues the operations that bring Harness to the snapshot and
// returns the outcome and the number of operations it enqueued.
func (l *Loop) applyAt(ctx context.Context, pipes snapshot.Pipelines, triggers []work.Trigger) (work.Outcome, int, error) {
	head := pipes.Head.SHA
	if pipes.SettingsInvalid() {
		l.SetLastError(errors.New("apply blocked: invalid settings"))
		err := l.Checks.Post(ctx, l.repos.Pipelines, gh.CheckHarness, head, present.ApplyBlocked(pipes.Diags))
		return work.Outcome{Result: work.Blocked, Text: "blocked: invalid settings"}, 0, err
	}
	applied, err := l.Store.Entities.List(ctx)
	if err != nil {
		return work.Outcome{}, 0, err
	}
	files := pipes.EntityFiles()
	diff := planner.DiffApplied(files, applied)
	contents, err := l.Reader.Blobs(ctx, l.repos.Pipelines, diff.Blobs)
	if err != nil {
		return work.Outcome{}, 0, err
	}
	services, err := l.serviceStates(ctx)
	if err != nil {
		return work.Outcome{}, 0, err
	}
	in := planner.ApplyInput{Diff: diff, Head: head, Files: files, Contents: contents,
		Services: services, Settings: pipes.Settings, ConfigRepo: l.repos.Config}
	if in.Connector, in.ConnectorApplied, err = l.connector.input(ctx, pipes.Settings); err != nil {
		return work.Outcome{}, 0, err
	}
	plan := planner.Apply(in)
	if plan.MassDelete {
		allowed, err := l.massDeleteAllowed(ctx, triggers)
		if err != nil {
			return work.Outcome{}, 0, err
		}
		if !allowed {
			plan.Hold()
		}
	}
	if err := l.record(ctx, head, plan); err != nil {
		return work.Outcome{}, 0, err
	}

	released, err := l.releaseHeldIfAllowed(ctx, triggers)
	if err != nil {
		return work.Outcome{}, 0, err
	}
	if len(plan.Ops) == 0 && len(plan.Unreadable) == 0 && released == 0 {
		return work.Outcome{Result: work.Unchanged, Text: "nothing to apply"}, 0, nil
	}
	if len(plan.Ops) > 0 || len(plan.Unreadable) > 0 {
		targets := []checkrun.Target{{Repo: l.repos.Pipelines, SHA: head}}
		for _, c := range plan.ConfigCommits {
			targets = append(targets, checkrun.Target{Repo: l.repos.Config, SHA: c})
		}
		if err := l.Checks.OpenHarness(ctx, head, targets, len(plan.Ops), plan.Unreadable, l.connector.note()); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("opening harness check runs")
		}
	}
	l.Checks.Touch(head)
	text := fmt.Sprintf("%d Harness operation(s) queued", len(plan.Ops))
	if plan.Held {
		text += fmt.Sprintf(", %d delete(s) held for the mass-delete label", plan.Deletes)
		l.Metrics.HeldDeletes(plan.Deletes)
	}
	if released > 0 {
		text += fmt.Sprintf(", %d held delete(s) released", released)
	}
	return work.Outcome{Result: work.Changed, Text: text}, len(plan.Ops), nil
}

// record enqueues the plan's operations and records what is now applied:
// first the services' pipeline states (pending), so that an operation
// finishing at once is not overwritten; then the operations; then the
// entity files applied. Should recording fail midway, the next apply plans
// the same operations again, and their keys (commit and content) make
// enqueueing them a no-op; recording the entities first could lose them.
func (l *Loop) record(ctx context.Context, head string, plan planner.ApplyPlan) error {
	if len(plan.Ops) > 0 {
		for _, st := range plan.States {
			if err := l.Store.Pipelines.Upsert(ctx, st); err != nil {
				return err
			}
		}
		if _, err := l.Store.Operations.Enqueue(ctx, plan.Ops); err != nil {
			return err
		}
		if plan.Connector != nil {
			if err := l.Store.State.SetConnector(ctx, *plan.Connector); err != nil {
				return err
			}
		}
		l.Notify()
		l.audit(ctx, "enqueue", head, fmt.Sprintf("%d operation(s), %d delete(s)", len(plan.Ops), plan.Deletes), head)
	}
	if len(plan.Entities) > 0 || len(plan.Gone) > 0 {
		return l.Store.Entities.Record(ctx, plan.Entities, plan.Gone)
	}
	return nil
}

// serviceStates returns the services' pipeline states, by service.
func (l *Loop) serviceStates(ctx context.Context) (map[string]record.PipelineState, error) {
	states, err := l.Store.Pipelines.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]record.PipelineState, len(states))
	for _, st := range states {
		out[st.Service] = st
	}
	return out, nil
}

// massDeleteAllowed reads the bot PRs the mass-delete label may be on
// (planner.MassDeleteAllowed).
func (l *Loop) massDeleteAllowed(ctx context.Context, triggers []work.Trigger) (bool, error) {
	var last *gh.PullRequest
	pr, err := l.GitHub.LastPR(ctx, l.repos.Pipelines, gh.SyncBranch)
	switch {
	case err == nil:
		last = &pr
	case !isNotFound(err):
		return false, err
	}
	if planner.MassDeleteAllowed(l.repos.Pipelines, last, nil) {
		return true, nil
	}
	var labelled []gh.PullRequest
	for _, t := range triggers {
		if t.PR == 0 || (last != nil && t.PR == last.Number) || !l.repos.Pipelines.Is(t.Repo) {
			continue
		}
		merged, err := l.GitHub.GetPR(ctx, l.repos.Pipelines, t.PR)
		if err != nil {
			return false, err
		}
		labelled = append(labelled, merged)
	}
	return planner.MassDeleteAllowed(l.repos.Pipelines, last, labelled), nil
}

// releaseHeldIfAllowed releases held deletes once the label is there.
func (l *Loop) releaseHeldIfAllowed(ctx context.Context, triggers []work.Trigger) (int, error) {
	held, err := l.Store.Operations.List(ctx, store.OperationFilter{States: []record.OperationState{record.OpHeld}})
	if err != nil || len(held) == 0 {
		return 0, err
	}
	allowed, err := l.massDeleteAllowed(ctx, triggers)
	if err != nil || !allowed {
		return 0, err
	}
	commits := map[string]bool{}
	for _, op := range held {
		commits[op.Commit] = true
	}
	total := 0
	for c := range commits {
		n, err := l.Store.Operations.ReleaseHeld(ctx, c)
		if err != nil {
			return total, err
		}
		total += n
		l.Checks.Touch(c)
	}
	l.audit(ctx, "release-held", gh.MassDeleteLabel, fmt.Sprintf("%d delete(s) released", total), "")
	l.Notify()
	return total, nil
}
