package harness_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

func TestRetriesIdempotentCalls(t *testing.T) {
	const id = "svc_a"
	stored := pipelineYAML(id, "svc a", "")
	html503 := harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 503, HTML: true}
	tests := []struct {
		name       string
		faults     []harnesstest.Fault
		call       func(ctx context.Context, c *harness.Client) error
		wantCalls  int
		wantDelays func(t *testing.T, d []time.Duration)
	}{
		{
			name:      "GET after two 503s",
			faults:    []harnesstest.Fault{html503, html503},
			call:      func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, id); return err },
			wantCalls: 3,
			wantDelays: func(t *testing.T, d []time.Duration) {
				// Full jitter: the n-th delay is at most BaseDelay*2^(n-1).
				if len(d) != 2 || d[0] > time.Second || d[1] > 2*time.Second {
					t.Errorf("delays %v, want two within [0,1s] and [0,2s]", d)
				}
			},
		},
		{
			name: "GET after a 429 with Retry-After",
			faults: []harnesstest.Fault{{Kind: harnesstest.FaultStatus, Status: 429, HTML: true,
				RetryAfter: 7 * time.Second}},
			call:      func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, id); return err },
			wantCalls: 2,
			wantDelays: func(t *testing.T, d []time.Duration) {
				if diff := cmp.Diff([]time.Duration{7 * time.Second}, d); diff != "" {
					t.Errorf("delays (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:      "GET after a 429 without Retry-After",
			faults:    []harnesstest.Fault{{Kind: harnesstest.FaultStatus, Status: 429, HTML: true}},
			call:      func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, id); return err },
			wantCalls: 2,
		},
		{
			name:      "GET after a dropped connection",
			faults:    []harnesstest.Fault{{Kind: harnesstest.FaultDrop}},
			call:      func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, id); return err },
			wantCalls: 2,
		},
		{
			name: "PUT after a 429 with Retry-After",
			faults: []harnesstest.Fault{{Kind: harnesstest.FaultStatus, Status: 429, RetryAfter: 3 * time.Second,
				Method: put}},
			call: func(ctx context.Context, c *harness.Client) error {
				return c.UpdatePipeline(ctx, id, pipelineYAML(id, "svc a v2", ""))
			},
			wantCalls: 2,
			wantDelays: func(t *testing.T, d []time.Duration) {
				if diff := cmp.Diff([]time.Duration{3 * time.Second}, d); diff != "" {
					t.Errorf("delays (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:   "DELETE after a 500 that did not take effect",
			faults: []harnesstest.Fault{{Kind: harnesstest.FaultStatus, Status: 500, Method: del}},
			call:   func(ctx context.Context, c *harness.Client) error { return c.DeletePipeline(ctx, id) },
			// DELETE, a read to see whether it took effect, DELETE again.
			wantCalls: 3,
		},
		{
			name:      "list after a 502",
			faults:    []harnesstest.Fault{{Kind: harnesstest.FaultStatus, Status: 502, HTML: true}},
			call:      func(ctx context.Context, c *harness.Client) error { _, err := c.ListPipelines(ctx); return err },
			wantCalls: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.srv.PutPipeline(testOrg, testProject, id, stored)
			for _, fl := range tt.faults {
				f.srv.FailNext(1, fl)
			}
			if err := tt.call(context.Background(), f.client); err != nil {
				t.Fatalf("call: %v", err)
			}
			if n := len(f.srv.Calls()); n != tt.wantCalls {
				t.Errorf("%d calls, want %d: %v", n, tt.wantCalls, methods(f.srv.Calls()))
			}
			if tt.wantDelays != nil {
				tt.wantDelays(t, f.sleep.Delays())
			}
		})
	}
}

func TestRetriesAreBounded(t *testing.T) {
	f := newFixture(t, func(c *harness.Config) {
		c.Retry = harness.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: 3 * time.Second}
	})
	f.srv.FailNext(10, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500})
	_, err := f.client.GetPipeline(context.Background(), "svc_a")
	if !errors.Is(err, harness.ErrServer) || !harness.IsRetryable(err) {
		t.Fatalf("GetPipeline: %v, want a retryable ErrServer", err)
	}
	if n := len(f.srv.Calls()); n != 5 {
		t.Errorf("%d calls, want MaxAttempts = 5", n)
	}
	caps := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	d := f.sleep.Delays()
	if len(d) != len(caps) {
		t.Fatalf("delays %v, want %d", d, len(caps))
	}
	for i := range d {
		if d[i] < 0 || d[i] > caps[i] {
			t.Errorf("delay %d = %v, want within [0, %v]", i, d[i], caps[i])
		}
	}
}

