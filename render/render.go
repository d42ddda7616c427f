package render

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"runtime"
	"sync"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// ManagedByTag and ManagedByValue mark a pipeline as this application's:
// every rendered pipeline carries the tag managed_by:
// pipeline-orchestrator, and Harness pipelines without it are not ours.
const (
	ManagedByTag   = "managed_by"
	ManagedByValue = "pipeline-orchestrator"
)

// Source says where a rendering's inputs come from. Every field may be
// empty, meaning unknown. The header comment of each pipeline file names
// them; the body never does (see Body).
type Source struct {
	CatalogRepo     string // e.g. "company/platform-next"
	CatalogPath     string // the catalog file in CatalogRepo, e.g. "catalog/services.yaml"
	CatalogCommit   string // commit SHA of the catalog
	TemplatesCommit string // commit SHA of the pipelines repo the templates come from
}

// Options are what a rendering needs besides the templates and the
// services.
type Options struct {
	// Settings are the pipelines repo's settings (catalog.DefaultSettings
	// when it has none).
	Settings catalog.Settings
	// Source names the inputs in the header of each file.
	Source Source
	// Schemas are Harness's compiled schemas to check each pipeline
	// against. Nil means none is available: that check is skipped and
	// every other check still runs.
	Schemas *Schemas
}

// PipelinePath returns the pipelines repo path of service's pipeline:
// "<PipelinesDir>/<service>-cd.yaml". Characters that cannot appear in one
// path component are replaced by "_" (Pipeline refuses such names anyway).
func PipelinePath(s catalog.Settings, service string) string {
	dir := s.PipelinesDir
	if dir == "" {
		dir = "pipelines"
	}
	name := []byte(service)
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' && i > 0
		if !ok {
			name[i] = '_'
		}
	}
	if len(name) == 0 {
		name = []byte("_")
	}
	return path.Join(dir, string(name)+"-cd.yaml")
}

// Pipeline renders svc's pipeline with its archetype's template and returns
// the pipeline file: a header comment naming the sources, then the
// pipeline in canonical YAML (see the package documentation).
//
// The output is checked before it is returned: it must be one YAML
// document with a pipeline root holding only pipeline keys; pipeline,
// stage and step identifiers must follow Harness's rules and be unique
// (stages in the pipeline, steps in their stage); required keys must be
// there; and, when opts.Schemas is not nil, it must satisfy Harness's
// pipeline JSON Schema. Any problem, with the template, with a catalog
// value or with the output, is returned as a TemplateErrors that lists
// each with the template path, the template line when known and the JSON
// pointer into the pipeline.
func Pipeline(t *Templates, svc catalog.Service, opts Options) ([]byte, error) {
	s, src := opts.Settings, opts.Source
	at, ok := t.byArchetype[svc.Archetype]
	if !ok {
		return nil, TemplateErrors{{
			Template: path.Join(s.TemplatesDir, svc.Archetype+TemplateSuffix),
			Service:  svc.Name,
			Field:    catalog.FieldArchetype,
			Message:  fmt.Sprintf("no template for archetype %s (templates exist for %v)", quote(svc.Archetype), t.Archetypes()),
		}}
	}
	if at.broken != nil {
		e := *at.broken
		e.Service = svc.Name
		return nil, TemplateErrors{&e}
	}
	data, err := newData(svc, s, src, at.path)
	if err != nil {
		var ve *valueError
		if errors.As(err, &ve) {
			return nil, TemplateErrors{{Template: at.path, Service: svc.Name, Field: ve.field, Message: ve.msg}}
		}
		return nil, TemplateErrors{{Template: at.path, Service: svc.Name, Message: err.Error()}}
	}
	raw, err := at.execute(data)
	if err != nil {
		line, msg := splitTemplateError(err)
		return nil, TemplateErrors{{Template: at.path, Line: line, Service: svc.Name, Message: msg}}
	}
	doc, problems := checkPipeline(raw, opts.Schemas)
	if len(problems) > 0 {
		var lines []int // template line of each output line, computed once
		traced := false
		errs := make(TemplateErrors, len(problems))
		for i, p := range problems {
			e := &TemplateError{Template: at.path, Service: svc.Name, Pointer: p.pointer, Message: p.message}
			if p.line > 0 {
				if !traced {
					lines, traced = at.outputLines(data), true
				}
				if p.line <= len(lines) {
					e.Line = lines[p.line-1]
				}
			}
			errs[i] = e
		}
		return nil, errs
	}
	var body bytes.Buffer
	if err := encodeCanonical(&body, doc); err != nil {
		return nil, TemplateErrors{{Template: at.path, Service: svc.Name, Message: "encoding the pipeline: " + err.Error()}}
	}
	var buf bytes.Buffer
	buf.Grow(body.Len() + 256)
	buf.WriteString(header(src, at.path, t.Builtin(svc.Archetype)))
	buf.WriteString(fingerprintLine(t.inputsDigest(svc, settingsDigest(s), src), body.Bytes()))
	buf.Write(body.Bytes())
	return buf.Bytes(), nil
}

// generatedMark opens the header of every file this application renders.
const generatedMark = "# generated by pipeline-orchestrator"

// IsGenerated reports whether file begins with the header this package
// writes, that is, whether it was rendered rather than written by hand.
func IsGenerated(file []byte) bool {
	return bytes.HasPrefix(file, []byte(generatedMark))
}

