package render

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schemas are Harness's JSON Schemas for NG YAML, compiled: the pipeline
// schema (root {"pipeline": …}) and, when given, the trigger schema (root
// {"trigger": …}). They are Harness's, not this project's: Harness serves
// them from every account (GET /pipeline/api/yaml-schema, so they match
// that account's Harness version), the application fetches and stores
// them, and the offline commands read them from files.
//
// Renderings take them through Options.Schemas and PlanInput.Schemas. A nil
// *Schemas means that no schema is available: renderings then skip the
// schema check and run every other check (see PipelinePlan.SchemaSkipped).
//
// A Schemas is immutable and safe for concurrent use.
type Schemas struct {
	pipeline *compiledSchema
	// serviceDefinition is the pipeline schema's
	// #/definitions/pipeline/stages/cd/ServiceDefinition.
	serviceDefinition *jsonschema.Schema
	// infrastructureDefinition is the pipeline schema's
	// #/definitions/pipeline/stages/cd/InfrastructureDef.
	infrastructureDefinition *jsonschema.Schema
	// trigger is the trigger schema's root; nil when none was given.
	trigger *jsonschema.Schema
}

// ErrNoSchema is returned (wrapped) by the Check methods when the schema
// they need is not available: a nil *Schemas, or no trigger schema.
var ErrNoSchema = errors.New("no Harness schema available")

// Resource URLs the compiled documents are known by. They only name the
// documents inside the compiler; nothing is fetched from them.
const (
	pipelineSchemaURL = "https://schemas.pipeline-orchestrator.invalid/harness/v0/pipeline.json"
	triggerSchemaURL  = "https://schemas.pipeline-orchestrator.invalid/harness/v0/trigger.json"
	// defsSuffix makes the URL prefix of each definition's resource (see
	// flattenDefinitions): <document URL>.d/<definition name>.
	defsSuffix = ".d/"
)

// serviceDefinitionName and infrastructureDefinitionName are the
// flattened names of #/definitions/pipeline/stages/cd/ServiceDefinition
// and #/definitions/pipeline/stages/cd/InfrastructureDef.
const (
	serviceDefinitionName        = "pipeline.stages.cd.ServiceDefinition"
	infrastructureDefinitionName = "pipeline.stages.cd.InfrastructureDef"
)

// CompileSchemas compiles Harness's pipeline schema and, when triggerJSON
// is not empty, its trigger schema, both as Harness serves them (JSON
// Schema, draft-07 style). pipelineJSON is required.
//
// Compiling the pipeline schema (some 3.4 MB) costs a few tenths of a
// second of CPU time, the trigger schema next to nothing; see the package
// documentation for what makes compiling that cheap and validation fast. The result for the same bytes is kept, so a process
// that compiles the same schemas again (an application restarted in
// place, tests) pays that once.
func CompileSchemas(pipelineJSON, triggerJSON []byte) (*Schemas, error) {
	if len(bytes.TrimSpace(pipelineJSON)) == 0 {
		return nil, errors.New("compiling the Harness schemas: the pipeline schema is required")
	}
	key := schemasKey(pipelineJSON, triggerJSON)
	if s := compiled.get(key); s != nil {
		return s, nil
	}
	p, err := compileSchema(pipelineJSON, schemaSpec{
		what: "pipeline", url: pipelineSchemaURL, dispatch: true, pipelineKeys: true,
		extra: []string{serviceDefinitionName}, optional: []string{infrastructureDefinitionName},
	})
	if err != nil {
		return nil, err
	}
	s := &Schemas{
		pipeline:                 &compiledSchema{root: p.root, pipelineKeys: p.pipelineKeys},
		serviceDefinition:        p.defs[serviceDefinitionName],
		infrastructureDefinition: p.defs[infrastructureDefinitionName],
	}
	if len(bytes.TrimSpace(triggerJSON)) > 0 {
		t, err := compileSchema(triggerJSON, schemaSpec{what: "trigger", url: triggerSchemaURL, dispatch: true})
		if err != nil {
			return nil, err
		}
		s.trigger = t.root
	}
	compiled.put(key, s)
	return s, nil
}

