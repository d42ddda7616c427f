package reliability_test

import (
	"strings"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// Scripted steps, as a person does them: a PR, its merge, the bot PR's
// merge. They wait for the app between steps (webhooks delivered
// immediately).

// catalogPR commits catalog on a new branch of the config repo and opens
// a PR; it returns the PR number and its head commit.
func (w *world) catalogPR(branch, catalog string) (int, string) {
	w.tb.Helper()
	sha := w.GitHub.Commit(w.ConfigRepo, branch, "Change the catalog", map[string]*string{catalogPath: &catalog})
	n := w.GitHub.OpenPR(w.ConfigRepo, branch, mainBranch, "Change the catalog: "+branch, "")
	return n, sha
}

// mergeCatalog changes the catalog through a PR, squash-merged.
func (w *world) mergeCatalog(branch, catalog string) string {
	w.tb.Helper()
	n, _ := w.catalogPR(branch, catalog)
	return w.mergePR(w.ConfigRepo, n)
}

// mergeTemplate changes the template name ("api-pipeline",
// "job-service") to its revision rev through a PR on the pipelines repo.
func (w *world) mergeTemplate(branch, name string, rev int) string {
	w.tb.Helper()
	w.GitHub.Commit(w.PipelinesRepo, branch, "Change a template", map[string]*string{templatePath(name): ptr(templateAt(name, rev))})
	n := w.GitHub.OpenPR(w.PipelinesRepo, branch, mainBranch, "Change the "+name+" template", "")
	return w.mergePR(w.PipelinesRepo, n)
}

// mergeSettings replaces the pipelines repo's settings file through a PR.
func (w *world) mergeSettings(branch, settings string) string {
	w.tb.Helper()
	w.GitHub.Commit(w.PipelinesRepo, branch, "Change the settings", map[string]*string{catalog.SettingsPath: &settings})
	n := w.GitHub.OpenPR(w.PipelinesRepo, branch, mainBranch, "Change the settings", "")
	return w.mergePR(w.PipelinesRepo, n)
}

func (w *world) mergePR(repo string, n int) string {
	w.tb.Helper()
	sha, err := w.GitHub.MergePR(repo, n, "squash")
	if err != nil {
		w.tb.Fatalf("merging %s#%d: %v", repo, n, err)
	}
	return sha
}

// converge waits for the app, then merges the bot PR (labelled when it is
// flagged as a mass delete) until none is left open, and returns how many
// it merged.
func (w *world) converge(timeout time.Duration, pump func()) int {
	w.tb.Helper()
	merged := 0
	for round := 0; ; round++ {
		w.mustSettle(timeout, pump)
		pr, ok := w.openBotPR()
		if !ok {
			return merged
		}
		if round > 10 {
			w.tb.Fatalf("bot PR #%d is still open after 10 rounds of merging", pr.Number)
		}
		if strings.Contains(pr.Body, "Mass delete") {
			w.GitHub.AddLabel(w.PipelinesRepo, pr.Number, gh.MassDeleteLabel)
		}
		w.mergePR(w.PipelinesRepo, pr.Number)
		merged++
	}
}

// failedRequests counts the GitHub API requests answered by an injected
// fault.
func failedRequests(reqs []githubtest.Request) int {
	n := 0
	for _, r := range reqs {
		if r.Fault != "" {
			n++
		}
	}
	return n
}