func TestRetryAfterLongerThanMaxDelayEndsTheCall(t *testing.T) {
	f := newFixture(t)
	f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 429, RetryAfter: time.Minute})
	_, err := f.client.GetPipeline(context.Background(), "svc_a")
	if d, ok := harness.RetryAfter(err); !ok || d != time.Minute {
		t.Errorf("RetryAfter(%v) = %v, %v; want 1m, true", err, d, ok)
	}
	if n := len(f.srv.Calls()); n != 1 {
		t.Errorf("%d calls, want 1: the wait belongs to the caller", n)
	}
	if d := f.sleep.Delays(); len(d) != 0 {
		t.Errorf("slept %v, want no sleep", d)
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	tests := []struct {
		status int
		code   string
	}{
		{400, "INVALID_REQUEST"},
		{401, "INVALID_TOKEN"},
		{403, "NG_ACCESS_DENIED"},
		{404, "ENTITY_NOT_FOUND"},
		{409, "SCM_CONFLICT_ERROR_V2"},
	}
	for _, tt := range tests {
		for _, method := range []string{get, put, del} {
			t.Run(fmt.Sprintf("%s %d", method, tt.status), func(t *testing.T) {
				f := newFixture(t)
				const id = "svc_a"
				f.srv.PutPipeline(testOrg, testProject, id, pipelineYAML(id, "a", ""))
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: tt.status, Code: tt.code})
				ctx := context.Background()
				var err error
				switch method {
				case get:
					_, err = f.client.GetPipeline(ctx, id)
				case put:
					err = f.client.UpdatePipeline(ctx, id, pipelineYAML(id, "b", ""))
				case del:
					err = f.client.DeletePipeline(ctx, id)
				}
				if err == nil || harness.IsRetryable(err) {
					t.Fatalf("call: %v, want a non-retryable error", err)
				}
				if n := len(f.srv.Calls()); n != 1 {
					t.Errorf("%d calls, want 1: %v", n, methods(f.srv.Calls()))
				}
			})
		}
	}
}

func TestCreateRetriesOnlyWhatNeverArrived(t *testing.T) {
	yaml := pipelineYAML("svc_a", "svc a", "")
	t.Run("429 is repeated", func(t *testing.T) {
		f := newFixture(t)
		f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 429, HTML: true})
		id, err := f.client.CreatePipeline(context.Background(), yaml)
		if err != nil || id != "svc_a" {
			t.Fatalf("CreatePipeline = %q, %v", id, err)
		}
		wantCalls(t, f.srv, "POST "+pathCreate, "POST "+pathCreate)
		wantEffects(t, f.srv, "create svc_a")
	})
	t.Run("dial error is repeated", func(t *testing.T) {
		var dials atomic.Int32
		tr := http.DefaultTransport.(*http.Transport).Clone()
		base := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) == 1 {
				return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
			}
			return base(ctx, network, addr)
		}
		f := newFixture(t, func(c *harness.Config) { c.HTTPClient = &http.Client{Transport: tr} })
		id, err := f.client.CreatePipeline(context.Background(), yaml)
		if err != nil || id != "svc_a" {
			t.Fatalf("CreatePipeline = %q, %v", id, err)
		}
		wantCalls(t, f.srv, "POST "+pathCreate)
		wantEffects(t, f.srv, "create svc_a")
	})
	t.Run("5xx is read back, not repeated", func(t *testing.T) {
		f := newFixture(t)
		f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 503})
		_, err := f.client.CreatePipeline(context.Background(), yaml)
		if !errors.Is(err, harness.ErrServer) || !harness.IsRetryable(err) {
			t.Fatalf("CreatePipeline: %v, want a retryable ErrServer", err)
		}
		wantCalls(t, f.srv, "POST "+pathCreate, "GET "+pathGet+"svc_a")
		wantEffects(t, f.srv)
	})
	t.Run("400 is neither repeated nor read back", func(t *testing.T) {
		f := newFixture(t)
		f.srv.PutPipeline(testOrg, testProject, "svc_a", yaml)
		_, err := f.client.CreatePipeline(context.Background(), yaml)
		if !errors.Is(err, harness.ErrAlreadyExists) {
			t.Fatalf("CreatePipeline: %v, want ErrAlreadyExists", err)
		}
		wantCalls(t, f.srv, "POST "+pathCreate)
	})
	t.Run("found with other content after a 5xx", func(t *testing.T) {
		f := newFixture(t)
		f.srv.PutPipeline(testOrg, testProject, "svc_a", pipelineYAML("svc_a", "someone else's", ""))
		f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500, Method: post})
		_, err := f.client.CreatePipeline(context.Background(), yaml)
		if !errors.Is(err, harness.ErrAlreadyExists) {
			t.Fatalf("CreatePipeline: %v, want ErrAlreadyExists", err)
		}
		wantCalls(t, f.srv, "POST "+pathCreate, "GET "+pathGet+"svc_a")
		wantEffects(t, f.srv)
	})
}

