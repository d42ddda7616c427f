package harnesstest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// TestMergeRuntimeInputs checks each rule of the runtime-input merge once
// (see merge.go).
func TestMergeRuntimeInputs(t *testing.T) {
	for name, tc := range map[string]struct{ base, inputs, want string }{
		"a runtime input is filled": {
			base:   "service: {serviceDefinition: {spec: {artifacts: {primary: {sources: [{identifier: image, spec: {tag: <+input>}}]}}}}}",
			inputs: "service: {serviceDefinition: {spec: {artifacts: {primary: {sources: [{identifier: image, spec: {tag: v1}}]}}}}}",
			want:   "service: {serviceDefinition: {spec: {artifacts: {primary: {sources: [{identifier: image, spec: {tag: v1}}]}}}}}",
		},
		"a fixed value is kept and the input ignored": {
			base:   "service: {serviceDefinition: {spec: {manifests: [{manifest: {identifier: m, spec: {paths: [a.yaml]}}}]}}}",
			inputs: "service: {serviceDefinition: {spec: {manifests: [{manifest: {identifier: m, spec: {paths: [b.yaml]}}}]}}}",
			want:   "service: {serviceDefinition: {spec: {manifests: [{manifest: {identifier: m, spec: {paths: [a.yaml]}}}]}}}",
		},
		"a runtime input with a validator is filled": {
			base:   `x: {y: "<+input>.allowedValues(a,b)"}`,
			inputs: "x: {y: a}",
			want:   "x: {y: a}",
		},
		"an input that is itself a runtime input fills nothing": {
			base:   "x: {y: <+input>}",
			inputs: "x: {y: <+input>}",
			want:   "x: {y: <+input>}",
		},
		"a runtime input takes a list": {
			base:   "x: {paths: <+input>}",
			inputs: "x: {paths: [a.yaml, b.yaml]}",
			want:   "x: {paths: [a.yaml, b.yaml]}",
		},
		"wrapper elements match by identifier": {
			base:   "l: [{manifest: {identifier: a, p: <+input>}}, {manifest: {identifier: b, p: <+input>}}]",
			inputs: "l: [{manifest: {identifier: b, p: B}}, {manifest: {identifier: c, p: C}}]",
			want:   "l: [{manifest: {identifier: a, p: <+input>}}, {manifest: {identifier: b, p: B}}]",
		},
		"variables match by name, and the name never changes": {
			base:   "v: [{name: tag, type: String, value: <+input>}, {name: other, type: String, value: fixed}]",
			inputs: "v: [{name: tag, type: String, value: v2}, {name: other, type: String, value: changed}]",
			want:   "v: [{name: tag, type: String, value: v2}, {name: other, type: String, value: fixed}]",
		},
		"type and identifier are not changed, runtime input or not": {
			base:   "x: {type: <+input>, identifier: <+input>, v: <+input>}",
			inputs: "x: {type: Gcr, identifier: img, v: 1}",
			want:   "x: {type: <+input>, identifier: <+input>, v: 1}",
		},
		"keys the original lacks are dropped": {
			base:   "infrastructureDefinition: {spec: {namespace: <+input>}}",
			inputs: "infrastructureDefinition: {spec: {namespace: ns, delegateSelectors: [a]}}",
			want:   "infrastructureDefinition: {spec: {namespace: ns}}",
		},
		"below service, a missing direct child comes whole": {
			base:   "service: {name: s}",
			inputs: "service: {serviceDefinition: {type: Kubernetes, spec: {manifests: []}}}",
			want:   "service: {name: s, serviceDefinition: {type: Kubernetes, spec: {manifests: []}}}",
		},
		"below service, a deeper missing key is dropped": {
			base:   "service: {serviceDefinition: {type: Kubernetes, spec: {variables: []}}}",
			inputs: "service: {serviceDefinition: {type: Kubernetes, spec: {manifests: [{manifest: {identifier: m}}]}}}",
			want:   "service: {serviceDefinition: {type: Kubernetes, spec: {variables: []}}}",
		},
		"stages in parallel blocks match by identifier": {
			base:   "stages: [{parallel: [{stage: {identifier: a, v: <+input>}}]}, {stage: {identifier: b, v: <+input>}}]",
			inputs: "stages: [{stage: {identifier: b, v: B}}, {parallel: [{stage: {identifier: a, v: A}}]}]",
			want:   "stages: [{parallel: [{stage: {identifier: a, v: A}}]}, {stage: {identifier: b, v: B}}]",
		},
		"a list whose elements have no key is a leaf": {
			base:   "l: [{x: <+input>}]",
			inputs: "l: [{x: 1}]",
			want:   "l: [{x: <+input>}]",
		},
	} {
		t.Run(name, func(t *testing.T) {
			var base, inputs, want any
			for _, p := range []struct {
				src string
				v   *any
			}{{tc.base, &base}, {tc.inputs, &inputs}, {tc.want, &want}} {
				if err := yaml.Unmarshal([]byte(p.src), p.v); err != nil {
					t.Fatal(err)
				}
			}
			before := deepCopy(base)
			if diff := cmp.Diff(want, mergeRuntimeInputs(base, inputs)); diff != "" {
				t.Errorf("merged (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, base); diff != "" {
				t.Errorf("the original changed:\n%s", diff)
			}
		})
	}
}

func TestExpressions(t *testing.T) {
	ev := &evalCtx{pipelineID: "p", sequenceID: 3,
		variables: map[string]any{"imageTag": "<+trigger.payload.image.tag>", "n": 2, "open": "<+input>"},
		trigger:   &triggerContext{identifier: "t", payload: map[string]any{"image": map[string]any{"tag": "v9"}}},
		artifact:  map[string]string{"image": "gcr.io/x/y:v9"}}
	for in, want := range map[string]string{
		"<+pipeline.variables.imageTag>":                 "v9",
		"<+pipeline.variables.n>-<+pipeline.sequenceId>": "2-3",
		"image: <+artifacts.primary.image>":              "image: gcr.io/x/y:v9",
		"<+artifact.image>":                              "gcr.io/x/y:v9",
		"<+trigger.payload.image>":                       `{"tag":"v9"}`,
	} {
		if got, err := ev.resolve(in); err != nil || got != want {
			t.Errorf("resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"<+pipeline.variables.open>": "Unresolved expressions: <+pipeline.variables.open>",
		"<+input> <+env.name>":       "Unresolved expressions: <+input>, <+env.name>",
	} {
		if _, err := ev.resolve(in); err == nil || err.Error() != want {
			t.Errorf("resolve(%q): %v, want %q", in, err, want)
		}
	}
}
