package render

import (
	"bytes"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/templates"
)

// TemplateSuffix ends the file name of every pipeline template:
// "<archetype>-pipeline-template.yaml". ServiceTemplateSuffix ends the
// file name of every Service template: "<archetype>-service-template.yaml".
const (
	TemplateSuffix        = "-pipeline-template.yaml"
	ServiceTemplateSuffix = "-service-template.yaml"
)

// templateNameRE matches a template file name and captures its archetype
// and the kind of entity it renders.
var templateNameRE = regexp.MustCompile(`^([a-z0-9][a-z0-9-]*)-(pipeline|service)-template\.yaml$`)

// IsTemplateFile reports whether name (a path; only its base name counts)
// is named like a template: "<archetype>-pipeline-template.yaml" or
// "<archetype>-service-template.yaml".
func IsTemplateFile(name string) bool {
	return templateNameRE.MatchString(path.Base(name))
}

// Templates holds, per archetype, the pipeline template and the Service
// template: the pipelines repo's own, and the built-in defaults for those
// it lacks. A *Templates is immutable and safe for concurrent use.
type Templates struct {
	byArchetype map[string]*archetypeTemplate // pipeline templates
	services    map[string]*archetypeTemplate // Service templates
}

// archetypeTemplate is one parsed template file.
type archetypeTemplate struct {
	path    string             // repo path, or "<file> (built-in)"
	src     string             // the file's text
	digest  string             // templateDigest(path, src), for fingerprints
	builtin bool               // one of package templates' defaults
	tmpl    *template.Template // nil when the file does not parse
	broken  *TemplateError     // why tmpl is nil
	// seedStyle is true when the text uses a seed placeholder, which needs
	// per-service functions and so a clone of tmpl per rendering.
	seedStyle bool
}

// seedPlaceholders are the seed architecture's template placeholders.
var seedPlaceholders = []string{"SERVICE_NAME", "TEAM", "ARCHETYPE", "ENVIRONMENTS", "REGIONS"}

// baseFuncs are the functions every template may call. The placeholders
// are bound to the service at execution time; these stand-ins only let
// the text parse.
func baseFuncs() template.FuncMap {
	fm := template.FuncMap{
		"quote":      quote,
		"quoteList":  quoteList,
		"identifier": Identifier,
	}
	for _, p := range seedPlaceholders {
		fm[p] = placeholder(p)
	}
	return fm
}

// placeholderFuncs binds the seed placeholders to d.
func placeholderFuncs(d Data) template.FuncMap {
	return template.FuncMap{
		"SERVICE_NAME": placeholder("SERVICE_NAME", d.Service.Name),
		"TEAM":         placeholder("TEAM", d.Service.Team),
		"ARCHETYPE":    placeholder("ARCHETYPE", d.Service.Archetype),
		"ENVIRONMENTS": placeholder("ENVIRONMENTS", d.Service.Environments...),
		"REGIONS":      placeholder("REGIONS", d.Service.Regions...),
	}
}

