package render

import (
	"bytes"
	"maps"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/templates"
)

// fingerprintWorld is one service rendered as the current files; it
// returns the path of its pipeline.
func fingerprintWorld(t *testing.T) (*Templates, catalog.Catalog, map[string][]byte, string) {
	t.Helper()
	tmpl := planTemplates(t)
	cat := parsePlanCatalog(t, tmpl, "services:\n"+svcYAML("payments", "api", "[int-stable, prod]", "[euw1]"))
	current := mustRenderAll(t, tmpl, cat, testPlanSource("base"))
	return tmpl, cat, current, PipelinePath(catalog.DefaultSettings(), "payments")
}

// planAction plans cat against current and returns the change of the
// pipeline.
func planAction(t *testing.T, tmpl *Templates, s catalog.Settings, cat catalog.Catalog, current map[string][]byte) Change {
	t.Helper()
	p, diags := Plan(PlanInput{Base: cat, Head: cat, Settings: s, Templates: tmpl, Source: testPlanSource("head"), Current: current, Schemas: testSchemas(t)})
	if len(diags) > 0 {
		t.Fatal(diags.Err())
	}
	for _, c := range p.Changes {
		if c.Kind == KindPipeline {
			return c
		}
	}
	t.Fatalf("no pipeline change in %+v", p.Changes)
	return Change{}
}

// with returns a copy of current with path set to file (deleted for nil).
func withFile(current map[string][]byte, path string, file []byte) map[string][]byte {
	out := maps.Clone(current)
	if file == nil {
		delete(out, path)
	} else {
		out[path] = file
	}
	return out
}

// TestUpToDateFilesAreNotRenderedAgain forges a current file whose body
// differs from what the templates give but whose fingerprint claims it is
// their output: the plan keeps it, which shows that it was not rendered.
func TestUpToDateFilesAreNotRenderedAgain(t *testing.T) {
	tmpl, cat, current, path := fingerprintWorld(t)
	file := current[path]
	inputs, _, ok := fingerprint(file)
	if !ok {
		t.Fatalf("no fingerprint in:\n%s", file)
	}
	body := bytes.Replace(Body(file), []byte("timeout: 10m"), []byte("timeout: 11m"), 1)
	forged := []byte(strings.SplitN(string(file), "\n", 2)[0] + "\n" + fingerprintLine(inputs, body) + string(body))
	c := planAction(t, tmpl, catalog.DefaultSettings(), cat, withFile(current, path, forged))
	if c.Action != ActionUnchanged || !bytes.Equal(c.New, forged) {
		t.Errorf("action %s: an up-to-date file was rendered again", c.Action)
	}
	// Each file is kept on its own: with the trigger missing, the trigger
	// is rendered, and checked against the kept pipeline.
	s := catalog.DefaultSettings()
	p, diags := Plan(PlanInput{Base: cat, Head: cat, Settings: s, Templates: tmpl, Source: testPlanSource("head"),
		Current: withFile(withFile(current, path, forged), TriggerPath(s, "payments"), nil), Schemas: testSchemas(t)})
	if len(diags) > 0 {
		t.Fatal(diags.Err())
	}
	for _, c := range p.Changes {
		switch c.Path {
		case path:
			if c.Action != ActionUnchanged || !bytes.Equal(c.New, forged) {
				t.Errorf("pipeline: action %s, want the up-to-date file kept", c.Action)
			}
		case TriggerPath(s, "payments"):
			if c.Action != ActionCreate {
				t.Errorf("trigger: action %s, want create", c.Action)
			}
		}
	}
}

// TestKeptFilesAreCheckedAgainstRenderedOnes forges a current pipeline
// whose fingerprint claims it is up to date but that lacks the imageTag
// variable, and removes the trigger: the trigger, rendered again, does not
// fit the kept pipeline, so the whole service is rendered again and the
// pipeline comes back as the templates give it.
func TestKeptFilesAreCheckedAgainstRenderedOnes(t *testing.T) {
	tmpl, cat, current, path := fingerprintWorld(t)
	file := current[path]
	inputs, _, _ := fingerprint(file)
	body := bytes.Replace(Body(file), []byte("      value: <+input>\n"), []byte("      value: fixed\n"), 1)
	if bytes.Equal(body, Body(file)) {
		t.Fatal("the pipeline has no runtime input to fix")
	}
	forged := []byte(strings.SplitN(string(file), "\n", 2)[0] + "\n" + fingerprintLine(inputs, body) + string(body))
	s := catalog.DefaultSettings()
	c := planAction(t, tmpl, s, cat, withFile(withFile(current, path, forged), TriggerPath(s, "payments"), nil))
	if c.Action != ActionUpdate || !bytes.Equal(Body(c.New), Body(file)) {
		t.Errorf("action %s: the kept pipeline that the new trigger does not fit was kept", c.Action)
	}
}

