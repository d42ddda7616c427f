package loop

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/outbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// defaultScope is the Harness scope of a delete whose file names none,
// before any settings were read.
const defaultOrg, defaultProject = "default", "platform"

// Execute runs one outbox operation against Harness. Create and update are
// both an idempotent create-or-update (harness.Client.Apply: a create that
// finds the entity updates it, an update that finds none creates it, an
// unchanged one is not written); a delete of a missing entity is done.
func (l *Loop) Execute(ctx context.Context, op record.Operation) (string, error) {
	org, project := l.scopeOf(ctx, op.YAML)
	h := l.Harness(org, project)
	ref := RefOf(op)
	if op.Kind == record.KindDelete {
		deleted, err := h.Remove(ctx, ref)
		if err != nil {
			return "", err
		}
		if !deleted {
			return "already absent", nil
		}
		return "deleted", nil
	}
	action, err := h.Apply(ctx, ref, op.YAML)
	if err != nil {
		return "", err
	}
	return action.String(), nil
}

// RefOf is the Harness entity an operation changes.
func RefOf(op record.Operation) harness.Ref {
	ref := harness.Ref{Kind: harness.Kind(op.Entity), Identifier: op.Identifier}
	switch ref.Kind {
	case "":
		ref.Kind = harness.KindPipeline
	case harness.KindInfrastructure:
		ref.EnvironmentRef = op.Parent
	case harness.KindTrigger:
		ref.PipelineRef = op.Parent
	}
	return ref
}

// scopeOf reads the org and project an entity document names, falling
// back to those of the last valid settings.
func (l *Loop) scopeOf(ctx context.Context, yaml []byte) (org, project string) {
	e, err := render.ReadEntity(yaml)
	if err == nil && e.Org != "" && e.Project != "" {
		return e.Org, e.Project
	}
	org, project, _ = l.Store.State.HarnessScope(ctx)
	if org == "" || project == "" {
		org, project = defaultOrg, defaultProject
	}
	if e.Org != "" {
		org = e.Org
	}
	if e.Project != "" {
		project = e.Project
	}
	return org, project
}

// OnResult records each attempt's effect on the service's state and asks
// for the commit's check runs to be refreshed.
func (l *Loop) OnResult(ctx context.Context, r outbox.Result) {
	l.Metrics.Operation(r)
	log := zerolog.Ctx(ctx)
	st, err := l.Store.Pipelines.Get(ctx, r.Op.Service)
	if r.Op.Entity != record.EntityPipeline && r.Op.Entity != "" {
		err = store.ErrNotFound // only a pipeline has a service state
	}
	if err == nil && st.Pipeline == r.Op.Identifier {
		switch r.Outcome {
		case outbox.OutcomeDone:
			st.LastError = ""
			st.HarnessState = record.HarnessInSync
			if r.Op.Kind == record.KindDelete {
				st.HarnessState = record.HarnessDeleted
			}
			st.LastAppliedCommit = r.Op.Commit
		case outbox.OutcomeFailed:
			st.HarnessState, st.LastError = record.HarnessFailed, errText(r.Err)
		case outbox.OutcomeRetry:
			st.HarnessState, st.LastError = record.HarnessPending, "retrying: "+errText(r.Err)
		}
		if err := l.Store.Pipelines.Upsert(ctx, st); err != nil {
			log.Warn().Err(err).Msg("updating pipeline state")
		}
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		log.Warn().Err(err).Msg("reading pipeline state")
	}
	if r.Outcome == outbox.OutcomeDone {
		ref := RefOf(r.Op)
		l.audit(ctx, string(r.Op.Kind)+"-"+string(ref.Kind), ref.String(), r.Result, r.Op.Commit)
		if planner.IsRepair(r.Op) {
			l.Metrics.DriftRepaired(r.Op.Entity)
			if err := l.Store.Drift.Repaired(ctx, r.Op.ID); err != nil {
				log.Warn().Err(err).Msg("marking drift repaired")
			}
		}
	}
	l.Checks.Touch(r.Op.Commit)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
