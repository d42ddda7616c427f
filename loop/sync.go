package loop

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

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
	files := pipes.PipelineFiles()
	in := planner.SyncInput{Service: service, State: st, Known: known, Head: pipes.Head.SHA,
		Path: planner.ServicePath(files, service, st.Path), PipelinesRepo: l.repos.Pipelines,
		Run: fmt.Sprintf("%d-%08x", l.Now().UnixNano(), rand.Uint32())}
	if in.Path != "" {
		in.Blob = files[in.Path]
	} else if known && planner.WasApplied(st) {
		held, err := l.Store.Operations.List(ctx, store.OperationFilter{
			States: []record.OperationState{record.OpHeld}, Identifier: st.Pipeline, Limit: 1})
		if err != nil {
			return SyncResult{}, err
		}
		in.HeldDelete = len(held) > 0
		in.Blob = st.ContentHash
	}
	if in.Blob != "" && !in.HeldDelete {
		blobs, err := l.Reader.Blobs(ctx, l.repos.Pipelines, []string{in.Blob})
		if err != nil {
			return SyncResult{}, &UpstreamError{Message: "reading the service's pipeline file on GitHub failed", Err: err}
		}
		in.Content = blobs[in.Blob]
	}
	plan, err := planner.Sync(in)
	if err != nil {
		return SyncResult{}, err
	}
	res := SyncResult{Operations: []int64{}, Commit: pipes.Head.SHA, Detail: "nothing in the pipelines repo to apply"}
	if plan.Op == nil {
		return res, nil
	}
	// The state goes first: the operation may finish before the caller
	// returns, and its result must not be overwritten.
	if plan.State != nil {
		if err := l.Store.Pipelines.Upsert(ctx, *plan.State); err != nil {
			return SyncResult{}, err
		}
	}
	if res.Operations, err = l.Store.Operations.Enqueue(ctx, []record.Operation{*plan.Op}); err != nil {
		return SyncResult{}, err
	}
	l.Notify()
	res.Detail = fmt.Sprintf("%s of %s queued as operation %d", plan.Op.Kind, plan.Op.Identifier, res.Operations[0])
	return res, nil
}