// TestCallTimeoutThroughHang uses real (short) per-attempt timeouts: the
// server holds the request until the client gives up.
func TestCallTimeoutThroughHang(t *testing.T) {
	const id = "svc_a"
	desired := pipelineYAML(id, "svc a", "")
	short := func(c *harness.Config) { c.CallTimeout = 100 * time.Millisecond }

	t.Run("GET is retried after a timeout", func(t *testing.T) {
		f := newFixture(t, short)
		f.srv.PutPipeline(testOrg, testProject, id, desired)
		f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultHang})
		if _, err := f.client.GetPipeline(context.Background(), id); err != nil {
			t.Fatalf("GetPipeline: %v", err)
		}
		if n := len(f.srv.Calls()); n != 2 {
			t.Errorf("%d calls, want 2", n)
		}
	})
	t.Run("create that timed out before taking effect", func(t *testing.T) {
		f := newFixture(t, short)
		f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultHang, Method: post})
		ctx := context.Background()
		_, err := f.client.CreateOrUpdate(ctx, id, desired)
		if !errors.Is(err, harness.ErrTimeout) || !harness.IsRetryable(err) {
			t.Fatalf("CreateOrUpdate: %v, want a retryable ErrTimeout", err)
		}
		wantEffects(t, f.srv)
		if a, err := f.client.CreateOrUpdate(ctx, id, desired); err != nil || a != harness.Created {
			t.Fatalf("second CreateOrUpdate = %v, %v; want created", a, err)
		}
		wantEffects(t, f.srv, "create "+id)
	})
	t.Run("create that timed out after taking effect", func(t *testing.T) {
		f := newFixture(t, short)
		f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultHang, AfterEffect: true})
		a, err := f.client.CreateOrUpdate(context.Background(), id, desired)
		if err != nil || a != harness.Created {
			t.Fatalf("CreateOrUpdate = %v, %v; want created", a, err)
		}
		wantEffects(t, f.srv, "create "+id)
	})
}

func TestExecute(t *testing.T) {
	const id = "svc_a"
	inputs := []byte("pipeline:\n  identifier: svc_a\n  variables:\n    - name: imageTag\n      type: String\n      value: \"1.4.2\"\n")
	t.Run("scripted statuses, one per read", func(t *testing.T) {
		f := newFixtureWith(t, harnesstest.Options{Seed: 1, ExecutionSteps: []string{"Running", "Success"}})
		f.srv.PutPipeline(testOrg, testProject, id, pipelineYAML(id, "a", ""))
		ctx := context.Background()
		execID, err := f.client.Execute(ctx, id, inputs)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		var got []string
		for range 3 {
			st, err := f.client.ExecutionStatus(ctx, execID)
			if err != nil {
				t.Fatalf("ExecutionStatus: %v", err)
			}
			got = append(got, st)
		}
		if diff := cmp.Diff([]string{"Running", "Success", "Success"}, got); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		es := f.srv.Effects()
		if len(es) != 1 || es[0].ExecutionID != execID || string(es[0].YAML) != string(inputs) {
			t.Errorf("effects %+v, want one execute %s with the inputs", es, execID)
		}
	})
	t.Run("throttled run is repeated", func(t *testing.T) {
		f := newFixture(t)
		f.srv.PutPipeline(testOrg, testProject, id, pipelineYAML(id, "a", ""))
		f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 429, HTML: true})
		if _, err := f.client.Execute(context.Background(), id, nil); err != nil {
			t.Fatalf("Execute: %v", err)
		}
		wantEffects(t, f.srv, "execute "+id)
	})
	for name, fault := range map[string]harnesstest.Fault{
		"500 before the run":        {Kind: harnesstest.FaultStatus, Status: 500},
		"500 after the run started": {Kind: harnesstest.FaultStatus, Status: 500, AfterEffect: true},
		"dropped after the run":     {Kind: harnesstest.FaultDrop, AfterEffect: true},
	} {
		t.Run(name+": outcome unknown, not repeated", func(t *testing.T) {
			f := newFixture(t)
			f.srv.PutPipeline(testOrg, testProject, id, pipelineYAML(id, "a", ""))
			f.srv.FailNext(1, fault)
			_, err := f.client.Execute(context.Background(), id, nil)
			if !errors.Is(err, harness.ErrOutcomeUnknown) || harness.IsRetryable(err) {
				t.Fatalf("Execute: %v, want a non-retryable ErrOutcomeUnknown", err)
			}
			if n := len(f.srv.Calls()); n != 1 {
				t.Errorf("%d calls, want 1", n)
			}
		})
	}
	t.Run("missing pipeline", func(t *testing.T) {
		f := newFixture(t)
		if _, err := f.client.Execute(context.Background(), id, nil); !errors.Is(err, harness.ErrNotFound) {
			t.Errorf("Execute: %v, want ErrNotFound", err)
		}
	})
}

