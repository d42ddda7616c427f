package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// File names used in diagnostics.
const (
	catalogFile  = "catalog/services.yaml"
	settingsFile = ".pipeline-orchestrator.yml"
)

// y joins lines into a YAML document, so that a test reads its line
// numbers off the argument list.
func y(lines ...string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n")
}

// wantDiag is an expected diagnostic. Message is a fragment that the
// diagnostic's message must contain.
type wantDiag struct {
	Line, Column int
	Service      string
	Field        string
	Message      string
}

// checkDiags fails tb unless got matches want one for one, in order, with
// the same position, service and field, each message containing the wanted
// fragment, and every diagnostic naming file.
func checkDiags(tb testing.TB, file string, got Diagnostics, want []wantDiag) {
	tb.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	projected := make([]wantDiag, len(got))
	for i, d := range got {
		projected[i] = wantDiag{Line: d.Line, Column: d.Column, Service: d.Service, Field: d.Field, Message: d.Message}
		if i < len(want) && want[i].Message != "" && strings.Contains(d.Message, want[i].Message) {
			projected[i].Message = want[i].Message
		}
		if d.File != file {
			tb.Errorf("diagnostic %d names file %q, want %q", i, d.File, file)
		}
	}
	if diff := cmp.Diff(want, projected); diff != "" {
		tb.Errorf("diagnostics mismatch (-want +got):\n%s\nall diagnostics:\n%s", diff, got.Error())
	}
}
