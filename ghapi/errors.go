package ghapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
)

// RateLimitError is GitHub asking the App to wait before its next request:
// a primary rate limit (the installation's hourly quota is used up) or a
// secondary one. It implements gh.RateLimited: waiting is not a failure.
type RateLimitError struct {
	// Until is when requests may resume.
	Until time.Time
	// Secondary is true for a secondary rate limit.
	Secondary bool
	// Status is GitHub's answer, 403 or 429; 0 when go-github refused the
	// call itself, remembering an earlier limit.
	Status int
	Err    error
}

var _ gh.RateLimited = (*RateLimitError)(nil)

func (e *RateLimitError) Error() string {
	kind := "primary"
	if e.Secondary {
		kind = "secondary"
	}
	return fmt.Sprintf("GitHub %s rate limit until %s: %v", kind, e.Until.UTC().Format(time.RFC3339), e.Err)
}

func (e *RateLimitError) Unwrap() error { return e.Err }

// RetryAfter implements gh.Transient: the wait from now.
func (e *RateLimitError) RetryAfter() time.Duration { return max(time.Until(e.Until), 0) }

// RateLimitedUntil implements gh.RateLimited.
func (e *RateLimitError) RateLimitedUntil() time.Time { return e.Until }

// RetryableError is a GitHub failure worth retrying later: 5xx and
// transport errors. GitHub names no wait for them; rate limits are
// *RateLimitError.
type RetryableError struct {
	Err error
}

func (e *RetryableError) Error() string { return e.Err.Error() }

// RetryAfter implements gh.Transient: no wait was asked for.
func (e *RetryableError) RetryAfter() time.Duration { return 0 }
func (e *RetryableError) Unwrap() error             { return e.Err }

// IsRetryable reports whether err is a GitHub failure worth retrying (a
// rate limit included), and how long GitHub asked to wait.
func IsRetryable(err error) (bool, time.Duration) {
	after, ok := gh.RetryAfterOf(err)
	return ok, after
}

// secondaryWait is the wait after a secondary rate limit that does not
// say how long: "wait for at least one minute before retrying"
// (docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api,
// "Exceeding the rate limit").
const secondaryWait = time.Minute

// secondaryMessage matches the messages of secondary rate limits, old and
// new ("You have exceeded a secondary rate limit…", "You have triggered an
// abuse detection mechanism…"); octokit's throttling plugin matches the
// first the same way.
var secondaryMessage = regexp.MustCompile(`(?i)secondary rate limit|abuse detection`)

// rateLimit reads one of GitHub's answers as a rate limit. GitHub answers
// both kinds with 403 or 429, and documents what to wait for, in this
// order: Retry-After when present; else, when x-ratelimit-remaining is 0,
// until x-ratelimit-reset; else, for a secondary limit, at least a minute
// (docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
// A 403 with neither the headers nor a secondary-limit message is not a
// rate limit (a missing permission, say); a 429 always is.
func rateLimit(status int, h http.Header, message, docsURL string, now time.Time) (until time.Time, secondary, ok bool) {
	if status != http.StatusForbidden && status != http.StatusTooManyRequests {
		return time.Time{}, false, false
	}
	primary := h.Get("X-RateLimit-Remaining") == "0"
	secondary = !primary && (secondaryMessage.MatchString(message) ||
		strings.HasSuffix(docsURL, "secondary-rate-limits") || strings.HasSuffix(docsURL, "#abuse-rate-limits") ||
		status == http.StatusTooManyRequests || h.Get("Retry-After") != "")
	if !primary && !secondary {
		return time.Time{}, false, false
	}
	if wait, ok := retryAfter(h.Get("Retry-After"), now); ok {
		return now.Add(wait), secondary, true
	}
	if primary {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return time.Unix(reset, 0), false, true
		}
	}
	return now.Add(secondaryWait), secondary, true
}

// retryAfter reads Retry-After: seconds, or an HTTP date (RFC 9110
// section 10.2.3). go-github v62 reads only seconds.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// realResponse reports whether resp came from GitHub, rather than being
// made up by go-github when it refuses a call before sending it (its
// responses have no headers at all).
func realResponse(resp *http.Response) bool { return resp != nil && len(resp.Header) > 0 }

