package outbox_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app/outbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// BenchmarkThroughput20ms measures how many operations per second a Runner
// with four slots completes when every Harness call takes 20 ms: the bound
// is 200 ops/s, and the gap to it is the store's cost per operation (one
// claim and one completion, each a synchronous commit).
func BenchmarkThroughput20ms(b *testing.B) {
	db := mustOpen(b, nil)
	ctx := context.Background()
	ops := make([]store.Operation, b.N)
	for i := range ops {
		ops[i] = upsert(fmt.Sprintf("svc_%d", i), "p1", "h1")
	}
	for start := 0; start < len(ops); start += 500 {
		if _, err := db.EnqueueOperations(ctx, ops[start:min(start+500, len(ops))]); err != nil {
			b.Fatal(err)
		}
	}
	var done atomic.Int64
	all := make(chan struct{})
	exec := outbox.ExecutorFunc(func(ctx context.Context, op store.Operation) (string, error) {
		time.Sleep(20 * time.Millisecond)
		return "updated", nil
	})
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
