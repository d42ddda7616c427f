package outbox_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/outbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// BenchmarkThroughput20ms measures how many operations per second a Runner
// with four slots completes when every Harness call takes 20 ms: the bound
// is 200 ops/s, and the gap to it is the store's cost per operation (one
// claim and one completion, each a synchronous commit).
func BenchmarkThroughput20ms(b *testing.B) {
	exec := outbox.ExecutorFunc(func(ctx context.Context, op store.Operation) (string, error) {
		time.Sleep(20 * time.Millisecond)
		return "updated", nil
	})
	throughput(b, exec, func(i int) store.Operation { return upsert(fmt.Sprintf("svc_%d", i), "p1", "h1") })
}

// BenchmarkThroughputHarness20ms is the same against the Harness stand-in
// answering each call after 20 ms, through the real client: each operation
// is an idempotent create (GET, then POST), so two calls, and the bound is
// 100 ops/s.
func BenchmarkThroughputHarness20ms(b *testing.B) {
	srv := harnesstest.New(harnesstest.Options{})
	defer srv.Close()
	srv.SetLatency(20 * time.Millisecond)
	client, err := harness.New(harness.Config{
		BaseURL: srv.URL, AccountID: harnesstest.DefaultAccountID, APIKey: harnesstest.DefaultAPIKey,
		OrgID: crashOrg, ProjectID: crashProject,
	})
	if err != nil {
		b.Fatal(err)
	}
	throughput(b, harnessExecutor(client), func(i int) store.Operation {
		id := fmt.Sprintf("bench_%d", i)
		y := fmt.Appendf(nil, "pipeline:\n  identifier: %s\n  name: %s\n  orgIdentifier: %s\n  projectIdentifier: %s\n  stages: []\n",
			id, id, crashOrg, crashProject)
		return store.Operation{Identifier: id, Kind: store.KindCreate, Commit: "c1", ContentHash: "h1", YAML: y}
	})
}

// throughput enqueues b.N operations, then times a four-slot Runner
// draining them with exec, and reports operations per second.
func throughput(b *testing.B, exec outbox.Executor, op func(i int) store.Operation) {
	db := mustOpen(b, nil)
	ctx := context.Background()
	ops := make([]store.Operation, b.N)
	for i := range ops {
		ops[i] = op(i)
	}
	for start := 0; start < len(ops); start += 500 {
		if _, err := db.Operations.Enqueue(ctx, ops[start:min(start+500, len(ops))]); err != nil {
			b.Fatal(err)
		}
	}
	var done atomic.Int64
	all := make(chan struct{})
	r := outbox.New(db, exec, outbox.Options{
		Worker: "bench", Concurrency: 4,
		OnResult: func(_ context.Context, res outbox.Result) {
			if res.Outcome != outbox.OutcomeDone {
				b.Errorf("op %d: %s: %v", res.Op.ID, res.Outcome, res.Err)
			}
			if done.Add(1) == int64(b.N) {
				close(all)
			}
		},
	})
	runCtx, cancel := context.WithCancel(ctx)
	runDone := make(chan error)

	b.ResetTimer()
	go func() { runDone <- r.Run(runCtx) }()
	<-all
	b.StopTimer()
	cancel()
	<-runDone
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