func TestFingerprintMismatchRendersAgain(t *testing.T) {
	tests := map[string]func(t *testing.T, tmpl *Templates, file []byte) (*Templates, catalog.Settings, []byte){
		"body edited by hand": func(t *testing.T, tmpl *Templates, file []byte) (*Templates, catalog.Settings, []byte) {
			return tmpl, catalog.DefaultSettings(), bytes.Replace(file, []byte("timeout: 10m"), []byte("timeout: 11m"), 1)
		},
		"settings changed": func(t *testing.T, tmpl *Templates, file []byte) (*Templates, catalog.Settings, []byte) {
			s := catalog.DefaultSettings()
			s.DelegateSelectorPattern = "delegate-{env_short}-{region}"
			return tmpl, s, file
		},
		"template changed": func(t *testing.T, tmpl *Templates, file []byte) (*Templates, catalog.Settings, []byte) {
			src := strings.Replace(string(templates.Default()["api"+TemplateSuffix]), "timeout: 10m", "timeout: 12m", 1)
			changed, diags := LoadTemplates(map[string][]byte{"templates/api" + TemplateSuffix: []byte(src)})
			if len(diags) > 0 {
				t.Fatal(diags.Err())
			}
			return changed, catalog.DefaultSettings(), file
		},
		"no fingerprint": func(t *testing.T, tmpl *Templates, file []byte) (*Templates, catalog.Settings, []byte) {
			header, _, _ := strings.Cut(string(file), "\n")
			return tmpl, catalog.DefaultSettings(), []byte(header + "\n" + string(Body(file)))
		},
		"service template changed": func(t *testing.T, tmpl *Templates, file []byte) (*Templates, catalog.Settings, []byte) {
			src := strings.Replace(string(templates.Default()["api"+ServiceTemplateSuffix]), "skipResourceVersioning: false", "skipResourceVersioning: true", 1)
			changed, diags := LoadTemplates(map[string][]byte{"templates/api" + ServiceTemplateSuffix: []byte(src)})
			if len(diags) > 0 {
				t.Fatal(diags.Err())
			}
			return changed, catalog.DefaultSettings(), file
		},
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl, cat, current, path := fingerprintWorld(t)
			tmpl2, s, file := change(t, tmpl, current[path])
			c := planAction(t, tmpl2, s, cat, withFile(current, path, file))
			want, err := Pipeline(tmpl2, cat.Services[0], testOpts(t, s, testPlanSource("head")))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(Body(file), Body(want)) {
				if c.Action != ActionUnchanged {
					t.Errorf("action %s, want unchanged", c.Action)
				}
				return
			}
			if c.Action != ActionUpdate || !bytes.Equal(Body(c.New), Body(want)) {
				t.Errorf("action %s: the file was not rendered again", c.Action)
			}
		})
	}
}

// TestSettingsChangeLeavesNoStaleFingerprint: after a settings change
// that touches only the pipelines, the Service and trigger files are kept
// as they are, and their fingerprints are still up to date: once the plan
// is applied, the next plan renders nothing again.
func TestSettingsChangeLeavesNoStaleFingerprint(t *testing.T) {
	tmpl, cat, current, _ := fingerprintWorld(t)
	s := catalog.DefaultSettings()
	s.DelegateSelectorPattern = "delegate-{env_short}-{region}"
	p, diags := Plan(PlanInput{Base: cat, Head: cat, Settings: s, Templates: tmpl, Source: testPlanSource("head"), Current: current, Schemas: testSchemas(t)})
	if len(diags) > 0 {
		t.Fatal(diags.Err())
	}
	applied := maps.Clone(current)
	for path, file := range p.Writes() {
		applied[path] = file
	}
	for _, c := range p.Changes {
		if c.Service == "payments" && c.Kind != KindPipeline && c.Action != ActionUnchanged {
			t.Errorf("%s: %s, want unchanged", c.Path, c.Action)
		}
	}
	g := newGraph(s)
	if _, all := keptFiles(applied, namesOf(s, "payments"), tmpl.unitDigests(cat.Services[0], g.digests, testPlanSource("head"))); !all {
		t.Error("after the plan, the service's files are not all up to date: the next plan renders them again")
	}
}

// TestHandEdited tells a rendered file edited in the pipelines repo from
// one as rendered, whatever its header says.
func TestHandEdited(t *testing.T) {
	_, _, current, path := fingerprintWorld(t)
	file := current[path]
	edited := append(bytes.Clone(file), "# a comment added by hand\n"...)
	restamped := bytes.Replace(file, []byte("(built-in template"), []byte("(template elsewhere"), 1)
	if bytes.Equal(restamped, file) {
		t.Fatalf("the header names no built-in template:\n%s", file)
	}
	for name, tt := range map[string]struct {
		file []byte
		want bool
	}{
		"as rendered":                  {file, false},
		"body edited":                  {edited, true},
		"header changed, body as is":   {restamped, false},
		"no header (written by hand)":  {Body(file), false},
		"header without a fingerprint": {[]byte(generatedMark + " from x@y (z) — do not edit\npipeline: {}\n"), false},
	} {
		if got := HandEdited(tt.file); got != tt.want {
			t.Errorf("%s: HandEdited = %v, want %v", name, got, tt.want)
		}
	}
}
