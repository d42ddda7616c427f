package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemoOnce runs `pipeline-orchestrator-demo --once` as the README's
// first command does, and checks it exits 0 having played every scenario.
func TestDemoOnce(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--once", "--data", t.TempDir()}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("demo --once exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"Scenario 1: onboard a new service",
		"Scenario 2: a config-only change",
		"Scenario 3: retire a service",
		"Scenario 4: an invalid catalog PR",
		"Scenario 5: Harness fails for a while during an apply",
		"✓ Every scenario ended as expected.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "✗") {
		t.Errorf("a scenario failed:\n%s", out)
	}
}

func TestDemoRejectsArguments(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"extra"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if got := strings.Count(strings.TrimSpace(stderr.String()), "\n"); got != 0 {
		t.Errorf("want one line on stderr, got:\n%s", stderr.String())
	}
}
