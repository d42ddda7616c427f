package app

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// execute runs one outbox operation against Harness. Create and update are
// both an idempotent create-or-update (a create that finds the pipeline
// updates it, an update that finds none creates it, an unchanged one is
// not written); a delete of a missing pipeline is done.
func (a *App) execute(ctx context.Context, op store.Operation) (string, error) {
	org, project := a.scopeOf(ctx, op.YAML)
	h := a.harness(org, project)
	log := zerolog.Ctx(ctx).With().Str(LogKeyPipeline, op.Pipeline).Int64(LogKeyOperationID, op.ID).
		Int(LogKeyAttempt, op.Attempts).Logger()
	switch op.Kind {
	case store.KindDelete:
		deleted, err := h.DeleteIfExists(log.WithContext(ctx), op.Pipeline)
		if err != nil {
			return "", err
		}
		if !deleted {
			return "already absent", nil
		}
		return "deleted", nil
	default:
		action, err := h.CreateOrUpdate(log.WithContext(ctx), op.Pipeline, op.YAML)
		if err != nil {
			return "", err
		}
		return action.String(), nil
	}
}

// scopeOf reads the org and project a pipeline document names, falling
// back to the defaults of the pipelines repo's settings.
func (a *App) scopeOf(ctx context.Context, yaml []byte) (org, project string) {
	meta, err := render.ReadMeta(yaml)
	if err == nil && meta.Org != "" && meta.Project != "" {
		return meta.Org, meta.Project
	}
	org, project = a.defaultScope(ctx)
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

// defaultScope is the Harness org and project of the last valid settings.
func (a *App) defaultScope(ctx context.Context) (string, string) {
	org, _ := a.db.GetState(ctx, "harness.org")
	project, _ := a.db.GetState(ctx, "harness.project")
	if org == "" || project == "" {
		return "default", "platform"
	}
	return org, project
}

// rememberScope keeps the settings' org and project for deletes whose file
// is gone.
func (a *App) rememberScope(ctx context.Context, org, project string) error {
	if err := a.db.SetState(ctx, "harness.org", org); err != nil {
		return fmt.Errorf("saving harness scope: %w", err)
	}
	return a.db.SetState(ctx, "harness.project", project)
}
