package render

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// planCatalogFile names the catalogs of the plan tests in diagnostics.
const planCatalogFile = "catalog/services.yaml"

// planTemplates returns the built-in templates.
func planTemplates(tb testing.TB) *Templates {
	tb.Helper()
	t, diags := LoadTemplates(nil)
	if len(diags) > 0 {
		tb.Fatalf("LoadTemplates(nil): %v", diags)
	}
	return t
}

// parsePlanCatalog parses a catalog for the given templates and the
// default settings, failing the test on any diagnostic.
func parsePlanCatalog(tb testing.TB, t *Templates, src string) catalog.Catalog {
	tb.Helper()
	c, diags := catalog.Parse(planCatalogFile, []byte(src), catalog.ParseOptions{Settings: catalog.DefaultSettings(), Archetypes: t.Archetypes()})
	if len(diags) > 0 {
		tb.Fatalf("catalog.Parse:\n%v\nsource:\n%s", diags.Err(), src)
	}
	return c
}

// mustRenderAll renders every enabled service of c, failing on diagnostics.
func mustRenderAll(tb testing.TB, t *Templates, c catalog.Catalog, src Source) map[string][]byte {
	tb.Helper()
	files, diags := All(t, c, testOpts(tb, catalog.DefaultSettings(), src))
	if len(diags) > 0 {
		tb.Fatalf("All: %v", diags.Err())
	}
	return files
}

// svcYAML writes one catalog entry; extra lines are appended as they are.
func svcYAML(name, archetype, envs, regions string, extra ...string) string {
	var b strings.Builder
	b.WriteString("  - name: " + name + "\n")
	b.WriteString("    archetype: " + archetype + "\n")
	b.WriteString("    team: payments\n")
	b.WriteString("    environments: " + envs + "\n")
	b.WriteString("    regions: " + regions + "\n")
	for _, e := range extra {
		b.WriteString("    " + e + "\n")
	}
	return b.String()
}

// catalogYAML joins entries into a catalog file.
func catalogYAML(entries ...string) string {
	if len(entries) == 0 {
		return "services: []\n"
	}
	return "services:\n" + strings.Join(entries, "")
}

// Catalog entries the plan tests combine.
var (
	payment       = svcYAML("payment-service", "api", "[int, pre, prod]", "[euw1]", "profile: medium")
	paymentLarge  = svcYAML("payment-service", "api", "[int, pre, prod]", "[euw1]", "profile: large")
	paymentEuw2   = svcYAML("payment-service", "api", "[int, pre, prod]", "[euw1, euw2]", "profile: medium")
	paymentNoPre  = svcYAML("payment-service", "api", "[int, prod]", "[euw1]", "profile: medium")
	paymentOff    = svcYAML("payment-service", "api", "[int, pre, prod]", "[euw1]", "profile: medium", "pipeline: {enabled: false}")
	orders        = svcYAML("order-events", "listener", "[int, prod]", "[euw1, euw2]")
	nightly       = svcYAML("nightly-report", "job", "[int, prod]", "[euw1]")
	reportOff     = svcYAML("report-builder", "job", "[int]", "[euw1]", "profile: small", "pipeline: {enabled: false}")
	reportOffBig  = svcYAML("report-builder", "job", "[int]", "[euw1]", "profile: large", "pipeline: {enabled: false}")
	reportOffTeam = strings.Replace(reportOff, "team: payments", "team: data", 1)
)

// planSummary is what a plan test checks of each change.
type planSummary struct {
	Service string
	Action  Action
	Path    string
	Fields  []string // names of the changed fields
}

// summarize lists the plan's changes of one kind.
func summarize(p PipelinePlan, k Kind) []planSummary {
	out := make([]planSummary, 0, len(p.Changes))
	for _, c := range p.Changes {
		if c.Kind != k {
			continue
		}
		s := planSummary{Service: c.Service, Action: c.Action, Path: c.Path}
		for _, f := range c.Fields {
			s.Fields = append(s.Fields, f.Name)
		}
		out = append(out, s)
	}
	return out
}

