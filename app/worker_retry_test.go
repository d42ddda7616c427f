package app

import (
	"errors"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// TestRetryAtBacksEachDeliveryOffByItsOwnAttempts checks the waits a
// failed batch gets: a delivery that used up its attempts waits the long
// back-off even when it was coalesced with a fresh one, which keeps its
// short wait.
func TestRetryAtBacksEachDeliveryOffByItsOwnAttempts(t *testing.T) {
	a := &App{cfg: Config{Workers: WorkersConfig{MaxAttempts: 3, RetryBase: time.Second, RetryMax: time.Minute}}}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	spent := store.Delivery{ID: "spent", Attempts: 3}
	fresh := store.Delivery{ID: "fresh", Attempts: 1}
	for _, batch := range [][]store.Delivery{{spent, fresh}, {fresh, spent}} {
		at := a.retryAt(batch, errors.New("GitHub answered 502"), now)
		if wait := at(spent).Sub(now); wait < exhausted.Floor {
			t.Errorf("batch %s,%s: the delivery that used up its attempts waits %s, want at least %s",
				batch[0].ID, batch[1].ID, wait, exhausted.Floor)
		}
		if wait := at(fresh).Sub(now); wait < a.cfg.Workers.RetryBase/2 || wait > a.cfg.Workers.RetryMax {
			t.Errorf("batch %s,%s: the fresh delivery waits %s, want between %s and %s",
				batch[0].ID, batch[1].ID, wait, a.cfg.Workers.RetryBase/2, a.cfg.Workers.RetryMax)
		}
	}
}
