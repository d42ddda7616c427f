package harnesstest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// resolveDeployment runs what comes before a Deployment stage's steps: the
// service step (Service, Environment, primary artifact, manifests) and the
// infrastructure step. It returns the failure message, or "".
func (s *Server) resolveDeployment(ctx context.Context, e *execution, st *stageRun, ev *evalCtx) string {
	spec := mapAt(st.doc, "spec")
	base := "pipeline.stages." + st.id + ".spec."
	svcStep := s.newStep(e, st, "service", "Service", "SERVICE_V3", base+"service", nil)
	s.changeRun(e, func() { st.serviceStep = svcStep })
	s.stepStatus(e, st, svcStep, StatusRunning, "")
	if msg := s.serviceStep(e, st, spec, ev); msg != "" {
		s.stepStatus(e, st, svcStep, StatusFailed, msg)
		return msg
	}
	s.stepStatus(e, st, svcStep, StatusSuccess, "")

	infraStep := s.newStep(e, st, "infrastructure", "Infrastructure", "INFRASTRUCTURE_TASKSTEP_V2", base+"environment.infrastructureDefinitions", nil)
	s.changeRun(e, func() { st.infraStep = infraStep })
	s.stepStatus(e, st, infraStep, StatusRunning, "")
	if msg := s.infrastructureStep(e, st, spec, ev); msg != "" {
		s.stepStatus(e, st, infraStep, StatusFailed, msg)
		return msg
	}
	s.stepStatus(e, st, infraStep, StatusSuccess, "")
	return ""
}

// serviceStep is ServiceStepV3 with its artifact and manifest children
// (harness-core 125-cd-nextgen/modules/common/core io/harness/cdng/service/
// steps/ServiceStepV3.java, artifact/steps/ArtifactsStepV2.java,
// manifest/steps/ManifestsStepV2.java).
func (s *Server) serviceStep(e *execution, st *stageRun, spec map[string]any, ev *evalCtx) string {
	svc := mapAt(spec, "service")
	envSpec := mapAt(spec, "environment")
	if svc == nil && spec["serviceConfig"] != nil {
		// Service V1 was removed from every account in 2023.
		return "harnesstest: serviceConfig (Service V1) is not supported: a stage names a Service with service.serviceRef"
	}
	if mapAt(svc, "useFromStage") != nil {
		return "harnesstest: service.useFromStage (a Service propagated from another stage) is not modelled"
	}
	// ServiceStepV3.validate: validateNullCheckForRefs, then
	// checkIfServiceRefIsExpAndThrow and checkIfEnvTypesEntityRefIsExpAndThrow.
	ref := scalarText(svc["serviceRef"])
	envRef := scalarText(envSpec["environmentRef"])
	switch {
	case ref == "":
		return "service ref not provided"
	case envRef == "":
		return "environment ref or environment refs not provided"
	}
	if r, unresolved := ev.render(ref); len(unresolved) == 0 {
		ref = r
	} else {
		return fmt.Sprintf("Expression (%s) given for service ref could not be resolved. ", ref)
	}
	if r, unresolved := ev.render(envRef); len(unresolved) == 0 {
		envRef = r
	} else {
		return fmt.Sprintf("Expression (%s) given for environment ref could not be resolved. ", envRef)
	}

	// executeServicePart.
	doc, ent := s.entityDoc(e.scope, KindService, "", ref)
	if ent == nil {
		return fmt.Sprintf("service with ref: [%s] not found", ref)
	}
	if in, ok := svc["serviceInputs"].(map[string]any); ok && len(in) > 0 {
		doc, _ = mergeRuntimeInputs(doc, map[string]any{"service": in}).(map[string]any)
	}
	info := mapAt(doc, "service")
	def := mapAt(info, "serviceDefinition")
	if def == nil {
		return fmt.Sprintf("Service Definition is not defined for service [Name: %s, Identifier: %s]", ent.name, ent.id)
	}
	if dt, stageDT := str(def, "type"), str(spec, "deploymentType"); dt != "" && stageDT != "" && dt != stageDT {
		return fmt.Sprintf("Deployment type of the stage [%s] and the service [%s] do not match", stageDT, dt)
	}
	s.changeRun(e, func() {
		st.service, st.serviceName, st.deploymentType = ent.id, ent.name, str(def, "type")
	})
	ev.service = map[string]string{"identifier": ent.id, "name": ent.name}

	// executeEnvironmentPart.
	_, envEnt := s.entityDoc(e.scope, KindEnvironment, "", envRef)
	if envEnt == nil {
		return fmt.Sprintf("Environment with ref: [%s] not found", envRef)
	}
	s.changeRun(e, func() { st.env, st.envName, st.envType = envEnt.id, envEnt.name, envEnt.typ })
	ev.env = map[string]string{"identifier": envEnt.id, "name": envEnt.name, "type": envEnt.typ}

	dspec := mapAt(def, "spec")
	if msg := s.primaryArtifact(e, st, mapAt(mapAt(dspec, "artifacts"), "primary"), ev); msg != "" {
		return msg
	}

	// ManifestsStepV2: the manifests, and their connectors must exist.
	var manifests []manifestOutcome
	list, _ := dspec["manifests"].([]any)
	for _, item := range list {
		m := mapAt(asMap(item), "manifest")
		if m == nil {
			continue
		}
		manifests = append(manifests, manifestOutcome{id: str(m, "identifier"), typ: str(m, "type"), spec: mapAt(m, "spec")})
	}
	var missing []string
	for _, m := range manifests {
		ref := scalarText(mapAt(mapAt(m.spec, "store"), "spec")["connectorRef"])
		if ref == "" || isExpression(ref) {
			// Connectors given as expressions are checked once resolved.
			continue
		}
		if c, _ := s.connectorInfo(e.scope, ref); c == nil && !contains(missing, ref) {
			missing = append(missing, ref)
		}
	}
	if len(missing) > 0 {
		// ManifestsStepV2.validateConnectors.
		sort.Strings(missing)
		return fmt.Sprintf("Could not fetch manifests. Connectors with identifier(s) [%s] not found", strings.Join(missing, ","))
	}
	s.changeRun(e, func() {
		st.manifests = manifests
		st.serviceStep.outcomes = map[string]any{
			"service":   map[string]any{"identifier": ent.id, "name": ent.name, "type": str(def, "type")},
			"artifacts": map[string]any{"primary": st.artifact},
			"manifests": manifestsOutcomeJSON(manifests),
		}
	})
	return ""
}

