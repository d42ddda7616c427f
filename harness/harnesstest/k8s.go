package harnesstest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"
)

// The K8s deploy steps (K8sRollingDeploy, K8sApply, K8sCanaryDeploy,
// K8sBlueGreenDeploy): K8sStepHelper.startChainLink resolves the
// manifests outcome, renders its expressions, validates it, picks the one
// K8s manifest, fetches its files and the values files through the store's
// connector, renders the values files' expressions and hands everything to
// the delegate, which applies Go templating ({{.Values.x}}) to the
// manifests and applies them. Harness expressions are not evaluated in the
// manifests themselves, only in values files.

// k8sManifestTypes is ManifestType.K8S_SUPPORTED_MANIFEST_TYPES, in its
// declaration order (harness-core 127-cd-nextgen-entities
// io/harness/cdng/manifest/ManifestType.java).
var k8sManifestTypes = []string{"K8sManifest", "HelmChart", "Kustomize", "OpenshiftTemplate"}

func (s *Server) k8sStep(ctx context.Context, e *execution, st *stageRun, sp *stepRun, ev *evalCtx) (string, string) {
	fail := func(msg string) (string, string) { return StatusFailed, msg }
	s.mu.Lock()
	manifests := append([]manifestOutcome(nil), st.manifests...)
	s.mu.Unlock()
	if len(manifests) == 0 {
		// K8sStepHelper.resolveManifestsOutcome.
		return fail(fmt.Sprintf("No manifests found in stage %s. %s step requires at least one manifest defined in stage service definition",
			st.id, sp.typ))
	}
	// cdExpressionResolver.updateExpressions(ambiance, manifestsOutcome):
	// the stores' expressions are rendered; runtime inputs left without a
	// value stay as they are for the validator.
	for i, m := range manifests {
		spec, err := renderStrings(deepCopy(m.spec), ev)
		if err != nil {
			return fail(err.Error())
		}
		manifests[i].spec = spec.(map[string]any)
	}
	// cdStepHelper.validateManifestsOutcome → ManifestOutcomeValidator.
	for _, m := range manifests {
		if msg := validateManifest(m); msg != "" {
			return fail(msg)
		}
	}
	// getK8sSupportedManifestOutcome.
	var k8s []manifestOutcome
	for _, m := range manifests {
		if contains(k8sManifestTypes, m.typ) {
			k8s = append(k8s, m)
		}
	}
	switch {
	case len(k8s) == 0:
		return fail("Manifests are mandatory for K8s step. Select one from " + strings.Join(k8sManifestTypes, ", "))
	case len(k8s) > 1:
		return fail("There can be only a single manifest. Select one from " + strings.Join(k8sManifestTypes, ", "))
	case k8s[0].typ != "K8sManifest":
		return fail(fmt.Sprintf("harnesstest: manifests of type %s are not modelled", k8s[0].typ))
	}
	main := k8s[0]

	// Fetch: the manifest's paths and valuesPaths from its store, then the
	// Values manifests in their order (getOrderedManifestOutcome).
	var fetched []fetchedFile
	var manifestFiles, valuesFiles []fetchedFile
	get := func(m manifestOutcome, paths []string) ([]fetchedFile, error) {
		if len(paths) == 0 {
			return nil, nil
		}
		store := mapAt(mapAt(m.spec, "store"), "spec")
		ref := scalarText(store["connectorRef"])
		conn, cs := s.connectorInfo(e.scope, ref)
		if conn == nil {
			return nil, fmt.Errorf("Could not fetch manifests. Connectors with identifier(s) [%s] not found", ref)
		}
		src, err := s.githubSource(ctx, cs, ref, conn, store)
		if err != nil {
			return nil, err
		}
		files, err := s.fetch(ctx, src, paths)
		for i := range files {
			files[i].Manifest = m.id
		}
		return files, err
	}
	files, err := get(main, stringList(mapAt(mapAt(main.spec, "store"), "spec")["paths"]))
	if err != nil {
		return fail(err.Error())
	}
	manifestFiles = files
	fetched = append(fetched, files...)
	if files, err = get(main, stringList(main.spec["valuesPaths"])); err != nil {
		return fail(err.Error())
	}
	valuesFiles = append(valuesFiles, files...)
	fetched = append(fetched, files...)
	for _, m := range manifests {
		if m.typ != "Values" {
			continue
		}
		if files, err = get(m, stringList(mapAt(mapAt(m.spec, "store"), "spec")["paths"])); err != nil {
			return fail(err.Error())
		}
		valuesFiles = append(valuesFiles, files...)
		fetched = append(fetched, files...)
	}
	record := make([]FetchedFile, 0, len(fetched))
	for _, f := range fetched {
		record = append(record, f.FetchedFile)
	}
	s.changeRun(e, func() { st.fetched = record })

	// Values files: expressions rendered (K8sHelmCommonStepHelper
	// .getValuesFileContents), later files overriding earlier ones.
	values := map[string]any{}
	for _, f := range valuesFiles {
		text, err := ev.resolve(string(f.content))
		if err != nil {
			return fail(err.Error())
		}
		var v map[string]any
		if err := yaml.Unmarshal([]byte(text), &v); err != nil {
			return fail(fmt.Sprintf("harnesstest: values file %s is not a YAML mapping: %v", f.Path, err))
		}
		values = deepMerge(values, v)
	}

	// Go templating of the manifests, then what the cluster would refuse.
	var rendered bytes.Buffer
	var images []string
	for _, f := range manifestFiles {
		out, err := renderManifest(f.Path, string(f.content), values)
		if err != nil {
			return fail(err.Error())
		}
		imgs, msg := workloadImages(f.Path, out)
		if msg != "" {
			return fail(msg)
		}
		images = append(images, imgs...)
		if rendered.Len() > 0 {
			rendered.WriteString("---\n")
		}
		rendered.WriteString(out)
	}
	s.changeRun(e, func() {
		st.rendered, st.images = rendered.String(), images
		fetchedJSON := []any{}
		for _, f := range record {
			fetchedJSON = append(fetchedJSON, map[string]any{"manifest": f.Manifest, "connectorRef": f.ConnectorRef,
				"repo": f.Repo, "ref": f.Ref, "commit": f.Commit, "path": f.Path})
		}
		imgs := []any{}
		for _, im := range images {
			imgs = append(imgs, im)
		}
		sp.outcomes = map[string]any{
			"output": map[string]any{"releaseName": st.releaseName, "releaseNumber": e.seq},
			// Harness logs what the delegate fetched and applied; the
			// stand-in returns it.
			"harnesstest": map[string]any{"fetched": fetchedJSON, "images": imgs, "namespace": st.namespace,
				"infrastructure": st.infra, "manifests": st.rendered},
		}
	})
	return StatusSuccess, ""
}

