//go:build reliability

package reliability_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

// TestFaults runs a scripted series of catalog, template and settings
// changes, touching every kind of entity, while Harness fails 30% of calls
// (500, 429, and calls that hang past the client's timeout) and, on each
// kind's endpoints, a few writes more in the ways Harness and its edge
// fail (some after the write took effect); GitHub answers 10% of calls
// with a secondary rate limit or a 502. Everything must converge, with
// nothing lost and no effect done twice.
func TestFaults(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	cat := newCatalog(rng, 6)
	w := newWorld(t, worldOptions{Catalog: cat.YAML(), Templates: true, Tune: func(c *app.Config) {
		c.Harness.CallTimeout = 300 * time.Millisecond // so that hanging calls time out soon
	}})
	w.converge(time.Minute, nil) // the first catalog, before the faults
	effectsBefore := len(w.Harness.Effects())

	injectHarnessFaults(w.Harness)
	w.GitHub.SetFaults(githubtest.Faults{SecondaryRateLimit: 0.05, BadGateway: 0.05, Seed: 11})
	harnessBefore, githubBefore := len(w.Harness.Calls()), len(w.GitHub.Requests())
	start := time.Now()

	steps := faultSteps(w, cat, rng)
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
	effects := auditEffects(w.Harness.Effects())
	underFaults := auditEffects(w.Harness.Effects()[effectsBefore:])
	figs := w.storeFigures()
	calls := callsByKind(w.Harness.Calls()[harnessBefore:])
	harnessRefused := 0
	for _, c := range calls {
		harnessRefused += c.refused
	}
	githubRefused := failedRequests(w.GitHub.Requests()[githubBefore:])
	deliveryRetries := w.deliveryRetries()
	t.Logf("Harness: %d calls under faults, %d refused; by endpoint: %s", len(w.Harness.Calls())-harnessBefore, harnessRefused, calls)
	t.Logf("Harness: effects under faults: %s; entities desired: %s", countsByKind(underFaults.ByKind), conv.kinds())
	t.Logf("GitHub: %d API calls under faults, %d refused (secondary rate limit or 502)", len(w.GitHub.Requests())-githubBefore, githubRefused)
	t.Logf("store: operations %d (%d done, %d failed), %d operation retries; deliveries %d done, %d failed, %d delivery retries",
		figs.Operations, figs.Queue.Done, figs.Queue.Failed, figs.Retries, figs.Deliveries.Done, figs.Deliveries.Failed, deliveryRetries)
	t.Logf("RESULT %s: steps=%d bot_prs_merged=%d operation_retries=%d delivery_retries=%d harness_refused=%d github_refused=%d lost=%d duplicated_effects=%d redundant_updates=%d entities=%d converged=%v time_to_converge=%s",
		t.Name(), len(steps), botMerges, figs.Retries, deliveryRetries, harnessRefused, githubRefused, len(conv.Lost),
		len(effects.Duplicates), len(effects.Redundant), conv.Desired, conv.ok(), took.Round(time.Millisecond))

	if !conv.ok() {
		t.Errorf("not converged:\nlost %v\nextra %v\nstale %v\nrepo %v", conv.Lost, conv.Extra, conv.Stale, conv.RepoDiff)
	}
	if len(effects.Duplicates) > 0 {
		t.Errorf("effects done twice:\n%s", strings.Join(effects.Duplicates, "\n"))
	}
	if len(effects.Redundant) > 0 {
		// Reported, not failed: see effectAudit.Redundant.
		t.Logf("redundant updates:\n%s", strings.Join(effects.Redundant, "\n"))
	}
	if len(figs.FailedOperations) > 0 {
		t.Errorf("operations failed:\n%s", strings.Join(figs.FailedOperations, "\n"))
	}
	for _, k := range entityKinds {
		if k == harnesstest.KindConnector {
			// Created once, before the faults start; no step changes the
			// settings' manifests or the App's installation, so nothing
			// calls its endpoints under faults.
			continue
		}
		if calls[string(k)].refused == 0 {
			t.Errorf("no %s call was refused: the faults did not reach the %s endpoints", k, k)
		}
		if underFaults.ByKind[string(k)] == 0 {
			t.Errorf("no %s changed under faults: the steps do not cover the kind", k)
		}
	}
	if githubRefused == 0 {
		t.Error("the GitHub faults did not bite")
	}
}

