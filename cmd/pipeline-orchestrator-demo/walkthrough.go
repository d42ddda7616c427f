package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
)

// The walkthrough is a catalog change a person makes with curl against the
// running demo, from a branch to Harness: every command is printed with
// the values of this run (tokens, ports, commit ids, PR numbers), and the
// request bodies too long for a command line are files the demo writes
// into its directory. TestWalkthrough runs the commands as printed.

// walkService is the service the walkthrough onboards.
const (
	walkService    = "orders-api"
	walkPipeline   = "orders_api_cd"
	walkBranch     = "onboard-orders-api"
	walkTitle      = "Onboard orders-api"
	walkDir        = "walkthrough"
	walkCatalog    = "services.yaml"
	walkCommitBody = "commit-catalog.json"
)

const walkEntry = `  - name: orders-api
    archetype: api
    team: orders
    environments: [int, pre, prod]
    regions: [euw1]
`

// step is one command of the walkthrough.
type step struct {
	// what the step does, one line.
	what string
	// shows is what the answer holds once the step did its work ("" for
	// nothing in particular).
	shows string
	// again: the app answers in a moment; run the step again until the
	// answer shows it.
	again bool
	curl  string
}

// walkthrough is the steps and the pages to look at.
type walkthrough struct {
	steps []step
	// pages are web pages of the GitHub stand-in that show the result.
	pages []string
	// files are the files the walkthrough uses, written.
	files []string
}

