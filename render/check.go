package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// problem is one thing wrong with a rendered pipeline.
type problem struct {
	pointer string // JSON pointer into the pipeline; "" for the whole output
	line    int    // line in the raw template output; 0 when unknown
	message string
}

// yamlLineRE finds the line in a yaml.v3 error message.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// checkPipeline parses the raw template output and checks it as a
// pipeline (see checkEntity).
func checkPipeline(raw []byte, schemas *Schemas) (*yaml.Node, []problem) {
	return checkEntity(KindPipeline, raw, schemas)
}

// checkEntity parses raw, the YAML of one entity of kind k, and checks it:
// one document, no anchors or duplicate keys, the kind's root and keys,
// identifiers, required keys, the managed_by tag, and Harness's schema
// where it covers the kind and schemas is not nil. It returns the
// document node when there is no problem.
func checkEntity(k Kind, raw []byte, schemas *Schemas) (*yaml.Node, []problem) {
	doc, p := parseOne(raw)
	if p != nil {
		return nil, []problem{*p}
	}
	c := &checker{pipelineKeys: knownPipelineKeys}
	if schemas != nil {
		c.pipelineKeys = schemas.pipeline.pipelineKeys
	}
	value := c.value(doc, nil)
	if len(c.problems) > 0 {
		// Duplicate keys, anchors or odd keys: the value is not what the
		// text seems to say, so there is no point in checking it further.
		return nil, c.problems
	}
	if k == KindPipeline {
		c.structure(doc)
	} else {
		c.entityStructure(k, doc)
	}
	reported := map[string]bool{}
	for _, p := range c.problems {
		reported[p.pointer] = true
	}
	// Without a schema at hand every other check has run; the caller says
	// that this one was skipped.
	if sch, at := schemas.forKind(k); sch != nil {
		if v, ok := valueUnder(value, at); ok {
			c.schema(sch, doc, v, at, reported)
		}
	}
	if len(c.problems) > 0 {
		sort.SliceStable(c.problems, func(i, j int) bool { return c.problems[i].line < c.problems[j].line })
		return nil, c.problems
	}
	return doc, nil
}

// parseOne parses raw as exactly one YAML document.
func parseOne(raw []byte) (*yaml.Node, *problem) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &problem{message: "the template produced no YAML"}
		}
		p := problem{message: "the output is not valid YAML: " + err.Error()}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			p.line, _ = strconv.Atoi(m[1])
			p.message = "the output is not valid YAML: " + m[2]
		}
		return nil, &p
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &problem{line: extra.Line, message: "the output holds more than one YAML document"}
	}
	return &doc, nil
}

// valueUnder returns the value at tokens in v, a JSON-like value.
func valueUnder(v any, tokens []string) (any, bool) {
	for _, t := range tokens {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[t]; !ok {
			return nil, false
		}
	}
	return v, true
}

// schema validates value, found at the pointer tokens at in the document
// doc, against sch, and adds the complaints not already reported in the
// checker's own words.
func (c *checker) schema(sch *jsonschema.Schema, doc *yaml.Node, value any, at []string, reported map[string]bool) {
	err := sch.Validate(value)
	if err == nil {
		return
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		c.problems = append(c.problems, problem{message: "validating against the Harness schema: " + err.Error()})
		return
	}
	for _, sp := range explain(ve) {
		tokens := with(at, sp.pointer...)
		ptr := pointer(tokens)
		if reported[ptr] || (sp.missing != "" && reported[pointer(with(tokens, sp.missing))]) {
			continue // the same problem, already told in our words
		}
		reported[ptr] = true
		c.problems = append(c.problems, problem{pointer: ptr, line: lineOf(doc, tokens), message: "Harness schema: " + sp.message})
	}
}

// pointerEscaper escapes one JSON pointer token (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// pointer formats tokens as a JSON pointer.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(pointerEscaper.Replace(t))
	}
	return b.String()
}

