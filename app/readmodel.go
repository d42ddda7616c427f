package app

import (
	"context"
	"fmt"
	"strconv"
	"strings"

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

func (m readModel) LastPropose(ctx context.Context) (record.ProposeReport, bool, error) {
	return m.db.State.LastPropose(ctx)
}

func (m readModel) ListDrift(ctx context.Context, limit int) ([]record.DriftEvent, error) {
	return m.db.Drift.List(ctx, limit)
}

// auditBotPRMerged is the audit action the loop writes when a bot PR
// merges, with the PR ("#12") as the subject and its merge commit
// (loop.BotPRClosed).
const auditBotPRMerged = "bot-pr-" + string(record.PRMerged)

// MergedBotPR reads the bot PR a merge commit came from in the audit log:
// the bot PR records keep the PR's head, not its merge commit.
func (m readModel) MergedBotPR(ctx context.Context, commit string) (int, error) {
	if commit == "" {
		return 0, fmt.Errorf("bot PR merged as an unknown commit: %w", store.ErrNotFound)
	}
	es, err := m.db.Audit.List(ctx, store.AuditFilter{Action: auditBotPRMerged, Commit: commit, Limit: 1})
	if err != nil {
		return 0, err
	}
	if len(es) == 0 {
		return 0, fmt.Errorf("bot PR merged as %s: %w", commit, store.ErrNotFound)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(es[0].Subject, "#"))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bot PR merged as %s: audit subject %q is not a PR: %w", commit, es[0].Subject, store.ErrNotFound)
	}
	return n, nil
}

func (m readModel) Writable(ctx context.Context) error { return m.db.Writable(ctx) }

func (m readModel) Audit(ctx context.Context, e store.AuditEntry) error {
	return m.db.Audit.Append(ctx, e)
}

func (m readModel) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	return m.db.Audit.List(ctx, f)
}
