package app_test

import (
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
)

// TestRedeliveryCapHoldsAcrossSweeps runs the app with a webhook secret
// GitHub does not sign with (as after a secret change): every delivery is
// refused, and the app asks for it again at most three times however many
// sweeps see it fail.
func TestRedeliveryCapHoldsAcrossSweeps(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", func(cfg *app.Config) {
		cfg.GitHub.WebhookSecret = app.Secret("a-secret-github-does-not-sign-with")
		cfg.GitHub.RedeliveryInterval = 100 * time.Millisecond
	})
	catalog := catalogOf(genServices(1))
	w.GitHub.Commit(w.ConfigRepo, "main", "Add a service", map[string]*string{catalogPath: &catalog})
	// Forty sweeps, each seeing the attempts of its window (about a second).
	time.Sleep(4 * time.Second)
	w.GitHub.WaitIdle()
	for _, d := range w.GitHub.Deliveries() {
		redeliveries := 0
		for _, a := range d.Attempts {
			if a.StatusCode != 401 {
				t.Errorf("delivery %s (%s) attempt answered %d, want 401", d.GUID, d.Event, a.StatusCode)
			}
			if a.Redelivery {
				redeliveries++
			}
		}
		if redeliveries != 3 {
			t.Errorf("delivery %s (%s) was redelivered %d times, want 3", d.GUID, d.Event, redeliveries)
		}
	}
}