// lineOf returns the output line of the value at tokens in doc: the line of
// its key when it is a mapping entry. It returns 0 when there is no such
// value.
func lineOf(doc *yaml.Node, tokens []string) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	line := n.Line
	for _, t := range tokens {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == t {
					line = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return line
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}

// checker collects the problems of one pipeline.
type checker struct {
	problems []problem
	stageIDs map[string]string // stage identifier → pointer of its first use
	// pipelineKeys are the keys a pipeline may hold: the schema's when
	// there is one, knownPipelineKeys otherwise.
	pipelineKeys map[string]bool
}

// knownPipelineKeys are the keys a pipeline object may hold in Harness's
// v0 YAML, for the key check when no schema is at hand. With a schema the
// schema's own list is used (it matches the account's Harness version);
// TestKnownPipelineKeysMatchTheSchema keeps the two equal.
var knownPipelineKeys = map[string]bool{
	"allowStageExecutions": true, "delegateSelectors": true, "description": true, "fixedInputsOnRerun": true,
	"flowControl": true, "identifier": true, "name": true, "notificationRules": true, "orgIdentifier": true,
	"projectIdentifier": true, "properties": true, "stages": true, "tags": true, "template": true,
	"timeout": true, "variables": true,
}

func (c *checker) add(ptr []string, line int, format string, args ...any) {
	c.problems = append(c.problems, problem{pointer: pointer(ptr), line: line, message: fmt.Sprintf(format, args...)})
}

// value converts n to the JSON-like value the schema validates, reporting
// what JSON cannot hold or what hides a value: duplicate keys, anchors and
// aliases, non-scalar keys.
func (c *checker) value(n *yaml.Node, ptr []string) any {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		c.add(ptr, n.Line, "YAML anchors and aliases are not allowed in a pipeline")
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.value(n.Content[0], ptr)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				c.add(ptr, k.Line, "a mapping key must be a plain string")
				continue
			}
			if _, dup := m[k.Value]; dup {
				c.add(with(ptr, k.Value), k.Line, "key %q appears twice in the same mapping", k.Value)
				continue
			}
			// ptr is extended in place: value runs depth first and add
			// turns a pointer into a string at once, so siblings may share
			// the storage. It saves a slice per node of every rendering.
			m[k.Value] = c.value(v, append(ptr, k.Value))
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			s[i] = c.value(item, append(ptr, strconv.Itoa(i)))
		}
		return s
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			switch n.Value {
			case "true", "True", "TRUE":
				return true
			case "false", "False", "FALSE":
				return false
			}
			var b bool
			if err := n.Decode(&b); err == nil {
				return b
			}
		case "!!int":
			if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				return i
			}
			var i int64
			if err := n.Decode(&i); err == nil {
				return i
			}
		case "!!float":
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
				return f
			}
			var f float64
			if err := n.Decode(&f); err == nil {
				return f
			}
		}
		return n.Value
	}
	return nil
}