// LoadTemplates parses the pipelines repo's template files, given by path
// (e.g. "templates/api-pipeline-template.yaml"; only the base name counts).
// Each file "<archetype>-pipeline-template.yaml" is the pipeline template
// for that archetype, and "<archetype>-service-template.yaml" its Service
// template; the built-in defaults (package templates) fill what repoFiles
// lacks. Files not ending in .yaml or .yml are ignored.
//
// Every problem is a Diagnostic naming the file, and the line when known:
// a template that does not parse, a YAML file not named like a template,
// an archetype with a pipeline template and no Service template, or the
// reverse. A template that does not parse stays in the set as broken:
// rendering reports its error for every service of its archetype rather
// than falling back to the default, which would render different
// entities without saying so. The returned *Templates is never nil.
func LoadTemplates(repoFiles map[string][]byte) (*Templates, catalog.Diagnostics) {
	t := &Templates{byArchetype: map[string]*archetypeTemplate{}, services: map[string]*archetypeTemplate{}}
	var diags catalog.Diagnostics
	add := func(name string, src []byte, builtin bool) {
		m := templateNameRE.FindStringSubmatch(path.Base(name))
		set := t.byArchetype
		if m[2] == "service" {
			set = t.services
		}
		if prev, dup := set[m[1]]; dup {
			if !builtin {
				diags = append(diags, catalog.Diagnostic{File: name, Message: fmt.Sprintf("second %s template for archetype %q (first: %s)", m[2], m[1], prev.path)})
			}
			return
		}
		display := name
		if builtin {
			display += " (built-in)"
		}
		at := parseTemplate(display, src)
		at.builtin = builtin
		if at.broken != nil {
			diags = append(diags, catalog.Diagnostic{File: at.path, Pos: catalog.Pos{Line: at.broken.Line}, Message: at.broken.Message})
		}
		set[m[1]] = at
	}
	for _, p := range slices.Sorted(maps.Keys(repoFiles)) {
		base := path.Base(p)
		if !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".yml") {
			continue
		}
		if !IsTemplateFile(base) {
			diags = append(diags, catalog.Diagnostic{File: p, Message: "not a template: the name must be <archetype>" + TemplateSuffix + " or <archetype>" + ServiceTemplateSuffix + ", with a lower-case archetype"})
			continue
		}
		add(p, repoFiles[p], false)
	}
	builtins := templates.Default()
	for _, name := range slices.Sorted(maps.Keys(builtins)) {
		if IsTemplateFile(name) {
			add(name, builtins[name], true)
		}
	}
	return t, append(diags, t.unpaired()...)
}

// unpaired reports the archetypes that have only one of their two
// templates.
func (t *Templates) unpaired() catalog.Diagnostics {
	var diags catalog.Diagnostics
	for _, a := range t.Archetypes() {
		if _, ok := t.services[a]; !ok {
			at := t.byArchetype[a]
			diags = append(diags, catalog.Diagnostic{File: at.path, Message: fmt.Sprintf("archetype %q has a pipeline template and no Service template: add %s%s beside it", a, a, ServiceTemplateSuffix)})
		}
	}
	for _, a := range slices.Sorted(maps.Keys(t.services)) {
		if _, ok := t.byArchetype[a]; !ok {
			diags = append(diags, catalog.Diagnostic{File: t.services[a].path, Message: fmt.Sprintf("archetype %q has a Service template and no pipeline template: add %s%s beside it, or remove this file", a, a, TemplateSuffix)})
		}
	}
	return diags
}

// parseTemplate parses one template file.
func parseTemplate(name string, src []byte) *archetypeTemplate {
	at := &archetypeTemplate{path: name, src: string(src), digest: templateDigest(name, string(src))}
	for _, p := range seedPlaceholders {
		if strings.Contains(at.src, p) {
			at.seedStyle = true
		}
	}
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(baseFuncs()).Parse(at.src)
	if err != nil {
		line, msg := splitTemplateError(err)
		at.broken = &TemplateError{Template: name, Line: line, Message: "template does not parse: " + msg}
		return at
	}
	at.tmpl = tmpl
	return at
}

