//go:build reliability

package reliability_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

// TestFaults runs a scripted series of catalog and template changes while
// Harness fails 30% of calls (500, 429, and calls that hang past the
// client's timeout) and GitHub answers 10% of calls with a secondary rate
// limit or a 502. Everything must converge.
func TestFaults(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	cat := newCatalog(rng, 6)
	w := newWorld(t, worldOptions{Catalog: cat.YAML(), Templates: true, Tune: func(c *app.Config) {
		c.Harness.CallTimeout = 300 * time.Millisecond // so that hanging calls time out soon
	}})
	w.converge(time.Minute, nil) // the first catalog, before the faults

	// 10% each of 500, 429 and hangs: the rules are tried in turn, so the
	// later ones are drawn among the calls the earlier ones spared.
	w.Harness.FailFraction(0.10, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500})
	w.Harness.FailFraction(0.10/0.90, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 429, RetryAfter: time.Second})
	w.Harness.FailFraction(0.10/0.80, harnesstest.Fault{Kind: harnesstest.FaultHang})
	w.GitHub.SetFaults(githubtest.Faults{SecondaryRateLimit: 0.05, BadGateway: 0.05, Seed: 11})
	harnessBefore, githubBefore := len(w.Harness.Calls()), len(w.GitHub.Requests())
	start := time.Now()

	steps := []struct {
		name string
		do   func()
	}{
		{"add two services", func() {
			for range 2 {
				applyCatalogChange(cat, changeAdd, rng)
			}
			w.mergeCatalog("add-two", cat.YAML())
		}},
		{"change a team and regions", func() {
			applyCatalogChange(cat, changeTeam, rng)
			applyCatalogChange(cat, changeRegions, rng)
			w.mergeCatalog("team-regions", cat.YAML())
		}},
		{"remove a service", func() {
			applyCatalogChange(cat, changeRemove, rng)
			w.mergeCatalog("remove-one", cat.YAML())
		}},
		{"edit the api template", func() { w.mergeTemplate("api-template", "api-pipeline", 1) }},
		{"a config-only change", func() {
			applyCatalogChange(cat, changeProfile, rng)
			w.mergeCatalog("profile", cat.YAML())
		}},
		{"change an archetype and environments", func() {
			applyCatalogChange(cat, changeArchetype, rng)
			applyCatalogChange(cat, changeEnvironments, rng)
			w.mergeCatalog("archetype-envs", cat.YAML())
		}},
	}
	botMerges := 0
	for _, s := range steps {
		s.do()
		botMerges += w.converge(5*time.Minute, nil)
		t.Logf("%s: converged after %s", s.name, time.Since(start).Round(time.Millisecond))
	}
	took := time.Since(start)
	w.Harness.ClearFaults()
	w.GitHub.SetFaults(githubtest.Faults{})

	conv := w.checkConvergence()
	figs := w.storeFigures()
	deliveryRetries := 0
	ds, err := w.DB.Deliveries.Recent(context.Background(), 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Attempts > 1 {
			deliveryRetries += d.Attempts - 1
		}
	}
	harnessRefused := 0
	for _, c := range w.Harness.Calls()[harnessBefore:] {
		if c.Fault != "" {
			harnessRefused++
		}
	}
	githubRefused := failedRequests(w.GitHub.Requests()[githubBefore:])
	t.Logf("Harness: %d calls under faults, %d refused (500, 429 or hung)", len(w.Harness.Calls())-harnessBefore, harnessRefused)
	t.Logf("GitHub: %d API calls under faults, %d refused (secondary rate limit or 502)", len(w.GitHub.Requests())-githubBefore, githubRefused)
	t.Logf("store: operations %d (%d done, %d failed), %d operation retries; deliveries %d done, %d failed, %d delivery retries",
		figs.Operations, figs.Queue.Done, figs.Queue.Failed, figs.Retries, figs.Deliveries.Done, figs.Deliveries.Failed, deliveryRetries)
	t.Logf("RESULT %s: steps=%d bot_prs_merged=%d operation_retries=%d delivery_retries=%d harness_refused=%d github_refused=%d lost=%d converged=%v time_to_converge=%s",
		t.Name(), len(steps), botMerges, figs.Retries, deliveryRetries, harnessRefused, githubRefused, len(conv.Lost), conv.ok(), took.Round(time.Millisecond))

	if !conv.ok() {
		t.Errorf("not converged:\nlost %v\nextra %v\nstale %v\nrepo %v", conv.Lost, conv.Extra, conv.Stale, conv.RepoDiff)
	}
	if len(figs.FailedOperations) > 0 {
		t.Errorf("operations failed:\n%s", strings.Join(figs.FailedOperations, "\n"))
	}
	if harnessRefused == 0 || githubRefused == 0 {
		t.Errorf("the faults did not bite: %d Harness and %d GitHub calls refused", harnessRefused, githubRefused)
	}
}
