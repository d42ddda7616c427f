package loop

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// Reconcile compares what Harness holds with the pipelines repo's default
// branch and enqueues the operations that repair the difference
// (planner.Reconcile), then reports the drift in the drift check run, the
// store and the metrics.
func (l *Loop) Reconcile(ctx context.Context) (work.Outcome, error) {
	pipes, err := l.Reader.Pipelines(ctx)
	if err != nil {
		return work.Outcome{}, err
	}
	if pipes.SettingsInvalid() {
		return work.Outcome{Result: work.Blocked, Text: "blocked: invalid settings"}, nil
	}
	contents, err := l.Reader.PipelineContents(ctx, pipes)
	if err != nil {
		return work.Outcome{}, err
	}
	if err := l.Store.State.SetHarnessScope(ctx, pipes.Settings.Org, pipes.Settings.Project); err != nil {
		return work.Outcome{}, err
	}
	wanted := planner.WantedPipelines(contents, pipes.PipelineFiles(), planner.Scope{Org: pipes.Settings.Org, Project: pipes.Settings.Project})
	inHarness := map[planner.Scope]planner.InHarness{}
	for sc, pipelines := range wanted {
		if inHarness[sc], err = l.readHarness(ctx, sc, pipelines); err != nil {
			return work.Outcome{}, err
		}
	}
	active, err := l.Store.Operations.List(ctx, store.OperationFilter{
		States: []record.OperationState{record.OpPending, record.OpRunning, record.OpHeld}, Limit: 1000000})
	if err != nil {
		return work.Outcome{}, err
	}
	busy := map[string]bool{}
	for _, op := range active {
		busy[op.Identifier] = true
	}
	now := l.Now()
	plan := planner.Reconcile(planner.ReconcileInput{
		Head: pipes.Head.SHA, Wanted: wanted, Harness: inHarness, Busy: busy,
		Same: harness.SameEntity, Run: now.UTC().Format("20060102T150405.000"), Now: now,
	})
	rep := plan.Report
	var ids []int64
	if len(plan.Ops) > 0 {
		if ids, err = l.Store.Operations.Enqueue(ctx, plan.Ops); err != nil {
			return work.Outcome{}, err
		}
		l.Notify()
		l.audit(ctx, "reconcile", rep.Commit, fmt.Sprintf("%d drifted, %d repair(s) queued", rep.Drifted(), len(plan.Ops)), rep.Commit)
		if err := l.markDrifted(ctx, plan.Ops); err != nil {
			return work.Outcome{}, err
		}
	}
	for i := range plan.Events {
		if r := plan.Repair[i]; r >= 0 {
			plan.Events[i].OperationID = ids[r]
		}
		l.Metrics.DriftFound(plan.Events[i].Entity, plan.Events[i].Drift)
	}
	if _, err := l.Store.Drift.Record(ctx, plan.Events); err != nil {
		return work.Outcome{}, err
	}
	l.Metrics.Drift(rep)
	if err := l.Store.State.SetLastDrift(ctx, rep); err != nil {
		return work.Outcome{}, err
	}
	if err := l.Checks.Post(ctx, l.repos.Pipelines, gh.CheckDrift, rep.Commit, present.DriftCheck(rep)); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("posting drift check run")
	}
	result := work.Unchanged
	if rep.Queued > 0 {
		result = work.Changed
	}
	return work.Outcome{Result: result, Text: fmt.Sprintf("checked %d, drifted %d, queued %d", rep.Checked, rep.Drifted(), rep.Queued)}, nil
}

// readHarness lists the pipelines of one scope and reads those Git has
// too.
func (l *Loop) readHarness(ctx context.Context, sc planner.Scope, wanted map[string]planner.Wanted) (planner.InHarness, error) {
	h := l.Harness(sc.Org, sc.Project)
	list, err := h.ListPipelines(ctx)
	if err != nil {
		return planner.InHarness{}, err
	}
	in := planner.InHarness{Tags: map[string]map[string]string{}, YAML: map[string][]byte{}}
	for _, p := range list {
		in.Tags[p.Identifier] = p.Tags
		if _, ok := wanted[p.Identifier]; !ok {
			continue
		}
		got, err := h.GetPipeline(ctx, p.Identifier)
		switch {
		case errors.Is(err, harness.ErrNotFound):
			// vanished since the list: missing
		case err != nil:
			return planner.InHarness{}, err
		default:
			in.YAML[p.Identifier] = got.YAML
		}
	}
	return in, nil
}

// markDrifted records, on each service whose pipeline is repaired, that
// it drifted and why.
func (l *Loop) markDrifted(ctx context.Context, ops []record.Operation) error {
	for _, op := range ops {
		if op.Service == "" {
			continue
		}
		st, err := l.Store.Pipelines.Get(ctx, op.Service)
		if err != nil {
			continue // a service the store does not know: nothing to mark
		}
		st.HarnessState, st.LastError = record.HarnessDrifted, op.Reason
		if err := l.Store.Pipelines.Upsert(ctx, st); err != nil {
			return err
		}
	}
	return nil
}
