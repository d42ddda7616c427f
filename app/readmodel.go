package app

import (
	"context"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/web"
)

// readModel is the store as the HTTP surfaces read it.
type readModel struct{ db *store.DB }

var _ web.Store = readModel{}

func (m readModel) ListPipelineStates(ctx context.Context) ([]record.PipelineState, error) {
	return m.db.Pipelines.List(ctx)
}

func (m readModel) GetPipelineState(ctx context.Context, service string) (record.PipelineState, error) {
	return m.db.Pipelines.Get(ctx, service)
}

func (m readModel) ListOperations(ctx context.Context, f store.OperationFilter) ([]record.Operation, error) {
	return m.db.Operations.List(ctx, f)
}

func (m readModel) QueueStats(ctx context.Context) (store.QueueStats, error) {
	return m.db.Operations.Stats(ctx)
}

func (m readModel) DeliveryStats(ctx context.Context) (store.DeliveryStats, error) {
	return m.db.Deliveries.Stats(ctx)
}

func (m readModel) RecentDeliveries(ctx context.Context, limit int) ([]store.Delivery, error) {
	return m.db.Deliveries.Recent(ctx, limit)
}

func (m readModel) OpenBotPR(ctx context.Context, repo string) (record.BotPR, error) {
	return m.db.BotPRs.Open(ctx, repo)
}

func (m readModel) ListBotPRs(ctx context.Context, repo string, limit int) ([]record.BotPR, error) {
	return m.db.BotPRs.List(ctx, repo, limit)
}

func (m readModel) LastDrift(ctx context.Context) (record.DriftReport, bool, error) {
	return m.db.State.LastDrift(ctx)
}

func (m readModel) Writable(ctx context.Context) error { return m.db.Writable(ctx) }

func (m readModel) Audit(ctx context.Context, e store.AuditEntry) error {
	return m.db.Audit.Append(ctx, e)
}

func (m readModel) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	return m.db.Audit.List(ctx, f)
}
