package render

import (
	"errors"
	"fmt"
	"path"

	"gopkg.in/yaml.v3"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// unitFiles are the files of one service: its Service, pipeline and
// trigger.
type unitFiles struct {
	service, pipeline, trigger []byte
}

// triggerOrigin names the built-in trigger in errors.
const triggerOrigin = "new-image trigger (built in)"

// unitRendering is the rendering of one service's entities.
type unitRendering struct {
	t    *Templates
	svc  catalog.Service
	opts Options
	g    *graph
	// pipeline and service are the archetype's templates; data the value
	// they execute on.
	pipeline, service *archetypeTemplate
	data              Data
}

// renderUnit renders svc's Service and pipeline from its archetype's
// templates and builds its trigger; checks each, and the references among
// them and to g; and returns the three files. Any problem is returned as
// TemplateErrors, each naming the template (and its line) it comes from.
//
// A file of kept (nil for none) is up to date with its inputs: it is
// parsed back for the checks between the files instead of being rendered
// again, and returned as it is. Should such a check fail on a kept file,
// the service is rendered again whole, for the problem's template line.
func renderUnit(t *Templates, svc catalog.Service, opts Options, g *graph, kept unitFiles) (unitFiles, error) {
	u, err := newUnitRendering(t, svc, opts, g)
	if err != nil {
		return unitFiles{}, err
	}
	serviceRaw, serviceDoc, serviceErrs := u.entityOrKept(u.service, KindService, kept.service)
	pipelineRaw, pipelineDoc, pipelineErrs := u.entityOrKept(u.pipeline, KindPipeline, kept.pipeline)
	if errs := append(serviceErrs, pipelineErrs...); len(errs) > 0 {
		return unitFiles{}, errs
	}
	triggerDoc, err := u.trigger(pipelineDoc, kept.trigger)
	if err != nil {
		return unitFiles{}, err
	}
	cross := g.check(svc, unitDocs{service: serviceDoc, pipeline: pipelineDoc, trigger: triggerDoc})
	cross = append(cross, checkTrigger(pipelineDoc, triggerDoc)...)
	if len(cross) > 0 {
		if kept.service != nil || kept.pipeline != nil || kept.trigger != nil {
			return renderUnit(t, svc, opts, g, unitFiles{})
		}
		return unitFiles{}, u.crossErrors(cross, serviceRaw, pipelineRaw)
	}
	return u.files(serviceDoc, pipelineDoc, triggerDoc, kept, len(serviceRaw), len(pipelineRaw))
}

// entityOrKept parses the kept file, or executes at and checks its output
// as an entity of kind k when there is none.
func (u *unitRendering) entityOrKept(at *archetypeTemplate, k Kind, kept []byte) ([]byte, *yaml.Node, TemplateErrors) {
	if kept == nil {
		return u.entity(at, k)
	}
	doc, p := parseOne(Body(kept))
	if p != nil {
		return nil, nil, TemplateErrors{{Template: at.path, Service: u.svc.Name, Message: "reading the current file back: " + p.message}}
	}
	return nil, doc, nil
}

// trigger builds and checks the trigger of the pipeline, or parses the
// kept one.
func (u *unitRendering) trigger(pipelineDoc *yaml.Node, kept []byte) (*yaml.Node, error) {
	if kept != nil {
		doc, p := parseOne(Body(kept))
		if p != nil {
			return nil, TemplateErrors{{Template: triggerOrigin, Service: u.svc.Name, Message: "reading the current file back: " + p.message}}
		}
		return doc, nil
	}
	_, p := mappingGet(pipelineDoc.Content[0], "pipeline")
	raw, err := triggerYAML(u.opts.Settings, u.svc, scalarAt(p, "identifier"))
	if err != nil {
		return nil, TemplateErrors{{Template: triggerOrigin, Service: u.svc.Name, Message: err.Error()}}
	}
	doc, probs := checkEntity(KindTrigger, raw, u.opts.Schemas)
	if len(probs) > 0 {
		return nil, u.errors(nil, probs, nil, triggerOrigin, nil)
	}
	return doc, nil
}

// newUnitRendering finds svc's templates and builds their data.
func newUnitRendering(t *Templates, svc catalog.Service, opts Options, g *graph) (*unitRendering, error) {
	s := opts.Settings
	u := &unitRendering{t: t, svc: svc, opts: opts, g: g}
	for _, want := range []struct {
		set    map[string]*archetypeTemplate
		into   **archetypeTemplate
		suffix string
	}{{t.byArchetype, &u.pipeline, TemplateSuffix}, {t.services, &u.service, ServiceTemplateSuffix}} {
		at, ok := want.set[svc.Archetype]
		if !ok {
			return nil, TemplateErrors{{
				Template: path.Join(s.TemplatesDir, svc.Archetype+want.suffix),
				Service:  svc.Name,
				Field:    catalog.FieldArchetype,
				Message:  fmt.Sprintf("no template %s for archetype %s (pipeline templates exist for %v)", svc.Archetype+want.suffix, quote(svc.Archetype), t.Archetypes()),
			}}
		}
		if at.broken != nil {
			e := *at.broken
			e.Service = svc.Name
			return nil, TemplateErrors{&e}
		}
		*want.into = at
	}
	data, err := newData(svc, s, opts.Source, u.pipeline.path)
	if err != nil {
		var ve *valueError
		if errors.As(err, &ve) {
			return nil, TemplateErrors{{Template: u.pipeline.path, Service: svc.Name, Field: ve.field, Message: ve.msg}}
		}
		return nil, TemplateErrors{{Template: u.pipeline.path, Service: svc.Name, Message: err.Error()}}
	}
	u.data = data
	return u, nil
}

// dataFor returns the template data with at as the template being
// executed. A Service template sees no stage, environment or region (see
// serviceData).
func (u *unitRendering) dataFor(at *archetypeTemplate) Data {
	d := u.data
	if at == u.service {
		d = serviceData(d)
	}
	d.Source.Template = at.path
	return d
}

// serviceData is d as a Service template sees it: without the stages, and
// without the service's environments and regions. A Harness Service is
// the same in every environment and region (what differs per stage
// reaches it through the stage's serviceInputs), and its file is then
// rendered from fewer inputs: a change of regions leaves it as it is.
func serviceData(d Data) Data {
	d.Stages = nil
	d.Service.Environments, d.Service.Regions = nil, nil
	return d
}

// entity executes at and checks its output as an entity of kind k.
func (u *unitRendering) entity(at *archetypeTemplate, k Kind) ([]byte, *yaml.Node, TemplateErrors) {
	d := u.dataFor(at)
	raw, err := at.execute(d)
	if err != nil {
		line, msg := splitTemplateError(err)
		return nil, nil, TemplateErrors{{Template: at.path, Line: line, Service: u.svc.Name, Message: msg}}
	}
	doc, probs := checkEntity(k, raw, u.opts.Schemas)
	if len(probs) > 0 {
		return nil, nil, u.errors(at, probs, nil, at.path, &d)
	}
	return raw, doc, nil
}

// errors turns problems in the output of at (nil for the built-in
// trigger) into TemplateErrors on the template's lines.
func (u *unitRendering) errors(at *archetypeTemplate, probs []problem, lines []int, name string, d *Data) TemplateErrors {
	errs := make(TemplateErrors, len(probs))
	traced := lines != nil
	for i, p := range probs {
		e := &TemplateError{Template: name, Service: u.svc.Name, Pointer: p.pointer, Message: p.message}
		if p.line > 0 && at != nil {
			if !traced {
				lines, traced = at.outputLines(*d), true
			}
			if p.line <= len(lines) {
				e.Line = lines[p.line-1]
			}
		}
		errs[i] = e
	}
	return errs
}

// crossErrors turns cross problems into TemplateErrors on the lines of the
// template at fault.
func (u *unitRendering) crossErrors(cross []crossProblem, serviceRaw, pipelineRaw []byte) TemplateErrors {
	var errs TemplateErrors
	byKind := map[Kind]*archetypeTemplate{KindService: u.service, KindPipeline: u.pipeline}
	for _, k := range []Kind{KindService, KindPipeline} {
		var probs []problem
		for _, c := range cross {
			if c.kind == k {
				probs = append(probs, problem{pointer: c.pointer, line: c.line, message: c.message})
			}
		}
		if len(probs) == 0 {
			continue
		}
		at := byKind[k]
		d := u.dataFor(at)
		errs = append(errs, u.errors(at, probs, nil, at.path, &d)...)
	}
	return errs
}

// files encodes the three checked documents, except those kept; the
// sizes of the templates' outputs tell how large the files will be.
func (u *unitRendering) files(serviceDoc, pipelineDoc, triggerDoc *yaml.Node, kept unitFiles, serviceSize, pipelineSize int) (unitFiles, error) {
	src := u.opts.Source
	d := u.t.unitDigests(u.svc, u.g.digests, src)
	out := kept
	for _, f := range []struct {
		doc            *yaml.Node
		origin, digest string
		into           *[]byte
		name           string
		size           int
	}{
		{serviceDoc, templateOrigin(src, u.service), d.service, &out.service, u.service.path, serviceSize},
		{pipelineDoc, templateOrigin(src, u.pipeline), d.pipeline, &out.pipeline, u.pipeline.path, pipelineSize},
		{triggerDoc, "new-image trigger, " + settingsOrigin(src), d.trigger, &out.trigger, triggerOrigin, 1 << 10},
	} {
		if *f.into != nil {
			continue
		}
		file, err := entityFile(f.doc, src, f.origin, f.digest, f.size)
		if err != nil {
			return unitFiles{}, TemplateErrors{{Template: f.name, Service: u.svc.Name, Message: err.Error()}}
		}
		*f.into = file
	}
	return out, nil
}

// templateOrigin names a template as a rendering's origin in the header:
// "template <path>@<commit>", or "built-in template <file>".
func templateOrigin(src Source, at *archetypeTemplate) string {
	if at.builtin {
		return "built-in template " + at.path[:len(at.path)-len(" (built-in)")]
	}
	o := "template " + at.path
	if src.TemplatesCommit != "" {
		o += "@" + src.TemplatesCommit
	}
	return o
}
