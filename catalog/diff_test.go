package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mustParse parses a catalog that the test expects to be valid.
func mustParse(tb testing.TB, src []byte) Catalog {
	tb.Helper()
	cat, diags := Parse(catalogFile, src, testOptions())
	if len(diags) > 0 {
		tb.Fatalf("Parse: unexpected diagnostics:\n%s", diags.Error())
	}
	return cat
}

// baseCatalog is the catalog most Diff cases start from.
func baseCatalog() []byte {
	return y(
		"services:",
		"  - name: payment-service",
		"    archetype: api",
		"    team: payments",
		"    environments: [int-stable, pre-stable, prod]",
		"    regions: [euw1, euw2]",
		"    profile: medium",
		"    components: [pdb, hpa]",
		"  - name: orders",
		"    archetype: listener",
		"    team: orders",
		"    environments: [int, prod]",
		"    regions: [euw1]",
	)
}

// fieldsOnly keeps what a Diff case asserts on: names, kinds and fields.
var fieldsOnly = cmp.FilterPath(func(p cmp.Path) bool {
	n := p.Last().String()
	return n == ".Old" || n == ".New"
}, cmp.Comparer(func(a, b *Service) bool { return (a == nil) == (b == nil) }))

func TestDiff(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want CatalogDiff
	}{
		{
			name: "same file",
			head: baseCatalog(),
			want: CatalogDiff{},
		},
		{
			name: "reordered services, block lists, aliases and reordered lists",
			head: y(
				"services:",
				"  - name: orders",
				"    regions:",
				"      - euw1",
				`    team: "orders"`,
				"    environments: [production, int-stable]",
				"    archetype: listener",
				"    pipeline: {enabled: true}",
				"  - components:",
				"      - pdb",
				"      - hpa",
				"    name: payment-service",
				"    profile: 'medium'",
				"    archetype: api",
				"    team: payments",
				"    environments: [prod, pre, int]",
				"    regions: [euw2, euw1]",
			),
			want: CatalogDiff{},
		},
		{
			name: "config-only change",
			head: replaceLine(baseCatalog(), 7, "    profile: large"),
			want: CatalogDiff{Changed: []ServiceChange{{
				Name: "payment-service", Kind: Changed, Old: &Service{}, New: &Service{},
				Fields: []FieldChange{{Name: "profile", Old: "medium", New: "large", ShapesPipeline: false}},
			}}},
		},
		{
			name: "config-only field added and list changed",
			head: replaceLine(baseCatalog(), 8, "    components: [pdb]\n    tier: gold"),
			want: CatalogDiff{Changed: []ServiceChange{{
				Name: "payment-service", Kind: Changed, Old: &Service{}, New: &Service{},
				Fields: []FieldChange{
					{Name: "components", Old: "[pdb, hpa]", New: "[pdb]"},
					{Name: "tier", Old: "", New: "gold"},
				},
			}}},
		},
		{
			name: "environment removed",
			head: replaceLine(baseCatalog(), 5, "    environments: [int-stable, prod]"),
			want: CatalogDiff{Changed: []ServiceChange{{
				Name: "payment-service", Kind: Changed, Old: &Service{}, New: &Service{},
				Fields: []FieldChange{{Name: "environments", Old: "[int-stable, pre-stable, prod]", New: "[int-stable, prod]", ShapesPipeline: true}},
			}}},
		},
		{
			name: "region added",
			head: replaceLine(baseCatalog(), 13, "    regions: [euw1, euw2]"),
			want: CatalogDiff{Changed: []ServiceChange{{
				Name: "orders", Kind: Changed, Old: &Service{}, New: &Service{},
				Fields: []FieldChange{{Name: "regions", Old: "[euw1]", New: "[euw1, euw2]", ShapesPipeline: true}},
			}}},
		},
		{
			name: "pipeline disabled",
			head: replaceLine(baseCatalog(), 13, "    regions: [euw1]\n    pipeline: {enabled: false}"),
			want: CatalogDiff{Changed: []ServiceChange{{
				Name: "orders", Kind: Changed, Old: &Service{}, New: &Service{},
				Fields: []FieldChange{{Name: "pipeline", Old: "{enabled: true}", New: "{enabled: false}", ShapesPipeline: true}},
			}}},
		},
		{
			name: "archetype, team and config change together",
			head: replaceLine(replaceLine(replaceLine(baseCatalog(), 3, "    archetype: job"), 4, "    team: billing"), 7, "    profile: small"),
			want: CatalogDiff{Changed: []ServiceChange{{
				Name: "payment-service", Kind: Changed, Old: &Service{}, New: &Service{},
				Fields: []FieldChange{
					{Name: "archetype", Old: "api", New: "job", ShapesPipeline: true},
					{Name: "profile", Old: "medium", New: "small"},
					{Name: "team", Old: "payments", New: "billing", ShapesPipeline: true},
				},
			}}},
		},
		{
			name: "service added and one removed",
			head: y(
				"services:",
				"  - name: orders",
				"    archetype: listener",
				"    team: orders",
				"    environments: [int, prod]",
				"    regions: [euw1]",
				"  - name: audit",
				"    archetype: scheduler",
				"    team: security",
				"    environments: [prod]",
				"    regions: [euw2]",
				"    schedule: '0 3 * * *'",
			),
			want: CatalogDiff{
				Added: []ServiceChange{{
					Name: "audit", Kind: Added, New: &Service{},
					Fields: []FieldChange{
						{Name: "archetype", New: "scheduler", ShapesPipeline: true},
						{Name: "environments", New: "[prod]", ShapesPipeline: true},
						{Name: "name", New: "audit", ShapesPipeline: true},
						{Name: "pipeline", New: "{enabled: true}", ShapesPipeline: true},
						{Name: "regions", New: "[euw2]", ShapesPipeline: true},
						{Name: "schedule", New: `"0 3 * * *"`},
						{Name: "team", New: "security", ShapesPipeline: true},
					},
				}},
				Removed: []ServiceChange{{
					Name: "payment-service", Kind: Removed, Old: &Service{},
					Fields: []FieldChange{
						{Name: "archetype", Old: "api", ShapesPipeline: true},
						{Name: "components", Old: "[pdb, hpa]"},
						{Name: "environments", Old: "[int-stable, pre-stable, prod]", ShapesPipeline: true},
						{Name: "name", Old: "payment-service", ShapesPipeline: true},
						{Name: "pipeline", Old: "{enabled: true}", ShapesPipeline: true},
						{Name: "profile", Old: "medium"},
						{Name: "regions", Old: "[euw1, euw2]", ShapesPipeline: true},
						{Name: "team", Old: "payments", ShapesPipeline: true},
					},
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, head := mustParse(t, baseCatalog()), mustParse(t, tt.head)
			got := Diff(base, head)
			if diff := cmp.Diff(tt.want, got, fieldsOnly); diff != "" {
				t.Errorf("Diff mismatch (-want +got):\n%s", diff)
			}
			if got.Empty() != (tt.want.Added == nil && tt.want.Removed == nil && tt.want.Changed == nil) {
				t.Errorf("Empty() = %v for %+v", got.Empty(), got)
			}
		})
	}
}

func TestDiffShapesPipeline(t *testing.T) {
	base := mustParse(t, baseCatalog())
	configOnly := Diff(base, mustParse(t, replaceLine(baseCatalog(), 7, "    profile: large")))
	if len(configOnly.Changed) != 1 || configOnly.Changed[0].ShapesPipeline() {
		t.Errorf("a profile change: got %+v, want one change that does not shape the pipeline", configOnly.Changed)
	}
	shaping := Diff(base, mustParse(t, replaceLine(baseCatalog(), 13, "    regions: [euw1, euw2]")))
	if len(shaping.Changed) != 1 || !shaping.Changed[0].ShapesPipeline() {
		t.Errorf("a regions change: got %+v, want one change that shapes the pipeline", shaping.Changed)
	}
}

func TestDiffCarriesBothVersions(t *testing.T) {
	base := mustParse(t, baseCatalog())
	head := mustParse(t, replaceLine(baseCatalog(), 7, "    profile: large"))
	d := Diff(base, head)
	if len(d.Changed) != 1 {
		t.Fatalf("got %d changes, want 1", len(d.Changed))
	}
	c := d.Changed[0]
	if diff := cmp.Diff(base.Services[0], *c.Old); diff != "" {
		t.Errorf("Old mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(head.Services[0], *c.New); diff != "" {
		t.Errorf("New mismatch (-want +got):\n%s", diff)
	}
	// The services are copies: editing them leaves the catalogs alone.
	c.New.Config["profile"] = "tiny"
	c.New.Environments[0] = "edited"
	if head.Services[0].Config["profile"] != "large" || head.Services[0].Environments[0] != "int-stable" {
		t.Errorf("editing the diff changed the head catalog: %+v", head.Services[0])
	}
}

func TestDiffSortsByName(t *testing.T) {
	svc := func(name string) string {
		return "  - {name: " + name + ", archetype: api, team: t, environments: [int], regions: [euw1]}"
	}
	base := mustParse(t, y("services:", svc("mango"), svc("kiwi")))
	head := mustParse(t, y("services:", svc("zucchini"), svc("apple"), svc("banana")))
	d := Diff(base, head)
	var added, removed []string
	for _, c := range d.Added {
		added = append(added, c.Name)
	}
	for _, c := range d.Removed {
		removed = append(removed, c.Name)
	}
	if diff := cmp.Diff([]string{"apple", "banana", "zucchini"}, added); diff != "" {
		t.Errorf("Added mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"kiwi", "mango"}, removed); diff != "" {
		t.Errorf("Removed mismatch (-want +got):\n%s", diff)
	}
}

// replaceLine returns src with its 1-based line n replaced by text.
func replaceLine(src []byte, n int, text string) []byte {
	lines := strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")
	lines[n-1] = text
	return y(lines...)
}
