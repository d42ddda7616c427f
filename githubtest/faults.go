package githubtest

import (
	"math/rand"
	"net/http"
	"strings"
	"time"
)

// Fault is a kind of injected API failure.
type Fault string

const (
	// FaultSecondaryRateLimit answers 403 with GitHub's secondary rate limit
	// body and a Retry-After header; go-github reports it as
	// *github.AbuseRateLimitError.
	FaultSecondaryRateLimit Fault = "secondary-rate-limit"
	// FaultBadGateway answers 502 without doing anything.
	FaultBadGateway Fault = "bad-gateway"
	// FaultBadGatewayAfterWrite performs the request, then answers 502: the
	// change happened but the caller does not know it.
	FaultBadGatewayAfterWrite Fault = "bad-gateway-after-write"
)

const (
	faultSecondary       = FaultSecondaryRateLimit
	faultBadGateway      = FaultBadGateway
	faultBadGatewayAfter = FaultBadGatewayAfterWrite
)

// Faults configures random failures. Each API call draws once from a RNG
// seeded with Seed, so a run with the same calls fails the same way.
type Faults struct {
	// SecondaryRateLimit is the fraction of calls answered with a secondary
	// rate limit.
	SecondaryRateLimit float64
	// BadGateway is the fraction of calls answered 502 before they run.
	BadGateway float64
	// BadGatewayAfterWrite is the fraction of writes (not GET) that take
	// effect and then answer 502.
	BadGatewayAfterWrite float64
	// Seed seeds the RNG.
	Seed int64
	// RetryAfter is the Retry-After of secondary rate limits; 1s when zero.
	// go-github refuses further calls on the same client until it passes.
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
		return faultSecondary
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