// renderStrings renders the expressions of every string in v except
// runtime inputs.
func renderStrings(v any, ev *evalCtx) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			r, err := renderStrings(e, ev)
			if err != nil {
				return nil, err
			}
			v[k] = r
		}
	case []any:
		for i, e := range v {
			r, err := renderStrings(e, ev)
			if err != nil {
				return nil, err
			}
			v[i] = r
		}
	case string:
		if isRuntimeInput(v) {
			return v, nil
		}
		return ev.resolve(v)
	}
	return v, nil
}

// validateManifest is ManifestOutcomeValidator.validate for a Git store
// and the K8s manifest checks (harness-core 125-cd-nextgen/modules/common/
// core io/harness/cdng/manifest/mappers/ManifestOutcomeValidator.java).
func validateManifest(m manifestOutcome) string {
	store := mapAt(m.spec, "store")
	kind := str(store, "type")
	spec := mapAt(store, "spec")
	if !contains([]string{"Git", "Github", "GitLab", "Bitbucket", "AzureRepo"}, kind) {
		return ""
	}
	if c := scalarText(spec["connectorRef"]); c == "" || isRuntimeInput(c) {
		return fmt.Sprintf("Missing or empty connectorRef in %s store spec for manifest with identifier: %s", kind, m.id)
	}
	switch m.typ {
	case "HelmChart", "Kustomize":
		if f := scalarText(spec["folderPath"]); f == "" || isRuntimeInput(f) {
			return fmt.Sprintf("Invalid argument(s): folderPath: is required for store type '%s' and manifest type '%s' in manifest with identifier: %s",
				kind, m.typ, m.id)
		}
	default:
		paths := spec["paths"]
		if s, ok := paths.(string); ok && !isRuntimeInput(s) {
			// A value that is no list fails the conversion in hasValue.
			return fmt.Sprintf("Incorrect value [%s] for field [%s] in manifest [%s] \n"+
				"Hint: Please check provided field [%s] for manifest id [%s]."+
				" If using runtime input make sure that valid input is provided for manifest [%s]. Service Input yaml should contain identifier [%s]",
				s, "paths", m.id, "paths", m.id, m.id, m.id)
		}
		list := stringList(paths)
		ok := len(list) > 0
		for _, p := range list {
			if strings.TrimSpace(p) == "" {
				ok = false
			}
		}
		if !ok {
			return fmt.Sprintf("Invalid argument(s): paths: is required for store type '%s' and manifest type '%s' in manifest with identifier: %s",
				kind, m.typ, m.id)
		}
	}
	switch str(spec, "gitFetchType") {
	case "Branch":
		if scalarText(spec["commitId"]) != "" {
			return "Invalid argument(s): commitId: Not allowed for gitFetchType: Branch"
		}
		if b := scalarText(spec["branch"]); b == "" || isRuntimeInput(b) {
			return "Invalid argument(s): branch: Cannot be empty or null for gitFetchType: Branch"
		}
	case "Commit":
		if scalarText(spec["branch"]) != "" {
			return "Invalid argument(s): branch: Not allowed for gitFetchType: Commit"
		}
		if c := scalarText(spec["commitId"]); c == "" || isRuntimeInput(c) {
			return "Invalid argument(s): commitId: Cannot be empty or null for gitFetchType: Commit"
		}
	}
	if m.typ == "K8sManifest" {
		// validateK8Manifest: valuesPaths is optional, but none may be
		// blank.
		for _, p := range stringList(m.spec["valuesPaths"]) {
			if strings.TrimSpace(p) == "" {
				return fmt.Sprintf("Invalid argument(s): valuesPaths: Path for values.yaml files for manifest identifier: %s and manifest type: %s is not valid. Check in the values.yaml setup in the manifest configuration to make sure it's not empty",
					m.id, m.typ)
			}
		}
	}
	return ""
}

