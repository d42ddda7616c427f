package loop

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
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
	contents, err := l.Reader.EntityContents(ctx, pipes)
	if err != nil {
		return work.Outcome{}, err
	}
	if err := l.Store.State.SetHarnessScope(ctx, pipes.Settings.Org, pipes.Settings.Project); err != nil {
		return work.Outcome{}, err
	}
	wanted := planner.WantedEntities(contents, pipes.EntityFiles(), pipes.Settings)
	if err := l.connector.want(ctx, pipes.Settings, wanted); err != nil {
		return work.Outcome{}, err
	}
	inHarness := map[planner.Scope]planner.InHarness{}
	for sc, entities := range wanted {
		if inHarness[sc], err = l.readHarness(ctx, sc, entities); err != nil {
			return work.Outcome{}, err
		}
	}
	active, err := l.Store.Operations.List(ctx, store.OperationFilter{
		States: []record.OperationState{record.OpPending, record.OpRunning, record.OpHeld}, Limit: 1000000})
	if err != nil {
		return work.Outcome{}, err
	}
	busy := map[planner.EntityID]bool{}
	for _, op := range active {
		busy[planner.IDOf(op)] = true
	}
	now := l.Now()
	plan := planner.Reconcile(planner.ReconcileInput{
		Head: pipes.Head.SHA, Wanted: wanted, Harness: inHarness, Busy: busy,
		Same: harness.SameEntity, Run: now.UTC().Format("20060102T150405.000"), Now: now,
		Connector: planner.ManagedConnector(pipes.Settings),
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

// readHarness lists the entities of one scope and reads those Git has
// too. Infrastructure definitions are listed in every environment Git has
// or Harness lists as the app's, triggers under every pipeline Git has
// that Harness lists, or that Harness lists as the app's.
func (l *Loop) readHarness(ctx context.Context, sc planner.Scope, wanted map[planner.EntityID]planner.Wanted) (planner.InHarness, error) {
	h := l.Harness(sc.Org, sc.Project)
	in := planner.InHarness{Tags: map[planner.EntityID]map[string]string{}, YAML: map[planner.EntityID][]byte{}}
	list := func(kind harness.Kind, parent string) error {
		got, err := h.List(ctx, kind, parent)
		for _, s := range got {
			in.Tags[planner.EntityID{Kind: render.Kind(kind), Identifier: s.Identifier, Parent: parent}] = s.Tags
		}
		return err
	}
	for _, kind := range []harness.Kind{harness.KindEnvironment, harness.KindService, harness.KindPipeline} {
		if err := list(kind, ""); err != nil {
			return planner.InHarness{}, err
		}
	}
	for _, parent := range parents(in.Tags, wanted) {
		if err := list(parent.kind, parent.id); err != nil {
			return planner.InHarness{}, err
		}
	}
	if err := readConnector(ctx, h, wanted, in); err != nil {
		return planner.InHarness{}, err
	}
	for id := range wanted {
		if _, listed := in.Tags[id]; !listed || id.Kind == render.KindConnector {
			continue
		}
		got, err := h.Get(ctx, harness.Ref{Kind: harness.Kind(id.Kind), Identifier: id.Identifier,
			EnvironmentRef: parentIf(id, render.KindInfrastructure), PipelineRef: parentIf(id, render.KindTrigger)})
		switch {
		case errors.Is(err, harness.ErrNotFound):
			// vanished since the list: missing
		case err != nil:
			return planner.InHarness{}, err
		default:
			in.YAML[id] = got.YAML
		}
	}
	return in, nil
}

// childList is a list of the entities under one parent.
type childList struct {
	kind harness.Kind
	id   string
}

// parents returns the lists of children readHarness makes: the
// infrastructure definitions of each environment, the triggers of each
// pipeline, for the parents Git has and Harness lists, or Harness lists as
// the app's. A parent Harness does not list has no children there.
func parents(listed map[planner.EntityID]map[string]string, wanted map[planner.EntityID]planner.Wanted) []childList {
	var out []childList
	for id, tags := range listed {
		_, inGit := wanted[id]
		if !inGit && tags[render.ManagedByTag] != render.ManagedByValue {
			continue
		}
		switch id.Kind {
		case render.KindEnvironment:
			out = append(out, childList{harness.KindInfrastructure, id.Identifier})
		case render.KindPipeline:
			out = append(out, childList{harness.KindTrigger, id.Identifier})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].kind != out[j].kind {
			return out[i].kind < out[j].kind
		}
		return out[i].id < out[j].id
	})
	return out
}

// parentIf returns id's parent when id is of kind k.
func parentIf(id planner.EntityID, k render.Kind) string {
	if id.Kind == k {
		return id.Parent
	}
	return ""
}

// markDrifted records, on each service whose pipeline is repaired, that
// it drifted and why (the drift events record every kind).
func (l *Loop) markDrifted(ctx context.Context, ops []record.Operation) error {
	for _, op := range ops {
		if op.Service == "" || op.Entity != record.EntityPipeline {
			continue // only a pipeline has a service state
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