// primaryArtifact resolves the Service's primary artifact as
// ArtifactStepHelper.processArtifactsInYaml and ArtifactsStepV2 do and
// computes its image as the artifact outcome holds it.
func (s *Server) primaryArtifact(e *execution, st *stageRun, primary map[string]any, ev *evalCtx) string {
	if primary == nil {
		return ""
	}
	sources, _ := primary["sources"].([]any)
	var src map[string]any
	switch {
	case len(sources) == 1:
		// "If there is only 1 artifact source, default to that."
		src = asMap(sources[0])
	case len(sources) > 1:
		ref := scalarText(primary["primaryArtifactRef"])
		switch {
		case primary["primaryArtifactRef"] == nil:
			return "Primary artifact ref cannot be empty when multiple sources are present"
		case ref == "":
			return "Primary artifact ref cannot be empty"
		}
		if r, unresolved := ev.render(ref); len(unresolved) == 0 {
			ref = r
		}
		if isExpression(ref) {
			return "Primary artifact ref cannot be runtime or expression inside service"
		}
		for _, so := range sources {
			if str(asMap(so), "identifier") == ref {
				src = asMap(so)
			}
		}
		if src == nil {
			// The stand-in's own message: the source ref names none.
			return fmt.Sprintf("harnesstest: primaryArtifactRef [%s] names no artifact source", ref)
		}
	case primary["type"] != nil:
		// The legacy single artifact: primary.{type, spec}.
		src = primary
	default:
		return ""
	}
	typ, spec := str(src, "type"), mapAt(src, "spec")
	connRef := scalarText(spec["connectorRef"])
	if r, unresolved := ev.render(connRef); len(unresolved) == 0 {
		connRef = r
	}
	// ArtifactStepHelper.getConnector and toSourceDelegateRequest.
	conn, _ := s.connectorInfo(e.scope, connRef)
	if conn == nil {
		return fmt.Sprintf("Connector not found for identifier : [%s]", connRef)
	}
	want := map[string]string{"DockerRegistry": "DockerRegistry", "Gcr": "Gcp"}[typ]
	if want == "" {
		return fmt.Sprintf("harnesstest: artifact sources of type %s are not modelled", typ)
	}
	if str(conn, "type") != want {
		return fmt.Sprintf("Provided Connector %s is not compatible with %s Artifact", connRef, typ)
	}
	field := func(k string) (string, string) {
		raw := scalarText(spec[k])
		if isRuntimeInput(raw) {
			// ArtifactConfigToDelegateReqMapper would ask the registry for
			// a tag named "<+input>"; the stand-in has no registry and
			// says so.
			return "", fmt.Sprintf("Artifact source [%s] of service [%s]: %s is a runtime input (%s) and no value was provided",
				str(src, "identifier"), st.service, k, raw)
		}
		v, err := ev.resolve(raw)
		if err != nil {
			return "", err.Error()
		}
		return v, ""
	}
	imagePath, msg := field("imagePath")
	if msg != "" {
		return msg
	}
	tag, msg := field("tag")
	if msg != "" {
		return msg
	}
	if tag == "" {
		if raw := scalarText(spec["tagRegex"]); raw != "" || spec["digest"] != nil {
			return fmt.Sprintf("harnesstest: artifact source [%s]: tagRegex and digest are not modelled (no registry)", str(src, "identifier"))
		}
		// An empty tag and tag regex accept every tag, the latest
		// (ArtifactConfigToDelegateReqMapper.getDockerDelegateRequest);
		// the stand-in has no registry to ask.
		return fmt.Sprintf("harnesstest: artifact source [%s] has no tag; the stand-in has no registry to pick the latest from", str(src, "identifier"))
	}
	var host string
	switch typ {
	case "Gcr":
		// GcrApiServiceImpl: <registryHostname>/<imagePath>:<tag>.
		h, msg := field("registryHostname")
		if msg != "" {
			return msg
		}
		host = h
	case "DockerRegistry":
		// DockerRegistryServiceImpl: the domain (and port) of the
		// connector's dockerRegistryUrl, then /<imagePath>:<tag>.
		u, err := url.Parse(str(mapAt(conn, "spec"), "dockerRegistryUrl"))
		if err != nil || u.Host == "" {
			return fmt.Sprintf("harnesstest: connector %s has no dockerRegistryUrl", connRef)
		}
		host = u.Host
	}
	image := strings.TrimSuffix(host, "/") + "/" + strings.TrimPrefix(imagePath, "/") + ":" + tag
	outcome := map[string]any{"identifier": str(src, "identifier"), "type": typ, "connectorRef": connRef,
		"imagePath": imagePath, "tag": tag, "image": image, "primaryArtifact": true}
	if typ == "Gcr" {
		outcome["registryHostname"] = host
	}
	s.changeRun(e, func() { st.image, st.artifact = image, outcome })
	ev.artifact = map[string]string{"image": image, "tag": tag, "imagePath": imagePath, "connectorRef": connRef,
		"registryHostname": host, "identifier": str(src, "identifier"), "type": typ}
	return ""
}