// curlArgs builds a curl command: method, headers, body (an argument of
// -d, or @FILE for --data-binary) and URL, each quoted for a POSIX shell.
func curlArgs(method string, headers []string, body, url string) string {
	parts := []string{"curl", "-sS"}
	if method != "GET" {
		parts = append(parts, "-X", method)
	}
	for _, h := range headers {
		parts = append(parts, "-H", shellQuote(h))
	}
	switch {
	case strings.HasPrefix(body, "@"):
		parts = append(parts, "--data-binary", shellQuote(body))
	case body != "":
		parts = append(parts, "-d", shellQuote(body))
	}
	return strings.Join(append(parts, shellQuote(url)), " ")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeWalkFiles writes the walkthrough's catalog and the request that
// commits it on the walkthrough's branch, and returns their paths.
func writeWalkFiles(dir, catalog string) ([]string, error) {
	d := filepath.Join(dir, walkDir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	next := catalog + walkEntry
	body, err := json.Marshal(map[string]string{
		"message": walkTitle, "branch": walkBranch, "sha": gh.BlobSHA([]byte(catalog)),
		"content": base64.StdEncoding.EncodeToString([]byte(next)),
	})
	if err != nil {
		return nil, err
	}
	files := []string{filepath.Join(d, walkCatalog), filepath.Join(d, walkCommitBody)}
	for i, content := range [][]byte{[]byte(next), append(body, '\n')} {
		if err := os.WriteFile(files[i], content, 0o644); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// nextPR is the number GitHub gives the next pull request of repo.
func nextPR(env *sandbox.Env, repo string) int {
	return len(env.GitHub.PRs(repo)) + 1
}

// newWalkthrough prepares the walkthrough over env as it is now: the
// config repo's main branch, its catalog and the pull requests so far.
func newWalkthrough(env *sandbox.Env, dir string) (walkthrough, error) {
	cfg, pipes := env.ConfigRepo, env.PipelinesRepo
	catalog, ok := env.GitHub.File(cfg, sandbox.DefaultBranch, sandbox.CatalogPath)
	if !ok {
		return walkthrough{}, fmt.Errorf("%s has no %s", cfg, sandbox.CatalogPath)
	}
	if strings.Contains(catalog, "\n  - name: "+walkService+"\n") {
		return walkthrough{}, fmt.Errorf("%s already has %s", sandbox.CatalogPath, walkService)
	}
	files, err := writeWalkFiles(dir, catalog)
	if err != nil {
		return walkthrough{}, err
	}
	api := strings.TrimSuffix(env.GitHub.URL, "/")
	auth := []string{"Authorization: token " + env.UserToken}
	repoAPI := func(repo, rest string) string { return api + "/repos/" + repo + rest }
	configPR, botPR := nextPR(env, cfg), nextPR(env, pipes)
	harness := fmt.Sprintf("%s/pipeline/api/pipelines/%s?accountIdentifier=%s&orgIdentifier=default&projectIdentifier=platform",
		strings.TrimSuffix(env.Harness.URL, "/"), walkPipeline, env.Harness.AccountID())
	w := walkthrough{files: files, pages: []string{
		fmt.Sprintf("%s%s/pull/%d", env.GitHub.WebURL, cfg, configPR),
		fmt.Sprintf("%s%s/pull/%d", env.GitHub.WebURL, pipes, botPR),
	}}
	w.steps = []step{
		{what: "Branch " + walkBranch + " off main in " + cfg, shows: `"ref":"refs/heads/` + walkBranch + `"`,
			curl: curlArgs("POST", auth, fmt.Sprintf(`{"ref":"refs/heads/%s","sha":"%s"}`, walkBranch, env.GitHub.Head(cfg, sandbox.DefaultBranch)), repoAPI(cfg, "/git/refs"))},
		{what: "Commit the catalog with " + walkService + " added (" + files[0] + ", base64 in the request " + files[1] + ")", shows: `"path":"` + sandbox.CatalogPath + `"`,
			curl: curlArgs("PUT", auth, "@"+files[1], repoAPI(cfg, "/contents/"+sandbox.CatalogPath))},
		{what: fmt.Sprintf("Open PR #%d", configPR), shows: fmt.Sprintf(`"number":%d`, configPR),
			curl: curlArgs("POST", auth, fmt.Sprintf(`{"title":%q,"head":%q,"base":%q}`, walkTitle, walkBranch, sandbox.DefaultBranch), repoAPI(cfg, "/pulls"))},
		{what: "See the PR's plan check run", shows: `"conclusion":"success"`, again: true,
			curl: curlArgs("GET", auth, "", repoAPI(cfg, "/commits/"+walkBranch+"/check-runs?check_name="+gh.CheckPlan))},
		{what: fmt.Sprintf("Merge PR #%d", configPR), shows: `"merged":true`,
			curl: curlArgs("PUT", auth, `{"merge_method":"squash"}`, repoAPI(cfg, fmt.Sprintf("/pulls/%d/merge", configPR)))},
		{what: fmt.Sprintf("See bot PR #%d, which the app opens in %s", botPR, pipes), shows: fmt.Sprintf(`"number":%d`, botPR), again: true,
			curl: curlArgs("GET", auth, "", repoAPI(pipes, fmt.Sprintf("/pulls/%d", botPR)))},
		{what: fmt.Sprintf("Merge bot PR #%d, as a platform engineer", botPR), shows: `"merged":true`,
			curl: curlArgs("PUT", auth, `{"merge_method":"merge"}`, repoAPI(pipes, fmt.Sprintf("/pulls/%d/merge", botPR)))},
		{what: "See the app's Harness check run on the merge", shows: `"conclusion":"success"`, again: true,
			curl: curlArgs("GET", auth, "", repoAPI(pipes, "/commits/"+sandbox.DefaultBranch+"/check-runs?check_name="+gh.CheckHarness))},
		{what: "See Harness hold the pipeline " + walkPipeline, shows: "identifier: " + walkPipeline, again: true,
			curl: curlArgs("GET", []string{"x-api-key: " + env.Harness.APIKey()}, "", harness)},
	}
	return w, nil
}

// print writes the walkthrough for a person to follow.
func (w walkthrough) print(say func(string, ...any)) {
	say("Walkthrough: onboard %s with curl, as a developer would, and follow it to Harness.", walkService)
	say("Run the commands in turn. The app answers the steps marked ↻ in a moment: run them again until they show what they say.")
	say("")
	for i, s := range w.steps {
		mark := ""
		if s.again {
			mark = "↻ "
		}
		line := fmt.Sprintf("  # %d. %s%s", i+1, mark, s.what)
		if s.shows != "" {
			line += fmt.Sprintf("; it shows `%s`", s.shows)
		}
		say("%s.", line)
		say("  %s", s.curl)
	}
	say("")
	say("The same in a browser: the PRs %s, the status page, and the GitHub pages above.", strings.Join(w.pages, " and "))
}