// Archetypes returns the archetypes that have a template, sorted.
func (t *Templates) Archetypes() []string {
	names := make([]string, 0, len(t.byArchetype))
	for name := range t.byArchetype {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Path returns the path of the archetype's pipeline template (for a
// built-in default, its file name and " (built-in)"), and whether there
// is one.
func (t *Templates) Path(archetype string) (string, bool) {
	at, ok := t.byArchetype[archetype]
	if !ok {
		return "", false
	}
	return at.path, true
}

// ServicePath returns the path of the archetype's Service template, like
// Path.
func (t *Templates) ServicePath(archetype string) (string, bool) {
	at, ok := t.services[archetype]
	if !ok {
		return "", false
	}
	return at.path, true
}

// Builtin reports whether the archetype's pipeline template is a built-in
// default.
func (t *Templates) Builtin(archetype string) bool {
	at, ok := t.byArchetype[archetype]
	return ok && at.builtin
}

// execute runs the template on d.
func (at *archetypeTemplate) execute(d Data) ([]byte, error) {
	tmpl := at.tmpl
	if at.seedStyle {
		var err error
		if tmpl, err = tmpl.Clone(); err != nil {
			return nil, err
		}
		tmpl.Funcs(placeholderFuncs(d))
	}
	var buf bytes.Buffer
	buf.Grow(len(at.src) * (1 + len(d.Stages)))
	if err := tmpl.Execute(&buf, d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// lineMarker brackets the template line number appended to each output
// line when tracing lines. NUL cannot appear in template text that
// matters: YAML does not allow it unescaped.
const lineMarker = "\x00"

// outputLines maps the lines of the template's output for d back to the
// template: element i is the template line whose text ended output line
// i+1, or 0 when an action's output ended it. It executes a copy of the
// template in which every newline of literal text is preceded by a marker
// naming its template line; the line count is unchanged, so the markers
// line up with the real output. It is only used to explain errors.
func (at *archetypeTemplate) outputLines(d Data) []int {
	traced := template.New(at.tmpl.Name()).Option("missingkey=error").Funcs(baseFuncs()).Funcs(placeholderFuncs(d))
	for _, tm := range at.tmpl.Templates() {
		if tm.Tree == nil {
			continue
		}
		tree := tm.Tree.Copy()
		markNewlines(tree.Root, at.src)
		if _, err := traced.AddParseTree(tm.Name(), tree); err != nil {
			return nil
		}
	}
	var buf bytes.Buffer
	if err := traced.Execute(&buf, d); err != nil {
		return nil
	}
	lines := strings.Split(buf.String(), "\n")
	out := make([]int, len(lines))
	for i, l := range lines {
		if !strings.HasSuffix(l, lineMarker) {
			continue
		}
		l = strings.TrimSuffix(l, lineMarker)
		j := strings.LastIndex(l, lineMarker)
		if j < 0 {
			continue
		}
		out[i], _ = strconv.Atoi(l[j+len(lineMarker):])
	}
	return out
}

// markNewlines rewrites every text node under n so that each newline is
// preceded by lineMarker, its template line, and lineMarker.
func markNewlines(n parse.Node, src string) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			markNewlines(c, src)
		}
	case *parse.TextNode:
		start := int(n.Pos)
		if start > len(src) || !strings.HasPrefix(src[start:], string(n.Text)) {
			return
		}
		line := 1 + strings.Count(src[:start], "\n")
		var b strings.Builder
		for _, c := range string(n.Text) {
			if c == '\n' {
				b.WriteString(lineMarker + strconv.Itoa(line) + lineMarker)
				line++
			}
			b.WriteRune(c)
		}
		n.Text = []byte(b.String())
	case *parse.IfNode:
		markNewlines(n.List, src)
		markNewlines(n.ElseList, src)
	case *parse.RangeNode:
		markNewlines(n.List, src)
		markNewlines(n.ElseList, src)
	case *parse.WithNode:
		markNewlines(n.List, src)
		markNewlines(n.ElseList, src)
	}
}

// templateErrorRE splits a text/template error into its line and message.
var templateErrorRE = regexp.MustCompile(`(?s)^template: .*?:(\d+):(?:\d+:)? (?:executing ".*?" at <.*?>: )?(?:error calling \w+: )?(.*)$`)

// splitTemplateError returns the template line and the message of a
// text/template parse or execution error.
func splitTemplateError(err error) (int, string) {
	m := templateErrorRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, err.Error()
	}
	line, _ := strconv.Atoi(m[1])
	return line, m[2]
}
