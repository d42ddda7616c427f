package githubtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

func TestRandomFaultRatesAreSeeded(t *testing.T) {
	s := newServer(t)
	s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	run := func() (statuses []int) {
		s.SetFaults(githubtest.Faults{SecondaryRateLimit: 0.2, BadGateway: 0.1, Seed: 42})
		for i := 0; i < 500; i++ {
			status, hdr, body := rawRequest(t, "GET", s.URL+"repos/acme/platform", "token "+testUserToken, "")
			if status == http.StatusForbidden && (hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "secondary rate limit")) {
				t.Fatalf("403 without Retry-After or message: %v %s", hdr, body)
			}
			statuses = append(statuses, status)
		}
		return statuses
	}
	first := run()
	counts := map[int]int{}
	for _, st := range first {
		counts[st]++
	}
	// 500 draws: expect about 100 secondary limits and 50 bad gateways.
	if counts[403] < 70 || counts[403] > 130 || counts[502] < 30 || counts[502] > 75 || counts[200]+counts[403]+counts[502] != 500 {
		t.Errorf("status counts = %v", counts)
	}
	if diff := cmp.Diff(first, run()); diff != "" {
		t.Errorf("same seed gave different faults (-first +second):\n%s", diff)
	}
	s.SetFaults(githubtest.Faults{})
	if status, _, _ := rawRequest(t, "GET", s.URL+"repos/acme/platform", "token "+testUserToken, ""); status != 200 {
		t.Errorf("after clearing faults: %d", status)
	}
}

func TestFaultsAsGoGitHubSeesThem(t *testing.T) {
	s := newServer(t)
	inst := s.AddInstallation("acme")
	head := s.CreateRepo("acme", "platform", "main", nil)
	ctx := context.Background()

	t.Run("secondary rate limit", func(t *testing.T) {
		s.SetFaults(githubtest.Faults{RetryAfter: 2 * time.Second})
		s.FailNext("GET /repos/{owner}/{repo}", 1, githubtest.FaultSecondaryRateLimit)
		_, _, err := userClient(t, s).Repositories.Get(ctx, "acme", "platform")
		var abuse *github.AbuseRateLimitError
		if !errors.As(err, &abuse) || abuse.RetryAfter == nil || *abuse.RetryAfter != 2*time.Second {
			t.Fatalf("err = %#v, want *github.AbuseRateLimitError with RetryAfter 2s", err)
		}
	})
	t.Run("token endpoint excluded", func(t *testing.T) {
		s.SetFaults(githubtest.Faults{BadGateway: 1, ExcludeTokenEndpoint: true})
		defer s.SetFaults(githubtest.Faults{})
		_, _, err := installationClient(t, s, inst).Repositories.Get(ctx, "acme", "platform")
		if got := statusOf(t, err); got != http.StatusBadGateway {
			t.Errorf("status = %d, want 502 from the API call, not the token exchange", got)
		}
		if n := s.Calls()["POST /app/installations/{installation_id}/access_tokens"]; n != 1 {
			t.Errorf("token exchanges = %d", n)
		}
	})
	t.Run("bad gateway after write", func(t *testing.T) {
		c := installationClient(t, s, inst)
		s.FailNext("POST /repos/{owner}/{repo}/git/refs", 1, githubtest.FaultBadGatewayAfterWrite)
		ref := &github.Reference{Ref: ptr("refs/heads/bot"), Object: &github.GitObject{SHA: &head}}
		_, _, err := c.Git.CreateRef(ctx, "acme", "platform", ref)
		if got := statusOf(t, err); got != http.StatusBadGateway {
			t.Fatalf("status = %d, want 502", got)
		}
		if s.Head("acme/platform", "bot") != head {
			t.Errorf("the write was lost; it should have happened")
		}
		_, _, err = c.Git.CreateRef(ctx, "acme", "platform", ref)
		if got := statusOf(t, err); got != http.StatusUnprocessableEntity {
			t.Errorf("retry status = %d, want 422 Reference already exists", got)
		}
	})
	t.Run("dropped webhooks", func(t *testing.T) {
		rc := newReceiver(t)
		s.SetWebhookURL(rc.URL())
		s.SetFaults(githubtest.Faults{WebhookDrop: 1})
		defer s.SetFaults(githubtest.Faults{})
		before := len(s.Deliveries())
		s.Commit("acme/platform", "main", "x", map[string]*string{"x": ptr("x")})
		s.WaitIdle()
		ds := s.Deliveries()[before:]
		if len(ds) != 2 || len(rc.received()) != 0 {
			t.Fatalf("deliveries %d, received %d", len(ds), len(rc.received()))
		}
		for _, d := range ds {
			if d.Delivered() || d.Attempts[0].StatusCode != 0 {
				t.Errorf("dropped delivery %s = %+v", d.Event, d.Attempts)
			}
		}
	})
}

