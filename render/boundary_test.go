package render

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundaries keeps render and the templates it embeds pure: no
// network, database, GitHub client or logger.
func TestImportBoundaries(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not available")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".", "../templates").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"net/http",
		"database/sql",
		"github.com/google/go-github",
		"github.com/palantir/go-githubapp",
		"github.com/rs/zerolog",
		"modernc.org/sqlite",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("render depends on %s", dep)
			}
		}
	}
}
