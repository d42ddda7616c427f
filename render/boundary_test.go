package render

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundaries keeps the pure packages pure: render, the templates
// it embeds and the catalog it imports, and the loop's planners and
// presenters with the value packages they use (record, gh, work), never
// reach the network, a database, a GitHub or Harness client or a logger.
func TestImportBoundaries(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not available")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".", "../templates", "../planner", "../present", "../record", "../gh", "../work").Output()
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
		"github.com/pipeline-orchestrator/pipeline-orchestrator/harness",
		"github.com/pipeline-orchestrator/pipeline-orchestrator/store",
		"github.com/pipeline-orchestrator/pipeline-orchestrator/ghapi",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("a pure package depends on %s", dep)
			}
		}
	}
}
