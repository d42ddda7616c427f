package ghapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/ghapi"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// TestRateLimitsFrom403And429 checks every way GitHub answers a rate
// limit, through a port: each is a *ghapi.RateLimitError that waits as
// GitHub asks, Retry-After first, then x-ratelimit-reset when nothing is
// left, else a minute for a secondary limit; never the end of the hourly
// window for a secondary limit, which go-github v62 would take.
func TestRateLimitsFrom403And429(t *testing.T) {
	const route = "GET /repos/{owner}/{repo}/git/ref/{ref}"
	tests := []struct {
		fault     githubtest.Fault
		status    int
		secondary bool
		wait      time.Duration // from the request
	}{
		{githubtest.FaultSecondaryRateLimit, 403, true, 30 * time.Second},
		{githubtest.FaultSecondaryRateLimit429, 429, true, 30 * time.Second},
		{githubtest.FaultSecondaryRateLimitNoRetryAfter, 403, true, time.Minute},
		{githubtest.FaultSecondaryRateLimit429NoRetryAfter, 429, true, time.Minute},
		{githubtest.FaultPrimaryRateLimit, 403, false, 30 * time.Second},
		{githubtest.FaultPrimaryRateLimit429, 429, false, 30 * time.Second},
	}
	// A real window, so that every answer carries x-ratelimit-* headers
	// with a reset an hour away.
	c, stub := newClientWith(t, func(o *githubtest.Options) { o.RateLimit = 5000 }, func(s *githubtest.Server) {
		s.AddInstallation("org-a")
		s.CreateRepo("org-a", "repo", "main", nil)
	})
	stub.SetFaults(githubtest.Faults{RetryAfter: 30 * time.Second})
	ctx := context.Background()
	repo := gh.Repo{Owner: "org-a", Name: "repo"}
	if _, err := c.Branch(ctx, repo, "main"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(string(tc.fault), func(t *testing.T) {
			stub.FailNext(route, 1, tc.fault)
			before := time.Now().Truncate(time.Second)
			_, err := c.Branch(ctx, repo, "main")
			after := time.Now()
			var rl *ghapi.RateLimitError
			if !errors.As(err, &rl) {
				t.Fatalf("err = %v (%T), want *ghapi.RateLimitError", err, err)
			}
			if rl.Status != tc.status || rl.Secondary != tc.secondary {
				t.Errorf("status %d secondary %v, want %d %v", rl.Status, rl.Secondary, tc.status, tc.secondary)
			}
			// x-ratelimit-reset has a resolution of one second.
			if rl.Until.Before(before.Add(tc.wait)) || rl.Until.After(after.Add(tc.wait+time.Second)) {
				t.Errorf("until %v, want %v after the request", rl.Until.Sub(before), tc.wait)
			}
			until, ok := gh.IsRateLimit(err)
			if retry, transient := gh.RetryAfterOf(err); !ok || !until.Equal(rl.Until) || !transient || retry <= 0 || retry > tc.wait+time.Second {
				t.Errorf("IsRateLimit = %v, %v; RetryAfterOf = %v, %v", until, ok, retry, transient)
			}
			// The next call goes to GitHub: no client remembers the limit.
			if _, err := c.Branch(ctx, repo, "main"); err != nil {
				t.Errorf("the call after the limit: %v", err)
			}
		})
	}
}

// TestTokenExchangeRateLimit checks a rate limit on the exchange of the
// App's JWT for an installation token, which ghinstallation reports.
func TestTokenExchangeRateLimit(t *testing.T) {
	c, stub := newClient(t)
	stub.FailNext("POST /app/installations/{installation_id}/access_tokens", 1, githubtest.FaultSecondaryRateLimit429NoRetryAfter)
	_, err := c.Branch(context.Background(), gh.Repo{Owner: "org-a", Name: "repo"}, "main")
	var rl *ghapi.RateLimitError
	if !errors.As(err, &rl) || rl.Status != 429 || !rl.Secondary {
		t.Fatalf("err = %v, want a secondary *ghapi.RateLimitError from 429", err)
	}
	if wait := time.Until(rl.Until); wait < 58*time.Second || wait > time.Minute {
		t.Errorf("wait = %v, want a minute", wait)
	}
}

func TestForbiddenIsNotARateLimit(t *testing.T) {
	c, _ := newClientWith(t, func(o *githubtest.Options) {
		o.Permissions = map[string]string{"contents": "read", "metadata": "read"}
	}, func(s *githubtest.Server) {
		s.AddInstallation("org-a")
		s.CreateRepo("org-a", "repo", "main", nil)
	})
	_, err := c.GetPR(context.Background(), gh.Repo{Owner: "org-a", Name: "repo"}, 1)
	if err == nil || !strings.Contains(err.Error(), "Resource not accessible by integration") {
		t.Fatalf("err = %v, want 403 Resource not accessible by integration", err)
	}
	if _, ok := gh.RetryAfterOf(err); ok {
		t.Errorf("a missing permission is transient: %v", err)
	}
}
