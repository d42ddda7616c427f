package githubtest

import (
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is a kind of injected API failure.
type Fault string

// Rate limits. GitHub answers both kinds with 403 or 429 ("Exceeding the
// rate limit", docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api):
// a primary limit with x-ratelimit-remaining: 0 and x-ratelimit-reset, a
// secondary one with a message saying so and, sometimes, Retry-After.
// Every answer also carries the caller's x-ratelimit-* headers, as GitHub's
// do. go-github v62 recognises only the 403s (github.CheckResponse): a 429
// is a plain *github.ErrorResponse.
const (
	// FaultSecondaryRateLimit answers 403 with GitHub's secondary rate limit
	// body and a Retry-After header; go-github reports it as
	// *github.AbuseRateLimitError.
	FaultSecondaryRateLimit Fault = "secondary-rate-limit"
	// FaultSecondaryRateLimit429 is FaultSecondaryRateLimit with status 429.
	FaultSecondaryRateLimit429 Fault = "secondary-rate-limit-429"
	// FaultSecondaryRateLimitNoRetryAfter answers 403 with the secondary
	// rate limit body and no Retry-After, which GitHub also does
	// (hub4j/github-api#2009): the client is to wait at least a minute.
	FaultSecondaryRateLimitNoRetryAfter Fault = "secondary-rate-limit-no-retry-after"
	// FaultSecondaryRateLimit429NoRetryAfter is
	// FaultSecondaryRateLimitNoRetryAfter with status 429.
	FaultSecondaryRateLimit429NoRetryAfter Fault = "secondary-rate-limit-429-no-retry-after"
	// FaultPrimaryRateLimit answers 403 "API rate limit exceeded for …"
	// with x-ratelimit-remaining: 0 and x-ratelimit-reset Faults.RetryAfter
	// from now; go-github reports it as *github.RateLimitError. The
	// caller's real window is left alone.
	FaultPrimaryRateLimit Fault = "primary-rate-limit"
	// FaultPrimaryRateLimit429 is FaultPrimaryRateLimit with status 429.
	FaultPrimaryRateLimit429 Fault = "primary-rate-limit-429"
)

// rateLimitShape is how one rate limit fault answers.
type rateLimitShape struct {
	status     int
	primary    bool
	retryAfter bool
}

var rateLimitShapes = map[Fault]rateLimitShape{
	FaultSecondaryRateLimit:                {status: http.StatusForbidden, retryAfter: true},
	FaultSecondaryRateLimit429:             {status: http.StatusTooManyRequests, retryAfter: true},
	FaultSecondaryRateLimitNoRetryAfter:    {status: http.StatusForbidden},
	FaultSecondaryRateLimit429NoRetryAfter: {status: http.StatusTooManyRequests},
	FaultPrimaryRateLimit:                  {status: http.StatusForbidden, primary: true},
	FaultPrimaryRateLimit429:               {status: http.StatusTooManyRequests, primary: true},
}

const (
	// FaultBadGateway answers 502 without doing anything.
	FaultBadGateway Fault = "bad-gateway"
	// FaultBadGatewayAfterWrite performs the request, then answers 502: the
	// change happened but the caller does not know it.
	FaultBadGatewayAfterWrite Fault = "bad-gateway-after-write"
)

const (
	faultBadGateway      = FaultBadGateway
	faultBadGatewayAfter = FaultBadGatewayAfterWrite
)

// Faults configures random failures. Each API call draws once from a RNG
// seeded with Seed, so a run with the same calls fails the same way.
type Faults struct {
	// SecondaryRateLimit is the fraction of calls answered with a rate
	// limit, each drawn evenly from RateLimitShapes.
	SecondaryRateLimit float64
	// RateLimitShapes are the rate limit faults SecondaryRateLimit draws
	// from; [FaultSecondaryRateLimit] when empty. Primary shapes may be
	// mixed in.
	RateLimitShapes []Fault
	// BadGateway is the fraction of calls answered 502 before they run.
	BadGateway float64
	// BadGatewayAfterWrite is the fraction of writes (not GET) that take
	// effect and then answer 502.
	BadGatewayAfterWrite float64
	// Seed seeds the RNG.
	Seed int64
	// RetryAfter is the Retry-After of secondary rate limits, and how far
	// ahead the x-ratelimit-reset of injected primary ones is; 1s when
	// zero. go-github refuses further calls on the same client until it
	// passes.
	RetryAfter time.Duration
	// ExcludeTokenEndpoint spares POST /app/installations/{id}/access_tokens.
	ExcludeTokenEndpoint bool
	// Routes, when not empty, limits injection to these call keys (as in
	// Calls, for example "POST /repos/{owner}/{repo}/git/trees").
	Routes []string
	// WebhookDrop is the fraction of webhook deliveries that fail to
	// connect (recorded as failed, never received).
	WebhookDrop float64
}

type forcedFault struct {
	route string
	kind  Fault
	left  int
}

// SetFaults replaces the random fault configuration and reseeds the RNG.
// The zero Faults turns random faults off.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.rng = rand.New(rand.NewSource(f.Seed))
	s.mu.Unlock()
	h := s.hooks
	h.mu.Lock()
	h.dropRate = f.WebhookDrop
	h.rng = rand.New(rand.NewSource(f.Seed))
	h.mu.Unlock()
}

