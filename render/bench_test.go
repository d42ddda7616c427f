package render

import (
	"bytes"
	"fmt"
	"gopkg.in/yaml.v3"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// BenchmarkUnit renders one api service with 4 stages (int-stable,
// pre-stable, prod × euw1, euw2): its Service, pipeline and trigger, each
// executed, parsed, checked, validated against the Harness schemas (when
// ../shared/schemas has them) and encoded, and the checks between them.
// The schemas are compiled, and the environments rendered, before the
// timer, as All does once for every service.
// Each iteration renders a service of another name, as All does: the
// schema's memory of valid values then helps only with what services
// share (gate, deploy and rollback steps), not with whole stages.
func BenchmarkUnit(b *testing.B) {
	tm := defaultTemplates(b)
	svc, opts := apiService(), testOpts(b, catalog.DefaultSettings(), testSource())
	_, g, diags, _ := environmentFiles(opts)
	if len(diags) > 0 {
		b.Fatal(diags)
	}
	if _, err := renderUnit(tm, svc, opts, g, unitFiles{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		svc.Name = fmt.Sprintf("payment-service-%d", i)
		if _, err := renderUnit(tm, svc, opts, g, unitFiles{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAll1k renders a catalog of 1,000 services, a quarter of each
// archetype, in all environments and regions.
func BenchmarkAll1k(b *testing.B) {
	tm := defaultTemplates(b)
	archetypes := tm.Archetypes()
	c := catalog.Catalog{Services: make([]catalog.Service, 1000)}
	for i := range c.Services {
		svc := apiService()
		svc.Name = fmt.Sprintf("service-%04d", i)
		svc.Archetype = archetypes[i%len(archetypes)]
		c.Services[i] = svc
	}
	opts := testOpts(b, catalog.DefaultSettings(), testSource())
	if _, diags := All(tm, c, opts); len(diags) > 0 {
		b.Fatal(diags)
	}
	b.ReportAllocs()
	for b.Loop() {
		if out, diags := All(tm, c, opts); len(diags) > 0 || len(out) != 3007 {
			b.Fatalf("%d files, %v", len(out), diags)
		}
	}
}

// BenchmarkPipelinePhases measures each step of a pipeline's rendering
// alone.
func BenchmarkPipelinePhases(b *testing.B) {
	tm := defaultTemplates(b)
	at := tm.byArchetype["api"]
	svc, s, src := apiService(), catalog.DefaultSettings(), testSource()
	d, err := newData(svc, s, src, at.path)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := at.execute(d)
	if err != nil {
		b.Fatal(err)
	}
	sch := requireSchemas(b).pipeline
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	value := (&checker{}).value(&doc, nil)
	b.Run("data", func(b *testing.B) {
		for b.Loop() {
			newData(svc, s, src, at.path)
		}
	})
	b.Run("execute", func(b *testing.B) {
		for b.Loop() {
			at.execute(d)
		}
	})
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			var doc yaml.Node
			yaml.Unmarshal(raw, &doc)
		}
	})
	b.Run("structure", func(b *testing.B) {
		for b.Loop() {
			c := &checker{pipelineKeys: sch.pipelineKeys}
			c.value(&doc, nil)
			c.structure(&doc)
		}
	})
	b.Run("schema", func(b *testing.B) {
		for b.Loop() {
			if err := sch.root.Validate(value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			var buf bytes.Buffer
			encodeCanonical(&buf, &doc)
		}
	})
}