// HasTrigger reports whether s holds the trigger schema.
func (s *Schemas) HasTrigger() bool { return s != nil && s.trigger != nil }

// CheckPipeline checks v, a whole pipeline document ({"pipeline": …}) as
// a JSON-like value, against the pipeline schema. It returns nil when v
// satisfies it, a *SchemaError when it does not, and ErrNoSchema when s is
// nil.
func (s *Schemas) CheckPipeline(v any) error {
	if s == nil {
		return fmt.Errorf("checking a pipeline: %w", ErrNoSchema)
	}
	return validateAgainst(s.pipeline.root, "pipeline", v)
}

// CheckServiceDefinition checks v, the serviceDefinition of a Harness
// Service (the value under service.serviceDefinition in its YAML: type and
// spec), against the pipeline schema's
// #/definitions/pipeline/stages/cd/ServiceDefinition. v is a JSON-like
// value, as encoding/json or yaml.v3 decode into an any: maps with string
// keys, slices, strings, numbers, booleans and nil.
//
// It returns nil when v satisfies the schema, a *SchemaError listing the
// problems when it does not, and ErrNoSchema when s is nil.
func (s *Schemas) CheckServiceDefinition(v any) error {
	if s == nil {
		return fmt.Errorf("checking a service definition: %w", ErrNoSchema)
	}
	return validateAgainst(s.serviceDefinition, "service definition", v)
}

// CheckInfrastructureDefinition checks v, an infrastructure definition
// (the value under infrastructureDefinition in its YAML), against the
// pipeline schema's #/definitions/pipeline/stages/cd/InfrastructureDef,
// which covers its type and spec. It returns nil when v satisfies the
// schema, a *SchemaError when it does not, and ErrNoSchema when s is nil
// or the pipeline schema has no such definition.
func (s *Schemas) CheckInfrastructureDefinition(v any) error {
	if s == nil || s.infrastructureDefinition == nil {
		return fmt.Errorf("checking an infrastructure definition: %w", ErrNoSchema)
	}
	return validateAgainst(s.infrastructureDefinition, "infrastructure definition", v)
}

// forKind returns the schema that covers entities of kind k, and the
// pointer tokens of the value it covers in the entity's document; a nil
// schema when s is nil or has none for k (environments: Harness publishes
// no schema for them).
func (s *Schemas) forKind(k Kind) (*jsonschema.Schema, []string) {
	if s == nil {
		return nil, nil
	}
	switch k {
	case KindPipeline:
		return s.pipeline.root, nil
	case KindService:
		return s.serviceDefinition, []string{"service", "serviceDefinition"}
	case KindInfrastructure:
		return s.infrastructureDefinition, []string{"infrastructureDefinition"}
	case KindTrigger:
		return s.trigger, nil
	}
	return nil, nil
}

// CheckTrigger checks v, a whole trigger document ({"trigger": …}) as a
// JSON-like value, against the trigger schema. It returns nil when v
// satisfies it, a *SchemaError when it does not, and ErrNoSchema when s
// holds no trigger schema.
func (s *Schemas) CheckTrigger(v any) error {
	if !s.HasTrigger() {
		return fmt.Errorf("checking a trigger: %w", ErrNoSchema)
	}
	return validateAgainst(s.trigger, "trigger", v)
}

// validateAgainst validates v against sch and explains what is wrong.
func validateAgainst(sch *jsonschema.Schema, what string, v any) error {
	err := sch.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("checking a %s against the Harness schema: %w", what, err)
	}
	se := &SchemaError{What: what}
	for _, p := range explain(ve) {
		se.Violations = append(se.Violations, SchemaViolation{Pointer: pointer(p.pointer), Message: p.message})
	}
	return se
}

// SchemaError is a document that a Harness schema rejects.
type SchemaError struct {
	// What names the kind of document: "service definition", "trigger".
	What string
	// Violations are the schema's complaints, in the order found.
	Violations []SchemaViolation
}

