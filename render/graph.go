package render

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// graph is what a service's entities may refer to besides each other: the
// environments and infrastructure definitions the settings render, and
// the connectors and user groups the settings declare (see
// catalog.Settings.DeclaredConnectors and DeclaredUserGroups). It is
// read-only once built, and shared by the renderings of all services.
type graph struct {
	// environments holds each rendered environment's value (the mapping
	// under environment:) by identifier.
	environments map[string]*yaml.Node
	// infrastructures holds each rendered infrastructure definition's
	// value by environment identifier, then by its identifier.
	infrastructures map[string]map[string]*yaml.Node
	connectors      map[string]bool
	userGroups      map[string]bool
	// digests are the settings' digests, for the fingerprints.
	digests settingsDigests
}

// newGraph returns the graph of the settings, without environments yet.
func newGraph(s catalog.Settings) *graph {
	g := &graph{
		environments:    map[string]*yaml.Node{},
		infrastructures: map[string]map[string]*yaml.Node{},
		connectors:      map[string]bool{},
		userGroups:      map[string]bool{},
		digests:         digestSettings(s),
	}
	for _, c := range s.DeclaredConnectors() {
		g.connectors[c] = true
	}
	for _, u := range s.DeclaredUserGroups() {
		g.userGroups[u] = true
	}
	return g
}

// unitDocs are one service's rendered entities, parsed back: the
// documents of its Service, pipeline and trigger (nil until rendered).
type unitDocs struct {
	service, pipeline, trigger *yaml.Node
}

// crossProblem is a reference that does not resolve, or runtime inputs
// that do not fit: a problem of one of a service's entities in relation
// to another, reported on the entity at fault.
type crossProblem struct {
	kind    Kind // the entity at fault: KindService or KindPipeline
	line    int  // line in that entity's raw template output
	pointer string
	message string
}

// unitCheck collects the cross problems of one service's entities.
type unitCheck struct {
	g        *graph
	svc      catalog.Service
	docs     unitDocs
	problems []crossProblem
	// serviceID and deploymentType are the rendered Service's.
	serviceID, deploymentType string
	service                   *yaml.Node // the Service's value (under service:)
	// serviceInputs are the Service's runtime inputs.
	serviceInputs []runtimeInput
}

func (u *unitCheck) add(k Kind, n *yaml.Node, ptr []string, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	u.problems = append(u.problems, crossProblem{kind: k, line: line, pointer: pointer(ptr), message: fmt.Sprintf(format, args...)})
}

// check runs every cross check of the service's Service and pipeline (the
// trigger's are checkTrigger's, once it is built).
func (g *graph) check(svc catalog.Service, docs unitDocs) []crossProblem {
	u := &unitCheck{g: g, svc: svc, docs: docs}
	_, u.service = mappingGet(docs.service.Content[0], "service")
	u.serviceID = scalarAt(u.service, "identifier")
	u.deploymentType = scalarAt(u.service, "serviceDefinition", "type")
	u.serviceInputs = runtimeInputs(u.service)
	u.identity(KindService, u.service, Identifier(svc.Name), "{{.Service.Identifier}}")
	_, p := mappingGet(docs.pipeline.Content[0], "pipeline")
	u.identity(KindPipeline, p, Identifier(svc.Name+"_cd"), "{{.Pipeline.Identifier}}")
	u.connectors(KindService, u.service, []string{"service"})
	u.connectors(KindPipeline, p, []string{"pipeline"})
	_, stages := mappingGet(p, "stages")
	forEachStage(stages, []string{"pipeline", "stages"}, u.stage)
	return u.problems
}

// identity checks that an entity has the identifier the application gives
// it, by which files, references and triggers name it, and that its tag
// service names the catalog service.
func (u *unitCheck) identity(k Kind, v *yaml.Node, want, field string) {
	ptr := []string{k.RootKey()}
	if _, id := mappingGet(v, "identifier"); id != nil && id.Value != want {
		u.add(k, id, with(ptr, "identifier"), "%s identifier %q is not the one the application gives it, %q: write identifier: %s", kindNoun(k), id.Value, want, field)
	}
	tk, tags := mappingGet(v, "tags")
	if tags == nil {
		return
	}
	if _, t := mappingGet(tags, "service"); t == nil || t.Value != u.svc.Name {
		u.add(k, tk, with(ptr, "tags"), "%s must carry the tag service: %s, by which the application ties it to its catalog entry", kindNoun(k), quote(u.svc.Name))
	}
}

// connectors checks that every literal connectorRef under n is declared.
// An expression is resolved by Harness at run time, and left alone. It
// walks every node of an entity, so it keeps one pointer stack and turns
// it into a pointer only for a problem.
func (u *unitCheck) connectors(k Kind, n *yaml.Node, ptr []string) {
	ptr = slices.Clone(ptr)
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, v := n.Content[i], n.Content[i+1]
				ptr = append(ptr, key.Value)
				if key.Value == "connectorRef" && v.Kind == yaml.ScalarNode && !strings.HasPrefix(v.Value, "<+") && !u.g.connectors[v.Value] {
					u.add(k, v, ptr, "connectorRef %q names no connector the settings declare (%s): add it to external.connectors in the settings, or correct it",
						v.Value, strings.Join(sortedKeys(u.g.connectors), ", "))
				}
				walk(v)
				ptr = ptr[:len(ptr)-1]
			}
		case yaml.SequenceNode:
			for i, item := range n.Content {
				ptr = append(ptr, strconv.Itoa(i))
				walk(item)
				ptr = ptr[:len(ptr)-1]
			}
		}
	}
	if n != nil {
		walk(n)
	}
}

