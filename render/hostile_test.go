package render

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"gopkg.in/yaml.v3"
)

// shape lists every node of a YAML document by its JSON pointer, with the
// node's kind and, for scalars, its tag but not its value.
func shape(tb testing.TB, src []byte) []string {
	tb.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		tb.Fatalf("output does not parse: %v\n%s", err, src)
	}
	var out []string
	var walk func(n *yaml.Node, ptr string)
	walk = func(n *yaml.Node, ptr string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, ptr)
			}
		case yaml.MappingNode:
			out = append(out, ptr+" map")
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], ptr+"/"+n.Content[i].Value)
			}
		case yaml.SequenceNode:
			out = append(out, ptr+" seq")
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s/%d", ptr, i))
			}
		default:
			out = append(out, ptr+" "+n.ShortTag())
		}
	}
	walk(&doc, "")
	return out
}

// valueAt returns the scalar at a JSON pointer of a YAML document.
func valueAt(tb testing.TB, src []byte, ptr string) string {
	tb.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		tb.Fatal(err)
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			var i int
			fmt.Sscan(tok, &i)
			v = x[i]
		}
	}
	s, _ := v.(string)
	return s
}

// hostileData sets every free-text value of d to h, and every identifier to
// Identifier(h), as if catalog and settings held nothing else.
func hostileData(d Data, h string) Data {
	d.Service.Name, d.Service.Team, d.Service.Archetype = h, h, h
	d.Service.Identifier = Identifier(h)
	d.Service.Environments, d.Service.Regions = []string{h}, []string{h}
	d.Settings = SettingsData{Org: h, Project: h, Connector: h, ConfigRepo: h, Branch: h,
		Artifact: ArtifactData{Type: h, Connector: h, Registry: h, ImagePath: h}}
	d.Pipeline = PipelineData{Name: h, Identifier: Identifier(h)}
	d.Source = SourceData{CatalogRepo: h, Template: h}
	stages := make([]Stage, len(d.Stages))
	for i, s := range d.Stages {
		s.Name, s.Region, s.ManifestPath, s.ValuesPath, s.DelegateSelector = h, h, h, h, h
		s.Infrastructure = Identifier(h)
		s.Environment = EnvironmentData{Name: h, Identifier: Identifier(h), Short: h}
		if s.Gate.Kind == "wait" {
			s.Gate.Wait = h
		}
		if s.Gate.Kind == "approval" {
			groups := make([]string, len(s.Gate.UserGroups))
			for i := range groups {
				groups[i] = h
			}
			s.Gate.UserGroups, s.Gate.Timeout = groups, h
		}
		stages[i] = s
	}
	d.Stages = stages
	return d
}

// TestDefaultTemplatesKeepTheirStructureWhateverTheValues executes each
// built-in template, pipeline and Service, with every free-text value
// replaced by a hostile string: the output must parse to the same tree,
// node for node, with the value in its places as a string.
func TestDefaultTemplatesKeepTheirStructureWhateverTheValues(t *testing.T) {
	tm := defaultTemplates(t)
	for _, archetype := range tm.Archetypes() {
		for _, c := range []struct {
			at   *archetypeTemplate
			ptrs []string
		}{
			{tm.byArchetype[archetype], []string{"/pipeline/name", "/pipeline/tags/team", "/pipeline/tags/service", "/pipeline/orgIdentifier", "/pipeline/stages/0/stage/name",
				"/pipeline/stages/0/stage/delegateSelectors/0", "/pipeline/stages/0/stage/spec/service/serviceInputs/serviceDefinition/spec/manifests/0/manifest/spec/valuesPaths/0"}},
			{tm.services[archetype], []string{"/service/name", "/service/tags/team", "/service/orgIdentifier",
				"/service/serviceDefinition/spec/artifacts/primary/sources/0/spec/imagePath", "/service/serviceDefinition/spec/artifacts/primary/sources/0/spec/registryHostname"}},
		} {
			svc := apiService()
			svc.Archetype = archetype
			base, err := newData(svc, catalog.DefaultSettings(), testSource(), c.at.path)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := c.at.execute(base)
			if err != nil {
				t.Fatal(err)
			}
			want := shape(t, raw)
			for _, h := range hostileStrings {
				t.Run(fmt.Sprintf("%s/%q", c.at.path, h), func(t *testing.T) {
					raw, err := c.at.execute(hostileData(base, h))
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(want, shape(t, raw)); diff != "" {
						t.Fatalf("structure changed (-want +got):\n%s", diff)
					}
					for _, ptr := range c.ptrs {
						if got := valueAt(t, raw, ptr); got != h {
							t.Errorf("%s = %q, want %q", ptr, got, h)
						}
					}
				})
			}
		}
	}
}

