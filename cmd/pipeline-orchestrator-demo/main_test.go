package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestDemoOnce runs `pipeline-orchestrator-demo --once` as the README's
// first command does, and checks it exits 0 having played every scenario.
func TestDemoOnce(t *testing.T) {
	t.Parallel() // the demo mostly waits: its retries back off for seconds
	out := demoOnce(t).stdout.String()
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

// onceRun is the one run of `demo --once`, with debug logs in JSON, that
// TestDemoOnce and TestDemoLogsAreStrictJSON both read: a run takes
// seconds, and what each checks is in the same run's output.
var onceRun demoRun

// demoRun is what a run of the demo left.
type demoRun struct {
	sync.Once
	code           int
	stdout, stderr bytes.Buffer
}

// demoOnce runs the demo once for the package, in a temporary directory
// removed on exit, and fails t if it did not exit 0.
func demoOnce(t *testing.T) *demoRun {
	t.Helper()
	onceRun.Do(func() {
		onceRun.code = run(context.Background(), []string{"--once", "--log-format", "json", "--log-level", "debug"}, &onceRun.stdout, &onceRun.stderr)
	})
	if onceRun.code != exitOK {
		t.Fatalf("demo --once exited %d\nstdout:\n%s\nstderr:\n%.5000s", onceRun.code, onceRun.stdout.String(), onceRun.stderr.String())
	}
	return &onceRun
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

// TestHelpSaysTheDefaults checks that --help names the flags with the
// defaults the demo runs with.
func TestHelpSaysTheDefaults(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	o, _, _ := parseFlags(nil, io.Discard)
	for _, want := range []string{
		"-log-level string", fmt.Sprintf("(default %q)", o.logLevel), "-log-format string", fmt.Sprintf("(default %q)", o.logFmt),
		"-keep", "-once", "-data string", "removed on exit",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, stderr.String())
		}
	}
	if o.logLevel != "info" || o.logFmt != "console" {
		t.Errorf("logs default to %s %s, want info console", o.logLevel, o.logFmt)
	}
}

// TestDataDir checks what becomes of the demo's directory on exit: a
// temporary one is removed unless --keep; one given with --data stays.
func TestDataDir(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	given := t.TempDir()
	for _, tc := range []struct {
		name string
		o    options
		kept bool
	}{
		{"temporary", options{}, false},
		{"temporary with --keep", options{keep: true}, true},
		{"--data", options{dataDir: given}, true},
		{"--data with --keep", options{dataDir: given, keep: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, cleanup, err := dataDir(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.o.dataDir != "" && dir != tc.o.dataDir {
				t.Errorf("dir %s, want %s", dir, tc.o.dataDir)
			}
			if err := os.WriteFile(filepath.Join(dir, "pipeline-orchestrator.db"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := cleanup(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dir); (err == nil) != tc.kept {
				t.Errorf("after cleanup: %v, want kept %v", err, tc.kept)
			}
		})
	}
}
