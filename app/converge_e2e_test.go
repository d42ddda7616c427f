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

// TestFailedProposeConvergesWithoutANewEvent makes the propose of a
// catalog push use up its only attempt (GitHub refuses the commit of the
// bot branch), then heals GitHub: with no further event, the periodic
// propose opens the bot PR.
func TestFailedProposeConvergesWithoutANewEvent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", func(cfg *app.Config) {
		cfg.Workers.MaxAttempts = 1
		cfg.Reconcile.Interval = 300 * time.Millisecond
	})
	// The push's propose and the first periodic one fail on the commit.
	w.GitHub.FailNext("POST /repos/{owner}/{repo}/git/trees", 2, githubtest.FaultBadGateway)
	w.GitHub.Commit(w.ConfigRepo, sandbox.DefaultBranch, "Add two services", map[string]*string{catalogPath: ptr(catalogOf(genServices(2)))})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := w.botPR(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no bot PR: the failed propose never converged")
		}
		time.Sleep(100 * time.Millisecond)
	}
	recent, err := w.App.DB.Deliveries.Recent(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range recent {
		if d.Event == "push" && d.Key == "propose" {
			if d.State != store.DeliveryFailed {
				t.Errorf("the push's propose is %s, want failed (its only attempt was refused)", d.State)
			}
			return
		}
	}
	t.Error("no propose delivery for the push")
}
