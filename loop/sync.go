package loop

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// UpstreamError is a failure of GitHub or Harness behind an admin request.
type UpstreamError struct {
	Message string // what failed, for the client
	Err     error
}

func (e *UpstreamError) Error() string { return e.Message + ": " + e.Err.Error() }
func (e *UpstreamError) Unwrap() error { return e.Err }

// SyncResult is what an admin sync queued.
type SyncResult struct {
	// Operations are the ids of the operations queued (none when there is
	// nothing in the pipelines repo to apply).
	Operations []int64
	// Commit is the pipelines commit read.
	Commit string
	// Detail says what was queued, for the audit log.
	Detail string
}

// Sync plans and enqueues an admin sync of one service (planner.Sync). A
// propose run is queued beside it by the caller. The refusals are
// *planner.Refusal; failures to read GitHub are *UpstreamError.
func (l *Loop) Sync(ctx context.Context, service string) (SyncResult, error) {
	st, err := l.Store.Pipelines.Get(ctx, service)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return SyncResult{}, err
	}
	pipes, err := l.Reader.Pipelines(ctx)
	if err != nil {
		return SyncResult{}, &UpstreamError{Message: "reading the pipelines repo on GitHub failed", Err: err}
	}
	if pipes.SettingsInvalid() {
		return SyncResult{}, &planner.Refusal{Message: fmt.Sprintf("%s is invalid at %s@%s: nothing can be applied until it is fixed",
			catalog.SettingsPath, l.repos.Pipelines, gh.ShortSHA(pipes.Head.SHA))}
	}
	applied, err := l.serviceEntities(ctx, service)
	if err != nil {
		return SyncResult{}, err
	}
	in := planner.SyncInput{Service: service, State: st, Known: known, Applied: applied, Head: pipes.Head.SHA,
		Files: planner.ServiceFiles(pipes.Settings, pipes.EntityFiles(), service), Settings: pipes.Settings,
		PipelinesRepo: l.repos.Pipelines, Run: fmt.Sprintf("%d-%08x", l.Now().UnixNano(), rand.Uint32())}
	if in.Held, in.FailedDeletes, err = l.unfinished(ctx, service); err != nil {
		return SyncResult{}, err
	}
	var blobs []string
	for _, sha := range in.Files {
		blobs = append(blobs, sha)
	}
	for _, e := range applied {
		blobs = append(blobs, e.ContentHash)
	}
	if in.Contents, err = l.Reader.Blobs(ctx, l.repos.Pipelines, blobs); err != nil {
		return SyncResult{}, &UpstreamError{Message: "reading the service's files on GitHub failed", Err: err}
	}
	plan, err := planner.Sync(in)
	if err != nil {
		return SyncResult{}, err
	}
	res := SyncResult{Operations: []int64{}, Commit: pipes.Head.SHA, Detail: "nothing in the pipelines repo to apply"}
	if len(plan.Ops) == 0 {
		return res, nil
	}
	// The state goes first: the operations may finish before the caller
	// returns, and their result must not be overwritten.
	if plan.State != nil {
		if err := l.Store.Pipelines.Upsert(ctx, *plan.State); err != nil {
			return SyncResult{}, err
		}
	}
	if res.Operations, err = l.Store.Operations.Enqueue(ctx, plan.Ops); err != nil {
		return SyncResult{}, err
	}
	l.Notify()
	var what []string
	for i, op := range plan.Ops {
		what = append(what, fmt.Sprintf("%s of %s (operation %d)", op.Kind, RefOf(op), res.Operations[i]))
	}
	res.Detail = strings.Join(what, ", ") + " queued"
	return res, nil
}

// serviceEntities returns the entity files of service the store says are
// applied.
func (l *Loop) serviceEntities(ctx context.Context, service string) ([]record.EntityState, error) {
	all, err := l.Store.Entities.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []record.EntityState
	for _, e := range all {
		if e.Service == service {
			out = append(out, e)
		}
	}
	return out, nil
}

// unfinished returns the service's entities whose delete is held, and the
// deletes that failed with no operation on their entity since.
func (l *Loop) unfinished(ctx context.Context, service string) (map[planner.EntityID]bool, []record.Operation, error) {
	ops, err := l.Store.Operations.List(ctx, store.OperationFilter{Service: service, Limit: 1000000})
	if err != nil {
		return nil, nil, err
	}
	held, latest := map[planner.EntityID]bool{}, map[planner.EntityID]bool{}
	var failed []record.Operation
	for _, op := range ops { // newest first
		id := planner.IDOf(op)
		if op.State == record.OpHeld {
			held[id] = true
		}
		if latest[id] || op.State == record.OpSuperseded {
			continue
		}
		latest[id] = true
		if op.Kind == record.KindDelete && op.State == record.OpFailed {
			failed = append(failed, op)
		}
	}
	return held, failed, nil
}
