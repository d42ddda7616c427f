package render

import (
	"strconv"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// TemplateError is one reason a service's pipeline could not be rendered.
type TemplateError struct {
	// Template is the template's path, e.g.
	// "templates/api-pipeline-template.yaml"; a built-in default is named
	// by its file name with the suffix " (built-in)".
	Template string
	// Line is the template line the problem comes from; 0 when unknown.
	Line int
	// Service is the service being rendered; "" for a template that does
	// not parse.
	Service string
	// Field names the service field at fault ("name", "team", …) when the
	// problem is a catalog value rather than the template; otherwise "".
	Field string
	// Pointer is the JSON pointer into the rendered pipeline, e.g.
	// "/pipeline/stages/0/stage/identifier"; "" when the problem is not
	// about one place in the output.
	Pointer string
	// Message says what is wrong, in plain words.
	Message string
}

// Error formats e as "TEMPLATE:LINE: service "NAME": at POINTER: MESSAGE",
// leaving out the parts that are unknown.
func (e *TemplateError) Error() string {
	var b strings.Builder
	b.WriteString(e.Template)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Service != "" {
		b.WriteString("service " + strconv.Quote(e.Service))
		if e.Field != "" {
			b.WriteString(", field " + e.Field)
		}
		b.WriteString(": ")
	}
	if e.Pointer != "" {
		b.WriteString("at " + e.Pointer + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Diagnostic converts e to a catalog.Diagnostic. A problem with a catalog
// value points at that field in the catalog file (catalogFile, svc's
// field position); any other problem points at the template.
func (e *TemplateError) Diagnostic(catalogFile string, svc catalog.Service) catalog.Diagnostic {
	if e.Field != "" {
		pos := svc.FieldPos[e.Field]
		if pos == (catalog.Pos{}) {
			pos = svc.Pos
		}
		return catalog.Diagnostic{File: catalogFile, Pos: pos, Service: e.Service, Field: e.Field, Message: e.Message}
	}
	msg := e.Message
	if e.Pointer != "" {
		msg = "at " + e.Pointer + ": " + msg
	}
	return catalog.Diagnostic{File: e.Template, Pos: catalog.Pos{Line: e.Line}, Service: e.Service, Message: msg}
}

// TemplateErrors is every problem found in one rendering, in output order.
// Pipeline returns one as its error for any problem with the template, the
// catalog values or the rendered pipeline; errors.As finds both the list
// and its first *TemplateError.
type TemplateErrors []*TemplateError

// Error joins the errors, one per line.
func (es TemplateErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors for errors.Is and errors.As.
func (es TemplateErrors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}
