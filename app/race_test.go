package app_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
)

// The bot PR can be merged while the app is making a proposal: after it
// read the pipelines repo's head and found the bot PR open, before it
// moved the branch. The proposal then lands on a PR that is already merged
// (or on a new PR based on a stale head). The merge's apply proposes
// again, so the catalog's latest change is still proposed, on the new head.
func TestBotPRMergedDuringAProposalIsProposedAgain(t *testing.T) {
	t.Parallel()
	var (
		w     *world
		armed atomic.Bool
		hit   atomic.Bool
	)
	// A proxy in front of the GitHub stand-in: when the app writes the
	// proposal's tree, a person merges the open bot PR first.
	tune := func(c *app.Config) {
		target, err := url.Parse(c.GitHub.APIURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := httputil.NewSingleHostReverseProxy(target)
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git/trees") && armed.CompareAndSwap(true, false) {
				bot, ok := w.botPR()
				if !ok {
					t.Error("no open bot PR to merge during the proposal")
				} else if _, err := w.GitHub.MergePR(w.PipelinesRepo, bot.Number, "merge"); err != nil {
					t.Errorf("merging bot PR #%d: %v", bot.Number, err)
				}
				hit.Store(true)
			}
			proxy.ServeHTTP(rw, r)
		}))
		t.Cleanup(srv.Close)
		c.GitHub.APIURL = srv.URL + "/"
	}
	services := genServices(1)
	w = onboarded(t, services, tune)

	services = append(services, svc{name: "orders", archetype: "api", team: "shop", profile: "small", envs: "[int-stable]", regions: "[euw1]"})
	w.pushCatalog(catalogOf(services))
	first, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR for orders")
	}
	armed.Store(true)
	services = append(services, svc{name: "billing", archetype: "job", team: "shop", profile: "small", envs: "[int-stable]", regions: "[euw1]"})
	w.pushCatalog(catalogOf(services))
	if !hit.Load() {
		t.Fatal("the proposal for billing wrote no tree")
	}
	if pr, _ := w.GitHub.PR(w.PipelinesRepo, first.Number); !pr.Merged {
		t.Fatalf("bot PR #%d is not merged", first.Number)
	}
	bot, ok := w.botPR()
	if !ok {
		t.Fatal("billing's pipeline is not proposed: no open bot PR after the merge")
	}
	if _, ok := w.GitHub.File(w.PipelinesRepo, bot.HeadSHA, "pipelines/billing-cd.yaml"); !ok {
		t.Fatalf("bot PR #%d lacks pipelines/billing-cd.yaml", bot.Number)
	}
	w.merge(w.PipelinesRepo, bot.Number)
	if diff := sortedKeys(w.harnessPipelines()); strings.Join(diff, ",") != "billing_cd,orders_cd,svc_000_cd" {
		t.Errorf("Harness holds %v, want billing_cd, orders_cd, svc_000_cd", diff)
	}
}