// infrastructureStep is InfrastructureTaskExecutableStepV2 for a
// KubernetesDirect infrastructure (harness-core 125-cd-nextgen
// io/harness/cdng/infra/steps/InfrastructureTaskExecutableStepV2.java,
// InfrastructureStepHelper, and InfrastructureValidator in
// modules/common/core).
func (s *Server) infrastructureStep(e *execution, st *stageRun, spec map[string]any, ev *evalCtx) string {
	envSpec := mapAt(spec, "environment")
	if b, _ := envSpec["deployToAll"].(bool); b {
		return "harnesstest: deployToAll is not modelled"
	}
	list, _ := envSpec["infrastructureDefinitions"].([]any)
	if len(list) > 1 {
		return "harnesstest: a stage deploying to more than one infrastructure definition is not modelled"
	}
	var item map[string]any
	if len(list) == 1 {
		item = asMap(list[0])
	}
	ref := scalarText(item["identifier"])
	// validateStepParameters.
	switch {
	case ref == "":
		return "infrastructure definition reference is not specified"
	case isExpression(ref):
		r, unresolved := ev.render(ref)
		if len(unresolved) > 0 {
			// The missing space is Harness's.
			return "infrastructure definition reference" + ref + " not resolved"
		}
		ref = r
	}
	// fetchInfraConfigFromOrThrow.
	doc, ent := s.entityDoc(e.scope, KindInfrastructure, st.env, ref)
	if ent == nil {
		return fmt.Sprintf("Infrastructure definition %s not found in environment %s", ref, st.env)
	}
	if stageDT := str(spec, "deploymentType"); ent.deploymentType != "" && stageDT != "" && ent.deploymentType != stageDT {
		return fmt.Sprintf("Deployment type of the stage [%s] and the infrastructure [%s] do not match", stageDT, ent.deploymentType)
	}
	if in, ok := item["inputs"].(map[string]any); ok && len(in) > 0 {
		doc, _ = mergeRuntimeInputs(doc, map[string]any{"infrastructureDefinition": in}).(map[string]any)
	}
	info := mapAt(doc, "infrastructureDefinition")
	ispec := mapAt(info, "spec")
	if t := str(info, "type"); t != "KubernetesDirect" {
		return fmt.Sprintf("harnesstest: infrastructure type %s is not modelled", t)
	}
	ns, conn, rel, key, msg := s.k8sDirect(e, st, ispec, ev)
	if msg != "" {
		return msg
	}
	s.changeRun(e, func() {
		st.infra, st.infraName, st.namespace, st.releaseName, st.cluster = ent.id, ent.name, ns, rel, conn
		st.infraStep.outcomes = map[string]any{"output": map[string]any{
			"connectorRef": conn, "namespace": ns, "releaseName": rel, "infraIdentifier": ent.id, "infraName": ent.name,
			"environment": map[string]any{"identifier": st.env, "name": st.envName, "type": st.envType},
			"kind":        "KubernetesDirect", "infrastructureKey": key, "infrastructureKeyShort": key[:6],
		}}
	})
	ev.infra = map[string]string{"namespace": ns, "releaseName": rel, "connectorRef": conn, "infraIdentifier": ent.id,
		"infraName": ent.name, "infrastructureKey": key, "infrastructureKeyShort": key[:6]}
	return ""
}