// FailNext makes the next n calls to route (a Calls key; "" for any route)
// fail with kind, before any random fault is considered.
func (s *Server) FailNext(route string, n int, kind Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forced = append(s.forced, forcedFault{route: route, kind: kind, left: n})
}

const tokenRoute = "POST /app/installations/{installation_id}/access_tokens"

// pickFault decides the fault for one call; s.mu is held.
func (s *Server) pickFault(route string) Fault {
	write := !strings.HasPrefix(route, http.MethodGet+" ")
	for i, f := range s.forced {
		if f.left > 0 && (f.route == "" || f.route == route) {
			if f.kind == faultBadGatewayAfter && !write {
				continue
			}
			s.forced[i].left--
			return f.kind
		}
	}
	f := s.faults
	if f.SecondaryRateLimit == 0 && f.BadGateway == 0 && f.BadGatewayAfterWrite == 0 {
		return ""
	}
	if f.ExcludeTokenEndpoint && route == tokenRoute {
		return ""
	}
	if len(f.Routes) > 0 {
		found := false
		for _, r := range f.Routes {
			found = found || r == route
		}
		if !found {
			return ""
		}
	}
	x := s.rng.Float64()
	switch {
	case x < f.SecondaryRateLimit:
		switch len(f.RateLimitShapes) {
		case 0:
			return FaultSecondaryRateLimit
		case 1:
			return f.RateLimitShapes[0]
		}
		return f.RateLimitShapes[s.rng.Intn(len(f.RateLimitShapes))]
	case x < f.SecondaryRateLimit+f.BadGateway:
		return faultBadGateway
	case write && x < f.SecondaryRateLimit+f.BadGateway+f.BadGatewayAfterWrite:
		return faultBadGatewayAfter
	}
	return ""
}

func (s *Server) retryAfterSeconds() int {
	d := s.faults.RetryAfter
	if d <= 0 {
		return 1
	}
	return int((d + time.Second - 1) / time.Second)
}

// writeRateLimit answers a request the way GitHub answers a rate limit of
// the given shape; s.mu is held and the caller's x-ratelimit-* headers are
// set. An injected primary limit overrides them: remaining 0, reset
// Faults.RetryAfter from now.
func (s *Server) writeRateLimit(c *call, shape rateLimitShape, injected bool) {
	h := c.w.header
	if shape.primary {
		// The primary limit's body (fountainhead/action-wait-for-check#29)
		// with remaining 0 and the reset as epoch seconds.
		if injected {
			if h.Get("X-RateLimit-Limit") == "" { // Options.RateLimit < 0
				h.Set("X-RateLimit-Limit", "5000")
				h.Set("X-RateLimit-Resource", "core")
			}
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Used", h.Get("X-RateLimit-Limit"))
			h.Set("X-RateLimit-Reset", strconv.FormatInt(s.now().Add(time.Duration(s.retryAfterSeconds())*time.Second).Unix(), 10))
		}
		c.writeJSON(shape.status, apiError{
			Message:          "API rate limit exceeded for " + c.id.rateSubject() + ".",
			DocumentationURL: docsPrimaryRateLimit,
			Status:           strconv.Itoa(shape.status),
		})
		return
	}
	if shape.retryAfter {
		h.Set("Retry-After", strconv.Itoa(s.retryAfterSeconds()))
	}
	// The secondary limit's body as quoted in google/go-github#3001.
	c.writeJSON(shape.status, map[string]string{
		"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID " + h.Get("X-GitHub-Request-Id") + ".",
		"documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
	})
}

// docsPrimaryRateLimit is the documentation_url of primary rate limits.
const docsPrimaryRateLimit = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"
