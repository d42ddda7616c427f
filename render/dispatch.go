package render

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/message"
)

// The Harness schema says what a step is with a oneOf over every step type
// (253 alternatives for a Deployment stage's steps), and what a stage is
// with a oneOf over 13 stage types. JSON Schema's oneOf must try every
// alternative, so validating one pipeline of 16 steps costs some 4,000
// failed alternatives: about 40 ms. Nearly every alternative pins the
// value's "type" property to one value; an alternative whose pinned type
// differs from the value's cannot match, so it need not be tried.
//
// dispatchKeyword replaces such a oneOf with an equivalent keyword that
// tries only the alternatives that can match. The verdict is exactly
// oneOf's: exactly one alternative must match, and every alternative
// skipped is one that would have failed. TestDispatchMatchesOneOf checks
// that against the plain schema.
const dispatchKeyword = "x-pipeline-orchestrator-oneOf-by-type"

// alternativeInfo is what the dispatcher knows of one alternative.
type alternativeInfo struct {
	// types are the values its "type" property may take; nil when it
	// does not constrain them (the alternative is always tried).
	types []string
	// object is true when it accepts only objects.
	object bool
	// requiresType is true when it requires the "type" property.
	requiresType bool
}

// addDispatch rewrites, in place, every oneOf under v that has at least
// two alternatives pinned by type into the dispatch keyword. root is the
// whole schema, to resolve the $refs of the alternatives.
//
// key is the name under which v sits in its parent. Only the dispatch of
// a "step" remembers valid values (see dispatcher): steps repeat across
// stages and services, while a stage holds its service's name and rarely
// repeats, and is too large to be worth remembering.
func addDispatch(v any, key string, root map[string]any) {
	switch v := v.(type) {
	case map[string]any:
		if alts, ok := v["oneOf"].([]any); ok {
			infos := make([]any, len(alts))
			pinned := 0
			for i, a := range alts {
				info := describeAlternative(a, root)
				if info.types != nil {
					pinned++
				}
				infos[i] = info.toJSON()
			}
			if pinned >= 2 {
				delete(v, "oneOf")
				v[dispatchKeyword] = map[string]any{"alternatives": alts, "info": infos, "remember": key == "step"}
			}
		}
		for k, child := range v {
			addDispatch(child, k, root)
		}
	case []any:
		for _, child := range v {
			addDispatch(child, key, root)
		}
	}
}

// describeAlternative reads the type constraint of a oneOf alternative of
// the form {"$ref": "#/definitions/..."}.
func describeAlternative(a any, root map[string]any) alternativeInfo {
	m, ok := a.(map[string]any)
	if !ok || len(m) != 1 {
		return alternativeInfo{}
	}
	ref, ok := m["$ref"].(string)
	if !ok || !strings.HasPrefix(ref, "#/definitions/") {
		return alternativeInfo{}
	}
	var d any = root
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		dm, ok := d.(map[string]any)
		if !ok {
			return alternativeInfo{}
		}
		d = dm[tok]
	}
	def, ok := d.(map[string]any)
	if !ok {
		return alternativeInfo{}
	}
	if _, isRef := def["$ref"]; isRef {
		return alternativeInfo{} // draft-07 ignores the siblings of $ref
	}
	info := alternativeInfo{object: def["type"] == "object"}
	if req, ok := def["required"].([]any); ok {
		for _, r := range req {
			if r == "type" {
				info.requiresType = true
			}
		}
	}
	props, _ := def["properties"].(map[string]any)
	t, _ := props["type"].(map[string]any)
	switch {
	case t == nil:
	case t["const"] != nil:
		if c, ok := t["const"].(string); ok {
			info.types = []string{c}
		}
	case t["enum"] != nil:
		if e, ok := t["enum"].([]any); ok {
			types := make([]string, 0, len(e))
			for _, x := range e {
				s, ok := x.(string)
				if !ok {
					return alternativeInfo{}
				}
				types = append(types, s)
			}
			info.types = types
		}
	case isEmptySchema(t["not"]):
		info.types = []string{} // nothing is allowed (a repaired empty enum)
	}
	return info
}

// toJSON encodes a as a JSON value, to travel in the schema document.
func (a alternativeInfo) toJSON() any {
	m := map[string]any{"object": a.object, "requiresType": a.requiresType}
	if a.types != nil {
		types := make([]any, len(a.types))
		for i, t := range a.types {
			types[i] = t
		}
		m["types"] = types
	}
	return m
}

// alternativeFromJSON decodes what toJSON encoded.
func alternativeFromJSON(v any) (alternativeInfo, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return alternativeInfo{}, false
	}
	a := alternativeInfo{}
	a.object, _ = m["object"].(bool)
	a.requiresType, _ = m["requiresType"].(bool)
	if types, ok := m["types"].([]any); ok {
		a.types = make([]string, 0, len(types))
		for _, t := range types {
			s, ok := t.(string)
			if !ok {
				return alternativeInfo{}, false
			}
			a.types = append(a.types, s)
		}
	}
	return a, true
}

func isEmptySchema(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}

// dispatchVocabulary is the vocabulary that defines dispatchKeyword.
func dispatchVocabulary() *jsonschema.Vocabulary {
	return &jsonschema.Vocabulary{
		URL: "urn:pipeline-orchestrator:vocab:dispatch",
		Subschemas: []jsonschema.SchemaPath{
			{jsonschema.Prop(dispatchKeyword), jsonschema.Prop("alternatives"), jsonschema.AllItem{}},
		},
		Compile: compileDispatch,
	}
}

