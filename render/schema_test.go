package render

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/internal/sharedfiles"
)

// mutations returns variants of a pipeline value, each with one change that
// may or may not break it: a key removed, a scalar replaced, a "type"
// changed to another step or stage type.
func mutations(v any, r *rand.Rand, n int) []any {
	var paths [][]any // each path: keys (string) and indexes (int)
	var walk func(v any, path []any)
	walk = func(v any, path []any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := append(append([]any(nil), path...), k)
				paths = append(paths, p)
				walk(x[k], p)
			}
		case []any:
			for i, c := range x {
				p := append(append([]any(nil), path...), i)
				paths = append(paths, p)
				walk(c, p)
			}
		}
	}
	walk(v, nil)
	replacements := []any{"K8sApply", "Wait", "HarnessApproval", "ShellScript", "K8sDelete", "Approval", "Custom", "NoSuchType",
		"Gcr", "DockerRegistry", "Ecr", "K8sManifest", "HelmChart", "Github", "Git", "Kubernetes", "NativeHelm", "Webhook", "Scheduled",
		"", int64(3), true, nil, map[string]any{}, []any{}}
	var out []any
	for range n {
		p := paths[r.IntN(len(paths))]
		c := deepCopy(v)
		parent := c
		for _, tok := range p[:len(p)-1] {
			switch t := tok.(type) {
			case string:
				parent = parent.(map[string]any)[t]
			case int:
				parent = parent.([]any)[t]
			}
		}
		last := p[len(p)-1]
		repl := replacements[r.IntN(len(replacements))]
		switch t := last.(type) {
		case string:
			m := parent.(map[string]any)
			if r.IntN(3) == 0 {
				delete(m, t)
			} else {
				m[t] = repl
			}
		case int:
			parent.([]any)[t] = repl
		}
		out = append(out, c)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, c := range x {
			m[k] = deepCopy(c)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, c := range x {
			s[i] = deepCopy(c)
		}
		return s
	}
	return v
}

// TestFastSchemaMatchesPlain validates the golden files and random
// mutations of them with the schemas as published (plain oneOf and allOf
// of conditionals) and as compiled for speed (the dispatch and if-const
// keywords): the verdicts must agree. Pipelines are checked against the
// pipeline schema, Services' definitions against its ServiceDefinition,
// triggers against the trigger schema.
func TestFastSchemaMatchesPlain(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the schemas twice and validates with the slow plain form")
	}
	fast := requireSchemas(t)
	if !fast.HasTrigger() {
		t.Skip("the trigger schema is not beside the pipeline schema")
	}
	read := func(name string) []byte {
		path, _ := sharedfiles.Path("schemas", name)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	plainPipeline, err := compileSchema(read("harness-pipeline-v0.json"), schemaSpec{what: "pipeline", url: pipelineSchemaURL, extra: []string{serviceDefinitionName}})
	if err != nil {
		t.Fatal(err)
	}
	plainTrigger, err := compileSchema(read("harness-trigger-v0.json"), schemaSpec{what: "trigger", url: triggerSchemaURL})
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[Kind][2]*jsonschema.Schema{
		KindPipeline: {plainPipeline.root, fast.pipeline.root},
		KindService:  {plainPipeline.defs[serviceDefinitionName], fast.serviceDefinition},
		KindTrigger:  {plainTrigger.root, fast.trigger},
	}
	r := rand.New(rand.NewPCG(1, 2))
	valid, invalid := map[Kind]int{}, map[Kind]int{}
	for _, c := range goldenCases(t) {
		for p, file := range wantFiles(t, c.dir) {
			k, _ := KindOfPath(c.settings, p)
			pair, ok := schemas[k]
			if !ok {
				continue
			}
			var v any
			if err := yaml.Unmarshal(Body(file), &v); err != nil {
				t.Fatal(err)
			}
			if k == KindService {
				v = v.(map[string]any)["service"].(map[string]any)["serviceDefinition"]
			}
			docs := append([]any{v}, mutations(v, r, 12)...)
			for i, d := range docs {
				errPlain := pair[0].Validate(d)
				errFast := pair[1].Validate(d)
				if (errPlain == nil) != (errFast == nil) {
					t.Errorf("%s/%s variant %d: plain schema says %v, fast says %v", c.name, p, i, errPlain, errFast)
				}
				if errPlain == nil {
					valid[k]++
				} else {
					invalid[k]++
				}
			}
		}
	}
	t.Logf("valid %v and invalid %v documents agree", valid, invalid)
	for k := range schemas {
		if invalid[k] == 0 || valid[k] == 0 {
			t.Errorf("%s: the corpus should hold both valid and invalid documents", k)
		}
	}
}

