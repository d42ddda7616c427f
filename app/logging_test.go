package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
)

// TestConsoleLogsToAFileCarryNoColourCodes: console logs redirected to a
// file are read with less or grep, where colour codes are noise.
func TestConsoleLogsToAFileCarryNoColourCodes(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log, err := app.NewLogger(f, "info", "console")
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Str("service", "payment-service").Msg("rendered")
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "rendered") || strings.Contains(string(b), "\x1b[") {
		t.Errorf("console log written to a file = %q, want the message without escape codes", b)
	}
}
