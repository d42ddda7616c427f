package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/examples"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
)

// TestDemoScenariosMoveTheMetrics plays the demo and then scrapes
// /metrics as Prometheus would, checking that each counter moved as the
// scenarios imply.
func TestDemoScenariosMoveTheMetrics(t *testing.T) {
	t.Parallel() // the demo mostly waits: its retries back off for seconds
	env, story := playDemo(t)
	checkDeployStory(t, story)

	resp, err := http.Get(env.App.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want Prometheus text format", ct)
	}
	body, _ := io.ReadAll(resp.Body)
	metrics := parseMetrics(string(body))

	atLeast := map[string]float64{
		// Every scenario's pushes and PRs were recorded.
		`pipeline_orchestrator_webhooks_total{event="push",outcome="recorded"}`:         6,
		`pipeline_orchestrator_webhooks_total{event="pull_request",outcome="recorded"}`: 5,
		// Bootstrap, onboard, retire and the outage each opened a bot PR.
		`pipeline_orchestrator_bot_prs_total{action="opened"}`: 4,
		// 12 + 1 + 1 + 1 operations, and the outage made some retry.
		`pipeline_orchestrator_operation_attempts_total{kind="create",outcome="done"}`:          14,
		`pipeline_orchestrator_operation_attempts_total{kind="delete",outcome="done"}`:          1,
		`pipeline_orchestrator_operation_attempts_total{kind="create",outcome="retry"}`:         1,
		`pipeline_orchestrator_harness_requests_total{operation="create_pipeline",result="ok"}`: 14,
		// The outage hits the first entity applied: the new service's Service.
		`pipeline_orchestrator_harness_requests_total{operation="get_service",result="server_error"}`: 1,
		// The invalid PR.
		`pipeline_orchestrator_invalid_catalogs_total`:                                                      1,
		`pipeline_orchestrator_work_duration_seconds_count{kind="preview",result="ok"}`:                     4,
		`pipeline_orchestrator_work_duration_seconds_count{kind="apply",result="ok"}`:                       4,
		`pipeline_orchestrator_github_requests_total{endpoint="POST /repos/{repo}/git/trees",status="201"}`: 4,
		`pipeline_orchestrator_queue_operations{state="done"}`:                                              15,
	}
	for name, min := range atLeast {
		if got, ok := metrics[name]; !ok || got < min {
			t.Errorf("%s = %v (present %v), want at least %v", name, got, ok, min)
		}
	}
	exactly := map[string]float64{
		// The app created the GitHub connector once, at start, and never
		// wrote it again: nothing changed it.
		`pipeline_orchestrator_harness_requests_total{operation="create_connector",result="ok"}`: 1,
		`pipeline_orchestrator_queue_operations{state="pending"}`:                                0,
		`pipeline_orchestrator_queue_operations{state="failed"}`:                                 0,
		`pipeline_orchestrator_queue_oldest_pending_seconds`:                                     0,
		`pipeline_orchestrator_bot_prs_total{action="closed"}`:                                   0,
	}
	for name, want := range exactly {
		if got, ok := metrics[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}

// checkDeployStory checks what the demo tells of the deploy of
// loyalty-api v2.3.1: the connector the app made, authenticated as the
// App, and for each stage the image and the manifests of its environment
// and region, read through that connector.
func checkDeployStory(t *testing.T, story []string) {
	t.Helper()
	all := strings.Join(story, "\n")
	if !strings.Contains(all, "created the Harness connector github_platform_next_cross_org") ||
		!strings.Contains(all, "authenticated as the GitHub App "+strconv.Itoa(sandbox.AppID)) {
		t.Errorf("the demo does not tell of the app's connector:\n%s", all)
	}
	for _, stage := range []string{"int-stable/euw1", "pre-stable/euw1", "prod/euw1", "prod/euw2"} {
		want := "gcr.io/project/loyalty-api:v2.3.1 with manifests.yaml + values.yaml from generated/loyalty-api/" + stage +
			"/ of company/platform-next@"
		found := false
		for _, line := range story {
			found = found || strings.Contains(line, want) && strings.HasSuffix(line, "through github_platform_next_cross_org")
		}
		if !found {
			t.Errorf("the demo does not tell what stage %s deployed (want %q):\n%s", stage, want, all)
		}
	}
	if !strings.Contains(all, "loyalty_api_cd: Success") {
		t.Errorf("the demo does not tell how the run ended:\n%s", all)
	}
}

// played is the one play of the demo's scenarios that the tests reading
// its end state share: a play takes seconds, and those tests only look.
// TestMain closes it.
var played struct {
	sync.Once
	env   *sandbox.Env
	dir   string
	story []string
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if played.env != nil {
		played.env.Close()
	}
	if played.dir != "" {
		os.RemoveAll(played.dir)
	}
	os.Exit(code)
}

// playedDemo starts the bundled examples in a sandbox and plays the demo's
// scenarios on them, once for the whole package. The caller must only
// read the sandbox.
func playedDemo(t *testing.T) *sandbox.Env {
	t.Helper()
	env, _ := playDemo(t)
	return env
}

// playDemo is playedDemo that also returns what the demo told.
func playDemo(t *testing.T) (*sandbox.Env, []string) {
	t.Helper()
	played.Do(func() {
		played.env, played.dir, played.story, played.err = play()
	})
	if played.err != nil {
		t.Fatalf("%v\n%s", played.err, strings.Join(played.story, "\n"))
	}
	return played.env, played.story
}

// play starts a sandbox in a new directory and plays the scenarios.
func play() (*sandbox.Env, string, []string, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sandbox-demo-")
	if err != nil {
		return nil, "", nil, err
	}
	env, err := sandbox.Start(ctx, sandbox.Options{
		StandInOptions: sandbox.StandInOptions{
			ConfigFiles:    map[string]string{sandbox.CatalogPath: examples.Catalog},
			PipelinesFiles: map[string]string{catalog.SettingsPath: examples.Settings},
		},
		Dir: dir,
	})
	if err != nil {
		return nil, dir, nil, err
	}
	var story []string
	say := func(format string, args ...any) { story = append(story, fmt.Sprintf(format, args...)) }
	if failed := sandbox.NewDemo(env, examples.Catalog, say).Play(ctx); len(failed) > 0 {
		return env, dir, story, fmt.Errorf("scenarios failed: %v", failed)
	}
	return env, dir, story, nil
}

// parseMetrics reads Prometheus text format into series → value.
func parseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}