// TestSchemaRejectsAndAccepts checks the compiled schema on hand-made
// pipelines, including the patterns written with lookaround, which Go's
// regexp cannot compile and the schema engine replaces.
func TestSchemaRejectsAndAccepts(t *testing.T) {
	base, err := os.ReadFile("testdata/api-multi-region/want/pipelines/payment-service-cd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(base, &doc); err != nil {
		t.Fatal(err)
	}
	firstStep := func(d any) map[string]any {
		st := d.(map[string]any)["pipeline"].(map[string]any)["stages"].([]any)[0].(map[string]any)["stage"].(map[string]any)
		return st["spec"].(map[string]any)["execution"].(map[string]any)["steps"].([]any)[0].(map[string]any)["step"].(map[string]any)
	}
	stage := func(d any) map[string]any {
		return d.(map[string]any)["pipeline"].(map[string]any)["stages"].([]any)[0].(map[string]any)["stage"].(map[string]any)
	}
	tests := []struct {
		name   string
		change func(d any)
		valid  bool
	}{
		{"as rendered", func(any) {}, true},
		{"step timeout as runtime input", func(d any) { firstStep(d)["timeout"] = "<+input>" }, true},
		{"step timeout 1h 30m", func(d any) { firstStep(d)["timeout"] = "1h 30m" }, true},
		{"step timeout not a duration", func(d any) { firstStep(d)["timeout"] = "soon" }, false},
		{"stage timeout as expression", func(d any) { stage(d)["timeout"] = "<+pipeline.variables.t>" }, true},
		{"stage timeout as execution input", func(d any) { stage(d)["timeout"] = "<+input>.executionInput()" }, false},
		{"blank serviceRef", func(d any) { stage(d)["spec"].(map[string]any)["service"].(map[string]any)["serviceRef"] = "  " }, false},
		{"step type unknown", func(d any) { firstStep(d)["type"] = "K8sRollingDeplo" }, false},
		{"stage type unknown", func(d any) { stage(d)["type"] = "Deploy" }, false},
		{"step without spec", func(d any) { delete(firstStep(d), "spec") }, false},
	}
	sch := requireSchemas(t).pipeline
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deepCopy(any(doc))
			tt.change(d)
			err := sch.root.Validate(d)
			if (err == nil) != tt.valid {
				t.Errorf("valid = %v, want %v (%v)", err == nil, tt.valid, err)
			}
		})
	}
}

func TestLookaroundPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		matches map[string]bool
	}{
		{`^(?=\s*\S).*$`, map[string]bool{"x": true, "  x ": true, "": false, "   ": false, "a\nb": false, "\n x": false}},
		{`^(?!<\+input>.*\.executionInput\(\)(.*)$)`, map[string]bool{
			"<+input>": true, "<+input>.executionInput()": false, "<+input>.default(a).executionInput()": false,
			"x.executionInput()": true, "<+input>\n.executionInput()": true,
		}},
		{`^(?!.*<\+).*$`, map[string]bool{"plain": true, "a <+b>": false, "a\nb": false}},
		{`^(?!.*<\+secrets\.getValue\().*$`, map[string]bool{"<+pipeline.name>": true, `<+secrets.getValue("x")>`: false}},
		{`^(?!HARNESS_)(?!AWS_)(?!GOOGLE_)(?!AZURE_)(?!PATH$)(?!HOME$)[A-Za-z_][A-Za-z0-9_]*$`, map[string]bool{
			"SERVICE_NAME": true, "HARNESS_X": false, "AWS_REGION": false, "PATH": false, "PATHS": true, "HOME": false, "1X": false, "a-b": false,
		}},
		{`^(([1-9])+\d+[s])|(((([1-9])+\d*[mhwd])+([\s]?\d+[smhwd])*)|(.*<\+.*>(?!.*\.executionInput\(\)).*)|(^$))$`, map[string]bool{
			"10m": true, "1d": true, "1h 30m": true, "10s": true, "": true, "soon": false, "5s": false,
			"<+input>": true, "<+input>.executionInput()": false, "<+a>.executionInput()<+b>": true, "x<+a>y": true,
		}},
	}
	for _, tt := range tests {
		re, err := compileRegexp(tt.pattern)
		if err != nil {
			t.Fatalf("compileRegexp(%q): %v", tt.pattern, err)
		}
		for s, want := range tt.matches {
			if got := re.MatchString(s); got != want {
				t.Errorf("%s matches %q = %v, want %v", tt.pattern, s, got, want)
			}
		}
	}
	if _, err := compileRegexp(`(?<=x)y`); err == nil {
		t.Error("an unknown lookaround pattern compiled; it should fail loudly")
	}
}

func ExampleIdentifier() {
	fmt.Println(Identifier("payment-service"))
	fmt.Println(Identifier("2fa-gateway"))
	// Output:
	// payment_service
	// _2fa_gateway
}