// forEachStage calls fn for every stage of a stages list, in parallel
// blocks too, with its pointer tokens.
func forEachStage(stages *yaml.Node, ptr []string, fn func(st *yaml.Node, ptr []string)) {
	if stages == nil || stages.Kind != yaml.SequenceNode {
		return
	}
	for i, item := range stages.Content {
		iptr := with(ptr, strconv.Itoa(i))
		if _, par := mappingGet(item, "parallel"); par != nil {
			forEachStage(par, with(iptr, "parallel"), fn)
			continue
		}
		if _, st := mappingGet(item, "stage"); st != nil {
			fn(st, with(iptr, "stage"))
		}
	}
}

// stage checks a Deployment stage's references: its Service, environment
// and infrastructure definitions, the runtime inputs it gives each, and
// its approvers.
func (u *unitCheck) stage(st *yaml.Node, ptr []string) {
	if scalarAt(st, "type") != "Deployment" {
		return
	}
	_, spec := mappingGet(st, "spec")
	sptr := with(ptr, "spec")
	u.stageService(st, spec, sptr)
	u.stageEnvironment(spec, sptr)
	_, exec := mappingGet(spec, "execution")
	for _, key := range []string{"steps", "rollbackSteps"} {
		_, steps := mappingGet(exec, key)
		u.approvals(steps, with(sptr, "execution", key))
	}
}

// stageService checks the stage's Service: this service's own, of the
// stage's deployment type, given exactly its runtime inputs.
func (u *unitCheck) stageService(st, spec *yaml.Node, ptr []string) {
	name := scalarAt(st, "identifier")
	sk, sv := mappingGet(spec, "service")
	if sv == nil {
		if k, _ := mappingGet(spec, "serviceConfig"); k != nil {
			u.add(KindPipeline, k, with(ptr, "serviceConfig"), "stage %s defines its service inline (serviceConfig, Service V1), which Harness removed: name the Service with service.serviceRef", name)
			return
		}
		u.add(KindPipeline, st, ptr, "stage %s names no Service: add service.serviceRef: %s", name, u.serviceID)
		return
	}
	sptr := with(ptr, "service")
	rk, ref := mappingGet(sv, "serviceRef")
	if ref == nil {
		if k, _ := mappingGet(sv, "useFromStage"); k == nil {
			u.add(KindPipeline, sk, sptr, "stage %s names no Service: add serviceRef: %s", name, u.serviceID)
		}
		return
	}
	if ref.Value != u.serviceID {
		u.add(KindPipeline, ref, with(sptr, "serviceRef"), "stage %s deploys the Service %q, which is not rendered: this service's Service is %q", name, ref.Value, u.serviceID)
		return
	}
	if _, dt := mappingGet(spec, "deploymentType"); dt != nil && dt.Value != u.deploymentType {
		u.add(KindPipeline, dt, with(ptr, "deploymentType"), "stage %s has deploymentType %s, and its Service %s has type %s: Harness refuses to save the pipeline (deploymentType should be the same as in service)",
			name, dt.Value, u.serviceID, u.deploymentType)
	}
	ik, inputs := mappingGet(sv, "serviceInputs")
	iptr := with(sptr, "serviceInputs")
	if isRuntimeInput(inputs) {
		u.add(KindPipeline, inputs, iptr, "stage %s leaves its serviceInputs a runtime input (%s): a triggered run has nothing to fill it with; give the Service's runtime inputs here", name, inputs.Value)
		return
	}
	if inputs != nil && inputs.Kind == yaml.MappingNode {
		ic := inputChecker{entity: "the Service " + u.serviceID, report: func(n *yaml.Node, p []string, msg string) {
			u.add(KindPipeline, n, p, "stage %s: serviceInputs %s", name, msg)
		}}
		ic.run(inputs, u.service, iptr)
	}
	var unfilled []string
	for _, in := range u.serviceInputs {
		if inputs == nil || !fills(inputs, in.steps) {
			unfilled = append(unfilled, in.path)
		}
	}
	if len(unfilled) > 0 {
		at := rk
		if ik != nil {
			at = ik
		}
		u.add(KindPipeline, at, iptr, "stage %s leaves unfilled what the Service %s marks <+input>: %s; the stage's serviceInputs must give %s a value",
			name, u.serviceID, strings.Join(unfilled, ", "), plural(len(unfilled), "it", "each"))
	}
}

