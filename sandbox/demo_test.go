package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
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

// playedDemo starts the bundled examples in a sandbox and plays the demo's
// scenarios on them.
func playedDemo(t *testing.T) *sandbox.Env {
	t.Helper()
	env, _ := playDemo(t)
	return env
}

// playDemo is playedDemo that also returns what the demo told.
func playDemo(t *testing.T) (*sandbox.Env, []string) {
	t.Helper()
	ctx := context.Background()
	env, err := sandbox.Start(ctx, sandbox.Options{
		StandInOptions: sandbox.StandInOptions{
			ConfigFiles:    map[string]string{sandbox.CatalogPath: examples.Catalog},
			PipelinesFiles: map[string]string{catalog.SettingsPath: examples.Settings},
		},
		Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	var story []string
	say := func(format string, args ...any) { story = append(story, fmt.Sprintf(format, args...)) }
	if failed := sandbox.NewDemo(env, examples.Catalog, say).Play(ctx); len(failed) > 0 {
		t.Fatalf("scenarios failed: %v\n%s", failed, strings.Join(story, "\n"))
	}
	return env, story
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