func TestPlan(t *testing.T) {
	allFields := []string{"archetype", "environments", "name", "pipeline", "profile", "regions", "team"}
	allFieldsNoProfile := []string{"archetype", "environments", "name", "pipeline", "regions", "team"}
	tests := []struct {
		name       string
		base, head string
		want       []planSummary
		wantSum    Summary
		// diffHas and diffLacks are lines the diff of the first pipeline
		// change must hold or not hold.
		diffHas, diffLacks []string
	}{
		{
			name: "config-only change plans no pipeline change",
			base: catalogYAML(payment, orders),
			head: catalogYAML(paymentLarge, orders),
			want: []planSummary{
				{"payment-service", ActionConfigOnly, "pipelines/payment-service-cd.yaml", []string{"profile"}},
				{"order-events", ActionUnchanged, "pipelines/order-events-cd.yaml", nil},
			},
			wantSum: Summary{ConfigOnly: 1, Unchanged: 1},
		},
		{
			name:      "a new region adds its stage",
			base:      catalogYAML(payment),
			head:      catalogYAML(paymentEuw2),
			want:      []planSummary{{"payment-service", ActionUpdate, "pipelines/payment-service-cd.yaml", []string{"regions"}}},
			wantSum:   Summary{Update: 1},
			diffHas:   []string{"+        identifier: prod_euw2", "+                                - generated/payment-service/prod/euw2/manifests.yaml"},
			diffLacks: []string{"-        identifier: prod_euw1"},
		},
		{
			name:      "a removed region drops its stage",
			base:      catalogYAML(paymentEuw2),
			head:      catalogYAML(payment),
			want:      []planSummary{{"payment-service", ActionUpdate, "pipelines/payment-service-cd.yaml", []string{"regions"}}},
			wantSum:   Summary{Update: 1},
			diffHas:   []string{"-        identifier: prod_euw2"},
			diffLacks: []string{"+        identifier: prod_euw2", "-        identifier: prod_euw1"},
		},
		{
			name:    "a removed environment drops its stage",
			base:    catalogYAML(payment),
			head:    catalogYAML(paymentNoPre),
			want:    []planSummary{{"payment-service", ActionUpdate, "pipelines/payment-service-cd.yaml", []string{"environments"}}},
			wantSum: Summary{Update: 1},
			diffHas: []string{"-        identifier: pre_stable_euw1", "-                  identifier: gate_wait"},
		},
		{
			name:    "an added environment adds its stage",
			base:    catalogYAML(paymentNoPre),
			head:    catalogYAML(payment),
			want:    []planSummary{{"payment-service", ActionUpdate, "pipelines/payment-service-cd.yaml", []string{"environments"}}},
			wantSum: Summary{Update: 1},
			diffHas: []string{"+        identifier: pre_stable_euw1"},
		},
		{
			name: "disabling a pipeline deletes it",
			base: catalogYAML(payment, orders),
			head: catalogYAML(paymentOff, orders),
			want: []planSummary{
				{"payment-service", ActionDelete, "pipelines/payment-service-cd.yaml", []string{"pipeline"}},
				{"order-events", ActionUnchanged, "pipelines/order-events-cd.yaml", nil},
			},
			wantSum: Summary{Delete: 1, Unchanged: 1},
			diffHas: []string{"--- a/pipelines/payment-service-cd.yaml", "+++ /dev/null", "-  identifier: payment_service_cd"},
		},
		{
			name:    "enabling a pipeline creates it",
			base:    catalogYAML(paymentOff),
			head:    catalogYAML(payment),
			want:    []planSummary{{"payment-service", ActionCreate, "pipelines/payment-service-cd.yaml", []string{"pipeline"}}},
			wantSum: Summary{Create: 1},
		},
		{
			name: "a removed service is deleted",
			base: catalogYAML(payment, orders),
			head: catalogYAML(orders),
			want: []planSummary{
				{"payment-service", ActionDelete, "pipelines/payment-service-cd.yaml", allFields},
				{"order-events", ActionUnchanged, "pipelines/order-events-cd.yaml", nil},
			},
			wantSum: Summary{Delete: 1, Unchanged: 1},
		},
		{
			name: "an added service is created",
			base: catalogYAML(orders),
			head: catalogYAML(orders, nightly),
			want: []planSummary{
				{"nightly-report", ActionCreate, "pipelines/nightly-report-cd.yaml", allFieldsNoProfile},
				{"order-events", ActionUnchanged, "pipelines/order-events-cd.yaml", nil},
			},
			wantSum: Summary{Create: 1, Unchanged: 1},
			diffHas: []string{"--- /dev/null", "+++ b/pipelines/nightly-report-cd.yaml", "+  identifier: nightly_report_cd"},
		},
		{
			name: "reordering services changes nothing",
			base: catalogYAML(payment, orders, nightly),
			head: catalogYAML(nightly, payment, orders),
			want: []planSummary{
				{"nightly-report", ActionUnchanged, "pipelines/nightly-report-cd.yaml", nil},
				{"order-events", ActionUnchanged, "pipelines/order-events-cd.yaml", nil},
				{"payment-service", ActionUnchanged, "pipelines/payment-service-cd.yaml", nil},
			},
			wantSum: Summary{Unchanged: 3},
		},
		{
			name: "a disabled service's change is config-only",
			base: catalogYAML(reportOff, orders),
			head: catalogYAML(reportOffBig, orders),
			want: []planSummary{
				{"report-builder", ActionConfigOnly, "pipelines/report-builder-cd.yaml", []string{"profile"}},
				{"order-events", ActionUnchanged, "pipelines/order-events-cd.yaml", nil},
			},
			wantSum: Summary{ConfigOnly: 1, Unchanged: 1},
		},
		{
			name:    "a disabled service's pipeline-shaping change still changes no pipeline",
			base:    catalogYAML(reportOff),
			head:    catalogYAML(reportOffTeam),
			want:    []planSummary{{"report-builder", ActionConfigOnly, "pipelines/report-builder-cd.yaml", []string{"team"}}},
			wantSum: Summary{ConfigOnly: 1},
		},
		{
			name:    "adding or removing a disabled service plans nothing",
			base:    catalogYAML(orders, reportOff),
			head:    catalogYAML(orders),
			want:    []planSummary{{"order-events", ActionUnchanged, "pipelines/order-events-cd.yaml", nil}},
			wantSum: Summary{Unchanged: 1},
		},
		{
			name: "every kind of change at once, sorted by action then service",
			base: catalogYAML(payment, orders, reportOff),
			head: catalogYAML(nightly, reportOffBig, paymentEuw2),
			want: []planSummary{
				{"nightly-report", ActionCreate, "pipelines/nightly-report-cd.yaml", allFieldsNoProfile},
				{"payment-service", ActionUpdate, "pipelines/payment-service-cd.yaml", []string{"regions"}},
				{"order-events", ActionDelete, "pipelines/order-events-cd.yaml", allFieldsNoProfile},
				{"report-builder", ActionConfigOnly, "pipelines/report-builder-cd.yaml", []string{"profile"}},
			},
			wantSum: Summary{Create: 1, Update: 1, Delete: 1, ConfigOnly: 1},
		},
		{
			name:    "an empty head deletes every pipeline",
			base:    catalogYAML(orders),
			head:    catalogYAML(),
			want:    []planSummary{{"order-events", ActionDelete, "pipelines/order-events-cd.yaml", allFieldsNoProfile}},
			wantSum: Summary{Delete: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := planTemplates(t)
			base, head := parsePlanCatalog(t, tmpl, tc.base), parsePlanCatalog(t, tmpl, tc.head)
			plan, diags := Plan(PlanInput{Base: base, Head: head, Settings: catalog.DefaultSettings(), Templates: tmpl, Source: testPlanSource("head"), BaseSource: testPlanSource("base"), Schemas: testSchemas(t)})
			if len(diags) > 0 {
				t.Fatalf("Plan diagnostics: %v", diags.Err())
			}
			if diff := cmp.Diff(tc.want, summarize(plan, KindPipeline)); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantSum.services(), plan.Summary.services()); diff != "" {
				t.Errorf("summary of services (-want +got):\n%s", diff)
			}
			if want := (Counts{Unchanged: 3}); plan.Summary.Environments != want {
				t.Errorf("summary of environments %+v, want %+v", plan.Summary.Environments, want)
			}
			for _, c := range plan.Changes {
				checkChangeInvariants(t, c)
			}
			checkUnitsMoveTogether(t, plan)
			if len(tc.diffHas)+len(tc.diffLacks) > 0 {
				first := plan.Changes[slices.IndexFunc(plan.Changes, func(c Change) bool { return c.Kind == KindPipeline })]
				lines := strings.Split(first.Diff(), "\n")
				for _, l := range tc.diffHas {
					if !slices.Contains(lines, l) {
						t.Errorf("diff lacks the line %q:\n%s", l, first.Diff())
					}
				}
				for _, l := range tc.diffLacks {
					if slices.Contains(lines, l) {
						t.Errorf("diff has the line %q:\n%s", l, first.Diff())
					}
				}
			}
		})
	}
}

