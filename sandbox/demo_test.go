package sandbox_test

import (
	"context"
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
	env := playedDemo(t)

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
		`pipeline_orchestrator_queue_operations{state="pending"}`: 0,
		`pipeline_orchestrator_queue_operations{state="failed"}`:  0,
		`pipeline_orchestrator_queue_oldest_pending_seconds`:      0,
		`pipeline_orchestrator_bot_prs_total{action="closed"}`:    0,
	}
	for name, want := range exactly {
		if got, ok := metrics[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}

// playedDemo starts the bundled examples in a sandbox and plays the demo's
// scenarios on them.
func playedDemo(t *testing.T) *sandbox.Env {
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
	if failed := sandbox.NewDemo(env, examples.Catalog, func(string, ...any) {}).Play(ctx); len(failed) > 0 {
		t.Fatalf("scenarios failed: %v", failed)
	}
	return env
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
