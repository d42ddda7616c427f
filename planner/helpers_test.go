package planner_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/snapshot"
)

const (
	catalogPath   = "catalog/services.yaml"
	configHead    = "c0ffee0000000000000000000000000000000001"
	configBefore  = "c0ffee0000000000000000000000000000000000"
	pipelinesHead = "beef000000000000000000000000000000000001"
)

var (
	configRepo    = gh.ParseRepo("company/platform-next")
	pipelinesRepo = gh.ParseRepo("company-harness/harness-pipelines")
)

// services is a catalog of n api services svc-000, svc-001, … with the
// given profile (a config-only field).
func services(n int, profile string) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: svc-%03d\n    archetype: api\n    team: payments\n    environments: [int-stable]\n    regions: [euw1]\n    profile: %s\n", i, profile)
	}
	if n == 0 {
		return "services: []\n"
	}
	return b.String()
}

// repoWith is the pipelines repo at pipelinesHead holding files (path →
// content), with the built-in templates plus extra repo templates.
func repoWith(t *testing.T, files map[string][]byte, templates map[string]string) snapshot.Pipelines {
	t.Helper()
	repo := map[string][]byte{}
	for p, src := range templates {
		repo[p] = []byte(src)
	}
	tmpl, diags := render.LoadTemplates(repo)
	p := snapshot.Pipelines{Branch: "main", Head: gh.Commit{SHA: pipelinesHead}, Files: map[string]string{},
		Settings: catalog.DefaultSettings(), Templates: tmpl, Diags: diags, InputsHash: "inputs"}
	for path, content := range files {
		p.Files[path] = gh.BlobSHA(content)
	}
	return p
}

// catalogAt parses src as the catalog at commit, as the reader would.
func catalogAt(t *testing.T, commit, src string, p snapshot.Pipelines) snapshot.Catalog {
	t.Helper()
	c, diags := catalog.Parse(catalogPath, []byte(src), catalog.ParseOptions{Settings: p.Settings, Archetypes: p.Templates.Archetypes()})
	return snapshot.Catalog{Commit: commit, Source: []byte(src), Catalog: c, Diags: diags}
}

// rendered returns the pipeline files of a catalog as the app writes them.
func rendered(t *testing.T, src string) map[string][]byte {
	t.Helper()
	p := repoWith(t, nil, nil)
	c := catalogAt(t, configBefore, src, p)
	if len(c.Diags) > 0 {
		t.Fatalf("catalog: %v", c.Diags)
	}
	files, diags := render.All(p.Templates, c.Catalog, render.Options{Settings: p.Settings, Source: source(configBefore)})
	if len(diags) > 0 {
		t.Fatalf("render: %v", diags)
	}
	return files
}

func source(commit string) render.Source {
	return render.Source{CatalogRepo: configRepo.String(), CatalogPath: catalogPath, CatalogCommit: commit, TemplatesCommit: pipelinesHead}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