func TestListPipelinesPages(t *testing.T) {
	f := newFixture(t)
	var want []harness.PipelineSummary
	for i := range 250 {
		id := fmt.Sprintf("svc_%03d", i)
		f.srv.PutPipeline(testOrg, testProject, id, pipelineYAML(id, "svc "+id, ""))
		want = append(want, harness.PipelineSummary{Identifier: id, Name: "svc " + id,
			Tags: map[string]string{"team": "payments"}})
	}
	// Another project's pipelines stay out of the list.
	f.srv.PutPipeline(testOrg, "other", "svc_x", pipelineYAML("svc_x", "x", ""))

	got, err := f.client.ListPipelines(context.Background())
	if err != nil {
		t.Fatalf("ListPipelines: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pipelines (-want +got):\n%s", diff)
	}
	calls := f.srv.Calls()
	var pages []string
	for _, c := range calls {
		pages = append(pages, c.Query.Get("page")+"/"+c.Query.Get("size"))
		if string(c.Body) != `{"filterType":"PipelineSetup"}` {
			t.Errorf("list body %s, want filterType PipelineSetup", c.Body)
		}
	}
	if diff := cmp.Diff([]string{"0/100", "1/100", "2/100"}, pages); diff != "" {
		t.Errorf("pages requested (-want +got):\n%s", diff)
	}
}

func TestInScopesOrgAndProject(t *testing.T) {
	f := newFixture(t)
	other := f.client.In("platform", "infra")
	y := []byte("pipeline:\n  name: x\n  identifier: svc_x\n  orgIdentifier: platform\n  projectIdentifier: infra\n")
	if a, err := other.CreateOrUpdate(context.Background(), "svc_x", y); err != nil || a != harness.Created {
		t.Fatalf("CreateOrUpdate in platform/infra = %v, %v", a, err)
	}
	if got := f.srv.Pipelines("platform", "infra"); len(got) != 1 {
		t.Errorf("platform/infra holds %d pipelines, want 1", len(got))
	}
	if _, err := f.client.GetPipeline(context.Background(), "svc_x"); !errors.Is(err, harness.ErrNotFound) {
		t.Errorf("GetPipeline in the original scope: %v, want ErrNotFound", err)
	}
	if other.OrgID() != "platform" || other.ProjectID() != "infra" || f.client.OrgID() != testOrg {
		t.Errorf("scopes: %s/%s and %s/%s", other.OrgID(), other.ProjectID(), f.client.OrgID(), f.client.ProjectID())
	}
}

func TestGetPipelineReadsNameAndTags(t *testing.T) {
	f := newFixture(t)
	y := pipelineYAML("svc_a", "svc a", "")
	f.srv.PutPipeline(testOrg, testProject, "svc_a", y)
	got, err := f.client.GetPipeline(context.Background(), "svc_a")
	if err != nil {
		t.Fatalf("GetPipeline: %v", err)
	}
	want := &harness.Pipeline{Identifier: "svc_a", Name: "svc a", YAML: y, Tags: map[string]string{"team": "payments"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pipeline (-want +got):\n%s", diff)
	}
}

func TestObserve(t *testing.T) {
	var mu sync.Mutex
	var got []string
	f := newFixture(t, func(c *harness.Config) {
		c.Observe = func(op, result string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, op+" "+result)
		}
	})
	f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 503, Method: post})
	ctx := context.Background()
	_, _ = f.client.CreateOrUpdate(ctx, "svc_a", pipelineYAML("svc_a", "a", ""))
	want := []string{"get_pipeline not_found", "create_pipeline server_error", "get_pipeline not_found"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
}

func TestRateLimit(t *testing.T) {
	// One request per 1000 s: a burst of one, then every call waits for a
	// token. The injected Sleep returns at once, so the waits pile up.
	f := newFixture(t, func(c *harness.Config) { c.RateLimit = 0.001 })
	f.srv.PutPipeline(testOrg, testProject, "svc_a", pipelineYAML("svc_a", "a", ""))
	for range 4 {
		if _, err := f.client.GetPipeline(context.Background(), "svc_a"); err != nil {
			t.Fatalf("GetPipeline: %v", err)
		}
	}
	d := f.sleep.Delays()
	if len(d) != 3 {
		t.Fatalf("waits %v, want 3", d)
	}
	for i, w := range d {
		want := time.Duration(i+1) * 1000 * time.Second
		if w < want-time.Minute || w > want {
			t.Errorf("wait %d = %v, want about %v", i, w, want)
		}
	}
}