// TestHostileCatalogValues renders services whose values the catalog parser
// would reject, straight through Pipeline: each either renders with the
// value as a plain string in its place, or fails with an error naming the
// field.
func TestHostileCatalogValues(t *testing.T) {
	tm := defaultTemplates(t)
	baseline := shape(t, Body(mustPipeline(t, tm, apiService())))
	for _, h := range hostileStrings {
		if strings.Contains(h, "<+") {
			continue // rejected; see below
		}
		t.Run(fmt.Sprintf("team %q", h), func(t *testing.T) {
			svc := apiService()
			svc.Team = h
			out := mustPipeline(t, tm, svc)
			if diff := cmp.Diff(baseline, shape(t, Body(out))); diff != "" {
				t.Errorf("structure changed (-want +got):\n%s", diff)
			}
			if got := valueAt(t, out, "/pipeline/tags/team"); got != h {
				t.Errorf("tags.team = %q, want %q", got, h)
			}
		})
	}

	rejected := []struct {
		name      string
		change    func(*catalog.Service)
		wantField string
		wantIn    string
	}{
		{"expression in team", func(s *catalog.Service) { s.Team = `<+secrets.getValue("x")>` }, "team", "Harness expression"},
		{"expression in name", func(s *catalog.Service) { s.Name = "svc-<+pipeline.name>" }, "name", "Harness expression"},
		{"expression in a region", func(s *catalog.Service) { s.Regions = []string{"euw1", "<+input>"} }, "regions", "Harness expression"},
		{"invalid UTF-8 in team", func(s *catalog.Service) { s.Team = "pay\xffments" }, "team", "UTF-8"},
		{"colon in name", func(s *catalog.Service) { s.Name = "a: b" }, "name", "cannot name a file"},
		{"newline in name", func(s *catalog.Service) { s.Name = "x\n  injected: true" }, "name", "cannot name a file"},
		{"path in name", func(s *catalog.Service) { s.Name = "../../etc" }, "name", "cannot name a file"},
		{"unknown environment", func(s *catalog.Service) { s.Environments = []string{"prod\n  x: y"} }, "environments", "not in the settings"},
		{"unknown archetype", func(s *catalog.Service) { s.Archetype = `api" x` }, "archetype", "no template"},
		{"no stage", func(s *catalog.Service) { s.Regions = []string{"euw2"}; s.Environments = []string{"int-stable"} }, "environments", "no stage"},
	}
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			svc := apiService()
			tt.change(&svc)
			out, err := Pipeline(tm, svc, testOpts(t, catalog.DefaultSettings(), testSource()))
			var errs TemplateErrors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("Pipeline() = %d bytes, %v; want one TemplateError", len(out), err)
			}
			if errs[0].Field != tt.wantField || !strings.Contains(errs[0].Message, tt.wantIn) {
				t.Errorf("error field %q, message %q; want field %q, message with %q", errs[0].Field, errs[0].Message, tt.wantField, tt.wantIn)
			}
		})
	}
}

// TestSeedPlaceholderRefusesUnsafeValues: a placeholder cannot quote, so a
// value that would need quoting fails the rendering on the template line.
func TestSeedPlaceholderRefusesUnsafeValues(t *testing.T) {
	tm := templatesWith(t, map[string]string{"templates/api-pipeline-template.yaml": "pipeline:\n  name: x\n  tags:\n    team: \"{{TEAM}}\"\n"})
	svc := apiService()
	svc.Team = "x\"\n  injected: true"
	_, err := Pipeline(tm, svc, testOpts(t, catalog.DefaultSettings(), testSource()))
	var errs TemplateErrors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("Pipeline() error %v, want one TemplateError", err)
	}
	if errs[0].Line != 4 || !strings.Contains(errs[0].Message, "{{TEAM}} cannot insert") {
		t.Errorf("got %+v, want line 4 and the placeholder named", *errs[0])
	}
}
