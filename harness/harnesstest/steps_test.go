package harnesstest

import "testing"

func TestHarnessDurations(t *testing.T) {
	for in, want := range map[string]int64{"10m": 600_000, "1h30m": 5_400_000, "1d": 86_400_000, "1w": 604_800_000,
		"500ms": 500, "0s": 0} {
		if d, ok := parseHarnessDuration(in); !ok || d.Milliseconds() != want {
			t.Errorf("parseHarnessDuration(%q) = %v, %v; want %dms", in, d, ok, want)
		}
	}
	for _, in := range []string{"", "10", "ten minutes", "5x"} {
		if _, ok := parseHarnessDuration(in); ok {
			t.Errorf("parseHarnessDuration(%q) accepted", in)
		}
	}
}
