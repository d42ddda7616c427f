package main

import (
	"os/exec"
	"path"
	"strings"
	"testing"
)

// TestProductionBinaryLinksNoStandIn keeps the GitHub and Harness
// stand-ins, the sandbox that wires them and the finder of ../shared out
// of the binary that serves production traffic: they are test and demo
// code, and only cmd/pipeline-orchestrator-demo links them.
func TestProductionBinaryLinksNoStandIn(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not available")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/pipeline-orchestrator/pipeline-orchestrator/"
	var ours int
	for _, dep := range strings.Fields(string(out)) {
		if !strings.HasPrefix(dep, module) {
			continue
		}
		ours++
		switch name := path.Base(dep); {
		case strings.HasSuffix(name, "test"), name == "sandbox", name == "reliability",
			name == "sharedfiles": // reads ../shared beside a checkout: tests and the demo only
			t.Errorf("the production binary links %s", dep)
		}
	}
	if ours < 5 {
		t.Fatalf("go list found only %d of the module's packages: the check looks at nothing", ours)
	}
}
