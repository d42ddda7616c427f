package render

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// benchCatalog returns a deterministic catalog of n services over the four
// archetypes and 50 teams. With changed, every tenth service differs: half
// of those in a pipeline-shaping way (a region added or removed), half in
// a config-only way (profile medium → large).
func benchCatalog(n int, changed bool) []byte {
	archetypes := []string{"api", "listener", "job", "scheduler"}
	var b strings.Builder
	b.Grow(n * 160)
	b.WriteString("services:\n")
	for i := range n {
		envs, regions, profile := "[int, pre, prod]", "[euw1, euw2]", "medium"
		if i%3 == 1 {
			envs, regions = "[int, prod]", "[euw1]"
		}
		if changed {
			switch i % 20 {
			case 0: // pipeline-shaping
				if regions == "[euw1]" {
					regions = "[euw1, euw2]"
				} else {
					regions = "[euw1]"
				}
			case 10: // config-only
				profile = "large"
			}
		}
		fmt.Fprintf(&b, "  - name: service-%05d\n    archetype: %s\n    team: team-%02d\n    environments: %s\n    regions: %s\n    profile: %s\n    components: [pdb, hpa]\n",
			i, archetypes[i%len(archetypes)], i%50, envs, regions, profile)
	}
	return []byte(b.String())
}

// BenchmarkPlan10k is the preview of a pull request on a 10,000-service
// catalog that changes 10% of the services: parse the base and head
// catalogs, render every head entity (a Service, a pipeline and a trigger
// per service, the environments and infrastructure definitions), compare
// each with its current file, diff the changed ones, and format the check
// run's Markdown. The current files (the base's rendering) are made
// before the timer starts.
func BenchmarkPlan10k(b *testing.B) {
	const n = 10_000
	settings := catalog.DefaultSettings()
	tmpl := planTemplates(b)
	baseSrc, headSrc := benchCatalog(n, false), benchCatalog(n, true)
	opts := catalog.ParseOptions{Settings: settings, Archetypes: tmpl.Archetypes()}
	base, diags := catalog.Parse("catalog/services.yaml", baseSrc, opts)
	if len(diags) > 0 {
		b.Fatal(diags.Err())
	}
	current, diags := All(tmpl, base, testOpts(b, settings, Source{CatalogRepo: "company/platform-next", CatalogCommit: strings.Repeat("1", 40)}))
	if len(diags) > 0 || len(current) != 3*n+7 {
		b.Fatalf("rendering the current files: %d files, %v", len(current), diags.Err())
	}
	headSource := Source{CatalogRepo: "company/platform-next", CatalogCommit: strings.Repeat("2", 40)}

	b.ReportAllocs()
	for b.Loop() {
		base, diags := catalog.Parse("catalog/services.yaml", baseSrc, opts)
		if len(diags) > 0 {
			b.Fatal(diags.Err())
		}
		head, diags := catalog.Parse("catalog/services.yaml", headSrc, opts)
		if len(diags) > 0 {
			b.Fatal(diags.Err())
		}
		plan, diags := Plan(PlanInput{Base: base, Head: head, Settings: settings, Templates: tmpl, Source: headSource, Current: current, Schemas: testSchemas(b)})
		if len(diags) > 0 {
			b.Fatal(diags.Err())
		}
		if want := (Counts{Update: n / 20, ConfigOnly: n / 20, Unchanged: n - n/10}); plan.Summary.services() != want {
			b.Fatalf("summary %+v, want %+v", plan.Summary, want)
		}
		_ = plan.Markdown(CheckRunTextLimit)
	}
}