// SchemaViolation is one complaint of a Harness schema.
type SchemaViolation struct {
	// Pointer is the JSON pointer into the checked value; "" for the value
	// itself.
	Pointer string
	// Message says what is wrong, in the schema's terms.
	Message string
}

// Error lists the violations on one line, each as "at POINTER: MESSAGE".
func (e *SchemaError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the %s does not satisfy the Harness schema", e.What)
	for i, v := range e.Violations {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if v.Pointer != "" {
			b.WriteString("at " + v.Pointer + ": ")
		}
		b.WriteString(v.Message)
	}
	return b.String()
}

// schemasCache keeps the last few compiled Schemas by the digest of their
// source bytes. Compiling is a pure function of those bytes, so a hit
// changes nothing but the time taken.
type schemasCache struct {
	mu      sync.Mutex
	entries []schemasEntry // most recent last
}

type schemasEntry struct {
	key [sha256.Size]byte
	s   *Schemas
}

// maxCachedSchemas bounds the cache: the schemas in use and the ones that
// replace them when Harness serves a new version.
const maxCachedSchemas = 2

var compiled schemasCache

func schemasKey(pipelineJSON, triggerJSON []byte) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00", len(pipelineJSON))
	h.Write(pipelineJSON)
	h.Write(triggerJSON)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *schemasCache) get(key [sha256.Size]byte) *Schemas {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.key == key {
			return e.s
		}
	}
	return nil
}

func (c *schemasCache) put(key [sha256.Size]byte, s *Schemas) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.key == key {
			return
		}
	}
	c.entries = append(c.entries, schemasEntry{key: key, s: s})
	if len(c.entries) > maxCachedSchemas {
		c.entries = c.entries[len(c.entries)-maxCachedSchemas:]
	}
}

// compiledSchema is the pipeline schema, ready to validate pipelines.
type compiledSchema struct {
	root *jsonschema.Schema
	// pipelineKeys are the keys the schema defines for the pipeline
	// object. The schema does not forbid others, but Harness has no use
	// for them (a "triggers" key, for one, is silently meaningless).
	pipelineKeys map[string]bool
}

// schemaSpec says how to compile one schema document.
type schemaSpec struct {
	what string // "pipeline", "trigger": names the document in errors
	url  string // the document's resource URL
	// dispatch turns oneOfs over typed alternatives, and allOfs of
	// conditionals on a constant, into equivalent, faster keywords (see
	// dispatch.go and ifconst.go).
	dispatch bool
	// pipelineKeys reads the keys of #/definitions/pipeline/pipeline.
	pipelineKeys bool
	// extra are definitions (flattened names, see flattenDefinitions) to
	// compile and return even if nothing refers to them; optional the same
	// for definitions that the schema may lack.
	extra, optional []string
}

// schemaResult is a compiled schema document.
type schemaResult struct {
	root         *jsonschema.Schema
	defs         map[string]*jsonschema.Schema // the spec's extra definitions
	pipelineKeys map[string]bool
}

