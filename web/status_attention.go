package web

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// attentionView is what needs a person, in the order the page shows it.
type attentionView struct {
	Held *heldView
	// Failed are the failed operations no newer operation of the same
	// entity followed; MoreFailed are those not shown.
	Failed      []failedRow
	MoreFailed  int
	Unreachable []RepoProblem
}

// Empty reports whether nothing needs a person.
func (a attentionView) Empty() bool {
	return a.Held == nil && len(a.Failed) == 0 && len(a.Unreachable) == 0
}

// heldView is the deletes that wait for the mass-delete label, and where
// the label goes.
type heldView struct {
	Count int
	Kinds string // "13 pipelines"
	Label string
	// PR is the bot PR to label: the one whose merge queued the deletes
	// (Merged), or else the most recent one; empty when no bot PR is
	// known. Open: it is not merged yet, and its label counts when it
	// merges.
	PR     link
	Merged bool
	Open   bool
	Commit link // the pipelines commit that queued them
	Items  []heldItem
	More   int // held deletes not named
}

type heldItem struct {
	ID                          int64
	Entity, Identifier, Service string
}

// failedRow is a failed operation and what to do about it. Sync is the
// admin API request that runs it again, "" when none does.
type failedRow struct {
	ID                       int64
	Entity, Identifier, Kind string
	Service, Path            string
	Attempts                 int
	LastError                string
	When                     stamp
	Sync                     string
}

// held finds the held deletes and the bot PR that must carry the label.
// Any merged bot PR with the label releases every held delete (see
// loop.Apply), so the page names one: that of the newest held delete.
func (v viewer) held(ctx context.Context, d *statusData) error {
	if d.Queue.Held == 0 {
		return nil
	}
	ops, err := v.s.opts.Store.ListOperations(ctx, store.OperationFilter{
		States: []record.OperationState{record.OpHeld}, Limit: statusActiveScan})
	if err != nil || len(ops) == 0 {
		return err
	}
	h := &heldView{Count: max(d.Queue.Held, len(ops)), Label: gh.MassDeleteLabel,
		Commit: v.commit(v.s.opts.PipelinesRepo, ops[0].Commit)}
	kinds, services := map[string]int{}, map[string]bool{}
	for _, op := range ops {
		kinds[entityKind(op.Entity)]++
		services[op.Service] = true
		if len(h.Items) < statusHeldListed {
			h.Items = append(h.Items, heldItem{ID: op.ID, Entity: entityKind(op.Entity), Identifier: op.Identifier, Service: op.Service})
		}
	}
	h.Kinds = countKinds(kinds)
	if h.Count > len(ops) {
		h.Kinds += fmt.Sprintf(" (counted over the first %d)", len(ops))
	}
	h.More = h.Count - len(h.Items)
	for i, row := range d.Services {
		if services[row.Service] {
			d.Services[i].StateLabel = "delete held"
			d.Services[i].StateNote = "waits for the label " + gh.MassDeleteLabel + ": see Needs a person"
		}
	}
	number, err := v.s.opts.Store.MergedBotPR(ctx, ops[0].Commit)
	switch {
	case err == nil:
		h.PR, h.Merged = v.pull(v.s.opts.PipelinesRepo, number), true
	case !errors.Is(err, store.ErrNotFound):
		return err
	case d.BotPR != nil:
		h.PR, h.Open = v.pull(v.s.opts.PipelinesRepo, d.BotPR.Number), true
	case d.LastBotPR != nil:
		h.PR, h.Open = v.pull(v.s.opts.PipelinesRepo, d.LastBotPR.Number), d.LastBotPR.State == string(record.PROpen)
	}
	d.Attention.Held = h
	return nil
}

// failed lists the failed operations that still stand: those a newer
// operation of the same entity followed were fixed, or tried again.
func (v viewer) failed(ctx context.Context, d *statusData) error {
	ops, err := v.s.opts.Store.ListOperations(ctx, store.OperationFilter{
		States: []record.OperationState{record.OpFailed}, Latest: true, Limit: statusActiveScan})
	if err != nil {
		return err
	}
	for _, op := range ops {
		if len(d.Attention.Failed) == statusAttention {
			d.Attention.MoreFailed++
			continue
		}
		when := op.DoneAt
		if when.IsZero() {
			when = op.UpdatedAt
		}
		row := failedRow{ID: op.ID, Entity: entityKind(op.Entity), Identifier: op.Identifier, Kind: string(op.Kind),
			Service: op.Service, Path: op.Path, Attempts: op.Attempts, LastError: cutText(op.LastError), When: stampOf(v.now, when)}
		if row.Entity == record.EntityPipeline && op.Service != "" {
			// POST /api/v1/pipelines/{service}/sync applies a service's
			// pipeline file again, or deletes its pipeline when the file
			// is gone (syncPipeline).
			row.Sync = "POST " + adminPrefix + "/pipelines/" + url.PathEscape(op.Service) + "/sync"
		}
		d.Attention.Failed = append(d.Attention.Failed, row)
	}
	return nil
}
