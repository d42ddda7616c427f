package harness_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

// kinds are the sentinels an error can be classified as; exactly one must match.
var kinds = map[string]error{
	"ErrNotFound":           harness.ErrNotFound,
	"ErrAlreadyExists":      harness.ErrAlreadyExists,
	"ErrInvalidRequest":     harness.ErrInvalidRequest,
	"ErrUnauthorized":       harness.ErrUnauthorized,
	"ErrForbidden":          harness.ErrForbidden,
	"ErrRateLimited":        harness.ErrRateLimited,
	"ErrServer":             harness.ErrServer,
	"ErrTransport":          harness.ErrTransport,
	"ErrTimeout":            harness.ErrTimeout,
	"ErrGovernanceDenied":   harness.ErrGovernanceDenied,
	"ErrUnexpectedResponse": harness.ErrUnexpectedResponse,
	"ErrNotManaged":         harness.ErrNotManaged,
	"ErrReferenceNotFound":  harness.ErrReferenceNotFound,
	"ErrReferenced":         harness.ErrReferenced,
}

func kindsOf(err error) []string {
	var out []string
	for name, k := range kinds {
		if errors.Is(err, k) {
			out = append(out, name)
		}
	}
	return out
}

// TestErrorMapping drives every error answer through the real client over
// HTTP and checks the classification the outbox relies on.
func TestErrorMapping(t *testing.T) {
	existing := pipelineYAML("svc_a", "svc a", "")
	type result struct {
		Kinds      []string
		Retryable  bool
		HTTPStatus int
		Code       string
	}
	tests := []struct {
		name   string
		setup  func(f *fixture)
		cfg    func(*harness.Config)
		call   func(ctx context.Context, c *harness.Client) error
		want   result
		msgHas string
	}{
		{
			name:   "get missing is ENTITY_NOT_FOUND",
			call:   func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, "nope"); return err },
			want:   result{Kinds: []string{"ErrNotFound"}, HTTPStatus: 404, Code: "ENTITY_NOT_FOUND"},
			msgHas: "Pipeline [nope] under Project[payments], Organization [default] doesn't exist or has been deleted.",
		},
		{
			name:  "duplicate create is DUPLICATE_FIELD",
			setup: func(f *fixture) { f.srv.PutPipeline(testOrg, testProject, "svc_a", existing) },
			call: func(ctx context.Context, c *harness.Client) error {
				_, err := c.CreatePipeline(ctx, existing)
				return err
			},
			want:   result{Kinds: []string{"ErrAlreadyExists"}, HTTPStatus: 400, Code: "DUPLICATE_FIELD"},
			msgHas: "Pipeline [svc_a] under Project[payments], Organization [default] already exists or has been deleted.",
		},
		{
			name: "unparsable yaml is INVALID_YAML_ERROR",
			call: func(ctx context.Context, c *harness.Client) error {
				_, err := c.CreatePipeline(ctx, []byte("pipeline: [unclosed"))
				return err
			},
			want: result{Kinds: []string{"ErrInvalidRequest"}, HTTPStatus: 400, Code: "INVALID_YAML_ERROR"},
		},
		{
			name: "missing pipeline root",
			call: func(ctx context.Context, c *harness.Client) error {
				_, err := c.CreatePipeline(ctx, []byte("template:\n  identifier: x\n"))
				return err
			},
			want: result{Kinds: []string{"ErrInvalidRequest"}, HTTPStatus: 400, Code: "INVALID_YAML_ERROR"},
		},
		{
			name: "empty body is a FailureDTO",
			call: func(ctx context.Context, c *harness.Client) error {
				_, err := c.CreatePipeline(ctx, []byte{})
				return err
			},
			want:   result{Kinds: []string{"ErrInvalidRequest"}, HTTPStatus: 400, Code: "INVALID_REQUEST"},
			msgHas: "[yaml: must not be null]",
		},
		{
			name: "bad identifier",
			call: func(ctx context.Context, c *harness.Client) error {
				_, err := c.CreatePipeline(ctx, pipelineYAML("payment-service", "p", ""))
				return err
			},
			want: result{Kinds: []string{"ErrInvalidRequest"}, HTTPStatus: 400, Code: "INVALID_REQUEST"},
		},
		{
			name: "reserved identifier",
			call: func(ctx context.Context, c *harness.Client) error {
				_, err := c.CreatePipeline(ctx, pipelineYAML("step", "p", ""))
				return err
			},
			want:   result{Kinds: []string{"ErrInvalidRequest"}, HTTPStatus: 400, Code: "INVALID_REQUEST"},
			msgHas: "reserved",
		},
		{
			name: "yaml org does not match the query",
			cfg:  func(c *harness.Config) { c.OrgID = "other_org" },
			call: func(ctx context.Context, c *harness.Client) error {
				_, err := c.CreatePipeline(ctx, existing)
				return err
			},
			want:   result{Kinds: []string{"ErrInvalidRequest"}, HTTPStatus: 400, Code: "INVALID_REQUEST"},
			msgHas: "Expected Pipeline Organization identifier in YAML to be [other_org], but was [default]",
		},
		{
			name:  "update with another identifier in the yaml",
			setup: func(f *fixture) { f.srv.PutPipeline(testOrg, testProject, "svc_b", existing) },
			call: func(ctx context.Context, c *harness.Client) error {
				return c.UpdatePipeline(ctx, "svc_b", existing)
			},
			want:   result{Kinds: []string{"ErrInvalidRequest"}, HTTPStatus: 400, Code: "INVALID_REQUEST"},
			msgHas: "Expected Pipeline identifier in YAML to be [svc_b], but was [svc_a]",
		},
		{
			name: "update missing answers 400 INVALID_REQUEST yet is ErrNotFound",
			call: func(ctx context.Context, c *harness.Client) error { return c.UpdatePipeline(ctx, "svc_a", existing) },
			want: result{Kinds: []string{"ErrNotFound"}, HTTPStatus: 400, Code: "INVALID_REQUEST"},
		},
		{
			name:  "update missing answering 404",
			setup: func(f *fixture) { f.srv.SetUpdateMissingStatus(http.StatusNotFound) },
			call:  func(ctx context.Context, c *harness.Client) error { return c.UpdatePipeline(ctx, "svc_a", existing) },
			want:  result{Kinds: []string{"ErrNotFound"}, HTTPStatus: 404, Code: "ENTITY_NOT_FOUND"},
		},
		{
			name: "wrong api key",
			cfg:  func(c *harness.Config) { c.APIKey = "pat.test_account.tok9.wrong" },
			call: func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, "svc_a"); return err },
			want: result{Kinds: []string{"ErrUnauthorized"}, HTTPStatus: 401, Code: "INVALID_TOKEN"},
		},
		{
			name: "key of another account",
			cfg:  func(c *harness.Config) { c.AccountID = "someone_else" },
			call: func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, "svc_a"); return err },
			want: result{Kinds: []string{"ErrUnauthorized"}, HTTPStatus: 401, Code: "INVALID_TOKEN"},
		},
		{
			name: "rbac denial",
			setup: func(f *fixture) {
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 403, Code: "NG_ACCESS_DENIED"})
			},
			call: func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, "svc_a"); return err },
			want: result{Kinds: []string{"ErrForbidden"}, HTTPStatus: 403, Code: "NG_ACCESS_DENIED"},
		},
		{
			name: "429 html from the edge",
			setup: func(f *fixture) {
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 429, HTML: true})
			},
			cfg:    func(c *harness.Config) { c.Retry.MaxAttempts = 1 },
			call:   func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, "svc_a"); return err },
			want:   result{Kinds: []string{"ErrRateLimited"}, Retryable: true, HTTPStatus: 429},
			msgHas: "Too Many Requests with a non-envelope body (text/html",
		},
		{
			name: "500 ErrorDTO",
			setup: func(f *fixture) {
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500})
			},
			cfg:  func(c *harness.Config) { c.Retry.MaxAttempts = 1 },
			call: func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, "svc_a"); return err },
			want: result{Kinds: []string{"ErrServer"}, Retryable: true, HTTPStatus: 500, Code: "UNEXPECTED"},
		},
		{
			name: "502 html",
			setup: func(f *fixture) {
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 502, HTML: true})
			},
			cfg:  func(c *harness.Config) { c.Retry.MaxAttempts = 1 },
			call: func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, "svc_a"); return err },
			want: result{Kinds: []string{"ErrServer"}, Retryable: true, HTTPStatus: 502},
		},
		{
			name: "503 html",
			setup: func(f *fixture) {
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 503, HTML: true})
			},
			cfg:  func(c *harness.Config) { c.Retry.MaxAttempts = 1 },
			call: func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, "svc_a"); return err },
			want: result{Kinds: []string{"ErrServer"}, Retryable: true, HTTPStatus: 503},
		},
		{
			name: "504 html",
			setup: func(f *fixture) {
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 504, HTML: true})
			},
			cfg:  func(c *harness.Config) { c.Retry.MaxAttempts = 1 },
			call: func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, "svc_a"); return err },
			want: result{Kinds: []string{"ErrServer"}, Retryable: true, HTTPStatus: 504},
		},
		{
			name: "501 is a server error that is not retried",
			setup: func(f *fixture) {
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 501})
			},
			call: func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, "svc_a"); return err },
			want: result{Kinds: []string{"ErrServer"}, HTTPStatus: 501, Code: "UNEXPECTED"},
		},
		{
			name: "404 page from a wrong base url is not ErrNotFound",
			cfg:  func(c *harness.Config) { c.BaseURL += "/wrong/prefix" },
			call: func(ctx context.Context, c *harness.Client) error { _, err := c.GetPipeline(ctx, "svc_a"); return err },
			want: result{Kinds: []string{"ErrUnexpectedResponse"}, HTTPStatus: 404},
		},
		{
			name: "governance deny",
			setup: func(f *fixture) {
				f.srv.SetGovernanceDeny(true)
			},
			call: func(ctx context.Context, c *harness.Client) error {
				_, err := c.CreatePipeline(ctx, existing)
				return err
			},
			want:   result{Kinds: []string{"ErrGovernanceDenied"}, HTTPStatus: 200},
			msgHas: "deny_all",
		},
		{
			name: "unknown execution",
			call: func(ctx context.Context, c *harness.Client) error {
				_, err := c.ExecutionStatus(ctx, "AbCdEf0123456789xyz_-q")
				return err
			},
			want: result{Kinds: []string{"ErrNotFound"}, HTTPStatus: 404, Code: "ENTITY_NOT_FOUND"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mods := []func(*harness.Config){}
			if tt.cfg != nil {
				mods = append(mods, tt.cfg)
			}
			f := newFixture(t, mods...)
			if tt.setup != nil {
				tt.setup(f)
			}
			err := tt.call(context.Background(), f.client)
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			ae := apiErr(t, err)
			got := result{Kinds: kindsOf(err), Retryable: harness.IsRetryable(err), HTTPStatus: ae.HTTPStatus, Code: ae.Code}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("classification of %q (-want +got):\n%s", err, diff)
			}
			if tt.msgHas != "" && !strings.Contains(ae.Message, tt.msgHas) {
				t.Errorf("message %q does not contain %q", ae.Message, tt.msgHas)
			}
			if ae.CorrelationID == "" && ae.Code != "" {
				t.Errorf("ErrorDTO answer lost its correlation id: %v", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	f := newFixture(t, func(c *harness.Config) { c.Retry.MaxAttempts = 1 })
	f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 429, HTML: true, RetryAfter: 7 * time.Second})
	_, err := f.client.GetPipeline(context.Background(), "svc_a")
	d, ok := harness.RetryAfter(err)
	if !ok || d != 7*time.Second {
		t.Errorf("RetryAfter(%v) = %v, %v; want 7s, true", err, d, ok)
	}
	if !harness.IsRetryable(err) {
		t.Errorf("IsRetryable(%v) = false, want true", err)
	}

	f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 429, HTML: true})
	_, err = f.client.GetPipeline(context.Background(), "svc_a")
	if d, ok := harness.RetryAfter(err); ok {
		t.Errorf("RetryAfter without a header = %v, true; want false", d)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("dropped connection", func(t *testing.T) {
		f := newFixture(t, func(c *harness.Config) { c.Retry.MaxAttempts = 1 })
		f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultDrop})
		_, err := f.client.GetPipeline(context.Background(), "svc_a")
		if diff := cmp.Diff([]string{"ErrTransport"}, kindsOf(err)); diff != "" {
			t.Errorf("kinds of %v (-want +got):\n%s", err, diff)
		}
		if !harness.IsRetryable(err) {
			t.Errorf("IsRetryable(%v) = false, want true", err)
		}
	})
	t.Run("hang past the call timeout", func(t *testing.T) {
		f := newFixture(t, func(c *harness.Config) {
			c.Retry.MaxAttempts = 1
			c.CallTimeout = 50 * time.Millisecond
		})
		f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultHang})
		_, err := f.client.GetPipeline(context.Background(), "svc_a")
		if diff := cmp.Diff([]string{"ErrTimeout"}, kindsOf(err)); diff != "" {
			t.Errorf("kinds of %v (-want +got):\n%s", err, diff)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !harness.IsRetryable(err) {
			t.Errorf("%v: want a retryable error wrapping context.DeadlineExceeded", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		f := newFixture(t, func(c *harness.Config) { c.Retry.MaxAttempts = 1 })
		f.srv.Close()
		_, err := f.client.GetPipeline(context.Background(), "svc_a")
		if diff := cmp.Diff([]string{"ErrTransport"}, kindsOf(err)); diff != "" {
			t.Errorf("kinds of %v (-want +got):\n%s", err, diff)
		}
	})
	t.Run("canceled by the caller", func(t *testing.T) {
		f := newFixture(t)
		f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultHang})
		ctx, cancel := context.WithCancel(context.Background())
		go func() { // cancel once the request is hanging on the server
			for len(f.srv.Calls()) == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		_, err := f.client.GetPipeline(ctx, "svc_a")
		if !errors.Is(err, context.Canceled) || harness.IsRetryable(err) {
			t.Errorf("%v: want a non-retryable error wrapping context.Canceled", err)
		}
		if n := len(f.srv.Calls()); n != 1 {
			t.Errorf("%d calls, want 1: a canceled call is not retried", n)
		}
	})
}

func TestClientSideValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.client.GetPipeline(ctx, "has-hyphen"); !errors.Is(err, harness.ErrInvalidRequest) {
		t.Errorf("GetPipeline with a bad identifier: %v, want ErrInvalidRequest", err)
	}
	if _, err := f.client.CreateOrUpdate(ctx, "svc_a", pipelineYAML("svc_b", "b", "")); !errors.Is(err, harness.ErrInvalidRequest) {
		t.Errorf("CreateOrUpdate with a mismatched identifier: %v, want ErrInvalidRequest", err)
	}
	if _, err := f.client.In("", "").GetPipeline(ctx, "svc_a"); !errors.Is(err, harness.ErrInvalidRequest) {
		t.Errorf("GetPipeline without org/project: %v, want ErrInvalidRequest", err)
	}
	wantCalls(t, f.srv)
}

func TestNewValidatesConfig(t *testing.T) {
	tests := map[string]harness.Config{
		"no account":       {APIKey: "k"},
		"no key":           {AccountID: "a"},
		"not a url":        {AccountID: "a", APIKey: "k", BaseURL: "::"},
		"no scheme":        {AccountID: "a", APIKey: "k", BaseURL: "app.harness.io/gateway"},
		"credentials":      {AccountID: "a", APIKey: "k", BaseURL: "https://u:p@app.harness.io"},
		"key with newline": {AccountID: "a", APIKey: "k\nx"},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := harness.New(cfg); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}
