package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/templates"
)

// fingerprintWorld is one service rendered as the current pipeline file.
func fingerprintWorld(t *testing.T) (*Templates, catalog.Catalog, map[string][]byte, string) {
	t.Helper()
	tmpl := planTemplates(t)
	cat := parsePlanCatalog(t, tmpl, "services:\n"+svcYAML("payments", "api", "[int-stable, prod]", "[euw1]"))
	current := mustRenderAll(t, tmpl, cat, testPlanSource("base"))
	return tmpl, cat, current, PipelinePath(catalog.DefaultSettings(), "payments")
}

func planAction(t *testing.T, tmpl *Templates, s catalog.Settings, cat catalog.Catalog, current map[string][]byte) Change {
	t.Helper()
	p, diags := Plan(PlanInput{Base: cat, Head: cat, Settings: s, Templates: tmpl, Source: testPlanSource("head"), Current: current, Schemas: testSchemas(t)})
	if len(diags) > 0 {
		t.Fatal(diags.Err())
	}
	if len(p.Changes) != 1 {
		t.Fatalf("%d changes, want 1", len(p.Changes))
	}
	return p.Changes[0]
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
	c := planAction(t, tmpl, catalog.DefaultSettings(), cat, map[string][]byte{path: forged})
	if c.Action != ActionUnchanged || !bytes.Equal(c.New, forged) {
		t.Errorf("action %s: an up-to-date file was rendered again", c.Action)
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
			return tmpl, catalog.DefaultSettings(), Body(file)
		},
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl, cat, current, path := fingerprintWorld(t)
			tmpl2, s, file := change(t, tmpl, current[path])
			c := planAction(t, tmpl2, s, cat, map[string][]byte{path: file})
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
