package app_test

import (
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// A run that fails on GitHub errors is retried with back-off as many times
// as the configuration allows (workers.max_attempts), not fewer: a push
// whose runs failed for good would stay unproposed until the next push.
func TestProposeOutlastsSixGitHubFailures(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	// Each propose run reads the catalog; the next six reads fail.
	w.GitHub.FailNext("GET /repos/{owner}/{repo}/contents/{path}", 6, githubtest.FaultBadGateway)
	w.pushCatalog(catalogOf(genServices(1)))
	if _, ok := w.botPR(); !ok {
		t.Fatal("no bot PR: the push's propose run gave up before GitHub recovered")
	}
}
