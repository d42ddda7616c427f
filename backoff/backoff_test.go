package backoff_test

import (
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/backoff"
)

func TestCeilingDoublesUpToMax(t *testing.T) {
	e := backoff.Exponential{Base: time.Second, Max: 10 * time.Second}
	for attempt, want := range map[int]time.Duration{
		0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second,
		5: 10 * time.Second, 60: 10 * time.Second,
	} {
		if got := e.Ceiling(attempt); got != want {
			t.Errorf("Ceiling(%d) = %s, want %s", attempt, got, want)
		}
	}
}

func TestDelayIsJitterTimesCeiling(t *testing.T) {
	e := backoff.Exponential{Base: time.Second, Max: time.Minute}
	if got := e.Delay(3, 0.5); got != 2*time.Second {
		t.Errorf("Delay(3, 0.5) = %s, want 2s", got)
	}
	if got := e.Delay(3, 0); got != 0 {
		t.Errorf("Delay(3, 0) = %s, want 0", got)
	}
}

func TestZeroBaseUsesMax(t *testing.T) {
	e := backoff.Exponential{Max: time.Minute}
	if got := e.Ceiling(1); got != time.Minute {
		t.Errorf("Ceiling = %s, want the cap when Base is zero", got)
	}
}

func TestFloorIsTheShortestWait(t *testing.T) {
	e := backoff.Exponential{Base: time.Second, Max: time.Minute, Floor: 500 * time.Millisecond}
	if got := e.Delay(1, 0); got != 500*time.Millisecond {
		t.Errorf("Delay(1, 0) = %s, want the floor", got)
	}
	if got := e.Delay(2, 0.5); got != 1250*time.Millisecond {
		t.Errorf("Delay(2, 0.5) = %s, want halfway between the floor and 2s", got)
	}
	if got := (backoff.Exponential{Base: time.Second, Max: time.Second, Floor: time.Minute}).Delay(3, 0.9); got != time.Minute {
		t.Errorf("a floor above the cap = %s, want the floor", got)
	}
}
