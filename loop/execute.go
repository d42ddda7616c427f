package loop

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

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
// both an idempotent create-or-update (a create that finds the pipeline
// updates it, an update that finds none creates it, an unchanged one is
// not written); a delete of a missing pipeline is done.
func (l *Loop) Execute(ctx context.Context, op record.Operation) (string, error) {
	org, project := l.scopeOf(ctx, op.YAML)
	h := l.Harness(org, project)
	if op.Kind == record.KindDelete {
		deleted, err := h.DeleteIfExists(ctx, op.Identifier)
		if err != nil {
			return "", err
		}
		if !deleted {
			return "already absent", nil
		}
		return "deleted", nil
	}
	action, err := h.CreateOrUpdate(ctx, op.Identifier, op.YAML)
	if err != nil {
		return "", err
	}
	return action.String(), nil
}

// scopeOf reads the org and project a pipeline document names, falling
// back to those of the last valid settings.
func (l *Loop) scopeOf(ctx context.Context, yaml []byte) (org, project string) {
	meta, err := render.ReadMeta(yaml)
	if err == nil && meta.Org != "" && meta.Project != "" {
		return meta.Org, meta.Project
	}
	org, project, _ = l.Store.State.HarnessScope(ctx)
	if org == "" || project == "" {
		org, project = defaultOrg, defaultProject
	}
	if err == nil {
		if meta.Org != "" {
			org = meta.Org
		}
		if meta.Project != "" {
			project = meta.Project
		}
	}
	return org, project
}

// OnResult records each attempt's effect on the service's state and asks
// for the commit's check runs to be refreshed.
func (l *Loop) OnResult(ctx context.Context, r outbox.Result) {
	l.Metrics.Operation(r)
	log := zerolog.Ctx(ctx)
	st, err := l.Store.Pipelines.Get(ctx, r.Op.Service)
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
		l.audit(ctx, string(r.Op.Kind)+"-pipeline", r.Op.Identifier, r.Result, r.Op.Commit)
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
