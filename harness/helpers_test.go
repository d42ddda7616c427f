package harness_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

const (
	testOrg     = "default"
	testProject = "payments"
)

// sleeper records the delays the client asks for and returns at once, so
// retry tests take no wall-clock time.
type sleeper struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays = append(s.delays, d)
	return ctx.Err()
}

func (s *sleeper) Delays() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.delays...)
}

type fixture struct {
	srv    *harnesstest.Server
	client *harness.Client
	sleep  *sleeper
	cfg    harness.Config
}

// newFixture starts a stand-in Harness and a client for it with three
// attempts per call and an instant Sleep. mods adjust the client config.
func newFixture(tb testing.TB, mods ...func(*harness.Config)) *fixture {
	tb.Helper()
	return newFixtureWith(tb, harnesstest.Options{Seed: 1}, mods...)
}

// newFixtureWith is newFixture with a stand-in configured by opts.
func newFixtureWith(tb testing.TB, opts harnesstest.Options, mods ...func(*harness.Config)) *fixture {
	tb.Helper()
	srv := harnesstest.New(opts)
	tb.Cleanup(srv.Close)
	sl := &sleeper{}
	cfg := harness.Config{
		BaseURL:     srv.URL,
		AccountID:   srv.AccountID(),
		OrgID:       testOrg,
		ProjectID:   testProject,
		APIKey:      srv.APIKey(),
		CallTimeout: 5 * time.Second,
		Retry:       harness.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: 30 * time.Second},
		Sleep:       sl.Sleep,
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := harness.New(cfg)
	if err != nil {
		tb.Fatalf("harness.New: %v", err)
	}
	return &fixture{srv: srv, client: c, sleep: sl, cfg: cfg}
}

// pipelineYAML renders a small valid pipeline. extra is appended to the
// pipeline mapping, indented by the caller.
func pipelineYAML(id, name, extra string) []byte {
	return fmt.Appendf(nil, `pipeline:
  name: %s
  identifier: %s
  orgIdentifier: %s
  projectIdentifier: %s
  tags:
    team: payments
  stages:
    - stage:
        name: deploy
        identifier: deploy
        type: Deployment
%s`, name, id, testOrg, testProject, extra)
}

// methods lists "METHOD path" for every recorded call.
func methods(calls []harnesstest.Call) []string {
	out := []string{}
	for _, c := range calls {
		out = append(out, c.Method+" "+c.Path)
	}
	return out
}

// effects lists "kind id" for every effect.
func effects(es []harnesstest.Effect) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Kind+" "+e.ID)
	}
	return out
}

func wantCalls(tb testing.TB, srv *harnesstest.Server, want ...string) {
	tb.Helper()
	if want == nil {
		want = []string{}
	}
	if diff := cmp.Diff(want, methods(srv.Calls())); diff != "" {
		tb.Errorf("calls (-want +got):\n%s", diff)
	}
}

func wantEffects(tb testing.TB, srv *harnesstest.Server, want ...string) {
	tb.Helper()
	if want == nil {
		want = []string{}
	}
	if diff := cmp.Diff(want, effects(srv.Effects())); diff != "" {
		tb.Errorf("effects (-want +got):\n%s", diff)
	}
}

// apiErr returns the *APIError in err, failing the test when there is none.
func apiErr(tb testing.TB, err error) *harness.APIError {
	tb.Helper()
	var ae *harness.APIError
	if !errors.As(err, &ae) {
		tb.Fatalf("error %v (%T) holds no *harness.APIError", err, err)
	}
	return ae
}

const (
	get  = http.MethodGet
	post = http.MethodPost
	put  = http.MethodPut
	del  = http.MethodDelete
)

const (
	pathGet    = "/pipeline/api/pipelines/"
	pathCreate = "/pipeline/api/pipelines/v2"
	pathUpdate = "/pipeline/api/pipelines/v2/"
)