// checkUnitsMoveTogether checks that a service's files are created or
// deleted together: a create or a delete of one of them is one of all
// three.
func checkUnitsMoveTogether(tb testing.TB, p PipelinePlan) {
	tb.Helper()
	for _, u := range p.units() {
		if u.key.environment {
			continue
		}
		for _, c := range u.changes {
			if (c.Action == ActionCreate || c.Action == ActionDelete) && (u.action != c.Action || len(u.changes) != 3) {
				tb.Errorf("service %s: %s %s, but the unit is %s with %d changed files", u.key.name, c.Action, c.Path, u.action, len(u.changes))
			}
		}
	}
}

// checkChangeInvariants checks what holds for every change of its action.
func checkChangeInvariants(tb testing.TB, c Change) {
	tb.Helper()
	switch c.Action {
	case ActionCreate:
		if c.Old != nil || c.New == nil || c.Diff() == "" {
			tb.Errorf("%s: create with old %t, new %t, diff %t; want only new and diff", c.Service, c.Old != nil, c.New != nil, c.Diff() != "")
		}
	case ActionUpdate:
		if c.Old == nil || c.New == nil || c.Diff() == "" || bytes.Equal(Body(c.Old), Body(c.New)) {
			tb.Errorf("%s: update with old %t, new %t, diff %t, bodies equal %t", c.Service, c.Old != nil, c.New != nil, c.Diff() != "", bytes.Equal(Body(c.Old), Body(c.New)))
		}
	case ActionDelete:
		if c.Old == nil || c.New != nil || c.Diff() == "" {
			tb.Errorf("%s: delete with old %t, new %t, diff %t; want only old and diff", c.Service, c.Old != nil, c.New != nil, c.Diff() != "")
		}
	case ActionConfigOnly, ActionUnchanged:
		if c.Diff() != "" || !bytes.Equal(c.Old, c.New) {
			tb.Errorf("%s: %s with a diff or a new file:\n%s", c.Service, c.Action, c.Diff())
		}
	}
}