// stringList reads a list of strings; a runtime input or anything else is
// no list.
func stringList(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, scalarText(e))
	}
	return out
}

// deepMerge merges b into a, b winning, mappings merged key by key.
func deepMerge(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		am, aok := out[k].(map[string]any)
		bm, bok := v.(map[string]any)
		if aok && bok {
			out[k] = deepMerge(am, bm)
			continue
		}
		out[k] = v
	}
	return out
}

// templateFuncs are the template functions the stand-in offers: a few of
// those of the Sprig library that Harness's go-template renderer carries.
var templateFuncs = template.FuncMap{
	"quote":  func(v any) string { return fmt.Sprintf("%q", fmt.Sprint(v)) },
	"squote": func(v any) string { return "'" + fmt.Sprint(v) + "'" },
	"default": func(def, v any) any {
		if v == nil || v == "" {
			return def
		}
		return v
	},
	"lower":   strings.ToLower,
	"upper":   strings.ToUpper,
	"trim":    strings.TrimSpace,
	"replace": func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	"b64enc":  func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
	},
	"nindent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return "\n" + pad + strings.ReplaceAll(s, "\n", "\n"+pad)
	},
	"toYaml": func(v any) string {
		b, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(b), "\n")
	},
	"required": func(msg string, v any) (any, error) {
		if v == nil || v == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	},
}

// renderManifest applies Go templating with the values under .Values. As
// in Go's text/template, a missing value renders as "<no value>".
func renderManifest(name, src string, values map[string]any) (string, error) {
	t, err := template.New(name).Funcs(templateFuncs).Parse(src)
	if err != nil {
		return "", fmt.Errorf("harnesstest: manifest %s: %v", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, map[string]any{"Values": values}); err != nil {
		return "", fmt.Errorf("harnesstest: manifest %s: %v", name, err)
	}
	return buf.String(), nil
}

// imageRefRE is the grammar of an image reference
// (github.com/distribution/reference: domain, path components, tag,
// digest).
var imageRefRE = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?` +
	`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*` +
	`(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)

// workloadImages parses rendered manifests and returns the images of their
// workloads' containers. A document that is not YAML fails the apply; an
// image that is no valid reference fails the rollout, as the kubelet
// refuses it with reason InvalidImageName ("Failed to apply default image
// tag …", kubernetes pkg/kubelet/images/image_manager.go) and the step's
// wait for steady state never ends well.
func workloadImages(name, src string) ([]string, string) {
	dec := yaml.NewDecoder(strings.NewReader(src))
	var images []string
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Sprintf("harnesstest: manifest %s is not valid YAML after templating: %v", name, err)
		}
		if doc == nil {
			continue
		}
		kind := str(doc, "kind")
		podSpec := map[string]any(nil)
		switch kind {
		case "Pod":
			podSpec = mapAt(doc, "spec")
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
			podSpec = mapAt(mapAt(mapAt(doc, "spec"), "template"), "spec")
		case "CronJob":
			podSpec = mapAt(mapAt(mapAt(mapAt(mapAt(doc, "spec"), "jobTemplate"), "spec"), "template"), "spec")
		}
		for _, key := range []string{"initContainers", "containers"} {
			list, _ := podSpec[key].([]any)
			for _, c := range list {
				cm := asMap(c)
				img := scalarText(cm["image"])
				if !imageRefRE.MatchString(img) {
					return nil, fmt.Sprintf("%s/%s: container %s: InvalidImageName: Failed to apply default image tag %q: couldn't parse image reference %q: invalid reference format",
						kind, str(mapAt(doc, "metadata"), "name"), str(cm, "name"), img, img)
				}
				images = append(images, img)
			}
		}
	}
	return images, ""
}
