//go:build reliability

package reliability_test

import "testing"

// TestChaos merges 100 random changes while the server is killed at least
// 30 times, and checks that Harness ends up exactly as the final catalog
// renders, with nothing lost and nothing done twice.
func TestChaos(t *testing.T) {
	runChaos(t, chaosOptions{Changes: 100, Kills: 35, Services: 15, MaxOpen: 4})
}
