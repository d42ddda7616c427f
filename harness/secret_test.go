package harness_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAPIKeyNeverLeaks runs failing scenarios with a debug logger and checks
// that the API key appears in no log line and no error string, even when a
// proxy echoes the request headers back in its error page.
func TestAPIKeyNeverLeaks(t *testing.T) {
	var logs syncBuffer
	logger := zerolog.New(&logs).Level(zerolog.DebugLevel)
	ctx := logger.WithContext(context.Background())

	f := newFixture(t, func(c *harness.Config) { c.CallTimeout = 100 * time.Millisecond })
	key := f.cfg.APIKey
	yaml := pipelineYAML("svc_a", "svc a", "")
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	// Harness and its edge failing in every way the stand-in knows.
	f.srv.FailNext(3, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500})
	_, err := f.client.GetPipeline(ctx, "svc_a")
	collect(err)
	f.srv.FailNext(3, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 429, HTML: true, RetryAfter: time.Second})
	_, err = f.client.GetPipeline(ctx, "svc_a")
	collect(err)
	// Go's transport itself repeats a GET once on a dropped reused
	// connection, so drop more calls than the client makes attempts.
	f.srv.FailNext(10, harnesstest.Fault{Kind: harnesstest.FaultDrop})
	_, err = f.client.CreateOrUpdate(ctx, "svc_a", yaml)
	collect(err)
	f.srv.ClearFaults()
	f.srv.FailNext(3, harnesstest.Fault{Kind: harnesstest.FaultHang})
	_, err = f.client.DeleteIfExists(ctx, "svc_a")
	collect(err)
	f.srv.SetGovernanceDeny(true)
	_, err = f.client.CreateOrUpdate(ctx, "svc_a", yaml)
	collect(err)
	f.srv.SetGovernanceDeny(false)
	_, err = f.client.Execute(ctx, "svc_a", nil)
	collect(err)

	// The key refused: Harness quotes the token id, never the whole key.
	wrongAccount, err := harness.New(func() harness.Config { c := f.cfg; c.AccountID = "elsewhere"; return c }())
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrongAccount.GetPipeline(ctx, "svc_a")
	collect(err)

	// A proxy that echoes every request header into its error page.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "<html><body>bad gateway for key %s</body></html>", r.Header.Get("X-Api-Key"))
	}))
	t.Cleanup(echo.Close)
	viaProxy, err := harness.New(func() harness.Config { c := f.cfg; c.BaseURL = echo.URL; return c }())
	if err != nil {
		t.Fatal(err)
	}
	_, err = viaProxy.GetPipeline(ctx, "svc_a")
	collect(err)
	if err == nil || !strings.Contains(err.Error(), "bad gateway for key [redacted]") {
		t.Errorf("echoed key not redacted as expected: %v", err)
	}
	_, err = viaProxy.CreatePipeline(ctx, yaml)
	collect(err)

	if len(errs) != 9 {
		t.Fatalf("%d scenarios failed, want 9: %v", len(errs), errs)
	}
	for _, err := range errs {
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(s, key) {
				t.Errorf("error string holds the API key: %s", s)
			}
		}
	}
	out := logs.String()
	if !strings.Contains(out, `"message":"harness request"`) || !strings.Contains(out, `"status":500`) {
		t.Fatalf("debug log lacks the request lines:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, key) {
			t.Errorf("log line holds the API key: %s", line)
		}
	}
	for _, s := range []string{fmt.Sprint(f.cfg), fmt.Sprintf("%+v", f.cfg), fmt.Sprintf("%#v", f.cfg)} {
		if strings.Contains(s, key) {
			t.Errorf("formatted config holds the API key: %s", s)
		}
	}
	for _, c := range f.srv.Calls() {
		if strings.Contains(fmt.Sprint(c.Header), key) {
			t.Errorf("recorded call %s %s holds the API key in its headers", c.Method, c.Path)
		}
	}
}
