package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// examplesSummary is the summary of the examples' plan: services by
// action.
var examplesSummary = counts{Create: 1, Update: 1, Delete: 1, ConfigOnly: 1, Unchanged: 9}

// counts are the counts of a plan's summary.
type counts struct {
	Create     int `json:"create"`
	Update     int `json:"update"`
	Delete     int `json:"delete"`
	ConfigOnly int `json:"configOnly"`
	Unchanged  int `json:"unchanged"`
}

// planJSON is the documented JSON form of a plan.
type planJSON struct {
	Changes []struct {
		Kind        string `json:"kind"`
		Identifier  string `json:"identifier"`
		Service     string `json:"service"`
		Environment string `json:"environment"`
		Action      string `json:"action"`
		Path        string `json:"path"`
		Fields      []struct {
			Name           string `json:"name"`
			Old            string `json:"old"`
			New            string `json:"new"`
			ShapesPipeline bool   `json:"shapesPipeline"`
		} `json:"fields"`
		Diff string `json:"diff"`
	} `json:"changes"`
	Summary struct {
		counts
		Environments counts            `json:"environments"`
		Files        map[string]counts `json:"files"`
	} `json:"summary"`
}

// decodePlan decodes the JSON form strictly: no field outside the contract.
func decodePlan(tb testing.TB, s string) planJSON {
	tb.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var p planJSON
	if err := dec.Decode(&p); err != nil {
		tb.Fatalf("decoding the plan: %v\n%s", err, s)
	}
	return p
}

// actions returns service → action of its pipeline in a plan.
func actions(p planJSON) map[string]string {
	out := map[string]string{}
	for _, c := range p.Changes {
		if c.Kind == "pipeline" {
			out[c.Service] = c.Action
		}
	}
	return out
}

