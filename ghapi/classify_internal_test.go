package ghapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// TestGoGitHubsOwnRefusalsAreRateLimits checks go-github v62's refusals
// made without asking GitHub, on a client that remembers a limit: after a
// primary limit (even a 429, whose remaining 0 it records) it answers a
// made-up 403 until the reset; after a secondary 403 it answers one until
// the end it took from the headers. Both classify as rate limits, until
// the time go-github remembers.
func TestGoGitHubsOwnRefusalsAreRateLimits(t *testing.T) {
	stub := githubtest.New(githubtest.Options{UserToken: "user", RateLimit: 5000})
	defer stub.Close()
	stub.CreateRepo("o", "r", "main", nil)
	stub.SetFaults(githubtest.Faults{RetryAfter: 30 * time.Second})
	base, err := url.Parse(stub.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{now: time.Now}
	ctx := context.Background()
	const route = "GET /repos/{owner}/{repo}"

	t.Run("after a primary 429", func(t *testing.T) {
		client := github.NewClient(nil).WithAuthToken("user")
		client.BaseURL = base
		stub.FailNext(route, 1, githubtest.FaultPrimaryRateLimit429)
		_, _, err := client.Repositories.Get(ctx, "o", "r")
		first, ok := c.classify(err).(*RateLimitError)
		if !ok || first.Status != http.StatusTooManyRequests || first.Secondary {
			t.Fatalf("first answer = %v, want a primary *RateLimitError from 429", err)
		}
		_, _, err = client.Repositories.Get(ctx, "o", "r")
		var refusal *github.RateLimitError
		if !errors.As(err, &refusal) || realResponse(refusal.Response) {
			t.Fatalf("second call = %v, want go-github's own refusal", err)
		}
		second, ok := c.classify(err).(*RateLimitError)
		if !ok || second.Status != 0 || second.Secondary || !second.Until.Equal(first.Until) {
			t.Errorf("refusal = %+v, want a primary limit until %v", second, first.Until)
		}
	})
	t.Run("after a secondary 403 without Retry-After", func(t *testing.T) {
		client := github.NewClient(nil).WithAuthToken("user")
		client.BaseURL = base
		stub.FailNext(route, 1, githubtest.FaultSecondaryRateLimitNoRetryAfter)
		before := time.Now()
		_, _, err := client.Repositories.Get(ctx, "o", "r")
		var abuse *github.AbuseRateLimitError
		if !errors.As(err, &abuse) || abuse.RetryAfter == nil || *abuse.RetryAfter < 50*time.Minute {
			t.Fatalf("go-github's view = %v, want a secondary limit it takes to last until the hourly reset", err)
		}
		first, ok := c.classify(err).(*RateLimitError)
		if !ok || !first.Secondary || first.Until.Sub(before) > time.Minute+time.Second {
			t.Fatalf("first answer = %+v, want a secondary limit of a minute", first)
		}
		_, _, err = client.Repositories.Get(ctx, "o", "r")
		second, ok := c.classify(err).(*RateLimitError)
		if !ok || second.Status != 0 || !second.Secondary || second.Until.Sub(before) < 50*time.Minute {
			t.Errorf("refusal = %+v, want a secondary limit until go-github's remembered end", second)
		}
	})
}
