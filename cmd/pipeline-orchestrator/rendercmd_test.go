package main

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// readTree returns every file under dir: slash path relative to dir → content.
func readTree(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// renderExamples renders one of the examples' catalogs with the examples'
// settings through the render package, as the command should.
func renderExamples(tb testing.TB, catalogPath string) map[string]string {
	tb.Helper()
	settingsSrc, err := os.ReadFile(examplesSettings)
	if err != nil {
		tb.Fatal(err)
	}
	settings, diags := catalog.ParseSettings(examplesSettings, settingsSrc)
	if len(diags) > 0 {
		tb.Fatal(diags.Err())
	}
	tmpl, _ := render.LoadTemplates(nil)
	src, err := os.ReadFile(catalogPath)
	if err != nil {
		tb.Fatal(err)
	}
	cat, diags := catalog.Parse(catalogPath, src, catalog.ParseOptions{Settings: settings, Archetypes: tmpl.Archetypes()})
	if len(diags) > 0 {
		tb.Fatal(diags.Err())
	}
	files, diags := render.All(tmpl, cat, render.Options{Settings: settings, Source: render.Source{CatalogPath: catalogPath}})
	if len(diags) > 0 {
		tb.Fatal(diags.Err())
	}
	out := make(map[string]string, len(files))
	for p, b := range files {
		out[p] = string(b)
	}
	return out
}

// renderedExamples is what render says of the examples' catalog.
const renderedExamples = "rendered 12 services, 12 pipelines, 12 triggers, 3 environments and 4 infrastructure definitions into "

func TestRenderWritesEveryEntity(t *testing.T) {
	out := filepath.Join(t.TempDir(), "checkout")
	writeFile(t, out, "pipelines/README.md", "kept\n")
	r := runCLI(t, "render", "--catalog", examplesBase, "--settings", examplesSettings, "--out", out)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	if want := renderedExamples + out + "\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	want := renderExamples(t, examplesBase)
	want["pipelines/README.md"] = "kept\n"
	got := readTree(t, out)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	for _, p := range []string{"services/report-builder.yaml", "pipelines/report-builder-cd.yaml", "triggers/report-builder-cd-new-image.yaml"} {
		if _, ok := got[p]; ok {
			t.Errorf("the disabled report-builder got %s", p)
		}
	}

	// A second run rewrites the same bytes and leaves no temporary file.
	if r := runCLI(t, "render", "--catalog", examplesBase, "--out", out); r.code != 0 {
		t.Fatalf("second run: exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	if diff := cmp.Diff(want, readTree(t, out)); diff != "" {
		t.Errorf("after a second run (-want +got):\n%s", diff)
	}
}

// TestRenderRemovesStaleFiles checks that rendering a catalog into a
// checkout made from an older one leaves exactly the new rendering: the
// files of a removed service go, hand-written files stay.
func TestRenderRemovesStaleFiles(t *testing.T) {
	out := t.TempDir()
	if r := runCLI(t, "render", "--catalog", examplesBase, "--settings", examplesSettings, "--out", out); r.code != 0 {
		t.Fatalf("first render: exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	const handWritten = "pipeline:\n  identifier: manual_cd\n"
	writeFile(t, out, "pipelines/manual-cd.yaml", handWritten)
	writeFile(t, out, "environments/sandbox.yaml", handWritten)

	r := runCLI(t, "render", "--catalog", examplesHead, "--settings", examplesSettings, "--out", out)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	wantOut := renderedExamples + out + "\n"
	for _, p := range []string{"pipelines/legacy-invoice-sync-cd.yaml", "services/legacy-invoice-sync.yaml", "triggers/legacy-invoice-sync-cd-new-image.yaml"} {
		wantOut += "removed " + filepath.Join(out, filepath.FromSlash(p)) + ": nothing renders it any more\n"
	}
	if r.stdout != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, wantOut)
	}
	want := renderExamples(t, examplesHead)
	want["pipelines/manual-cd.yaml"] = handWritten
	want["environments/sandbox.yaml"] = handWritten
	if diff := cmp.Diff(want, readTree(t, out)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestRenderWritesNothingOnInvalidInput(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", badCatalog)
	broken := brokenAPITemplates(t)
	tests := []struct {
		name string
		args []string
		// wantErrAt are the prefixes of the wanted error lines, in order.
		wantErrAt []string
	}{
		{"invalid catalog", []string{"--catalog", bad}, []string{bad + ":2:11: ", bad + ":8:16: ", bad + ":10:25: "}},
		{
			"one archetype's template fails",
			[]string{"--catalog", examplesBase, "--templates", broken},
			slices.Repeat([]string{filepath.Join(broken, "api-pipeline-template.yaml") + ":3: service "}, 4),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fresh := filepath.Join(t.TempDir(), "fresh")
			existing := t.TempDir()
			writeFile(t, existing, "pipelines/old-cd.yaml", "old\n")
			before := readTree(t, existing)
			for _, out := range []string{fresh, existing} {
				r := runCLI(t, append([]string{"render", "--out", out}, tc.args...)...)
				if r.code != 1 || r.stdout != "" {
					t.Errorf("exit code %d, stdout %q; want 1 and nothing", r.code, r.stdout)
				}
				lines, _ := splitSummary(t, r.stderr)
				if len(lines) != len(tc.wantErrAt) {
					t.Errorf("%d error lines, want %d:\n%s", len(lines), len(tc.wantErrAt), r.stderr)
				}
				for i, l := range lines {
					if i < len(tc.wantErrAt) && !strings.HasPrefix(l, tc.wantErrAt[i]) {
						t.Errorf("error line %q, want it to start %q", l, tc.wantErrAt[i])
					}
				}
			}
			if _, err := os.Stat(fresh); err == nil {
				t.Errorf("%s was created", fresh)
			}
			if diff := cmp.Diff(before, readTree(t, existing)); diff != "" {
				t.Errorf("%s changed (-before +after):\n%s", existing, diff)
			}
		})
	}
}

// TestRenderHonoursTheDirectories checks that files go where the settings
// put each kind.
func TestRenderHonoursTheDirectories(t *testing.T) {
	dir := t.TempDir()
	settings := writeFile(t, dir, "settings.yml", "paths: {pipelines: harness/pipelines, services: harness/services, triggers: harness/triggers,\n"+
		"  environments: harness/environments, infrastructures: harness/infrastructures}\n")
	out := filepath.Join(dir, "out")
	if r := runCLI(t, "render", "--catalog", examplesBase, "--settings", settings, "--out", out); r.code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	got := slices.Sorted(maps.Keys(readTree(t, out)))
	if len(got) != 43 {
		t.Fatalf("%d files, want 43: %v", len(got), got)
	}
	for _, p := range got {
		if !strings.HasPrefix(p, "harness/") {
			t.Errorf("file %s is not under harness/", p)
		}
		if strings.HasPrefix(p, "harness/pipelines/") && !strings.HasSuffix(p, "-cd.yaml") {
			t.Errorf("file %s is not harness/pipelines/<service>-cd.yaml", p)
		}
	}
}

// TestRenderRefusesToReplaceHandWrittenFiles: a file written by hand where
// an entity renders stops the rendering, naming the file.
func TestRenderRefusesToReplaceHandWrittenFiles(t *testing.T) {
	out := t.TempDir()
	writeFile(t, out, "services/cart-service.yaml", "service:\n  identifier: cart_service\n")
	before := readTree(t, out)
	r := runCLI(t, "render", "--catalog", examplesBase, "--out", out)
	want := "services/cart-service.yaml: services/cart-service.yaml was written by hand (it has no generated header), and the application renders the Service cart_service at this path: rename or remove the file, and the next plan writes it\n" +
		"pipeline-orchestrator render: 1 pipeline(s) cannot be rendered\n"
	if r.code != 1 || r.stdout != "" || !strings.HasSuffix(r.stderr, want) {
		t.Errorf("exit code %d, stdout %q, stderr:\n%s\nwant 1, nothing, and:\n%s", r.code, r.stdout, r.stderr, want)
	}
	if diff := cmp.Diff(before, readTree(t, out)); diff != "" {
		t.Errorf("%s changed (-before +after):\n%s", out, diff)
	}
}
