package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// TestRateLimitsAreWaitedOutNotCountedAsAttempts gives deliveries one
// attempt and answers the propose's commit with secondary rate limits
// (429, Retry-After: 1s) three times: the propose waits each out, as
// GitHub asked, and opens the bot PR; its delivery spent no attempt on the
// waits.
func TestRateLimitsAreWaitedOutNotCountedAsAttempts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", func(cfg *app.Config) { cfg.Workers.MaxAttempts = 1 })
	w.GitHub.SetFaults(githubtest.Faults{RetryAfter: time.Second})
	w.GitHub.FailNext("POST /repos/{owner}/{repo}/git/trees", 3, githubtest.FaultSecondaryRateLimit429)
	start := time.Now()
	w.GitHub.Commit(w.ConfigRepo, sandbox.DefaultBranch, "Add a service", map[string]*string{catalogPath: ptr(catalogOf(genServices(1)))})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, ok := w.botPR(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no bot PR: the rate-limited propose never went through")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if took := time.Since(start); took < 3*time.Second {
		t.Errorf("the bot PR opened after %s: three Retry-After of 1s were not waited out", took)
	}
	w.settle() // the propose may still be recording its outcome
	recent, err := w.App.DB.Deliveries.Recent(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range recent {
		if d.Event == "push" && d.Key == "propose" {
			if d.State != store.DeliveryDone || d.Attempts != 1 {
				t.Errorf("the push's propose is %s after %d attempts, want done after 1", d.State, d.Attempts)
			}
			return
		}
	}
	t.Error("no propose delivery for the push")
}