// header returns the header comment line of a pipeline file:
//
//	# generated by pipeline-orchestrator from <repo>@<commit> (template <path>@<commit>) — do not edit
//
// Unknown parts are left out.
func header(src Source, templatePath string, builtin bool) string {
	var b bytes.Buffer
	b.WriteString(generatedMark)
	switch {
	case src.CatalogRepo != "" && src.CatalogCommit != "":
		b.WriteString(" from " + src.CatalogRepo + "@" + src.CatalogCommit)
	case src.CatalogRepo != "":
		b.WriteString(" from " + src.CatalogRepo)
	case src.CatalogCommit != "":
		b.WriteString(" from catalog@" + src.CatalogCommit)
	}
	if builtin {
		b.WriteString(" (built-in template " + templatePath[:len(templatePath)-len(" (built-in)")] + ")")
	} else {
		b.WriteString(" (template " + templatePath)
		if src.TemplatesCommit != "" {
			b.WriteString("@" + src.TemplatesCommit)
		}
		b.WriteString(")")
	}
	b.WriteString(" — do not edit\n")
	return sanitizeComment(b.String())
}

// sanitizeComment keeps a header one line: a newline in a repo name or
// path must not end the comment.
func sanitizeComment(s string) string {
	b := []byte(s[:len(s)-1])
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b) + "\n"
}

// Body returns file without its leading comment lines: the pipeline
// without the header that names its source commits. Two renderings of the
// same service from different commits have equal bodies when nothing that
// shapes the pipeline changed.
func Body(file []byte) []byte {
	for len(file) > 0 && file[0] == '#' {
		i := bytes.IndexByte(file, '\n')
		if i < 0 {
			return nil
		}
		file = file[i+1:]
	}
	return file
}

// All renders the pipeline of every service in c whose pipeline is
// enabled, keyed by PipelinePath, on as many goroutines as GOMAXPROCS, with
// the checks of Pipeline (the schema check only when opts.Schemas is not
// nil). A service that cannot be rendered is left out of the map and
// reported as Diagnostics: problems with a catalog value point at the
// service's field in opts.Source.CatalogPath, others at the template. Two
// services whose pipelines would share a path or an identifier are both
// reported and both left out.
func All(t *Templates, c catalog.Catalog, opts Options) (map[string][]byte, catalog.Diagnostics) {
	return renderAll(t, c, opts, nil)
}

// renderAll is All, except that a service whose file in current (by path)
// was rendered from exactly the same inputs, and not edited since (see
// UpToDate), keeps that file instead of being rendered again. Rendering
// is by far the costliest step of a plan, and most services of a large
// catalog do not change. A kept file is not checked again: it passed the
// checks of the rendering that wrote it.
func renderAll(t *Templates, c catalog.Catalog, opts Options, current map[string][]byte) (map[string][]byte, catalog.Diagnostics) {
	s, src := opts.Settings, opts.Source
	out := make(map[string][]byte, len(c.Services))
	digest := settingsDigest(s)
	var diags catalog.Diagnostics
	byPath := map[string]string{} // path → service
	byID := map[string]string{}   // pipeline identifier → service
	clash := map[string]bool{}    // services to leave out
	claim := func(seen map[string]string, key, what string, svc catalog.Service) {
		prev, dup := seen[key]
		if !dup {
			seen[key] = svc.Name
			return
		}
		clash[prev], clash[svc.Name] = true, true
		diags = append(diags, catalog.Diagnostic{
			File: src.CatalogPath, Pos: svc.Pos, Service: svc.Name, Field: catalog.FieldName,
			Message: fmt.Sprintf("services %q and %q would share the %s", prev, svc.Name, what),
		})
	}
	for _, svc := range c.Services {
		if !svc.Pipeline.Enabled {
			continue
		}
		p := PipelinePath(s, svc.Name)
		id := Identifier(svc.Name + "_cd")
		claim(byPath, p, "pipeline file "+p, svc)
		claim(byID, id, "pipeline identifier "+id, svc)
	}
	// Render in parallel, one worker per CPU: Pipeline is pure and
	// *Templates is safe for concurrent use. Results go to their service's
	// slot, so the outcome does not depend on scheduling.
	type result struct {
		file []byte
		err  error
	}
	results := make([]result, len(c.Services))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(c.Services), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i].file, results[i].err = Pipeline(t, c.Services[i], opts)
			}
		}()
	}
	for i, svc := range c.Services {
		if !svc.Pipeline.Enabled || clash[svc.Name] {
			continue
		}
		if f, ok := current[PipelinePath(s, svc.Name)]; ok && t.upToDate(f, svc, digest, src) {
			results[i].file = f
			continue
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	for i, svc := range c.Services {
		if !svc.Pipeline.Enabled || clash[svc.Name] {
			continue
		}
		if err := results[i].err; err != nil {
			var errs TemplateErrors
			if errors.As(err, &errs) {
				for _, e := range errs {
					diags = append(diags, e.Diagnostic(src.CatalogPath, svc))
				}
			} else {
				diags = append(diags, catalog.Diagnostic{File: src.CatalogPath, Pos: svc.Pos, Service: svc.Name, Message: err.Error()})
			}
			continue
		}
		out[PipelinePath(s, svc.Name)] = results[i].file
	}
	return out, diags
}