// mappingGet returns the key and value nodes of key in mapping n.
func mappingGet(n *yaml.Node, key string) (k, v *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// requireKeys reports the keys that mapping n (at ptr, key line line)
// lacks.
func (c *checker) requireKeys(n *yaml.Node, ptr []string, line int, what string, keys ...string) {
	var missing []string
	for _, k := range keys {
		if _, v := mappingGet(n, k); v == nil {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		c.add(ptr, line, "%s lacks required %s %s", what, plural(len(missing), "key", "keys"), strings.Join(missing, ", "))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// identifier reports an identifier value that breaks Harness's rules.
func (c *checker) identifier(n *yaml.Node, ptr []string, what string, maxLen int) string {
	_, v := mappingGet(n, "identifier")
	if v == nil {
		return ""
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		c.add(with(ptr, "identifier"), v.Line, "%s identifier must be a string", what)
		return ""
	}
	if why := checkIdentifier(v.Value, maxLen); why != "" {
		c.add(with(ptr, "identifier"), v.Line, "%s identifier %q %s", what, v.Value, why)
		return ""
	}
	return v.Value
}

// structure checks the shape Harness and this application rely on:
// the pipeline root and its keys, identifiers, uniqueness, required keys,
// and the managed_by tag.
func (c *checker) structure(doc *yaml.Node) {
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		c.add(nil, root.Line, "the output must be a mapping with the single key pipeline")
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Value != "pipeline" {
			c.add([]string{k.Value}, k.Line, "unknown top-level key %q: a pipeline file holds only pipeline:", k.Value)
		}
	}
	pk, p := mappingGet(root, "pipeline")
	if p == nil || p.Kind != yaml.MappingNode {
		c.add([]string{"pipeline"}, root.Line, "the output has no pipeline: mapping")
		return
	}
	ptr := []string{"pipeline"}
	c.requireKeys(p, ptr, pk.Line, "the pipeline", "name", "identifier", "orgIdentifier", "projectIdentifier", "tags", "stages")
	for i := 0; i+1 < len(p.Content); i += 2 {
		if k := p.Content[i]; !c.pipelineKeys[k.Value] {
			c.add(with(ptr, k.Value), k.Line, "the Harness pipeline schema has no key %q in a pipeline%s", k.Value, unknownKeyHint(k.Value))
		}
	}
	c.identifier(p, ptr, "pipeline", MaxIdentifierLen)
	for _, key := range []string{"orgIdentifier", "projectIdentifier"} {
		if _, v := mappingGet(p, key); v != nil && v.Kind == yaml.ScalarNode {
			if why := checkIdentifier(v.Value, 128); why != "" {
				c.add(with(ptr, key), v.Line, "%s %q %s", key, v.Value, why)
			}
		}
	}
	if tk, tags := mappingGet(p, "tags"); tags != nil {
		if _, v := mappingGet(tags, ManagedByTag); v == nil || v.Value != ManagedByValue {
			c.add(with(ptr, "tags"), tk.Line, "the pipeline must carry the tag %s: %s, by which the application recognises its pipelines in Harness", ManagedByTag, ManagedByValue)
		}
	}
	sk, stages := mappingGet(p, "stages")
	if stages == nil {
		return
	}
	if stages.Kind != yaml.SequenceNode || len(stages.Content) == 0 {
		c.add(with(ptr, "stages"), sk.Line, "stages must be a non-empty list")
		return
	}
	c.stageIDs = map[string]string{}
	c.stageList(stages, with(ptr, "stages"))
}

// unknownKeyHint explains the unknown pipeline keys people try most.
func unknownKeyHint(key string) string {
	if key == "triggers" {
		return ": triggers are separate Harness entities with their own trigger: YAML"
	}
	return ""
}

// stageList checks the items of a stages list (or of a parallel block).
func (c *checker) stageList(list *yaml.Node, ptr []string) {
	for i, item := range list.Content {
		iptr := with(ptr, strconv.Itoa(i))
		if _, par := mappingGet(item, "parallel"); par != nil && par.Kind == yaml.SequenceNode {
			c.stageList(par, with(iptr, "parallel"))
			continue
		}
		k, st := mappingGet(item, "stage")
		if st == nil {
			c.add(iptr, item.Line, "a stages item must hold stage: or parallel:")
			continue
		}
		sptr := with(iptr, "stage")
		if st.Kind != yaml.MappingNode {
			c.add(sptr, k.Line, "stage must be a mapping")
			continue
		}
		c.requireKeys(st, sptr, k.Line, "the stage", "name", "identifier", "type", "spec")
		if id := c.identifier(st, sptr, "stage", 128); id != "" {
			if prev, dup := c.stageIDs[id]; dup {
				_, v := mappingGet(st, "identifier")
				c.add(with(sptr, "identifier"), v.Line, "stage identifier %q is already used by the stage at %s", id, prev)
			} else {
				c.stageIDs[id] = pointer(sptr)
			}
		}
		_, spec := mappingGet(st, "spec")
		c.infrastructures(spec, with(sptr, "spec"))
		_, exec := mappingGet(spec, "execution")
		if exec == nil {
			continue
		}
		stepIDs := map[string]string{}
		eptr := with(sptr, "spec", "execution")
		for _, key := range []string{"steps", "rollbackSteps"} {
			if _, steps := mappingGet(exec, key); steps != nil && steps.Kind == yaml.SequenceNode {
				c.stepList(steps, with(eptr, key), stepIDs)
			}
		}
	}
}

// infrastructures checks the infrastructure definition identifiers of a
// Deployment stage's spec: Harness looks them up by identifier, so a
// pattern that yields something else would only fail at run time. A
// runtime input or expression (<+...>) is left to Harness.
func (c *checker) infrastructures(spec *yaml.Node, ptr []string) {
	_, env := mappingGet(spec, "environment")
	_, defs := mappingGet(env, "infrastructureDefinitions")
	if defs == nil || defs.Kind != yaml.SequenceNode {
		return
	}
	for i, d := range defs.Content {
		_, id := mappingGet(d, "identifier")
		if id == nil || id.Kind != yaml.ScalarNode || strings.HasPrefix(id.Value, "<+") {
			continue
		}
		if why := checkIdentifier(id.Value, 128); why != "" {
			c.add(with(ptr, "environment", "infrastructureDefinitions", strconv.Itoa(i), "identifier"), id.Line,
				"infrastructure definition identifier %q %s", id.Value, why)
		}
	}
}

// stepList checks the items of a steps list, recursing into parallel
// blocks and step groups; ids collects the stage's step identifiers.
func (c *checker) stepList(list *yaml.Node, ptr []string, ids map[string]string) {
	for i, item := range list.Content {
		iptr := with(ptr, strconv.Itoa(i))
		if _, par := mappingGet(item, "parallel"); par != nil && par.Kind == yaml.SequenceNode {
			c.stepList(par, with(iptr, "parallel"), ids)
			continue
		}
		if gk, g := mappingGet(item, "stepGroup"); g != nil {
			gptr := with(iptr, "stepGroup")
			c.requireKeys(g, gptr, gk.Line, "the step group", "name", "identifier", "steps")
			c.uniqueStep(g, gptr, ids)
			if _, steps := mappingGet(g, "steps"); steps != nil && steps.Kind == yaml.SequenceNode {
				c.stepList(steps, with(gptr, "steps"), ids)
			}
			continue
		}
		k, st := mappingGet(item, "step")
		if st == nil {
			c.add(iptr, item.Line, "a steps item must hold step:, stepGroup: or parallel:")
			continue
		}
		sptr := with(iptr, "step")
		if st.Kind != yaml.MappingNode {
			c.add(sptr, k.Line, "step must be a mapping")
			continue
		}
		required := []string{"name", "identifier", "type", "spec", "timeout"}
		if _, t := mappingGet(st, "type"); t != nil && t.Value == "Wait" {
			// A Wait step's spec.duration is its timeout; the schema
			// gives it no timeout key.
			required = required[:4]
		}
		c.requireKeys(st, sptr, k.Line, "the step", required...)
		c.uniqueStep(st, sptr, ids)
	}
}

// uniqueStep checks a step's (or step group's) identifier and that no
// other step of the stage has it.
func (c *checker) uniqueStep(st *yaml.Node, ptr []string, ids map[string]string) {
	id := c.identifier(st, ptr, "step", 128)
	if id == "" {
		return
	}
	if prev, dup := ids[id]; dup {
		_, v := mappingGet(st, "identifier")
		c.add(with(ptr, "identifier"), v.Line, "step identifier %q is already used in this stage by the step at %s", id, prev)
		return
	}
	ids[id] = pointer(ptr)
}

// with returns a new pointer: ptr followed by tokens. It always copies, so
// pointers built from a common prefix never share storage.
func with(ptr []string, tokens ...string) []string {
	out := make([]string, 0, len(ptr)+len(tokens))
	return append(append(out, ptr...), tokens...)
}
