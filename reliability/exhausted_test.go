//go:build reliability

package reliability_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// commitRoute is the GitHub call that makes the bot branch's commit.
const commitRoute = "POST /repos/{owner}/{repo}/git/commits"

// TestFaultsProposeExhausted merges a catalog change while GitHub refuses
// every commit of the bot branch, for longer than the propose's delivery
// has attempts (workers.max_attempts): the delivery fails. GitHub's
// redelivery (github.redelivery_interval) does not apply, the webhook
// having been answered 2xx, and the failed delivery is tried again only
// after its long back-off (Deliveries.Revive, five minutes at least).
// Once GitHub accepts commits again nobody acts and no webhook asks for a
// propose; the periodic propose (reconcile.interval) must still open the
// bot PR, and once it is merged Harness must converge.
func TestFaultsProposeExhausted(t *testing.T) {
	const (
		maxAttempts = 3
		interval    = 5 * time.Second
	)
	rng := rand.New(rand.NewPCG(9, 9))
	cat := newCatalog(rng, 4)
	w := newWorld(t, worldOptions{Catalog: cat.YAML(), Tune: func(c *app.Config) {
		c.Workers.MaxAttempts = maxAttempts
		c.Reconcile.Interval = interval
	}})
	w.converge(time.Minute, nil)

	githubBefore := len(w.GitHub.Requests())
	w.GitHub.SetFaults(githubtest.Faults{BadGateway: 1, Routes: []string{commitRoute}})
	applyCatalogChange(cat, changeAdd, rng)
	applyCatalogChange(cat, changeTeam, rng)
	w.mergeCatalog("add-and-team", cat.YAML())
	start := time.Now()
	failed := w.waitFailedPropose(time.Minute)
	exhausted := time.Since(start)
	// The outage outlasts the delivery: the next propose is refused too.
	w.waitFor("a commit refused beyond the delivery's attempts", time.Minute, func() bool {
		return w.refusedCommits(githubBefore) > maxAttempts
	})
	w.GitHub.SetFaults(githubtest.Faults{})
	refused := w.refusedCommits(githubBefore)
	lifted := time.Now()

	w.waitFor("the bot PR", interval+time.Minute, func() bool {
		_, open := w.openBotPR()
		return open
	})
	proposed := time.Since(lifted)
	periodic := w.proposesSince(t, failed)
	merged := w.converge(time.Minute, nil)
	took := time.Since(start)
	conv := w.checkConvergence()
	effects := auditEffects(w.Harness.Effects())
	after := w.delivery(failed.ID)
	t.Logf("propose delivery %s failed after %d attempts, %s after the merge: %s", failed.ID, failed.Attempts, exhausted.Round(time.Millisecond), failed.LastError)
	t.Logf("GitHub refused %d bot branch commits; the outage ended %s after the merge", refused, lifted.Sub(start).Round(time.Millisecond))
	t.Logf("bot PR opened %s after the outage ended, by the periodic propose (%d runs asked for since the failure, no webhook); %d merged; converged %s after the merge",
		proposed.Round(time.Millisecond), periodic, merged, took.Round(time.Millisecond))
	t.Logf("the failed delivery is %s, to be tried again from %s on", after.State, after.NotBefore.Format(time.RFC3339))
	t.Logf("RESULT %s: max_attempts=%d commits_refused=%d delivery_failed_after=%s proposed_after_outage=%s lost=%d duplicated_effects=%d entities=%d converged=%v time_to_converge=%s",
		t.Name(), maxAttempts, refused, exhausted.Round(time.Millisecond), proposed.Round(time.Millisecond), len(conv.Lost),
		len(effects.Duplicates), conv.Desired, conv.ok(), took.Round(time.Millisecond))

	if failed.Attempts != maxAttempts {
		t.Errorf("the propose delivery failed after %d attempts, want %d (workers.max_attempts)", failed.Attempts, maxAttempts)
	}
	if merged != 1 {
		t.Errorf("%d bot PRs merged, want 1", merged)
	}
	if !conv.ok() {
		t.Errorf("not converged:\nlost %v\nextra %v\nstale %v\nrepo %v", conv.Lost, conv.Extra, conv.Stale, conv.RepoDiff)
	}
	if len(effects.Duplicates) > 0 {
		t.Errorf("effects done twice: %v", effects.Duplicates)
	}
	if after.State != store.DeliveryFailed {
		// Revive runs a minute after the start at the soonest: the
		// failure stays visible until then.
		t.Errorf("the exhausted delivery is %s, want failed", after.State)
	}
	if soonest := start.Add(exhausted).Add(4 * time.Minute); after.NotBefore.Before(soonest) {
		// The long back-off of an exhausted delivery starts at 5
		// minutes, whatever newer delivery it was claimed with.
		t.Errorf("the exhausted delivery is to be tried again from %s, less than 5 minutes after it failed",
			after.NotBefore.Format(time.RFC3339))
	}
}

// waitFailedPropose waits for the propose delivery of a push to fail and
// returns it.
func (w *world) waitFailedPropose(timeout time.Duration) store.Delivery {
	w.tb.Helper()
	var failed store.Delivery
	w.waitFor("the propose delivery to fail", timeout, func() bool {
		for _, d := range w.recentDeliveries() {
			if d.Event == "push" && d.Key == work.Key(work.Propose, "") && d.State == store.DeliveryFailed {
				failed = d
				return true
			}
		}
		return false
	})
	return failed
}

// proposesSince counts the proposes asked for after the failed one; each
// must come from the app's timer, not from a webhook.
func (w *world) proposesSince(t *testing.T, failed store.Delivery) int {
	n := 0
	for _, d := range w.recentDeliveries() {
		if d.Key != work.Key(work.Propose, "") || !d.ReceivedAt.After(failed.ReceivedAt) {
			continue
		}
		if d.Event != "internal" || d.Action != "timer" {
			t.Errorf("a %s %s delivery asked for a propose after the failed one", d.Event, d.Action)
		}
		n++
	}
	return n
}

// delivery returns the delivery id from the store.
func (w *world) delivery(id string) store.Delivery {
	w.tb.Helper()
	for _, d := range w.recentDeliveries() {
		if d.ID == id {
			return d
		}
	}
	w.tb.Fatalf("delivery %s is not in the store", id)
	return store.Delivery{}
}

func (w *world) recentDeliveries() []store.Delivery {
	w.tb.Helper()
	ds, err := w.DB.Deliveries.Recent(context.Background(), 100000)
	if err != nil {
		w.tb.Fatal(err)
	}
	return ds
}

// refusedCommits counts the bot branch commits GitHub refused since the
// request numbered from.
func (w *world) refusedCommits(from int) int {
	n := 0
	for _, r := range w.GitHub.Requests()[from:] {
		if r.Route == commitRoute && r.Fault != "" {
			n++
		}
	}
	return n
}

// waitFor polls done every 100 ms until it holds, or fails the test after
// timeout.
func (w *world) waitFor(what string, timeout time.Duration, done func() bool) {
	w.tb.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			w.tb.Fatalf("waiting for %s: not after %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