func TestRateLimitHeaders(t *testing.T) {
	s := newServer(t)
	s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	c := userClient(t, s)
	ctx := context.Background()
	_, resp, err := c.Repositories.Get(ctx, "acme", "platform")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rate.Limit != 5000 || resp.Rate.Remaining != 4999 || resp.Header.Get("X-RateLimit-Resource") != "core" {
		t.Errorf("rate = %+v", resp.Rate)
	}
	s.SetRateLimitRemaining("user:octocat", 0)
	_, _, err = c.Repositories.Get(ctx, "acme", "platform")
	var rl *github.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want *github.RateLimitError", err)
	}
	if rl.Rate.Limit != 5000 || rl.Rate.Remaining != 0 || rl.Rate.Reset.IsZero() {
		t.Errorf("rate = %+v", rl.Rate)
	}
}

func TestCallsAndRequestLog(t *testing.T) {
	s := newServer(t)
	inst := s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	c := installationClient(t, s, inst)
	ctx := context.Background()
	if _, _, err := c.Git.GetRef(ctx, "acme", "platform", "heads/main"); err != nil {
		t.Fatal(err)
	}
	s.ResetCalls()
	for i := 0; i < 2; i++ {
		if _, _, err := c.Git.GetRef(ctx, "acme", "platform", "heads/main"); err != nil {
			t.Fatal(err)
		}
	}
	_, _, _ = c.Git.GetRef(ctx, "acme", "platform", "heads/missing")
	want := map[string]int{"GET /repos/{owner}/{repo}/git/ref/{ref}": 3}
	if diff := cmp.Diff(want, s.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d", len(reqs))
	}
	last := reqs[2]
	if last.Path != "/repos/acme/platform/git/ref/heads/missing" || last.Status != 404 || last.Auth != "installation:"+itoa(inst) {
		t.Errorf("last request = %+v", last)
	}
}

