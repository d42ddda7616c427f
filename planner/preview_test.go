package planner_test

import (
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/snapshot"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/templates"
)

func TestCatalogPreview(t *testing.T) {
	badTemplates := map[string]string{"templates/api-pipeline-template.yaml": "pipeline: {{"}
	ten := rendered(t, services(10, "small"))
	tests := map[string]struct {
		templates  map[string]string
		current    map[string][]byte
		base, head string // "" base: the PR has none; "-" head: the file is missing
		want       planner.Verdict
		massDelete bool
	}{
		"broken settings on the default branch":   {templates: badTemplates, head: services(1, "small"), want: planner.VerdictSettingsInvalid},
		"the catalog file is missing":             {base: services(1, "small"), head: "-", want: planner.VerdictCatalogMissing},
		"the catalog is invalid":                  {base: services(1, "small"), head: "services:\n  - name: x\n", want: planner.VerdictCatalogInvalid},
		"the PR does not touch the catalog":       {base: services(1, "small"), head: services(1, "small"), want: planner.VerdictNoChange},
		"the PR empties the catalog":              {base: services(2, "small"), head: "services: []\n", want: planner.VerdictCatalogEmptied},
		"a new service":                           {current: map[string][]byte{}, base: "services: []\n", head: services(1, "small"), want: planner.VerdictPlanned},
		"without a base, actions are still exact": {current: map[string][]byte{}, head: services(1, "small"), want: planner.VerdictPlanned},
		"a mass delete is flagged": {current: ten, base: services(10, "small"), head: services(3, "small"),
			want: planner.VerdictPlanned, massDelete: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			pipes := repoWith(t, tt.current, tt.templates)
			in := planner.CatalogPreviewInput{Pipelines: pipes, Base: snapshot.Catalog{Missing: true}, Current: tt.current, Source: source(configHead)}
			if tt.head == "-" {
				in.Head = snapshot.Catalog{Commit: configHead, Missing: true}
			} else {
				in.Head = catalogAt(t, configHead, tt.head, pipes)
			}
			if tt.base != "" {
				in.Base = catalogAt(t, configBefore, tt.base, pipes)
			}
			p := planner.SettleCatalogPreview(in)
			if p == nil {
				planned := planner.PlanCatalogPreview(in)
				p = &planned
			}
			if p.Verdict != tt.want || p.MassDelete != tt.massDelete {
				t.Fatalf("verdict %s (mass delete %v), want %s (%v); diags %v", p.Verdict, p.MassDelete, tt.want, tt.massDelete, p.Diags)
			}
			if p.Rejected() != (tt.want != planner.VerdictPlanned && tt.want != planner.VerdictNoChange) {
				t.Errorf("Rejected = %v", p.Rejected())
			}
		})
	}
}

func TestTemplatePreview(t *testing.T) {
	current := rendered(t, services(2, "small"))
	base := repoWith(t, current, nil)
	api := string(templates.Default()["api-pipeline-template.yaml"])
	edited := map[string]string{"templates/api-pipeline-template.yaml": strings.Replace(api, "timeout: 10m", "timeout: 15m", 1)}
	tests := map[string]struct {
		head    snapshot.Pipelines
		catalog string
		want    planner.Verdict
		changed int
	}{
		"the PR changes no template and not the settings": {head: base, want: planner.VerdictNoChange},
		"the PR breaks a template": {head: func() snapshot.Pipelines {
			p := repoWith(t, current, map[string]string{"templates/api-pipeline-template.yaml": "pipeline: {{"})
			p.InputsHash = "changed"
			return p
		}(), want: planner.VerdictSettingsInvalid},
		"the catalog no longer validates": {head: func() snapshot.Pipelines {
			p := repoWith(t, current, nil)
			p.InputsHash = "changed"
			return p
		}(), catalog: "services:\n  - name: x\n", want: planner.VerdictCatalogInvalid},
		"a template change rewrites its archetype's pipelines": {head: func() snapshot.Pipelines {
			p := repoWith(t, current, edited)
			p.InputsHash = "changed"
			return p
		}(), catalog: services(2, "small"), want: planner.VerdictPlanned, changed: 2},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := planner.SettleTemplatePreview(base, tt.head)
			if p == nil {
				planned := planner.PlanTemplatePreview(planner.TemplatePreviewInput{Base: base, Head: tt.head,
					Catalog: catalogAt(t, configHead, tt.catalog, tt.head), Current: current, Source: source(configHead)})
				p = &planned
			}
			if p.Verdict != tt.want || p.Plan.Summary.Changed() != tt.changed {
				t.Fatalf("verdict %s rewriting %d, want %s rewriting %d; diags %v", p.Verdict, p.Plan.Summary.Changed(), tt.want, tt.changed, p.Diags)
			}
		})
	}
}

// TestStaleBranchIsPlannedFromTheMergeBase is a PR branched before another
// service was onboarded on the base branch, changing only a profile: from
// the merge base it is config-only; planned against the tip it would read
// as deleting the newer service.
func TestStaleBranchIsPlannedFromTheMergeBase(t *testing.T) {
	current := rendered(t, services(2, "small")) // the tip: svc-000 and the newer svc-001
	pipes := repoWith(t, current, nil)
	mergeBase := catalogAt(t, configBefore, services(1, "small"), pipes)
	head := catalogAt(t, configHead, services(1, "large"), pipes)
	tip := catalogAt(t, configHead, services(2, "small"), pipes)
	in := planner.CatalogPreviewInput{Pipelines: pipes, Head: head, Base: mergeBase, Current: current, Source: source(configHead)}

	stale := in
	stale.Behind, stale.MergeBase, stale.Tip = 1, configBefore, tip
	p := planner.PlanCatalogPreview(stale)
	if p.Plan.Summary.Delete != 0 || p.Plan.Summary.ConfigOnly != 1 || p.Behind != 1 || len(p.BothSides) != 0 {
		t.Errorf("from the merge base: %+v behind %d both sides %v; want one config-only change, nothing deleted", p.Plan.Summary, p.Behind, p.BothSides)
	}
	// The same branch, had the base changed svc-000 too.
	stale.Tip = catalogAt(t, configHead, strings.Replace(services(2, "small"), "team: payments", "team: billing", 1), pipes)
	if p := planner.PlanCatalogPreview(stale); len(p.BothSides) != 1 || p.BothSides[0] != "svc-000" {
		t.Errorf("changed on both sides: %v, want svc-000", p.BothSides)
	}
	// Not behind: planned against the current files, as before.
	if p := planner.PlanCatalogPreview(in); p.Plan.Summary.Delete != 1 {
		t.Errorf("against the tip: %+v, want the newer service deleted", p.Plan.Summary)
	}
}
