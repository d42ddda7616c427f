package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
)

// emptiedRefusal is what the plan check run says of a PR that empties
// catalogPath, whose base had services: the text the CLI must print too.
func emptiedRefusal(cmd, catalogPath string, services int) string {
	rep := present.PreviewReport(planner.Preview{Verdict: planner.VerdictCatalogEmptied, BaseServices: services},
		present.PreviewContext{CatalogPath: catalogPath})
	return "pipeline-orchestrator " + cmd + ": " + rep.Title + "\n" + rep.Summary + "\n(--allow-empty-catalog goes on anyway)\n"
}

// examplesRendered renders the examples' catalog into a new checkout and
// returns it.
func examplesRendered(tb testing.TB) string {
	tb.Helper()
	out := tb.TempDir()
	if r := runCLI(tb, "render", "--catalog", examplesBase, "--out", out); r.code != 0 {
		tb.Fatalf("render: exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	return out
}

// TestEmptiedCatalogIsRefused checks that plan and render refuse a catalog
// emptied of its services with the plan check run's own words, as the app
// does, whether the services were in the base catalog or in a checkout.
func TestEmptiedCatalogIsRefused(t *testing.T) {
	empty := writeFile(t, t.TempDir(), "services.yaml", "services: []\n")
	checkout := examplesRendered(t)
	before := readTree(t, checkout)
	tests := []struct {
		name     string
		args     []string
		services int // the base's, as the message counts them
	}{
		{"plan from the base catalog", []string{"plan", "--base", examplesBase, "--head", empty}, 13},
		{"plan against a checkout", []string{"plan", "--base", empty, "--head", empty, "--pipelines", checkout}, 12},
		{"render into a checkout", []string{"render", "--catalog", empty, "--out", checkout}, 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			want := emptiedRefusal(tc.args[0], empty, tc.services)
			if r.code != exitInvalid || r.stdout != "" || r.stderr != want {
				t.Errorf("exit code %d, stdout %q, stderr:\n%s\nwant %d, nothing and:\n%s", r.code, r.stdout, r.stderr, exitInvalid, want)
			}
			if !strings.Contains(r.stderr, "never turns into deletes") {
				t.Errorf("the refusal does not say why:\n%s", r.stderr)
			}
			if diff := cmp.Diff(before, readTree(t, checkout)); diff != "" {
				t.Errorf("the checkout changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestAllowEmptyCatalog checks that --allow-empty-catalog lets the emptied
// catalog through, to the mass-delete flag, which --allow-mass-delete
// accepts: deleting everything takes both.
func TestAllowEmptyCatalog(t *testing.T) {
	empty := writeFile(t, t.TempDir(), "services.yaml", "services: []\n")
	r := runCLI(t, "plan", "--base", examplesBase, "--head", empty, "--allow-empty-catalog")
	if r.code != exitMassDelete || !strings.Contains(r.stdout, "12 to delete") {
		t.Errorf("plan --allow-empty-catalog: exit code %d, stdout:\n%s\nstderr:\n%s\nwant %d and 12 deletes", r.code, r.stdout, r.stderr, exitMassDelete)
	}
	r = runCLI(t, "plan", "--base", examplesBase, "--head", empty, "--allow-empty-catalog", "--allow-mass-delete")
	if r.code != 0 || !strings.Contains(r.stdout, "12 to delete") {
		t.Errorf("plan with both flags: exit code %d, stdout:\n%s\nstderr:\n%s\nwant 0 and 12 deletes", r.code, r.stdout, r.stderr)
	}

	checkout := examplesRendered(t)
	writeFile(t, checkout, "pipelines/manual-cd.yaml", "pipeline:\n  identifier: manual_cd\n")
	r = runCLI(t, "render", "--catalog", empty, "--out", checkout, "--allow-empty-catalog", "--allow-mass-delete")
	if r.code != 0 {
		t.Fatalf("render with both flags: exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	// What is left is what no plan deletes: the hand-written file (the
	// settings' environments render whatever the catalog).
	for p := range readTree(t, checkout) {
		if !strings.HasPrefix(p, "environments/") && !strings.HasPrefix(p, "infrastructures/") && p != "pipelines/manual-cd.yaml" {
			t.Errorf("%s is left", p)
		}
	}
}

// withoutServices writes the examples' catalog less the named services.
func withoutServices(tb testing.TB, names ...string) string {
	tb.Helper()
	src, err := os.ReadFile(examplesBase)
	if err != nil {
		tb.Fatal(err)
	}
	entries := strings.Split(string(src), "\n  - name: ")
	kept := entries[:1]
	for _, e := range entries[1:] {
		name, _, _ := strings.Cut(e, "\n")
		if !slices.Contains(names, name) {
			kept = append(kept, e)
		}
	}
	if len(kept) != len(entries)-len(names) {
		tb.Fatalf("the examples lack some of %v", names)
	}
	return writeFile(tb, tb.TempDir(), "services.yaml", strings.Join(kept, "\n  - name: "))
}

// examplesSettingsValue reads the examples' settings.
func examplesSettingsValue(tb testing.TB) catalog.Settings {
	tb.Helper()
	src, err := os.ReadFile(examplesSettings)
	if err != nil {
		tb.Fatal(err)
	}
	s, diags := catalog.ParseSettings(examplesSettings, src)
	if len(diags) > 0 {
		tb.Fatal(diags.Err())
	}
	return s
}

// TestMassDeleteIsFlagged checks that a plan whose deletes cross the
// settings' threshold carries the plan check run's warning and exits 3,
// unless --allow-mass-delete, and that render then writes nothing.
func TestMassDeleteIsFlagged(t *testing.T) {
	// 4 of the 15 units (12 services, 3 environments): more than 20%.
	head := withoutServices(t, "cart-service", "checkout-api", "user-profile", "payment-service")
	note := present.MassDeleteNote(examplesSettingsValue(t), 4, 15)
	plan := []string{"plan", "--settings", examplesSettings, "--base", examplesBase, "--head", head}
	const summary = "pipeline-orchestrator plan: mass delete: 4 of 15 services and environments would lose entities (--allow-mass-delete accepts it)\n"

	for _, format := range []string{"text", "markdown"} {
		r := runCLI(t, append(plan, "--format", format)...)
		if r.code != exitMassDelete || !strings.HasPrefix(r.stdout, note+"\n\n") || r.stderr != summary {
			t.Errorf("%s: exit code %d, stdout:\n%s\nstderr:\n%s\nwant %d, the note first and:\n%s", format, r.code, r.stdout, r.stderr, exitMassDelete, summary)
		}
		r = runCLI(t, append(plan, "--format", format, "--allow-mass-delete")...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, note+"\n\n") || r.stderr != "" {
			t.Errorf("%s --allow-mass-delete: exit code %d, stdout:\n%s\nstderr:\n%s\nwant 0 and the note first", format, r.code, r.stdout, r.stderr)
		}
	}
	r := runCLI(t, append(plan, "--format", "json")...)
	if r.code != exitMassDelete || r.stderr != note+"\n"+summary {
		t.Errorf("json: exit code %d, stderr:\n%s\nwant %d and the note then the summary", r.code, r.stderr, exitMassDelete)
	}
	if p := decodePlan(t, r.stdout); p.Summary.Delete != 4 {
		t.Errorf("json: %d deletes, want 4", p.Summary.Delete)
	}

	// A plan under the threshold is not flagged: 1 of 15.
	one := withoutServices(t, "cart-service")
	if r := runCLI(t, "plan", "--settings", examplesSettings, "--base", examplesBase, "--head", one); r.code != 0 || strings.Contains(r.stdout, "Mass delete") {
		t.Errorf("one delete: exit code %d, stdout:\n%s", r.code, r.stdout)
	}

	checkout := examplesRendered(t)
	before := readTree(t, checkout)
	r = runCLI(t, "render", "--settings", examplesSettings, "--catalog", head, "--out", checkout)
	wantErr := note + "\npipeline-orchestrator render: mass delete: 4 of 15 services and environments would lose entities; nothing was written (--allow-mass-delete accepts it)\n"
	if r.code != exitMassDelete || r.stdout != "" || r.stderr != wantErr {
		t.Errorf("render: exit code %d, stdout %q, stderr:\n%s\nwant %d, nothing and:\n%s", r.code, r.stdout, r.stderr, exitMassDelete, wantErr)
	}
	if diff := cmp.Diff(before, readTree(t, checkout)); diff != "" {
		t.Errorf("render wrote (-before +after):\n%s", diff)
	}
	r = runCLI(t, "render", "--settings", examplesSettings, "--catalog", head, "--out", checkout, "--allow-mass-delete")
	if r.code != 0 || !strings.HasSuffix(r.stdout, note+"\n") || len(readTree(t, checkout)) != len(before)-12 {
		t.Errorf("render --allow-mass-delete: exit code %d, %d files of %d left, stdout:\n%s\nstderr:\n%s", r.code, len(readTree(t, checkout)), len(before), r.stdout, r.stderr)
	}
}

// TestDiagnosticListsAreCapped checks that a file with thousands of
// errors prints the first 50, how many more there are, and the total.
func TestDiagnosticListsAreCapped(t *testing.T) {
	const n = 3000
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: Bad_Name_%d\n    archetype: api\n    team: payments\n    environments: [int]\n    regions: [euw1]\n", i)
	}
	bad := writeFile(t, t.TempDir(), "bad.yaml", b.String())
	for _, args := range [][]string{
		{"validate", bad},
		{"render", "--catalog", bad, "--out", t.TempDir()},
		{"plan", "--base", examplesBase, "--head", bad},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := runCLI(t, args...)
			if r.code != exitInvalid {
				t.Errorf("exit code %d, want %d", r.code, exitInvalid)
			}
			lines, summary := splitSummary(t, r.stderr)
			if len(lines) != maxListed+1 {
				t.Fatalf("%d lines before the summary, want %d:\n%s", len(lines), maxListed+1, r.stderr)
			}
			for i, l := range lines[:maxListed] {
				if want := fmt.Sprintf("%s:%d:11: ", bad, 2+5*i); !strings.HasPrefix(l, want) {
					t.Errorf("line %d: %q, want it to start %q", i+1, l, want)
				}
			}
			if want := fmt.Sprintf("… and %d more", n-maxListed); lines[maxListed] != want {
				t.Errorf("line %d: %q, want %q", maxListed+1, lines[maxListed], want)
			}
			if want := fmt.Sprintf("pipeline-orchestrator %s: Invalid catalog: %d problem(s)", args[0], n); summary != want {
				t.Errorf("summary %q, want %q", summary, want)
			}
		})
	}
}

// TestPlanHelpStatesTheRules checks that plan --help says what it refuses
// and flags, and the rule about hand-written files.
func TestPlanHelpStatesTheRules(t *testing.T) {
	for _, cmd := range []string{"plan", "render"} {
		r := runCLI(t, cmd, "--help")
		for _, want := range []string{"-allow-empty-catalog", "-allow-mass-delete", "(exit 1)", "(exit 3)", handWrittenHelp} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s --help lacks %q:\n%s", cmd, want, r.stdout)
			}
		}
	}
	// The top-level usage keeps one line per command.
	r := runCLI(t, "--help")
	if strings.Contains(r.stdout, "generated header") {
		t.Errorf("the command list carries a command's help:\n%s", r.stdout)
	}
}

// TestServeCapsConfigurationProblems checks that serve's list of
// configuration problems is capped like the diagnostics: a file with
// thousands of unknown keys prints the first 50, then the count.
func TestServeCapsConfigurationProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("server:\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "  nosuch%d: 1\n", i)
	}
	config := writeFile(t, t.TempDir(), "config.yml", b.String())
	r := runCLI(t, "serve", "--config", config)
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if r.code != exitInvalid || len(lines) != maxListed+2 || lines[0] != "pipeline-orchestrator serve: invalid configuration:" {
		t.Fatalf("exit code %d, %d lines; want %d and %d lines:\n%.3000s", r.code, len(lines), exitInvalid, maxListed+2, r.stderr)
	}
	var more, all int
	if _, err := fmt.Sscanf(lines[len(lines)-1], "… and %d more (%d in all)", &more, &all); err != nil || all < 3000 || more != all-maxListed {
		t.Errorf("last line %q, want the count of the others and of all (3000 or more)", lines[len(lines)-1])
	}
}