// rateLimitOf classifies err as a rate limit, whatever go-github made of
// the answer:
//   - *github.RateLimitError: a 403 with remaining 0, or go-github's own
//     refusal until the reset it remembers ("API rate limit of N still
//     exceeded until …", after a primary limit on the same client, 403 or
//     429), which carries that reset;
//   - *github.AbuseRateLimitError: a 403 whose documentation_url names
//     secondary limits, or go-github's own refusal until the end it
//     remembers; its RetryAfter falls back to x-ratelimit-reset, the end
//     of the hourly window, so the answer's headers are read again here;
//   - *github.ErrorResponse: every 429 (go-github v62 knows only 403s) and
//     a secondary 403 whose documentation_url it does not recognise;
//   - *ghinstallation.HTTPError: the token exchange.
func rateLimitOf(err error, now time.Time) *RateLimitError {
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		if realResponse(rl.Response) {
			if until, secondary, ok := rateLimit(rl.Response.StatusCode, rl.Response.Header, rl.Message, "", now); ok {
				return &RateLimitError{Until: until, Secondary: secondary, Status: rl.Response.StatusCode, Err: err}
			}
		}
		return &RateLimitError{Until: rl.Rate.Reset.Time, Err: err}
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		if realResponse(abuse.Response) {
			// go-github made it one from the documentation_url.
			until, secondary, _ := rateLimit(abuse.Response.StatusCode, abuse.Response.Header, abuse.Message, "secondary-rate-limits", now)
			return &RateLimitError{Until: until, Secondary: secondary, Status: abuse.Response.StatusCode, Err: err}
		}
		until := now.Add(secondaryWait)
		if abuse.RetryAfter != nil {
			until = now.Add(*abuse.RetryAfter)
		}
		return &RateLimitError{Until: until, Secondary: true, Err: err}
	}
	var resp *github.ErrorResponse
	if errors.As(err, &resp) && resp.Response != nil {
		if until, secondary, ok := rateLimit(resp.Response.StatusCode, resp.Response.Header, resp.Message, resp.DocumentationURL, now); ok {
			return &RateLimitError{Until: until, Secondary: secondary, Status: resp.Response.StatusCode, Err: err}
		}
		return nil
	}
	var tokenErr *ghinstallation.HTTPError
	if errors.As(err, &tokenErr) && tokenErr.Response != nil {
		message, docsURL := errorBody(tokenErr.Response)
		if until, secondary, ok := rateLimit(tokenErr.Response.StatusCode, tokenErr.Response.Header, message, docsURL, now); ok {
			return &RateLimitError{Until: until, Secondary: secondary, Status: tokenErr.Response.StatusCode, Err: err}
		}
	}
	return nil
}

// errorBody reads GitHub's error body from a response nobody else reads,
// and leaves it readable again.
func errorBody(resp *http.Response) (message, docsURL string) {
	if resp.Body == nil {
		return "", ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var e struct {
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
	}
	_ = json.Unmarshal(b, &e)
	return e.Message, e.DocumentationURL
}

// classify maps go-github errors to the ports' errors, once: rate limits
// to *RateLimitError, 404 to gh.ErrNotFound, 5xx and transport errors to
// *RetryableError. Other answers (4xx) are returned as they are.
func (c *Client) classify(err error) error {
	if err == nil {
		return nil
	}
	if rl := rateLimitOf(err, c.now()); rl != nil {
		return rl
	}
	var resp *github.ErrorResponse
	if errors.As(err, &resp) && resp.Response != nil {
		switch code := resp.Response.StatusCode; {
		case code == http.StatusNotFound:
			return fmt.Errorf("%w: %v", gh.ErrNotFound, err)
		case code >= 500:
			return &RetryableError{Err: err}
		}
		return err
	}
	var tokenErr *ghinstallation.HTTPError
	if errors.As(err, &tokenErr) && tokenErr.Response != nil && tokenErr.Response.StatusCode < 500 {
		return err // a 4xx from the token exchange: the App's key or installation
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	// Transport errors (connection refused, reset, timeouts) and 5xx of the
	// token exchange.
	return &RetryableError{Err: err}
}