// injectHarnessFaults makes Harness fail: first, writes to each kind's
// endpoints fail as the steps reach them, in the ways Harness and its edge
// fail (a write that took effect and answers 500 or 502, or loses its
// connection; a 503 page from the edge; a call held past the client's
// timeout); then 10% each of all calls answer 500, 429 (Retry-After 1s)
// or hang. Rules are tried in order, so the random ones are drawn among
// the calls the others spared: 10%, 10/90 and 10/80.
func injectHarnessFaults(h *harnesstest.Server) {
	const (
		services  = "/ng/api/servicesV2"
		envs      = "/ng/api/environmentsV2"
		infras    = "/ng/api/infrastructures"
		pipelines = "/pipeline/api/pipelines/"
		triggers  = "/pipeline/api/triggers"
	)
	for _, r := range []struct {
		n int
		f harnesstest.Fault
	}{
		{2, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500, AfterEffect: true, Method: http.MethodPost, Path: services}},
		{1, harnesstest.Fault{Kind: harnesstest.FaultDrop, AfterEffect: true, Method: http.MethodPut, Path: services}},
		{1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500, AfterEffect: true, Method: http.MethodDelete, Path: services}},
		{2, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 503, HTML: true, Method: http.MethodPut, Path: envs}},
		{2, harnesstest.Fault{Kind: harnesstest.FaultHang, Method: http.MethodPut, Path: infras}},
		{1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500, AfterEffect: true, Method: http.MethodPut, Path: infras}},
		{1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500, AfterEffect: true, Method: http.MethodPut, Path: pipelines}},
		{2, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 502, HTML: true, AfterEffect: true, Method: http.MethodPost, Path: triggers}},
		{1, harnesstest.Fault{Kind: harnesstest.FaultHang, Method: http.MethodPut, Path: triggers}},
		{1, harnesstest.Fault{Kind: harnesstest.FaultDrop, Method: http.MethodDelete, Path: triggers}},
	} {
		h.FailNext(r.n, r.f)
	}
	h.FailFraction(0.10, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500})
	h.FailFraction(0.10/0.90, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 429, RetryAfter: time.Second})
	h.FailFraction(0.10/0.80, harnesstest.Fault{Kind: harnesstest.FaultHang})
}

// faultStep is one scripted change, through a PR and its merge.
type faultStep struct {
	name string
	do   func()
}

// faultSteps are TestFaults's changes. Between them they create, update
// and delete Services, pipelines and triggers, and update environments
// and infrastructure definitions. Template edits pick the archetype of a
// service in the catalog, so that they rewrite something.
func faultSteps(w *world, cat *catalogModel, rng *rand.Rand) []faultStep {
	return []faultStep{
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
		{"edit a pipeline template", func() {
			w.mergeTemplate("pipeline-template", cat.Services[0].Archetype+"-pipeline", 1)
		}},
		{"edit a Service template", func() {
			w.mergeTemplate("service-template", cat.Services[len(cat.Services)-1].Archetype+"-service", 1)
		}},
		{"a config-only change", func() {
			applyCatalogChange(cat, changeProfile, rng)
			w.mergeCatalog("profile", cat.YAML())
		}},
		{"change the settings: an environment's type, the clusters' namespace", func() {
			w.mergeSettings("settings", settingsAt("", 1))
		}},
		{"change an archetype and environments", func() {
			applyCatalogChange(cat, changeArchetype, rng)
			applyCatalogChange(cat, changeEnvironments, rng)
			w.mergeCatalog("archetype-envs", cat.YAML())
		}},
	}
}

// kindCalls counts the Harness calls to one kind's endpoints.
type kindCalls struct{ calls, refused int }

// kindCallsMap is kindCalls by entity kind ("other" for the rest).
type kindCallsMap map[string]kindCalls

func (m kindCallsMap) String() string {
	var parts []string
	kinds := make([]string, 0, len(entityKinds)+1)
	for _, k := range entityKinds {
		kinds = append(kinds, string(k))
	}
	for _, k := range append(kinds, "other") {
		c := m[k]
		parts = append(parts, fmt.Sprintf("%s %d (%d refused)", k, c.calls, c.refused))
	}
	return strings.Join(parts, ", ")
}

// callsByKind counts calls and refused calls by the kind of entity their
// endpoint serves.
func callsByKind(calls []harnesstest.Call) kindCallsMap {
	prefixes := []struct {
		prefix string
		kind   harnesstest.Kind
	}{
		{"/ng/api/servicesV2", harnesstest.KindService},
		{"/ng/api/environmentsV2", harnesstest.KindEnvironment},
		{"/ng/api/infrastructures", harnesstest.KindInfrastructure},
		{"/pipeline/api/pipelines/", harnesstest.KindPipeline},
		{"/pipeline/api/triggers", harnesstest.KindTrigger},
	}
	out := kindCallsMap{}
	for _, c := range calls {
		kind := "other"
		for _, p := range prefixes {
			if strings.HasPrefix(c.Path, p.prefix) {
				kind = string(p.kind)
				break
			}
		}
		kc := out[kind]
		kc.calls++
		if c.Fault != "" {
			kc.refused++
		}
		out[kind] = kc
	}
	return out
}

// deliveryRetries counts the delivery run attempts beyond the first.
func (w *world) deliveryRetries() int {
	w.tb.Helper()
	ds, err := w.DB.Deliveries.Recent(context.Background(), 100000)
	if err != nil {
		w.tb.Fatal(err)
	}
	n := 0
	for _, d := range ds {
		if d.Attempts > 1 {
			n += d.Attempts - 1
		}
	}
	return n
}
