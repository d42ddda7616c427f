package render

import (
	"os"
	"sync"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/internal/sharedfiles"
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
	out, err := Pipeline(t, svc, testOpts(tb, catalog.DefaultSettings(), testSource()))
	if err != nil {
		tb.Fatalf("Pipeline(%s): %v", svc.Name, err)
	}
	return out
}

// Harness's schemas are not part of this repository: the tests read them
// from ../shared/schemas beside the checkout (see package sharedfiles),
// where CI has them.
var (
	sharedSchemasOnce sync.Once
	sharedSchemas     *Schemas
	sharedSchemasPath string // the file looked for, when missing
	sharedSchemasErr  error
)

// loadSharedSchemas compiles the shared schemas once per test binary.
func loadSharedSchemas() (*Schemas, string, error) {
	sharedSchemasOnce.Do(func() {
		pipelinePath, ok := sharedfiles.Path("schemas", "harness-pipeline-v0.json")
		if !ok {
			sharedSchemasPath = pipelinePath
			if pipelinePath == "" {
				sharedSchemasPath = "../shared/schemas/harness-pipeline-v0.json"
			}
			return
		}
		pipelineJSON, err := os.ReadFile(pipelinePath)
		if err != nil {
			sharedSchemasErr = err
			return
		}
		var triggerJSON []byte
		if triggerPath, ok := sharedfiles.Path("schemas", "harness-trigger-v0.json"); ok {
			if triggerJSON, err = os.ReadFile(triggerPath); err != nil {
				sharedSchemasErr = err
				return
			}
		}
		sharedSchemas, sharedSchemasErr = CompileSchemas(pipelineJSON, triggerJSON)
	})
	return sharedSchemas, sharedSchemasPath, sharedSchemasErr
}

// testSchemas returns Harness's compiled schemas, or nil when they are not
// beside the checkout: the tests that do not depend on the schema check
// then run with every other check.
func testSchemas(tb testing.TB) *Schemas {
	tb.Helper()
	s, _, err := loadSharedSchemas()
	if err != nil {
		tb.Fatalf("loading the Harness schemas: %v", err)
	}
	return s
}

// requireSchemas is testSchemas for the tests of the schema check itself:
// they skip, saying so, when the schemas are absent.
func requireSchemas(tb testing.TB) *Schemas {
	tb.Helper()
	s, missing, err := loadSharedSchemas()
	if err != nil {
		tb.Fatalf("loading the Harness schemas: %v", err)
	}
	if s == nil {
		tb.Skipf("Harness schema not found at %s: schema checks not run", missing)
	}
	return s
}

// testOpts are the rendering options of the tests: s, src and the shared
// schemas when there are any.
func testOpts(tb testing.TB, s catalog.Settings, src Source) Options {
	tb.Helper()
	return Options{Settings: s, Source: src, Schemas: testSchemas(tb)}
}
