// Package backoff is the one back-off formula of the app: exponential,
// capped, with full jitter. The outbox, the delivery workers and the
// Harness client all wait with it.
package backoff

import "time"

// Exponential doubles the cap of each wait from Base up to Max.
type Exponential struct {
	// Base is the cap of the wait after the first failed attempt.
	Base time.Duration
	// Max caps every wait.
	Max time.Duration
	// Floor is the shortest wait (0: none). A retry that must not come at
	// once, such as a whole loop run's, sets it.
	Floor time.Duration
}

// Ceiling is the longest wait after the given failed attempt (1-based):
// min(Max, Base*2^(attempt-1)).
func (e Exponential) Ceiling(attempt int) time.Duration {
	ceiling := e.Base
	for i := 1; i < attempt && ceiling < e.Max; i++ {
		ceiling *= 2
	}
	if ceiling > e.Max || ceiling <= 0 {
		ceiling = e.Max
	}
	return ceiling
}

// Delay is the wait after the given failed attempt with full jitter: a
// point chosen by rnd (in [0, 1)) between Floor and Ceiling(attempt).
// Full jitter spreads the retries of many clients that failed together.
func (e Exponential) Delay(attempt int, rnd float64) time.Duration {
	ceiling := e.Ceiling(attempt)
	if e.Floor >= ceiling {
		return e.Floor
	}
	return e.Floor + time.Duration(rnd*float64(ceiling-e.Floor))
}