// stageEnvironment checks the stage's environment and infrastructure
// definitions: rendered ones, given no inputs they do not ask for.
func (u *unitCheck) stageEnvironment(spec *yaml.Node, ptr []string) {
	ek, env := mappingGet(spec, "environment")
	eptr := with(ptr, "environment")
	if env == nil {
		if _, envs := mappingGet(spec, "environments"); envs == nil {
			u.add(KindPipeline, spec, ptr, "the stage names no environment: add environment.environmentRef")
		}
		return
	}
	rk, ref := mappingGet(env, "environmentRef")
	if ref == nil {
		if k, _ := mappingGet(env, "useFromStage"); k == nil {
			u.add(KindPipeline, ek, eptr, "the stage names no environment: add environmentRef")
		}
		return
	}
	envValue, ok := u.g.environments[ref.Value]
	if !ok {
		u.add(KindPipeline, ref, with(eptr, "environmentRef"), "environmentRef %q names no environment the settings render (%s)", ref.Value, strings.Join(sortedKeys(u.g.environments), ", "))
		return
	}
	if _, in := mappingGet(env, "environmentInputs"); in != nil && in.Kind == yaml.MappingNode {
		ic := inputChecker{entity: "the environment " + ref.Value, report: func(n *yaml.Node, p []string, msg string) {
			u.add(KindPipeline, n, p, "environmentInputs %s", msg)
		}}
		ic.run(in, envValue, with(eptr, "environmentInputs"))
	}
	infras := u.g.infrastructures[ref.Value]
	_, defs := mappingGet(env, "infrastructureDefinitions")
	if _, one := mappingGet(env, "infrastructureDefinition"); one != nil {
		defs = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{one}}
	}
	if defs == nil || defs.Kind != yaml.SequenceNode || len(defs.Content) == 0 {
		u.add(KindPipeline, rk, eptr, "the stage names no infrastructure definition of environment %s: add infrastructureDefinitions", ref.Value)
		return
	}
	for i, d := range defs.Content {
		u.infrastructure(d, infras, ref.Value, with(eptr, "infrastructureDefinitions", strconv.Itoa(i)), scalarAt(spec, "deploymentType"))
	}
}

// infrastructure checks one of a stage's infrastructure definitions.
func (u *unitCheck) infrastructure(d *yaml.Node, infras map[string]*yaml.Node, env string, ptr []string, deploymentType string) {
	_, id := mappingGet(d, "identifier")
	if id == nil {
		return // the structure check reports it
	}
	infra, ok := infras[id.Value]
	if !ok {
		u.add(KindPipeline, id, with(ptr, "identifier"), "infrastructure definition %q is not one the settings render for environment %s (%s)", id.Value, env, strings.Join(sortedKeys(infras), ", "))
		return
	}
	if t := scalarAt(infra, "deploymentType"); deploymentType != "" && t != deploymentType {
		u.add(KindPipeline, id, with(ptr, "identifier"), "the stage's deploymentType %s and the infrastructure definition %s's %s do not match", deploymentType, id.Value, t)
	}
	if _, in := mappingGet(d, "inputs"); in != nil && in.Kind == yaml.MappingNode {
		ic := inputChecker{entity: "the infrastructure definition " + id.Value, report: func(n *yaml.Node, p []string, msg string) {
			u.add(KindPipeline, n, p, "inputs %s", msg)
		}}
		ic.run(in, infra, with(ptr, "inputs"))
	}
}

// approvals checks the approvers of every HarnessApproval step under
// steps: user groups the settings declare. An expression is left to
// Harness.
func (u *unitCheck) approvals(steps *yaml.Node, ptr []string) {
	if steps == nil || steps.Kind != yaml.SequenceNode {
		return
	}
	for i, item := range steps.Content {
		iptr := with(ptr, strconv.Itoa(i))
		if _, par := mappingGet(item, "parallel"); par != nil {
			u.approvals(par, with(iptr, "parallel"))
			continue
		}
		if _, g := mappingGet(item, "stepGroup"); g != nil {
			_, inner := mappingGet(g, "steps")
			u.approvals(inner, with(iptr, "stepGroup", "steps"))
			continue
		}
		_, st := mappingGet(item, "step")
		if scalarAt(st, "type") != "HarnessApproval" {
			continue
		}
		_, spec := mappingGet(st, "spec")
		_, approvers := mappingGet(spec, "approvers")
		_, groups := mappingGet(approvers, "userGroups")
		if groups == nil || groups.Kind != yaml.SequenceNode {
			continue
		}
		gptr := with(iptr, "step", "spec", "approvers", "userGroups")
		for j, grp := range groups.Content {
			if strings.HasPrefix(grp.Value, "<+") || u.g.userGroups[grp.Value] {
				continue
			}
			u.add(KindPipeline, grp, with(gptr, strconv.Itoa(j)), "user group %q is not one the settings declare (%s): add it to an environment's approval gate or to external.user_groups",
				grp.Value, strings.Join(sortedKeys(u.g.userGroups), ", "))
		}
	}
}

// scalarAt returns the scalar at keys under n, or "".
func scalarAt(n *yaml.Node, keys ...string) string {
	for _, k := range keys {
		_, n = mappingGet(n, k)
	}
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// sortedKeys returns a map's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