// k8sDirect resolves a KubernetesDirect infrastructure's namespace,
// cluster connector and release name, and computes its key; it returns
// them in that order, then why the step fails, or "".
func (s *Server) k8sDirect(e *execution, st *stageRun, ispec map[string]any, ev *evalCtx) (string, string, string, string, string) {
	fail := func(m string) (string, string, string, string, string) { return "", "", "", "", m }
	// InfrastructureValidator.validateK8sDirectInfrastructure: namespace,
	// then release name, each neither empty nor a runtime input left
	// without a value (the double space is Harness's).
	for _, k := range []string{"namespace", "releaseName"} {
		switch raw := scalarText(ispec[k]); raw {
		case "":
			return fail(fmt.Sprintf("Invalid argument(s): %s: cannot be empty", k))
		case "<+input>":
			return fail(fmt.Sprintf("Invalid argument(s): %s:  set as runtime input but no value was provided", k))
		}
	}
	ns, err := ev.resolve(scalarText(ispec["namespace"]))
	if err != nil {
		return fail(err.Error())
	}
	// InfrastructureStepHelper.validateConnector.
	conn := scalarText(ispec["connectorRef"])
	switch {
	case ispec["connectorRef"] == nil || conn == "":
		return fail("Connector ref field not present in infrastructure")
	case isRuntimeInput(conn):
		return fail("Connector ref is a runtime input but its value is not provided in the infrastructure")
	case isExpression(conn):
		r, unresolved := ev.render(conn)
		if len(unresolved) > 0 {
			return fail(fmt.Sprintf("Connector ref [%s] could not be resolved in infrastructure", conn))
		}
		conn = r
	}
	if c, _ := s.connectorInfo(e.scope, conn); c == nil {
		return fail(fmt.Sprintf("Connector not found for identifier : [%s]", conn))
	}
	// The release name may name the infrastructure key, which the outcome
	// holds before the name is rendered (InfrastructureMapper.toOutcome).
	key := infrastructureKey(st.service, st.env, conn, ns)
	ev.infra = map[string]string{"infrastructureKey": key, "infrastructureKeyShort": key[:6]}
	rel, err := ev.resolve(scalarText(ispec["releaseName"]))
	if err != nil {
		return fail(err.Error())
	}
	return ns, conn, rel, key, ""
}

// infrastructureKey is a KubernetesDirect infrastructure's key: the SHA-1,
// in hex, of the service, environment, connector and namespace joined by
// "-" (InfrastructureKey.generate with K8SDirectInfrastructure
// .getInfrastructureKeyValues in harness-core's 125-cd-nextgen); its short
// form, INFRA_KEY_SHORT_ID, is the first six characters
// (InfrastructureKeyGeneratorTest: "ABC", "DEF", "G", "H" give
// 80064c5b9075322a1eac0ecbdb3df0aa6f108a58 and 80064c).
func infrastructureKey(service, env, connectorRef, namespace string) string {
	sum := sha1.Sum([]byte(strings.Join([]string{service, env, connectorRef, namespace}, "-")))
	return hex.EncodeToString(sum[:])
}

// manifestsOutcomeJSON is the manifests outcome: each manifest with its
// store, by identifier.
func manifestsOutcomeJSON(ms []manifestOutcome) map[string]any {
	out := map[string]any{}
	for i, m := range ms {
		store := mapAt(m.spec, "store")
		o := map[string]any{"identifier": m.id, "type": m.typ, "order": i,
			"store": mergeMaps(map[string]any{"kind": str(store, "type")}, mapAt(store, "spec"))}
		if v, ok := m.spec["valuesPaths"]; ok {
			o["valuesPaths"] = v
		}
		out[m.id] = o
	}
	return out
}

func mergeMaps(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = deepCopy(v)
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