// testPlanSource returns a Source whose commit is named by label, so that
// base and head renderings have different headers.
func testPlanSource(label string) Source {
	commits := map[string]string{
		"base": "1111111111111111111111111111111111111111",
		"head": "2222222222222222222222222222222222222222",
	}
	return Source{CatalogRepo: "company/platform-next", CatalogPath: planCatalogFile, CatalogCommit: commits[label]}
}

// TestPlanConfigOnlyChangeKeepsTheFile checks the config-only case in
// full: the fields, no diff, nothing to write.
func TestPlanConfigOnlyChangeKeepsTheFile(t *testing.T) {
	tmpl := planTemplates(t)
	base, head := parsePlanCatalog(t, tmpl, catalogYAML(payment)), parsePlanCatalog(t, tmpl, catalogYAML(paymentLarge))
	current := mustRenderAll(t, tmpl, base, testPlanSource("base"))
	plan, diags := Plan(PlanInput{Base: base, Head: head, Settings: catalog.DefaultSettings(), Templates: tmpl, Source: testPlanSource("head"), Current: current, Schemas: testSchemas(t)})
	if len(diags) > 0 {
		t.Fatal(diags.Err())
	}
	fields := []catalog.FieldChange{{Name: "profile", Old: "medium", New: "large"}}
	var want []Change
	for _, c := range []Change{
		{Kind: KindService, Identifier: "payment_service", Path: "services/payment-service.yaml"},
		{Kind: KindPipeline, Identifier: "payment_service_cd", Path: "pipelines/payment-service-cd.yaml"},
		{Kind: KindTrigger, Identifier: "payment_service_cd_new_image", PipelineRef: "payment_service_cd", Path: "triggers/payment-service-cd-new-image.yaml"},
	} {
		c.Service, c.Action, c.Fields, c.Old, c.New = "payment-service", ActionConfigOnly, fields, current[c.Path], current[c.Path]
		want = append(want, c)
	}
	var got []Change
	for _, c := range plan.Changes {
		if c.Service != "" {
			got = append(got, c)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if w := plan.Writes(); len(w) != 0 {
		t.Errorf("Writes() = %v, want nothing", slices.Sorted(maps.Keys(w)))
	}
	if plan.Summary.ConfigOnly != 1 || plan.Summary.Files.Services.ConfigOnly != 1 || plan.Summary.Changed() != 0 {
		t.Errorf("summary %+v: want one config-only service and no file changed", plan.Summary)
	}
}

// generated is a file with the generated header, as a plan tells one.
func generated(body string) []byte {
	return []byte(generatedMark + " (template x) — do not edit\n" + body)
}

// TestPlanAgainstCurrentFiles plans against a given pipelines tree, as the
// app does with the pipelines repo's default branch.
func TestPlanAgainstCurrentFiles(t *testing.T) {
	tmpl := planTemplates(t)
	cat := parsePlanCatalog(t, tmpl, catalogYAML(payment, orders))
	rendered := mustRenderAll(t, tmpl, cat, testPlanSource("base"))
	paymentPath, ordersPath := "pipelines/payment-service-cd.yaml", "pipelines/order-events-cd.yaml"

	// oldHeader is the payment-service pipeline with the header an older
	// commit gave it.
	oldHeader := append([]byte("# generated by pipeline-orchestrator from company/platform-next@0000000 (template templates/api-pipeline-template.yaml@abc1234) — do not edit\n"),
		Body(rendered[paymentPath])...)
	all := func(changes map[string][]byte) func() map[string][]byte {
		return func() map[string][]byte {
			out := maps.Clone(rendered)
			for p, b := range changes {
				if b == nil {
					delete(out, p)
				} else {
					out[p] = b
				}
			}
			return out
		}
	}

	tests := []struct {
		name    string
		current func() map[string][]byte
		want    []planSummary // the changes that are not unchanged
		// kept are files the plan must leave exactly as they are.
		kept []string
	}{
		{
			name:    "a file whose header alone differs is unchanged and kept byte for byte",
			current: all(map[string][]byte{paymentPath: oldHeader}),
			kept:    []string{paymentPath, ordersPath},
		},
		{
			name: "files that are not entities, or written by hand, are never deleted",
			current: all(map[string][]byte{
				"pipelines/README.md":                     []byte("# pipelines\n"),
				"pipelines/notes.yaml":                    []byte("a: b\n"),
				"pipelines/shared-steps.yml":              []byte("a: b\n"),
				"pipelines/-cd.yaml":                      []byte("a: b\n"),
				"pipelines/.hidden-cd.yaml":               []byte("a: b\n"),
				"pipelines/with space-cd.yaml":            []byte("a: b\n"),
				"pipelines/archive/old-cd.yaml":           generated("a: b\n"),
				"pipelines/hand-written-cd.yaml":          []byte("pipeline:\n  identifier: hand_written_cd\n"),
				"services/hand-written.yaml":              []byte("service:\n  identifier: hand_written\n"),
				"environments/staging.yaml":               []byte("environment:\n  identifier: staging\n"),
				"triggers/hand-written-cd-new-image.yaml": []byte("trigger: {identifier: t, pipelineIdentifier: p}\n"),
				"templates/api-cd.yaml":                   []byte("a: b\n"),
				"other-cd.yaml":                           []byte("a: b\n"),
				"pipelines/payment-service.yaml":          []byte("a: b\n"),
			}),
		},
		{
			name: "a generated file nothing renders is deleted, of any kind",
			current: all(map[string][]byte{
				"pipelines/ghost-svc-cd.yaml":           generated("pipeline:\n  identifier: ghost_cd\n"),
				"triggers/ghost-svc-cd-new-image.yaml":  generated("trigger: {identifier: ghost_t, pipelineIdentifier: ghost_cd}\n"),
				"infrastructures/prod-euw9.yaml":        generated("infrastructureDefinition: {identifier: prod_euw9_k8s, environmentRef: prod, tags: {environment: prod}}\n"),
				"environments/staging.yaml":             generated("environment: {identifier: staging, tags: {environment: staging}}\n"),
				"services/ghost-svc.yaml":               generated("service: {identifier: ghost_svc}\n"),
				"services/payment-service.yaml.orig":    generated("service: {}\n"),
				"infrastructures/int-stable-euw1.yaml ": generated("x\n"),
			}),
			want: []planSummary{
				{"ghost-svc", ActionDelete, "services/ghost-svc.yaml", nil},
				{"ghost-svc", ActionDelete, "pipelines/ghost-svc-cd.yaml", nil},
				{"ghost-svc", ActionDelete, "triggers/ghost-svc-cd-new-image.yaml", nil},
				{"", ActionDelete, "infrastructures/prod-euw9.yaml", nil},
				{"", ActionDelete, "environments/staging.yaml", nil},
			},
		},
		{
			name:    "a missing file is created",
			current: all(map[string][]byte{paymentPath: nil, "infrastructures/prod-euw2.yaml": nil}),
			want: []planSummary{
				{"payment-service", ActionCreate, paymentPath, nil},
				{"", ActionCreate, "infrastructures/prod-euw2.yaml", nil},
			},
		},
		{
			name:    "an empty pipelines repo gets every entity",
			current: func() map[string][]byte { return map[string][]byte{} },
		},
		{
			name: "a hand-edited body is updated back",
			current: all(map[string][]byte{
				paymentPath: bytes.Replace(rendered[paymentPath], []byte("timeout: 10m"), []byte("timeout: 99m"), 1),
			}),
			want: []planSummary{{"payment-service", ActionUpdate, paymentPath, nil}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			current := tc.current()
			before := make(map[string][]byte, len(current))
			for p, b := range current {
				before[p] = bytes.Clone(b)
			}
			plan, diags := Plan(PlanInput{Base: cat, Head: cat, Settings: catalog.DefaultSettings(), Templates: tmpl, Source: testPlanSource("head"), Current: current, Schemas: testSchemas(t)})
			if len(diags) > 0 {
				t.Fatal(diags.Err())
			}
			var got []planSummary
			for _, c := range plan.Changes {
				if c.Action != ActionUnchanged {
					got = append(got, planSummary{Service: c.Service, Action: c.Action, Path: c.Path})
				}
			}
			want := tc.want
			if len(current) == 0 {
				for _, p := range slices.Sorted(maps.Keys(rendered)) {
					want = append(want, planSummary{Action: ActionCreate, Path: p})
				}
				got = nil
				for _, c := range plan.Changes {
					got = append(got, planSummary{Action: c.Action, Path: c.Path})
				}
				slices.SortFunc(got, func(a, b planSummary) int { return strings.Compare(a.Path, b.Path) })
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			writes := plan.Writes()
			for p, b := range writes {
				if _, ok := KindOfPath(catalog.DefaultSettings(), p); !ok {
					t.Errorf("Writes() touches %s, which is not an entity file", p)
				}
				if old, ok := before[p]; ok && !IsGenerated(old) || b != nil && !IsGenerated(b) {
					t.Errorf("Writes() touches %s, which is written by hand", p)
				}
			}
			for _, p := range tc.kept {
				if _, ok := writes[p]; ok {
					t.Errorf("Writes() rewrites %s", p)
				}
				for _, c := range plan.Changes {
					if c.Path == p && !bytes.Equal(c.New, before[p]) {
						t.Errorf("%s: New is not the current file byte for byte:\n%s", p, c.New)
					}
				}
			}
			if diff := cmp.Diff(before, current); diff != "" {
				t.Errorf("Plan changed its input (-before +after):\n%s", diff)
			}
		})
	}
}

// TestPlanRefusesToReplaceHandWrittenFiles: a file without the generated
// header where the plan would write an entity is a diagnostic that names
// it; the service or environment it would replace is left alone.
func TestPlanRefusesToReplaceHandWrittenFiles(t *testing.T) {
	tmpl := planTemplates(t)
	cat := parsePlanCatalog(t, tmpl, catalogYAML(payment, orders))
	rendered := mustRenderAll(t, tmpl, cat, testPlanSource("base"))
	current := maps.Clone(rendered)
	handService := []byte("service:\n  identifier: payment_service\n  name: written by hand\n")
	handInfra := []byte("infrastructureDefinition: {identifier: prod_euw2_k8s, environmentRef: prod}\n")
	current["services/payment-service.yaml"] = handService
	current["infrastructures/prod-euw2.yaml"] = handInfra
	delete(current, "pipelines/payment-service-cd.yaml")
	delete(current, "environments/prod.yaml")
	plan, diags := Plan(PlanInput{Base: cat, Head: cat, Settings: catalog.DefaultSettings(), Templates: tmpl, Source: testPlanSource("head"), Current: current, Schemas: testSchemas(t)})
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	want := []string{
		"infrastructures/prod-euw2.yaml: infrastructures/prod-euw2.yaml was written by hand (it has no generated header), and the application renders the infrastructure definition prod_euw2_k8s at this path: rename or remove the file, and the next plan writes it",
		"services/payment-service.yaml: services/payment-service.yaml was written by hand (it has no generated header), and the application renders the Service payment_service at this path: rename or remove the file, and the next plan writes it",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	for _, c := range plan.Changes {
		if c.Service == "payment-service" || c.Environment == "prod" {
			t.Errorf("%s %s: the unit of a hand-written file is in the plan", c.Action, c.Path)
		}
	}
	if w := plan.Writes(); len(w) != 0 {
		t.Errorf("Writes() = %v, want nothing: the missing files belong to units left alone", slices.Sorted(maps.Keys(w)))
	}
}

func TestPlanWrites(t *testing.T) {
	tmpl := planTemplates(t)
	base := parsePlanCatalog(t, tmpl, catalogYAML(payment, orders, reportOff))
	head := parsePlanCatalog(t, tmpl, catalogYAML(nightly, reportOffBig, paymentEuw2))
	plan, diags := Plan(PlanInput{Base: base, Head: head, Settings: catalog.DefaultSettings(), Templates: tmpl, Source: testPlanSource("head"), BaseSource: testPlanSource("base"), Schemas: testSchemas(t)})
	if len(diags) > 0 {
		t.Fatal(diags.Err())
	}
	wantNew := mustRenderAll(t, tmpl, head, testPlanSource("head"))
	want := map[string][]byte{
		"services/nightly-report.yaml":              wantNew["services/nightly-report.yaml"],
		"pipelines/nightly-report-cd.yaml":          wantNew["pipelines/nightly-report-cd.yaml"],
		"triggers/nightly-report-cd-new-image.yaml": wantNew["triggers/nightly-report-cd-new-image.yaml"],
		"pipelines/payment-service-cd.yaml":         wantNew["pipelines/payment-service-cd.yaml"],
		"services/order-events.yaml":                nil,
		"pipelines/order-events-cd.yaml":            nil,
		"triggers/order-events-cd-new-image.yaml":   nil,
	}
	if diff := cmp.Diff(want, plan.Writes()); diff != "" {
		t.Errorf("Writes() (-want +got):\n%s", diff)
	}
	if got := (PipelinePlan{}).Writes(); got == nil || len(got) != 0 {
		t.Errorf("empty plan: Writes() = %#v, want an empty map", got)
	}
}

// TestPlanCountsUnits: a service's three files, and an environment's
// infrastructure definitions, count as one unit each for mass deletes.
func TestPlanCountsUnits(t *testing.T) {
	tmpl := planTemplates(t)
	base := parsePlanCatalog(t, tmpl, catalogYAML(payment, orders, nightly))
	head := parsePlanCatalog(t, tmpl, catalogYAML(nightly))
	current := mustRenderAll(t, tmpl, base, testPlanSource("base"))
	s := catalog.DefaultSettings()
	s.Environments[2].Regions = []string{"euw1"} // prod leaves euw2
	plan, diags := Plan(PlanInput{Base: base, Head: head, Settings: s, Templates: tmpl, Source: testPlanSource("head"), Current: current, Schemas: testSchemas(t)})
	if len(diags) > 0 {
		t.Fatal(diags.Err())
	}
	// 3 services and 3 environments exist; payment-service, order-events
	// and prod (its euw2 infrastructure) lose files.
	if plan.ExistingUnits != 6 || plan.DeletedUnits() != 3 {
		t.Errorf("ExistingUnits %d, DeletedUnits %d; want 6 and 3", plan.ExistingUnits, plan.DeletedUnits())
	}
	if want := (Counts{Update: 1, Unchanged: 2}); plan.Summary.Environments != want {
		t.Errorf("environments %+v, want %+v", plan.Summary.Environments, want)
	}
	if plan.Summary.Delete != 2 || plan.Summary.Files.Services.Delete != 2 || plan.Summary.Files.Infrastructures.Delete != 1 {
		t.Errorf("summary %+v: want 2 services deleted, with 2 Service files, and 1 infrastructure file", plan.Summary)
	}
}

// TestPlanLeavesUnrenderablePipelinesAlone checks that a service whose
// template fails is reported and neither updated nor deleted.
func TestPlanLeavesUnrenderablePipelinesAlone(t *testing.T) {
	good := planTemplates(t)
	cat := parsePlanCatalog(t, good, catalogYAML(payment, orders))
	current := mustRenderAll(t, good, cat, testPlanSource("base"))

	broken, _ := LoadTemplates(map[string][]byte{"templates/api-pipeline-template.yaml": []byte("pipeline: {{ .Nope }}\n")})
	plan, diags := Plan(PlanInput{Base: cat, Head: cat, Settings: catalog.DefaultSettings(), Templates: broken, Source: testPlanSource("head"), Current: current, Schemas: testSchemas(t)})
	if len(diags) == 0 {
		t.Fatal("Plan reported no diagnostic for a template that cannot execute")
	}
	for _, d := range diags {
		if d.Service != "payment-service" || d.File != "templates/api-pipeline-template.yaml" {
			t.Errorf("diagnostic %q: want it about payment-service in templates/api-pipeline-template.yaml", d)
		}
	}
	want := []planSummary{{"order-events", ActionUnchanged, "pipelines/order-events-cd.yaml", nil}}
	if diff := cmp.Diff(want, summarize(plan, KindPipeline)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	for _, c := range plan.Changes {
		if c.Service == "payment-service" {
			t.Errorf("%s %s: a service that does not render is in the plan", c.Action, c.Path)
		}
	}
	if w := plan.Writes(); len(w) != 0 {
		t.Errorf("Writes() = %v, want nothing", slices.Sorted(maps.Keys(w)))
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	tmpl := planTemplates(t)
	base := parsePlanCatalog(t, tmpl, catalogYAML(payment, orders, reportOff))
	head := parsePlanCatalog(t, tmpl, catalogYAML(nightly, reportOffBig, paymentEuw2))
	in := PlanInput{Base: base, Head: head, Settings: catalog.DefaultSettings(), Templates: tmpl, Source: testPlanSource("head"), BaseSource: testPlanSource("base"), Schemas: testSchemas(t)}
	first, _ := Plan(in)
	for range 3 {
		again, _ := Plan(in)
		if diff := cmp.Diff(first, again); diff != "" {
			t.Fatalf("second plan differs (-first +again):\n%s", diff)
		}
	}
}

func TestKindOfPath(t *testing.T) {
	custom := catalog.DefaultSettings()
	custom.PipelinesDir, custom.TriggersDir = "harness/pipelines", "harness/triggers"
	def := catalog.DefaultSettings()
	tests := []struct {
		settings catalog.Settings
		path     string
		want     Kind // "" for none
	}{
		{def, "pipelines/payment-service-cd.yaml", KindPipeline},
		{def, "pipelines/a.b_c-cd.yaml", KindPipeline},
		{def, "pipelines/-cd.yaml", ""},
		{def, "pipelines/.x-cd.yaml", ""},
		{def, "pipelines/x y-cd.yaml", ""},
		{def, "pipelines/x-cd.yml", ""},
		{def, "pipelines/x.yaml", ""},
		{def, "pipelines/sub/x-cd.yaml", ""},
		{def, "x-cd.yaml", ""},
		{def, "templates/x-cd.yaml", ""},
		{def, "services/payment-service.yaml", KindService},
		{def, "services/.yaml", ""},
		{def, "services/x.yml", ""},
		{def, "triggers/payment-service-cd-new-image.yaml", KindTrigger},
		{def, "triggers/payment-service-cd.yaml", ""},
		{def, "environments/prod.yaml", KindEnvironment},
		{def, "infrastructures/prod-euw1.yaml", KindInfrastructure},
		{def, "infrastructures/sub/prod-euw1.yaml", ""},
		{custom, "harness/pipelines/x-cd.yaml", KindPipeline},
		{custom, "harness/triggers/x-cd-new-image.yaml", KindTrigger},
		{custom, "pipelines/x-cd.yaml", ""},
	}
	for _, tc := range tests {
		k, ok := KindOfPath(tc.settings, tc.path)
		if k != tc.want || ok != (tc.want != "") {
			t.Errorf("KindOfPath(%q) = %q, %t; want %q", tc.path, k, ok, tc.want)
		}
		if got := IsPipelinePath(tc.settings, tc.path); got != (tc.want == KindPipeline) {
			t.Errorf("IsPipelinePath(%q) = %t", tc.path, got)
		}
	}
	for p, want := range map[string]string{
		"services/payment-service.yaml":              "payment-service",
		"pipelines/payment-service-cd.yaml":          "payment-service",
		"triggers/payment-service-cd-new-image.yaml": "payment-service",
		"environments/prod.yaml":                     "",
		"infrastructures/prod-euw1.yaml":             "",
		"pipelines/x.yaml":                           "",
	} {
		if got := ServiceOfPath(def, p); got != want {
			t.Errorf("ServiceOfPath(%q) = %q, want %q", p, got, want)
		}
	}
	// Every path a path function gives is of its kind.
	for _, name := range []string{"payment-service", "a", "x.y", "UPPER_case"} {
		for _, s := range []catalog.Settings{def, custom} {
			for want, p := range map[Kind]string{
				KindService: ServicePath(s, name), KindPipeline: PipelinePath(s, name), KindTrigger: TriggerPath(s, name),
				KindEnvironment: EnvironmentPath(s, name), KindInfrastructure: InfrastructurePath(s, name, "euw1"),
			} {
				if k, _ := KindOfPath(s, p); k != want {
					t.Errorf("KindOfPath(%q) = %q, want %q", p, k, want)
				}
			}
		}
	}
}