// compileSchema compiles the schema document in src as spec says.
func compileSchema(src []byte, spec schemaSpec) (*schemaResult, error) {
	fail := func(verb string, err error) (*schemaResult, error) {
		return nil, fmt.Errorf("%s the Harness %s schema: %w", verb, spec.what, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		return fail("reading", err)
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return fail("reading", errors.New("the schema is not a JSON object"))
	}
	if err := repairSchema(doc, false); err != nil {
		return fail("reading", err)
	}
	res := &schemaResult{defs: map[string]*jsonschema.Schema{}}
	if spec.pipelineKeys {
		if res.pipelineKeys, err = pipelineKeys(doc); err != nil {
			return fail("reading", err)
		}
	}
	if spec.dispatch {
		addDispatch(doc, "", root)
		addIfConst(doc)
	}
	defsURL := spec.url + defsSuffix
	extra := spec.extra
	for _, name := range spec.optional {
		if hasDefinition(root, name) {
			extra = append(extra, name)
		}
	}
	top, defs, order, err := flattenDefinitions(doc, defsURL, extra)
	if err != nil {
		return fail("reading", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	if spec.dispatch {
		c.RegisterVocabulary(dispatchVocabulary())
		c.RegisterVocabulary(ifConstVocabulary())
	}
	// The schema repeats a few dozen patterns hundreds of times; compile
	// each once.
	regexps := map[string]jsonschema.Regexp{}
	c.UseRegexpEngine(func(src string) (jsonschema.Regexp, error) {
		if re, ok := regexps[src]; ok {
			return re, nil
		}
		re, err := compileRegexp(src)
		if err == nil {
			regexps[src] = re
		}
		return re, err
	})
	if err := c.AddResource(spec.url, top); err != nil {
		return fail("loading", err)
	}
	for _, name := range order {
		if err := c.AddResource(defsURL+name, defs[name]); err != nil {
			return fail("loading", fmt.Errorf("definition %s: %w", name, err))
		}
	}
	for _, name := range order {
		sch, err := c.Compile(defsURL + name)
		if err != nil {
			return fail("compiling", err)
		}
		if slices.Contains(extra, name) {
			res.defs[name] = sch
		}
	}
	if res.root, err = c.Compile(spec.url); err != nil {
		return fail("compiling", err)
	}
	return res, nil
}

// hasDefinition reports whether the schema root has the definition of the
// flattened name.
func hasDefinition(root map[string]any, name string) bool {
	var v any = root["definitions"]
	for _, part := range strings.Split(name, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// pipelineKeys returns the property names of
// #/definitions/pipeline/pipeline.
func pipelineKeys(doc any) (map[string]bool, error) {
	v := doc
	for _, k := range []string{"definitions", "pipeline", "pipeline", "properties"} {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no #/definitions/pipeline/pipeline/properties")
		}
		v = m[k]
	}
	props, ok := v.(map[string]any)
	if !ok || len(props) == 0 {
		return nil, fmt.Errorf("no #/definitions/pipeline/pipeline/properties")
	}
	keys := make(map[string]bool, len(props))
	for k := range props {
		keys[k] = true
	}
	return keys, nil
}

// repairSchema rewrites, in the decoded schema, the constructs of the
// published file that draft-07's metaschema rejects, keeping what they
// evidently mean:
//   - an empty "enum" (no value is valid) becomes "not": {};
//   - an empty "allOf" (no constraint) is removed;
//   - a keyword whose value is null ("properties": null, "minLength": null)
//     is removed, as if it were absent;
//   - a property whose schema is written as a list of schemas becomes
//     "anyOf" that list;
//   - a "properties" entry that is not a schema at all (a stray
//     "$schema": "<url>" line) is removed.
//
// props says that v is the value of a "properties" or "patternProperties"
// keyword, whose keys are property names and whose values are schemas.
func repairSchema(v any, props bool) error {
	switch v := v.(type) {
	case map[string]any:
		if props {
			for name, sub := range v {
				switch sub := sub.(type) {
				case map[string]any, bool:
				case []any:
					v[name] = map[string]any{"anyOf": sub}
				default:
					delete(v, name)
				}
			}
		} else {
			if e, ok := v["enum"].([]any); ok && len(e) == 0 {
				if _, ok := v["not"]; ok {
					return fmt.Errorf("a schema has both an empty enum and a not")
				}
				delete(v, "enum")
				v["not"] = map[string]any{}
			}
			if a, ok := v["allOf"].([]any); ok && len(a) == 0 {
				delete(v, "allOf")
			}
			for key, child := range v {
				if child == nil && key != "const" && key != "default" {
					delete(v, key)
				}
			}
		}
		for key, child := range v {
			if err := repairSchema(child, !props && (key == "properties" || key == "patternProperties")); err != nil {
				return err
			}
		}
	case []any:
		for _, child := range v {
			if err := repairSchema(child, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// flattenDefinitions splits the schema into a top document (without
// "definitions") and one document per definition that a $ref points to,
// named by its old path with dots ("pipeline.steps.cd.K8sApplyStepInfo");
// every $ref is rewritten to the URL defsURL+name. Definitions named in
// extra become resources too, even if nothing refers to them. It returns the
// names in the order to compile them (see compileOrder).
//
// Why: jsonschema/v6 compiles, with any subschema, the resource that holds
// it, and queues what it compiles in a list it searches linearly; it also
// copies its bookkeeping for each $ref target it meets inside a resource.
// With the whole 3.4 MB file as one resource, compiling is quadratic in
// the ~29,000 subschemas and takes about 16 s. One resource per
// definition, compiled leaves first, keeps every step small.
func flattenDefinitions(doc any, defsURL string, extra []string) (top map[string]any, defs map[string]any, order []string, err error) {
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, nil, nil, fmt.Errorf("the schema root is not an object")
	}
	f := &flattener{root: root, defsURL: defsURL, defs: map[string]any{}, refs: map[string][]string{}}
	top = map[string]any{}
	for k, v := range root {
		if k != "definitions" {
			top[k] = v
		}
	}
	if err := f.rewrite(top, ""); err != nil {
		return nil, nil, nil, err
	}
	for _, name := range extra {
		if err := f.see(name); err != nil {
			return nil, nil, nil, err
		}
	}
	for i := 0; i < len(f.queue); i++ {
		if err := f.rewrite(f.defs[f.queue[i]], f.queue[i]); err != nil {
			return nil, nil, nil, err
		}
	}
	return top, f.defs, compileOrder(f.defs, f.refs), nil
}

// definitionsPrefix starts every local $ref of Harness's schemas.
const definitionsPrefix = "#/definitions/"

// flattener is the state of flattenDefinitions.
type flattener struct {
	root    map[string]any
	defsURL string
	defs    map[string]any      // definition name → its schema
	refs    map[string][]string // definition name → names it refers to
	queue   []string            // definitions whose $refs are yet to rewrite
}

// lookup returns the definition of the flattened name.
func (f *flattener) lookup(name string) (any, error) {
	var v any = f.root["definitions"]
	for _, part := range strings.Split(name, ".") {
		m, ok := v.(map[string]any)
		if ok {
			v, ok = m[part]
		}
		if !ok {
			return nil, fmt.Errorf("$ref %s%s: no such definition", definitionsPrefix, strings.ReplaceAll(name, ".", "/"))
		}
	}
	return v, nil
}

// see queues the definition name the first time it is met.
func (f *flattener) see(name string) error {
	if _, seen := f.defs[name]; seen {
		return nil
	}
	target, err := f.lookup(name)
	if err != nil {
		return err
	}
	f.defs[name] = target
	f.queue = append(f.queue, name)
	return nil
}

// rewrite replaces the $refs in v, records them under owner, and queues
// each newly seen target.
func (f *flattener) rewrite(v any, owner string) error {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			var name string
			if path, ok := strings.CutPrefix(ref, definitionsPrefix); ok {
				name = strings.ReplaceAll(path, "/", ".")
			} else if n, ok := strings.CutPrefix(ref, f.defsURL); ok {
				name = n // a target nested in another target, met twice
			} else {
				return fmt.Errorf("$ref %q: only local definitions are supported", ref)
			}
			v["$ref"] = f.defsURL + name
			f.refs[owner] = append(f.refs[owner], name)
			if err := f.see(name); err != nil {
				return err
			}
		}
		for key, child := range v {
			if key == "$ref" {
				continue
			}
			if err := f.rewrite(child, owner); err != nil {
				return err
			}
		}
	case []any:
		for _, child := range v {
			if err := f.rewrite(child, owner); err != nil {
				return err
			}
		}
	}
	return nil
}

// compileOrder orders the definitions so that each comes after everything
// it refers to, except members of one reference cycle, which come
// together. It is Tarjan's strongly connected components algorithm, which
// emits each component after every component reachable from it. (A plain
// depth-first post-order is not enough: a definition that closes a cycle
// would come first and pull the whole cycle's reach into one compilation.)
func compileOrder(defs map[string]any, refs map[string][]string) []string {
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
		sort.Strings(refs[name])
	}
	sort.Strings(names)
	var (
		order   = make([]string, 0, len(names))
		index   = map[string]int{}
		low     = map[string]int{}
		onStack = map[string]bool{}
		stack   []string
		next    int
	)
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range refs[v] {
			if _, seen := index[w]; !seen {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				order = append(order, w)
				if w == v {
					break
				}
			}
		}
	}
	for _, name := range names {
		if _, seen := index[name]; !seen {
			strong(name)
		}
	}
	return order
}

// schemaProblem is one complaint of the schema about a pipeline.
type schemaProblem struct {
	pointer []string // instance location
	message string
	// missing is the property a "missing property" complaint is about.
	missing string
}

// explain turns a validation error tree into the few complaints a person
// needs. Where the schema offers alternatives (oneOf, anyOf) and one of
// them is meant (its "type" matches, or its JSON type does), only that
// alternative's complaints are kept; 300 "value must be 'MergePR'" lines
// about the other step types say nothing.
func explain(ve *jsonschema.ValidationError) []schemaProblem {
	printer := message.NewPrinter(language.English)
	var out []schemaProblem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch k := e.ErrorKind.(type) {
		case *kind.OneOf, *kind.AnyOf, *noneMatched:
			if k, ok := k.(*kind.OneOf); ok && len(k.Subschemas) > 1 {
				out = append(out, schemaProblem{pointer: e.InstanceLocation, message: "matches more than one of the schema's alternatives"})
				return
			}
			meant := meantAlternatives(e)
			if len(meant) == 0 {
				out = append(out, schemaProblem{pointer: e.InstanceLocation, message: noAlternative})
				return
			}
			for _, c := range meant {
				walk(c)
			}
			return
		case *kind.Group, *kind.Schema, *kind.AllOf, *kind.Reference:
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		p := schemaProblem{pointer: e.InstanceLocation, message: e.ErrorKind.LocalizedString(printer)}
		if k, ok := e.ErrorKind.(*kind.Required); ok && len(k.Missing) == 1 {
			p.missing = k.Missing[0]
		}
		out = append(out, p)
	}
	walk(ve)
	return out
}

// meantAlternatives returns the causes of a failed oneOf/anyOf that the
// value was evidently meant to match: those that do not fail on the
// value's JSON type, on its "type" discriminator, or on a "not"; and of
// those, the ones whose complaints reach deepest into the value (a stage
// that got as far as its steps was meant to be of that stage type).
func meantAlternatives(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	var meant []*jsonschema.ValidationError
	best := -1
	for _, c := range e.Causes {
		if failsOnDiscriminator(c, len(e.InstanceLocation)) {
			continue
		}
		switch d := deepest(c); {
		case d > best:
			meant, best = []*jsonschema.ValidationError{c}, d
		case d == best:
			meant = append(meant, c)
		}
	}
	return meant
}

// deepest returns the length of the longest instance location in e.
func deepest(e *jsonschema.ValidationError) int {
	d := len(e.InstanceLocation)
	for _, c := range e.Causes {
		d = max(d, deepest(c))
	}
	return d
}

// failsOnDiscriminator reports whether e has a complaint about the value
// at depth itself being of another JSON type, or about its "type" property.
func failsOnDiscriminator(e *jsonschema.ValidationError, depth int) bool {
	loc := e.InstanceLocation
	switch e.ErrorKind.(type) {
	case *kind.Type:
		if len(loc) == depth {
			return true
		}
	case *kind.Enum, *kind.Const, *kind.Not:
		if len(loc) == depth+1 && loc[depth] == "type" {
			return true
		}
	}
	for _, c := range e.Causes {
		if failsOnDiscriminator(c, depth) {
			return true
		}
	}
	return false
}

// noAlternative explains a value that matches none of the schema's
// alternatives, none of which it was evidently meant for.
const noAlternative = "matches none of the forms the schema allows here (check its \"type\" and the kind of its value)"
