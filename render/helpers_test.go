package render

import (
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// Source values used by the tests.
const (
	testCatalogRepo     = "company/platform-next"
	testCatalogPath     = "catalog/services.yaml"
	testCatalogCommit   = "6f1c2b0e9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
	testTemplatesCommit = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
)

func testSource() Source {
	return Source{
		CatalogRepo:     testCatalogRepo,
		CatalogPath:     testCatalogPath,
		CatalogCommit:   testCatalogCommit,
		TemplatesCommit: testTemplatesCommit,
	}
}

// apiService returns a fresh payment-service in all default environments
// and both regions: 4 stages.
func apiService() catalog.Service {
	return catalog.Service{
		Name:         "payment-service",
		Archetype:    "api",
		Team:         "payments",
		Environments: []string{"int-stable", "pre-stable", "prod"},
		Regions:      []string{"euw1", "euw2"},
		Pipeline:     catalog.PipelineOptions{Enabled: true},
	}
}

// defaultTemplates returns the built-in templates only.
func defaultTemplates(tb testing.TB) *Templates {
	tb.Helper()
	t, diags := LoadTemplates(nil)
	if len(diags) > 0 {
		tb.Fatalf("LoadTemplates(nil): %v", diags)
	}
	return t
}

// templatesWith returns the built-in templates with repo files added.
func templatesWith(tb testing.TB, files map[string]string) *Templates {
	tb.Helper()
	repo := make(map[string][]byte, len(files))
	for p, src := range files {
		repo[p] = []byte(src)
	}
	t, diags := LoadTemplates(repo)
	if len(diags) > 0 {
		tb.Fatalf("LoadTemplates: %v", diags)
	}
	return t
}

// mustPipeline renders svc with the default settings and test source.
func mustPipeline(tb testing.TB, t *Templates, svc catalog.Service) []byte {
	tb.Helper()
	out, err := Pipeline(t, svc, catalog.DefaultSettings(), testSource())
	if err != nil {
		tb.Fatalf("Pipeline(%s): %v", svc.Name, err)
	}
	return out
}
