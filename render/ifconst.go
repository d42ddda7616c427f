package render

import (
	"fmt"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/message"
)

// The Harness schema says what the spec of a typed object is with an
// allOf of conditionals, one per type: {"if": {"properties": {"type":
// {"const": "Gcr"}}}, "then": {"properties": {"spec": …}}}. A deployment
// stage's spec has 20 of them (on deploymentType), a manifest 33, an
// artifact source 22: every one of them is tried, and each "if" that fails
// builds an error the validation then throws away. That is most of what
// validating a Service costs.
//
// ifConstKeyword replaces the conditionals of one allOf that test the same
// property against a string constant with an equivalent keyword that
// applies only the "then" of the conditionals that can hold. A conditional
// {"if": {"properties": {K: {"const": C}}}, "then": T} (no "else")
// constrains the value by T exactly when its "if" holds: when the value is
// not an object, or has no property K ("properties" then says nothing), or
// its K equals C. TestIfConstMatchesAllOf checks the equivalence against
// the plain schema.
const ifConstKeyword = "x-pipeline-orchestrator-if-const"

// addIfConst rewrites, in place, every allOf under v that holds at least
// two such conditionals on the same property into the ifConstKeyword
// (one per property), keeping the allOf's other items.
func addIfConst(v any) {
	switch v := v.(type) {
	case map[string]any:
		if items, ok := v["allOf"].([]any); ok {
			rewriteAllOf(v, items)
		}
		for _, child := range v {
			addIfConst(child)
		}
	case []any:
		for _, child := range v {
			addIfConst(child)
		}
	}
}

// rewriteAllOf does addIfConst's work on one schema object and its allOf.
func rewriteAllOf(obj map[string]any, items []any) {
	byKey := map[string][]int{}
	for i, it := range items {
		if key, _, _, ok := constConditional(it); ok {
			byKey[key] = append(byKey[key], i)
		}
	}
	moved := map[int]bool{}
	var rewritten []any
	for key, idx := range byKey {
		if len(idx) < 2 {
			continue
		}
		consts, thens := make([]any, len(idx)), make([]any, len(idx))
		for j, i := range idx {
			_, consts[j], thens[j], _ = constConditional(items[i])
			moved[i] = true
		}
		rewritten = append(rewritten, map[string]any{"key": key, "consts": consts, "thens": thens})
	}
	if len(rewritten) == 0 {
		return
	}
	var rest []any
	for i, it := range items {
		if !moved[i] {
			rest = append(rest, it)
		}
	}
	if len(rest) == 0 {
		delete(obj, "allOf")
	} else {
		obj["allOf"] = rest
	}
	obj[ifConstKeyword] = rewritten
}

// constConditional reads an allOf item of the form {"if": {"properties":
// {key: {"const": c}}}, "then": then}, with c a string.
func constConditional(it any) (key string, c string, then any, ok bool) {
	m, isMap := it.(map[string]any)
	if !isMap || len(m) != 2 || m["then"] == nil {
		return "", "", nil, false
	}
	cond, isMap := m["if"].(map[string]any)
	if !isMap || len(cond) != 1 {
		return "", "", nil, false
	}
	props, isMap := cond["properties"].(map[string]any)
	if !isMap || len(props) != 1 {
		return "", "", nil, false
	}
	for k, p := range props {
		pm, isMap := p.(map[string]any)
		if !isMap || len(pm) != 1 {
			return "", "", nil, false
		}
		s, isString := pm["const"].(string)
		if !isString {
			return "", "", nil, false
		}
		return k, s, m["then"], true
	}
	return "", "", nil, false
}

// ifConstVocabulary is the vocabulary that defines ifConstKeyword.
func ifConstVocabulary() *jsonschema.Vocabulary {
	return &jsonschema.Vocabulary{
		URL: "urn:pipeline-orchestrator:vocab:if-const",
		Subschemas: []jsonschema.SchemaPath{
			{jsonschema.Prop(ifConstKeyword), jsonschema.AllItem{}, jsonschema.Prop("thens"), jsonschema.AllItem{}},
		},
		Compile: compileIfConst,
	}
}

// ifConst is the compiled keyword: per property, the "then" of each
// constant.
type ifConst []ifConstGroup

type ifConstGroup struct {
	key     string
	byConst map[string][]*jsonschema.Schema
	all     []*jsonschema.Schema
}

func compileIfConst(ctx *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
	groups, ok := obj[ifConstKeyword].([]any)
	if !ok {
		return nil, nil
	}
	var out ifConst
	for gi, g := range groups {
		gm, _ := g.(map[string]any)
		key, _ := gm["key"].(string)
		consts, _ := gm["consts"].([]any)
		thens, _ := gm["thens"].([]any)
		if key == "" || len(consts) != len(thens) {
			return nil, fmt.Errorf("%s: group %d is malformed", ifConstKeyword, gi)
		}
		grp := ifConstGroup{key: key, byConst: map[string][]*jsonschema.Schema{}}
		for i := range thens {
			c, _ := consts[i].(string)
			sch := ctx.Enqueue([]string{ifConstKeyword, strconv.Itoa(gi), "thens", strconv.Itoa(i)})
			grp.byConst[c] = append(grp.byConst[c], sch)
			grp.all = append(grp.all, sch)
		}
		out = append(out, grp)
	}
	return out, nil
}

// Validate applies the "then" of every conditional whose "if" holds.
func (k ifConst) Validate(ctx *jsonschema.ValidatorContext, v any) {
	obj, isObject := v.(map[string]any)
	var causes []*jsonschema.ValidationError
	for _, g := range k {
		thens := g.all
		if isObject {
			if pv, has := obj[g.key]; has {
				s, isString := pv.(string)
				thens = nil
				if isString {
					thens = g.byConst[s]
				}
			}
		}
		for _, sch := range thens {
			if err := ctx.Validate(sch, v, nil); err != nil {
				if ve, ok := err.(*jsonschema.ValidationError); ok {
					causes = append(causes, ve)
				}
			}
		}
	}
	if len(causes) > 0 {
		ctx.AddErrors(causes, &thenFailed{})
	}
}

// thenFailed is the complaint that the spec of a typed object does not
// satisfy its type's schema; its causes say why.
type thenFailed struct{}

func (*thenFailed) KeywordPath() []string { return []string{ifConstKeyword} }
func (*thenFailed) LocalizedString(*message.Printer) string {
	return "'then' failed"
}
