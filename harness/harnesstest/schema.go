package harnesstest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// What the stand-in checks against Harness's schemas on save, where
// Options gives them:
//   - a pipeline, whole, against the pipeline schema;
//   - a Service's serviceDefinition against the pipeline schema's
//     #/definitions/pipeline/stages/cd/ServiceDefinition (Harness validates
//     the whole Service against its Service schema, of which that is the
//     part with rules; harness/harness-schema publishes no Service schema);
//   - a trigger, whole, against the trigger schema.
type schemaKind int

const (
	schemaPipeline schemaKind = iota + 1
	schemaServiceDefinition
	schemaTrigger
)

// schemaSet compiles the schemas of Options the first time a save needs
// them. Compiling the pipeline schema takes a second or two, so the
// result is shared by every Server given the same bytes.
type schemaSet struct {
	pipelineSrc, triggerSrc []byte

	// pipeline is the pipeline schema compiled twice, the second time in
	// the place of the trigger schema: render exports a check of a whole
	// document only against that second document (Schemas.CheckTrigger),
	// and its checks of a Service's definition against the first.
	pipelineOnce sync.Once
	pipeline     *render.Schemas
	pipelineErr  error
	triggerOnce  sync.Once
	trigger      *render.Schemas
	triggerErr   error
}

var schemaSets sync.Map // sha256 of both sources → *schemaSet

// schemasFor returns the shared schemaSet of these sources.
func schemasFor(pipeline, trigger []byte) *schemaSet {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00", len(pipeline))
	h.Write(pipeline)
	h.Write(trigger)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	v, _ := schemaSets.LoadOrStore(k, &schemaSet{pipelineSrc: bytes.Clone(pipeline), triggerSrc: bytes.Clone(trigger)})
	return v.(*schemaSet)
}

// errNoSchema means Options gave no schema for the check: it is skipped.
var errNoSchema = errors.New("no schema")

// check validates doc, a decoded YAML document (for schemaServiceDefinition
// the serviceDefinition value), and returns render's *render.SchemaError,
// errNoSchema, or another error when the schema does not compile.
func (ss *schemaSet) check(kind schemaKind, doc any) error {
	if len(bytes.TrimSpace(ss.pipelineSrc)) == 0 {
		// render compiles nothing without the pipeline schema, the
		// trigger schema included.
		return errNoSchema
	}
	switch kind {
	case schemaTrigger:
		if len(bytes.TrimSpace(ss.triggerSrc)) == 0 {
			return errNoSchema
		}
		ss.triggerOnce.Do(func() { ss.trigger, ss.triggerErr = render.CompileSchemas(ss.pipelineSrc, ss.triggerSrc) })
		if ss.triggerErr != nil {
			return ss.triggerErr
		}
		return ss.trigger.CheckTrigger(doc)
	default:
		ss.pipelineOnce.Do(func() { ss.pipeline, ss.pipelineErr = render.CompileSchemas(ss.pipelineSrc, ss.pipelineSrc) })
		if ss.pipelineErr != nil {
			return ss.pipelineErr
		}
		if kind == schemaServiceDefinition {
			return ss.pipeline.CheckServiceDefinition(doc)
		}
		return ss.pipeline.CheckTrigger(doc)
	}
}

// schemaViolations checks doc against the schema of kind. It returns
// nil when doc satisfies it or no schema was given, the violations as
// "<pointer>: <message>" otherwise, and a 500 reply when the schema given
// does not compile (a broken test setup, not a Harness answer).
func (s *Server) schemaViolations(kind schemaKind, doc any) ([]string, *reply) {
	s.mu.Lock()
	ss := s.schemaSet
	s.mu.Unlock()
	err := ss.check(kind, doc)
	var se *render.SchemaError
	switch {
	case err == nil, errors.Is(err, errNoSchema):
		return nil, nil
	case errors.As(err, &se):
		var out []string
		for _, v := range se.Violations {
			p := v.Pointer
			if p == "" {
				p = "/"
			}
			out = append(out, p+": "+v.Message)
		}
		return out, nil
	default:
		rp := s.errorDTO(http.StatusInternalServerError, "UNEXPECTED", "harnesstest: the schema does not compile: "+err.Error())
		return nil, &rp
	}
}

// schemaFailed is the answer to a schema violation of a pipeline or a
// Service: io.harness.yaml.validator.InvalidYamlException, code
// SCHEMA_VALIDATION_FAILED (default status 400), its message the
// violations combined, and the violations in metadata as a
// YamlSchemaErrorWrapperDTO (YamlSchemaValidator.processAndHandleValidationMessage
// in harness-core 960-yaml-sdk), each with an fqn written as Harness
// writes it ("$.pipeline.stages…").
func (s *Server) schemaFailed(violations []string) reply {
	var errs []any
	for _, v := range violations {
		fqn, msg, _ := strings.Cut(v, ": ")
		errs = append(errs, map[string]any{"message": msg, "fqn": "$" + strings.ReplaceAll(fqn, "/", ".")})
	}
	return s.errorDTOMeta(http.StatusBadRequest, "SCHEMA_VALIDATION_FAILED", strings.Join(violations, ", "),
		map[string]any{"type": "YamlSchemaErrorWrapperDTO", "schemaErrors": errs})
}