func TestPlanExamples(t *testing.T) {
	base := []string{"plan", "--base", examplesBase, "--head", examplesHead}

	t.Run("text", func(t *testing.T) {
		r := runCLI(t, base...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
		}
		for _, want := range []string{
			"Plan: 1 service to create, 1 to update, 1 to delete, 1 config-only; 4 files to write, 3 to delete (9 services unchanged)\n",
			"\n+ create      fraud-scoring\n    services/fraud-scoring.yaml (create)\n    pipelines/fraud-scoring-cd.yaml (create)\n    triggers/fraud-scoring-cd-new-image.yaml (create)\n",
			"\n~ update      user-profile\n    pipelines/user-profile-cd.yaml (update)\n    regions: [euw1] -> [euw1, euw2]\n",
			"\n- delete      legacy-invoice-sync\n    services/legacy-invoice-sync.yaml (delete)\n",
			"\n= config-only cart-service\n    profile: medium -> large (config-only)\n",
			"\n+        identifier: prod_euw2\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("text plan lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		r := runCLI(t, append(base, "--format", "json")...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
		}
		p := decodePlan(t, r.stdout)
		if diff := cmp.Diff(examplesSummary, p.Summary.counts); diff != "" {
			t.Errorf("summary (-want +got):\n%s", diff)
		}
		got := actions(p)
		want := map[string]string{"fraud-scoring": "create", "user-profile": "update", "legacy-invoice-sync": "delete", "cart-service": "config-only"}
		for svc, a := range want {
			if got[svc] != a {
				t.Errorf("%s: action %q, want %q", svc, got[svc], a)
			}
		}
		for _, c := range p.Changes {
			if c.Service == "cart-service" && c.Kind == "pipeline" && (c.Diff != "" || len(c.Fields) != 1 || c.Fields[0].Name != "profile" || c.Fields[0].ShapesPipeline) {
				t.Errorf("cart-service: %+v, want a config-only profile change with no diff", c)
			}
			if c.Service == "user-profile" && c.Kind == "pipeline" && !strings.Contains(c.Diff, "+        identifier: prod_euw2\n") {
				t.Errorf("user-profile: the diff does not add the prod_euw2 stage:\n%s", c.Diff)
			}
		}
	})

	t.Run("markdown is the check run's text", func(t *testing.T) {
		r := runCLI(t, append(base, "--settings", examplesSettings, "--format", "markdown")...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
		}
		// The render package's golden file of the same plan.
		want, err := os.ReadFile(filepath.Join("..", "..", "render", "testdata", "plan", "want.md"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), r.stdout); diff != "" {
			t.Errorf("markdown (-want +got):\n%s", diff)
		}
	})

	t.Run("no change", func(t *testing.T) {
		r := runCLI(t, "plan", "--base", examplesBase, "--head", examplesBase, "--format", "json")
		if r.code != 0 {
			t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
		}
		p := decodePlan(t, r.stdout)
		if diff := cmp.Diff(counts{Unchanged: 12}, p.Summary.counts); diff != "" {
			t.Errorf("summary (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(counts{Unchanged: 3}, p.Summary.Environments); diff != "" {
			t.Errorf("environments (-want +got):\n%s", diff)
		}
	})
}

// TestPlanAgainstPipelinesCheckout plans against a pipelines repo checkout
// made by the render command.
func TestPlanAgainstPipelinesCheckout(t *testing.T) {
	checkout := t.TempDir()
	if r := runCLI(t, "render", "--catalog", examplesBase, "--out", checkout); r.code != 0 {
		t.Fatalf("render: exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	plan := func(tb testing.TB) planJSON {
		tb.Helper()
		r := runCLI(tb, "plan", "--base", examplesBase, "--head", examplesHead, "--pipelines", checkout, "--format", "json")
		if r.code != 0 || r.stderr != "" {
			tb.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
		}
		return decodePlan(tb, r.stdout)
	}
	if diff := cmp.Diff(examplesSummary, plan(t).Summary.counts); diff != "" {
		t.Errorf("against the rendered base (-want +got):\n%s", diff)
	}

	// The checkout, not the base catalog, is the current state now: a
	// missing file is created, a stray generated file deleted, other
	// files, and files written by hand, left alone.
	if err := os.Remove(filepath.Join(checkout, "pipelines", "checkout-api-cd.yaml")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, checkout, "pipelines/retired-svc-cd.yaml", "# generated by pipeline-orchestrator\npipeline:\n  identifier: retired_svc_cd\n")
	writeFile(t, checkout, "pipelines/hand-written-cd.yaml", "pipeline:\n  identifier: hand_written_cd\n")
	writeFile(t, checkout, "pipelines/README.md", "# pipelines\n")
	writeFile(t, checkout, "pipelines/archive/old-cd.yaml", "pipeline:\n  identifier: old_cd\n")
	p := plan(t)
	got := actions(p)
	for svc, want := range map[string]string{"checkout-api": "create", "retired-svc": "delete", "fraud-scoring": "create", "legacy-invoice-sync": "delete"} {
		if got[svc] != want {
			t.Errorf("%s: action %q, want %q", svc, got[svc], want)
		}
	}
	for _, c := range p.Changes {
		if strings.Contains(c.Path, "README") || strings.Contains(c.Path, "archive") || strings.Contains(c.Path, "hand-written") {
			t.Errorf("the plan touches %s", c.Path)
		}
	}

	// A checkout without entity directories has no entity yet.
	empty := t.TempDir()
	r := runCLI(t, "plan", "--base", examplesBase, "--head", examplesHead, "--pipelines", empty, "--format", "json")
	if r.code != 0 {
		t.Fatalf("empty checkout: exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	ep := decodePlan(t, r.stdout)
	if diff := cmp.Diff(counts{Create: 12}, ep.Summary.counts); diff != "" {
		t.Errorf("empty checkout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(counts{Create: 3}, ep.Summary.Environments); diff != "" {
		t.Errorf("empty checkout, environments (-want +got):\n%s", diff)
	}
}

// TestPlanReadsTheCheckoutsInputs checks that --pipelines takes the
// checkout's settings and templates, as the app would, unless a flag says
// otherwise.
func TestPlanReadsTheCheckoutsInputs(t *testing.T) {
	checkout := t.TempDir()
	settings := writeFile(t, checkout, ".pipeline-orchestrator.yml", "paths: {pipelines: harness/pipelines, templates: harness/templates}\n")
	if r := runCLI(t, "render", "--catalog", examplesBase, "--settings", settings, "--out", checkout); r.code != 0 {
		t.Fatalf("render: exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	plan := []string{"plan", "--base", examplesBase, "--head", examplesHead, "--pipelines", checkout, "--format", "json"}

	// The pipelines are found where the checkout's settings put them.
	r := runCLI(t, plan...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	if diff := cmp.Diff(examplesSummary, decodePlan(t, r.stdout).Summary.counts); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	// --settings wins over the checkout's: with the defaults the pipelines
	// are looked for in pipelines/, where there are none.
	r = runCLI(t, append(plan, "--settings", writeFile(t, t.TempDir(), "defaults.yml", "{}\n"))...)
	if got := decodePlan(t, r.stdout).Summary.Files["pipelines"].Create; r.code != 0 || got != 12 {
		t.Errorf("with --settings: exit code %d, %d pipeline creates; want 0 and 12\nstderr:\n%s", r.code, got, r.stderr)
	}

	// The checkout's templates are used: a broken one fails the plan, on
	// its own path.
	tmpl := writeFile(t, filepath.Join(checkout, "harness", "templates"), "api-pipeline-template.yaml", "pipeline:\n  name: x\n  identifier: {{ .NoSuchField }}\n")
	r = runCLI(t, plan...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, tmpl+":") {
		t.Errorf("with a broken template in the checkout: exit code %d, stderr:\n%s\nwant 1 and errors at %s", r.code, r.stderr, tmpl)
	}
	// --templates wins over the checkout's.
	r = runCLI(t, append(plan, "--templates", t.TempDir())...)
	if r.code != 0 {
		t.Errorf("with --templates: exit code %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestPlanInvalidCatalogs(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", badCatalog)
	tests := []struct {
		name      string
		args      []string
		wantErrAt []string
	}{
		{"invalid head", []string{"--base", examplesBase, "--head", bad}, []string{bad + ":2:11", bad + ":8:16", bad + ":10:25"}},
		{"invalid base", []string{"--base", bad, "--head", examplesHead}, []string{bad + ":2:11", bad + ":8:16", bad + ":10:25"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, format := range []string{"text", "markdown", "json"} {
				r := runCLI(t, append(append([]string{"plan"}, tc.args...), "--format", format)...)
				if r.code != 1 || r.stdout != "" {
					t.Errorf("%s: exit code %d, stdout %q; want 1 and nothing", format, r.code, r.stdout)
				}
				checkDiagnostics(t, r.stderr, tc.wantErrAt...)
			}
		})
	}
}
