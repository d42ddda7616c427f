package catalog

import (
	"fmt"
	"strings"
	"testing"
)

// generatedCatalog returns a valid catalog of n services that uses every
// kind of field: aliases, block and flow lists, config-only scalars and
// mappings, and the pipeline block.
func generatedCatalog(n int) []byte {
	archetypes := []string{"api", "listener", "job", "scheduler"}
	var b strings.Builder
	b.WriteString("# generated catalog\nservices:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: service-%05d\n", i)
		fmt.Fprintf(&b, "    archetype: %s\n", archetypes[i%len(archetypes)])
		fmt.Fprintf(&b, "    team: team-%03d\n", i%200)
		switch i % 3 {
		case 0:
			b.WriteString("    environments: [int, pre, prod]\n    regions: [euw1, euw2]\n")
		case 1:
			b.WriteString("    environments:\n      - int-stable\n      - prod\n    regions:\n      - euw1\n")
		default:
			b.WriteString("    environments: [prod]\n    regions: [euw2]\n    pipeline: {enabled: false}\n")
		}
		b.WriteString("    profile: medium\n    components: [pdb, hpa]\n")
		if i%5 == 0 {
			b.WriteString("    resources:\n      requests: {cpu: 250m, memory: 512Mi}\n      limits: {cpu: '1', memory: 1Gi}\n")
		}
	}
	return []byte(b.String())
}

func BenchmarkParse10k(b *testing.B) {
	src := generatedCatalog(10_000)
	opts := testOptions()
	cat, diags := Parse(catalogFile, src, opts)
	if len(diags) > 0 || len(cat.Services) != 10_000 {
		b.Fatalf("generated catalog: %d services, diagnostics:\n%v", len(cat.Services), diags.Err())
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		Parse(catalogFile, src, opts)
	}
}