// TestRateLimitShapes checks each way GitHub answers a rate limit, as the
// wire shows it and as go-github v62 reports it: only the 403s become its
// rate limit errors.
func TestRateLimitShapes(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	s := newServer(t, func(o *githubtest.Options) { o.Now = func() time.Time { return now } })
	s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	s.SetFaults(githubtest.Faults{RetryAfter: 30 * time.Second})
	const route = "GET /repos/{owner}/{repo}"
	secondaryMessage := "You have exceeded a secondary rate limit"
	tests := []struct {
		fault      githubtest.Fault
		status     int
		retryAfter string
		// primary: x-ratelimit-remaining is 0 and the reset is the
		// fault's, not the hourly window's.
		primary       bool
		message       string
		docsURLSuffix string
		goGitHubSees  string
	}{
		{githubtest.FaultSecondaryRateLimit, 403, "30", false, secondaryMessage, "#about-secondary-rate-limits", "*github.AbuseRateLimitError"},
		{githubtest.FaultSecondaryRateLimit429, 429, "30", false, secondaryMessage, "#about-secondary-rate-limits", "*github.ErrorResponse"},
		{githubtest.FaultSecondaryRateLimitNoRetryAfter, 403, "", false, secondaryMessage, "#about-secondary-rate-limits", "*github.AbuseRateLimitError"},
		{githubtest.FaultSecondaryRateLimit429NoRetryAfter, 429, "", false, secondaryMessage, "#about-secondary-rate-limits", "*github.ErrorResponse"},
		{githubtest.FaultPrimaryRateLimit, 403, "", true, "API rate limit exceeded for user ID", "#about-the-primary-rate-limit", "*github.RateLimitError"},
		{githubtest.FaultPrimaryRateLimit429, 429, "", true, "API rate limit exceeded for user ID", "#about-the-primary-rate-limit", "*github.ErrorResponse"},
	}
	for _, tc := range tests {
		t.Run(string(tc.fault), func(t *testing.T) {
			s.FailNext(route, 1, tc.fault)
			status, hdr, body := rawRequest(t, "GET", s.URL+"repos/acme/platform", "token "+testUserToken, "")
			var e struct {
				Message          string `json:"message"`
				DocumentationURL string `json:"documentation_url"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			reset, remaining := now.Add(time.Hour), "not 0"
			if tc.primary {
				reset, remaining = now.Add(30*time.Second), "0"
			}
			if hdr.Get("X-RateLimit-Remaining") != "0" {
				hdr.Set("X-RateLimit-Remaining", "not 0")
			}
			got := []any{status, hdr.Get("Retry-After"), hdr.Get("X-RateLimit-Remaining"), hdr.Get("X-RateLimit-Reset"),
				strings.HasPrefix(e.Message, tc.message), strings.HasSuffix(e.DocumentationURL, tc.docsURLSuffix)}
			want := []any{tc.status, tc.retryAfter, remaining, strconv.FormatInt(reset.Unix(), 10), true, true}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("status, Retry-After, remaining, reset, message, docs (-want +got):\n%s\nbody %s", diff, body)
			}

			s.FailNext(route, 1, tc.fault)
			_, _, err := userClient(t, s).Repositories.Get(context.Background(), "acme", "platform")
			if got := fmt.Sprintf("%T", err); got != tc.goGitHubSees {
				t.Errorf("go-github reports %s, want %s: %v", got, tc.goGitHubSees, err)
			}
		})
	}
}

func TestRateLimitWindowCanAnswer429(t *testing.T) {
	s := newServer(t, func(o *githubtest.Options) { o.RateLimitStatus = http.StatusTooManyRequests })
	s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	s.SetRateLimitRemaining("user:octocat", 0)
	status, hdr, body := rawRequest(t, "GET", s.URL+"repos/acme/platform", "token "+testUserToken, "")
	if status != http.StatusTooManyRequests || hdr.Get("X-RateLimit-Remaining") != "0" || !strings.Contains(string(body), "API rate limit exceeded") {
		t.Errorf("status %d remaining %q body %s, want 429 with remaining 0", status, hdr.Get("X-RateLimit-Remaining"), body)
	}
}

func TestRandomRateLimitsDrawEachShape(t *testing.T) {
	s := newServer(t)
	s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	shapes := []githubtest.Fault{githubtest.FaultSecondaryRateLimit429NoRetryAfter, githubtest.FaultPrimaryRateLimit}
	s.SetFaults(githubtest.Faults{SecondaryRateLimit: 1, RateLimitShapes: shapes, Seed: 7})
	seen := map[string]int{}
	for i := 0; i < 40; i++ {
		rawRequest(t, "GET", s.URL+"repos/acme/platform", "token "+testUserToken, "")
	}
	for _, r := range s.Requests() {
		seen[r.Fault]++
	}
	if len(seen) != 2 || seen[string(shapes[0])] < 10 || seen[string(shapes[1])] < 10 {
		t.Errorf("faults drawn = %v, want both shapes", seen)
	}
}
