package app

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
)

func TestToRedeliver(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	attempts := []gh.WebhookAttempt{
		{ID: 1, GUID: "ok", At: at(1), StatusCode: 200},
		{ID: 2, GUID: "down", At: at(2), StatusCode: 0},                        // connection refused
		{ID: 3, GUID: "fixed", At: at(3), StatusCode: 500},                     // failed, then
		{ID: 4, GUID: "fixed", At: at(4), StatusCode: 200, Redelivery: true},   // redelivered fine
		{ID: 5, GUID: "refused", At: at(5), StatusCode: 400},                   // redelivered three times
		{ID: 6, GUID: "refused", At: at(6), StatusCode: 400, Redelivery: true}, // (counted across sweeps): give up
		{ID: 7, GUID: "refused", At: at(7), StatusCode: 400, Redelivery: true},
		{ID: 8, GUID: "unhandled", At: at(8), StatusCode: 202},
		{ID: 9, GUID: "again", At: at(0), StatusCode: 503},
		{ID: 10, GUID: "again", At: at(9), StatusCode: 502, Redelivery: true},
	}
	// The window of a later sweep sees only the latest attempt of an
	// old delivery: the count kept across sweeps still caps it.
	attempts = append(attempts, gh.WebhookAttempt{ID: 11, GUID: "capped", At: at(10), StatusCode: 401, Redelivery: true})
	requested := map[string]int{"refused": 3, "again": 1, "capped": 3}
	// Oldest delivery first, each by its latest attempt.
	want := []redelivery{{ID: 2, GUID: "down"}, {ID: 10, GUID: "again"}}
	if diff := cmp.Diff(want, toRedeliver(attempts, requested)); diff != "" {
		t.Errorf("redeliver (-want +got):\n%s", diff)
	}
}