// dispatcher is the compiled dispatch keyword.
//
// It remembers the values it found valid (steps repeat: the same rollback
// step in every stage of every pipeline), keyed by their canonical text,
// and does not validate them again. Validation is a pure function of the
// value here (draft-07 has no unevaluated* keywords), so this changes
// nothing but the time taken. The memory is bounded by maxRemembered.
type dispatcher struct {
	mu    sync.RWMutex
	valid map[string]struct{} // nil: do not remember

	alternatives []*jsonschema.Schema
	info         []alternativeInfo
	always       []int            // alternatives without a type constraint
	byType       map[string][]int // alternatives that allow a type value
	noType       []int            // constrained alternatives that do not require "type"
	nonObject    []int            // constrained alternatives that accept non-objects
}

func compileDispatch(ctx *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
	kw, ok := obj[dispatchKeyword].(map[string]any)
	if !ok {
		return nil, nil
	}
	alts, _ := kw["alternatives"].([]any)
	infos, _ := kw["info"].([]any)
	if len(alts) != len(infos) {
		return nil, fmt.Errorf("%s: %d alternatives, %d descriptions", dispatchKeyword, len(alts), len(infos))
	}
	d := &dispatcher{byType: map[string][]int{}}
	if remember, _ := kw["remember"].(bool); remember {
		d.valid = map[string]struct{}{}
	}
	for i := range alts {
		info, ok := alternativeFromJSON(infos[i])
		if !ok {
			return nil, fmt.Errorf("%s: alternative %d has no description", dispatchKeyword, i)
		}
		d.alternatives = append(d.alternatives, ctx.Enqueue([]string{dispatchKeyword, "alternatives", strconv.Itoa(i)}))
		d.info = append(d.info, info)
		switch {
		case info.types == nil:
			d.always = append(d.always, i)
		default:
			for _, t := range info.types {
				d.byType[t] = append(d.byType[t], i)
			}
			if !info.requiresType {
				d.noType = append(d.noType, i)
			}
			if !info.object {
				d.nonObject = append(d.nonObject, i)
			}
		}
	}
	return d, nil
}

// candidates returns the alternatives that v could match.
func (d *dispatcher) candidates(v any) (alts []int, typeValue string, unknownType bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return append(append(alts, d.always...), d.nonObject...), "", false
	}
	tv, has := obj["type"]
	if !has {
		return append(append(alts, d.always...), d.noType...), "", false
	}
	s, isString := tv.(string)
	byType := d.byType[s]
	alts = append(append(alts, d.always...), byType...)
	return alts, s, isString && len(byType) == 0
}

// maxRemembered bounds how many valid values each dispatcher remembers.
const maxRemembered = 4096

// Validate checks that exactly one alternative matches v.
func (d *dispatcher) Validate(ctx *jsonschema.ValidatorContext, v any) {
	if d.valid == nil {
		d.validate(ctx, v)
		return
	}
	key, ok := memoKey(v)
	if ok {
		d.mu.RLock()
		_, seen := d.valid[key]
		d.mu.RUnlock()
		if seen {
			return
		}
	}
	if d.validate(ctx, v) && ok {
		d.mu.Lock()
		if len(d.valid) < maxRemembered {
			d.valid[key] = struct{}{}
		}
		d.mu.Unlock()
	}
}

// validate checks v and reports whether it is valid.
func (d *dispatcher) validate(ctx *jsonschema.ValidatorContext, v any) bool {
	alts, typeValue, unknown := d.candidates(v)
	matched := -1
	var causes []*jsonschema.ValidationError
	for _, i := range alts {
		err := ctx.Validate(d.alternatives[i], v, nil)
		if err == nil {
			if matched >= 0 {
				ctx.AddError(&oneOfTwice{})
				return false
			}
			matched = i
			continue
		}
		if ve, ok := err.(*jsonschema.ValidationError); ok {
			causes = append(causes, ve)
		}
	}
	if matched >= 0 {
		return true
	}
	if unknown {
		ctx.AddError(&unknownType{value: typeValue})
		return false
	}
	ctx.AddErrors(causes, &noneMatched{})
	return false
}

// memoKey returns a canonical text of v (JSON-like, keys sorted) to
// remember it by, and false when v is too large to be worth remembering.
func memoKey(v any) (string, bool) {
	var b strings.Builder
	if !writeKey(&b, v, 0) || b.Len() > 4096 {
		return "", false
	}
	return b.String(), true
}

func writeKey(b *strings.Builder, v any, depth int) bool {
	if depth > 32 || b.Len() > 4096 {
		return false
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for _, k := range keys {
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			if !writeKey(b, x[k], depth+1) {
				return false
			}
			b.WriteByte(',')
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for _, c := range x {
			if !writeKey(b, c, depth+1) {
				return false
			}
			b.WriteByte(',')
		}
		b.WriteByte(']')
	case string:
		b.WriteString(strconv.Quote(x))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteByte('i')
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteByte('f')
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case nil:
		b.WriteString("null")
	default:
		return false
	}
	return true
}

// unknownType is the complaint about a "type" no alternative allows.
type unknownType struct{ value string }

func (*unknownType) KeywordPath() []string { return []string{dispatchKeyword} }
func (k *unknownType) LocalizedString(*message.Printer) string {
	return fmt.Sprintf("type %q is not one the schema knows here", k.value)
}

// noneMatched is the complaint that no alternative matches; its causes
// are each tried alternative's complaints.
type noneMatched struct{}

func (*noneMatched) KeywordPath() []string { return []string{dispatchKeyword} }
func (*noneMatched) LocalizedString(*message.Printer) string {
	return "'oneOf' failed, none matched"
}

// oneOfTwice is the complaint that more than one alternative matches.
type oneOfTwice struct{}

func (*oneOfTwice) KeywordPath() []string { return []string{dispatchKeyword} }
func (*oneOfTwice) LocalizedString(*message.Printer) string {
	return "matches more than one of the schema's alternatives"
}
