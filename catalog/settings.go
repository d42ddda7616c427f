package catalog

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// SettingsPath is where the settings file lives: at the root of the
// pipelines repository.
const SettingsPath = ".pipeline-orchestrator.yml"

// ParseSettings reads and validates the pipelines repository's settings
// file (.pipeline-orchestrator.yml). file is the path used in diagnostics;
// src is the file's content.
//
// The result starts from DefaultSettings and the file overrides it: a key
// inside `harness`, `manifests`, `artifact`, `cluster`, `paths` or
// `mass_delete` replaces that one value; `environments`, `regions` and the
// lists of `external`, when present, replace the whole default list. An
// empty file (or one holding only comments) yields the defaults. The
// schema, with the defaults' values:
//
//	harness: {org: default, project: platform}
//	manifests:
//	  connector: github_platform_next_cross_org   # the cross-org GitHub connector (Repo type)
//	  repo: platform-next
//	  branch: main
//	  path: "generated/{service}/{env}/{region}/manifests.yaml"
//	  values_path: "generated/{service}/{env}/{region}/values.yaml"
//	  private_key_secret: account.po_github_app_key  # Harness secret: the GitHub App's key
//	delegate_selector: "harness-delegate-{env_short}-{region}"
//	infrastructure: "{env_id}_{region}_k8s"      # infrastructure definition identifier
//	artifact:                  # the primary artifact of every Harness Service
//	  type: Gcr                # Gcr or DockerRegistry
//	  connector: gcr_platform
//	  registry: gcr.io         # Gcr only: the registry host
//	  image: "project/{service}"  # placeholders {service}, {team}
//	cluster:                   # per environment and region
//	  connector: "k8s_{env_id}_{region}"
//	  namespace: "{env_short}"
//	environments:              # promotion order
//	  - name: int-stable
//	    short: int             # default: the name
//	    type: PreProduction    # or Production; default: PreProduction
//	    aliases: [int]
//	    regions: [euw1]
//	  - name: pre-stable
//	    short: pre
//	    aliases: [pre]
//	    regions: [euw1]
//	    gate: {wait: 1h}
//	  - name: prod
//	    short: prod
//	    type: Production
//	    aliases: [production]
//	    regions: [euw1, euw2]
//	    gate:
//	      approval: {user_groups: [account.prod_approvers], min_approvers: 1, timeout: 1d}
//	regions:                   # a mapping, or just the name
//	  - {name: euw1, description: europe-west1}
//	  - {name: euw2, description: europe-west2}
//	external: {connectors: [], user_groups: []}
//	paths:
//	  pipelines: pipelines
//	  templates: templates
//	  services: services
//	  environments: environments
//	  infrastructures: infrastructures
//	  triggers: triggers
//	mass_delete: {max_count: 5, max_percent: 20}
//
// Patterns take the placeholders {service}, {team}, {env} (the
// environment's name), {env_short}, {env_id} (its name as a Harness
// identifier) and {region}, as each field allows. What the infrastructure
// and cluster patterns give for every environment and region is checked
// too: identifiers must be Harness identifiers, namespaces Kubernetes
// namespace names.
//
// `external` declares entities that exist in Harness outside what is
// rendered, for templates to refer to: connectors and user groups. Those
// the rest of the settings name (the manifests, artifact and cluster
// connectors, the approvers of gates) need not be listed.
//
// Unknown keys are errors, and so are the YAML features the catalog rejects
// (duplicate keys, anchors, aliases, merge keys, list or mapping keys, tags,
// several documents, tabs used for indentation, text that is not UTF-8).
// Durations are Go durations (90s, 30m, 1h30m) with an optional leading
// number of whole days (1d, 2d12h). Every problem is
// reported at once, in file order, with its line, column and field path.
// When the returned Diagnostics is not empty, the returned Settings is the
// zero value and must not be used.
func ParseSettings(file string, src []byte) (Settings, Diagnostics) {
	r := &reporter{file: file}
	s := DefaultSettings()
	root, ok := loadDocument(r, src)
	if ok && root != nil && !(root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" && !tagged(root)) {
		sp := settingsParser{v: valueReader{r: r}, s: &s}
		sp.parse(root)
	}
	if len(r.diags) > 0 {
		return Settings{}, r.sorted()
	}
	return s, nil
}

// Placeholders of the naming patterns in Settings.
const (
	PlaceholderService  = "{service}"   // the service name
	PlaceholderTeam     = "{team}"      // the service's team
	PlaceholderEnv      = "{env}"       // the environment's canonical name
	PlaceholderEnvShort = "{env_short}" // the environment's short name
	PlaceholderEnvID    = "{env_id}"    // the environment's name as a Harness identifier
	PlaceholderRegion   = "{region}"    // the region name
)

var (
	manifestPlaceholders = []string{PlaceholderService, PlaceholderEnv, PlaceholderEnvShort, PlaceholderRegion}
	selectorPlaceholders = []string{PlaceholderEnv, PlaceholderEnvShort, PlaceholderRegion}
	infraPlaceholders    = []string{PlaceholderEnvID, PlaceholderRegion}
	clusterPlaceholders  = []string{PlaceholderEnv, PlaceholderEnvShort, PlaceholderEnvID, PlaceholderRegion}
	imagePlaceholders    = []string{PlaceholderService, PlaceholderTeam}

	// harnessID is the Harness identifier rule.
	harnessID = regexp.MustCompile(`^[a-zA-Z_][0-9a-zA-Z_]{0,127}$`)
	// scopedHarnessID is a Harness identifier that may name its scope
	// (account. or org.), as user groups and connectors of another level do.
	scopedHarnessID = regexp.MustCompile(`^((account|org)\.)?[a-zA-Z_][0-9a-zA-Z_]{0,127}$`)
	// repoName is a GitHub repository name.
	repoName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	// registryHost is a registry host name, with an optional port.
	registryHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$`)
	// imagePath is an image path in a registry (the Docker reference
	// grammar's path components), placeholders replaced.
	imagePath = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
)

// settingsParser fills a Settings from a settings file.
type settingsParser struct {
	v valueReader
	s *Settings
	// regionsNode is the `regions:` value, when the file has one.
	regionsNode *yaml.Node
	// nodes are the values of the settings whose expansions are checked
	// once everything is read (see checkExpansions), by field path.
	nodes map[string]*yaml.Node
	// artifactRegistrySet is true when the file sets artifact.registry.
	artifactRegistrySet bool
}

func (sp *settingsParser) parse(root *yaml.Node) {
	if root.Kind != yaml.MappingNode && root.Kind != yaml.AliasNode {
		sp.v.errorf(root, "", "the settings file must be a mapping of settings, got %s", describe(root))
		return
	}
	fields, _, ok := sp.v.mapping(root, "", []string{
		"harness", "manifests", "delegate_selector", "infrastructure",
		"artifact", "cluster", "environments", "regions", "external",
		"paths", "mass_delete",
	})
	if !ok {
		return
	}
	sp.nodes = map[string]*yaml.Node{}
	if e, ok := fields["harness"]; ok {
		sp.harness(e.value)
	}
	if e, ok := fields["manifests"]; ok {
		sp.manifests(e.value)
	}
	if e, ok := fields["delegate_selector"]; ok {
		if s, ok := sp.pattern(e.value, "delegate_selector", selectorPlaceholders); ok {
			sp.s.DelegateSelectorPattern = s
		}
	}
	if e, ok := fields["infrastructure"]; ok {
		sp.nodes["infrastructure"] = e.value
		sp.infrastructure(e.value)
	}
	if e, ok := fields["artifact"]; ok {
		sp.artifact(e.value)
	}
	if e, ok := fields["cluster"]; ok {
		sp.cluster(e.value)
	}
	if e, ok := fields["regions"]; ok {
		sp.regionsNode = e.value
		sp.regions(e.value)
	}
	if e, ok := fields["environments"]; ok {
		sp.nodes["environments"] = e.value
		sp.environments(e.value)
	} else if sp.regionsNode != nil {
		sp.checkDefaultEnvironmentRegions()
	}
	if e, ok := fields["external"]; ok {
		sp.external(e.value)
	}
	if e, ok := fields["paths"]; ok {
		sp.paths(e.value)
	}
	if e, ok := fields["mass_delete"]; ok {
		sp.massDelete(e.value)
	}
	if sp.s.Artifact.Type == ArtifactDockerRegistry && !sp.artifactRegistrySet {
		sp.s.Artifact.Registry = "" // the default gcr.io is Gcr's
	}
	if len(sp.v.r.diags) == 0 {
		sp.checkExpansions(root)
	}
}

// identifier reads a Harness identifier; scoped allows an account. or org.
// prefix.
func (sp *settingsParser) identifier(n *yaml.Node, field string, scoped bool) (string, bool) {
	s, ok := sp.v.str(n, field)
	if !ok {
		return "", false
	}
	switch {
	case scoped && !scopedHarnessID.MatchString(s):
		sp.v.errorf(n, field, "%q is not a Harness identifier: use letters, digits and '_', not starting with a digit, at most 128 characters, optionally after account. or org.", s)
		return "", false
	case !scoped && !harnessID.MatchString(s):
		sp.v.errorf(n, field, "%q is not a Harness identifier: use letters, digits and '_', not starting with a digit, at most 128 characters", s)
		return "", false
	}
	return s, true
}

func (sp *settingsParser) harness(n *yaml.Node) {
	fields, _, ok := sp.v.mapping(n, "harness", []string{"org", "project"})
	if !ok {
		return
	}
	if e, ok := fields["org"]; ok {
		if s, ok := sp.identifier(e.value, "harness.org", false); ok {
			sp.s.Org = s
		}
	}
	if e, ok := fields["project"]; ok {
		if s, ok := sp.identifier(e.value, "harness.project", false); ok {
			sp.s.Project = s
		}
	}
}

func (sp *settingsParser) manifests(n *yaml.Node) {
	fields, _, ok := sp.v.mapping(n, "manifests", []string{"connector", "repo", "branch", "path", "values_path", "private_key_secret"})
	if !ok {
		return
	}
	m := &sp.s.Manifests
	if e, ok := fields["connector"]; ok {
		if s, ok := sp.identifier(e.value, "manifests.connector", true); ok {
			m.Connector = s
		}
	}
	if e, ok := fields["repo"]; ok {
		if s, ok := sp.v.str(e.value, "manifests.repo"); ok {
			if !repoName.MatchString(s) || s == "." || s == ".." {
				sp.v.errorf(e.value, "manifests.repo", "%q is not a repository name: use letters, digits, '.', '_' and '-'", s)
			} else {
				m.Repo = s
			}
		}
	}
	if e, ok := fields["branch"]; ok {
		if s, ok := sp.v.str(e.value, "manifests.branch"); ok {
			if why := checkBranch(s); why != "" {
				sp.v.errorf(e.value, "manifests.branch", "%q is not a valid branch name: %s", s, why)
			} else {
				m.Branch = s
			}
		}
	}
	if e, ok := fields["path"]; ok {
		if s, ok := sp.pathPattern(e.value, "manifests.path", "manifests"); ok {
			m.PathPattern = s
		}
	}
	if e, ok := fields["values_path"]; ok {
		if s, ok := sp.pathPattern(e.value, "manifests.values_path", "values"); ok {
			m.ValuesPathPattern = s
		}
	}
	if e, ok := fields["private_key_secret"]; ok {
		if s, ok := sp.secretRef(e.value, "manifests.private_key_secret"); ok {
			m.PrivateKeySecret = s
		}
	}
}

// pathPattern reads a pattern for a file of the config repo that each
// service has for itself (what names the file's content).
func (sp *settingsParser) pathPattern(n *yaml.Node, field, what string) (string, bool) {
	s, ok := sp.pattern(n, field, manifestPlaceholders)
	if !ok {
		return "", false
	}
	if !strings.Contains(s, PlaceholderService) {
		sp.v.errorf(n, field, "%q must contain {service}, or every service would read the same %s", s, what)
		return "", false
	}
	if why := checkRelPath(s); why != "" {
		sp.v.errorf(n, field, "%q %s", s, why)
		return "", false
	}
	return s, true
}

// secretRef reads a Harness secret reference: an identifier, optionally
// after account. or org. (Harness rejects an explicit project. prefix:
// SecretRefData).
func (sp *settingsParser) secretRef(n *yaml.Node, field string) (string, bool) {
	s, ok := sp.v.str(n, field)
	if !ok {
		return "", false
	}
	if !scopedHarnessID.MatchString(s) {
		sp.v.errorf(n, field, "%q is not a Harness secret reference: write the secret's identifier, optionally after account. or org. (such as account.po_github_app_key)", s)
		return "", false
	}
	return s, true
}

// artifact reads `artifact:`, the primary artifact of every Service.
func (sp *settingsParser) artifact(n *yaml.Node) {
	fields, _, ok := sp.v.mapping(n, "artifact", []string{"type", "connector", "registry", "image"})
	if !ok {
		return
	}
	a := &sp.s.Artifact
	if e, ok := fields["type"]; ok {
		if s, ok := sp.v.str(e.value, "artifact.type"); ok {
			switch t := ArtifactType(s); t {
			case ArtifactGcr, ArtifactDockerRegistry:
				a.Type = t
			default:
				sp.v.errorf(e.value, "artifact.type", "%q is not an artifact type this application renders: use Gcr or DockerRegistry", s)
			}
		}
	}
	if e, ok := fields["connector"]; ok {
		if s, ok := sp.identifier(e.value, "artifact.connector", true); ok {
			a.Connector = s
		}
	}
	if e, ok := fields["registry"]; ok {
		sp.artifactRegistrySet = true
		if s, ok := sp.v.str(e.value, "artifact.registry"); ok {
			switch {
			case !registryHost.MatchString(s):
				sp.v.errorf(e.value, "artifact.registry", "%q is not a registry host name such as gcr.io or eu.gcr.io", s)
			case a.Type == ArtifactDockerRegistry:
				sp.v.errorf(e.value, "artifact.registry", "a DockerRegistry artifact takes its registry from its connector: leave registry out, or use type Gcr")
			default:
				a.Registry = s
			}
		}
	}
	if e, ok := fields["image"]; ok {
		if s, ok := sp.pattern(e.value, "artifact.image", imagePlaceholders); ok {
			literal := strings.NewReplacer(PlaceholderService, "a", PlaceholderTeam, "a").Replace(s)
			if !imagePath.MatchString(literal) {
				sp.v.errorf(e.value, "artifact.image", "%q is not an image path: use lower-case letters, digits, '.', '_', '-' and '/' between path components, such as project/{service}", s)
			} else {
				a.ImagePattern = s
			}
		}
	}
}

// cluster reads `cluster:`, the patterns of the infrastructure
// definitions' cluster connector and namespace.
func (sp *settingsParser) cluster(n *yaml.Node) {
	fields, _, ok := sp.v.mapping(n, "cluster", []string{"connector", "namespace"})
	if !ok {
		return
	}
	if e, ok := fields["connector"]; ok {
		if s, ok := sp.pattern(e.value, "cluster.connector", clusterPlaceholders); ok {
			sp.nodes["cluster.connector"] = e.value
			sp.s.Cluster.ConnectorPattern = s
		}
	}
	if e, ok := fields["namespace"]; ok {
		if s, ok := sp.pattern(e.value, "cluster.namespace", clusterPlaceholders); ok {
			sp.nodes["cluster.namespace"] = e.value
			sp.s.Cluster.NamespacePattern = s
		}
	}
}

// external reads `external:`, the entities that exist outside the
// rendered graph.
func (sp *settingsParser) external(n *yaml.Node) {
	fields, _, ok := sp.v.mapping(n, "external", []string{"connectors", "user_groups"})
	if !ok {
		return
	}
	read := func(key, what string) []string {
		e, ok := fields[key]
		if !ok {
			return nil
		}
		field := "external." + key
		items, _ := sp.v.strList(e.value, field)
		var out []string
		for _, it := range items {
			f := it.field(field)
			switch {
			case !scopedHarnessID.MatchString(it.value):
				sp.v.errorf(it.node, f, "%q is not a Harness %s identifier: use letters, digits and '_', not starting with a digit, optionally after account. or org.", it.value, what)
			case slices.Contains(out, it.value):
				sp.v.errorf(it.node, f, "duplicate %s %q", what, it.value)
			default:
				out = append(out, it.value)
			}
		}
		return out
	}
	sp.s.External.Connectors = read("connectors", "connector")
	sp.s.External.UserGroups = read("user_groups", "user group")
}

// checkExpansions checks what the patterns give for every environment and
// region, once everything else is valid: each infrastructure identifier
// and cluster connector must be a Harness identifier, each namespace a
// Kubernetes namespace name. A problem is reported at the pattern when the
// file sets it, else at the environment when the file lists them, else at
// the file.
func (sp *settingsParser) checkExpansions(root *yaml.Node) {
	at := func(field string, envIndex int) (*yaml.Node, string) {
		if n, ok := sp.nodes[field]; ok {
			return n, field
		}
		if _, ok := sp.nodes["environments"]; ok {
			pos := sp.s.Environments[envIndex].Pos
			return &yaml.Node{Line: pos.Line, Column: pos.Column}, fmt.Sprintf("environments[%d]", envIndex)
		}
		return root, ""
	}
	s := sp.s
	for _, c := range []struct {
		field, what string
		expand      func(Environment, string) string
		check       func(string) string
	}{
		{"infrastructure", "infrastructure identifier", s.InfrastructureID, checkHarnessID},
		{"cluster.connector", "cluster connector", s.ClusterConnector, checkScopedHarnessID},
		{"cluster.namespace", "namespace", s.Namespace, checkNamespace},
	} {
		seen := map[string]string{}
		for i, env := range s.Environments {
			for _, r := range env.Regions {
				v := c.expand(env, r)
				if why := c.check(v); why != "" {
					n, field := at(c.field, i)
					sp.v.errorf(n, field, "gives the %s %q for environment %q in region %q, which %s", c.what, v, env.Name, r, why)
					return
				}
				if c.field != "infrastructure" {
					continue
				}
				// Infrastructure identifiers name one environment's
				// definitions; two in one environment would collide.
				key := env.Name + "\x00" + v
				if prev, dup := seen[key]; dup {
					n, field := at(c.field, i)
					sp.v.errorf(n, field, "gives the infrastructure identifier %q to environment %q in both %s and %s: use {region}", v, env.Name, prev, r)
					return
				}
				seen[key] = r
			}
		}
	}
}

// checkHarnessID, checkScopedHarnessID and checkNamespace return why a
// value expanded from a pattern is not what it must be, or "".
func checkHarnessID(s string) string {
	switch {
	case !harnessID.MatchString(s):
		return "is not a Harness identifier (letters, digits and '_', not starting with a digit)"
	case ReservedIdentifier(s):
		return "is a word Harness reserves"
	}
	return ""
}

func checkScopedHarnessID(s string) string {
	if !scopedHarnessID.MatchString(s) {
		return "is not a Harness identifier (letters, digits and '_', not starting with a digit, optionally after account. or org.)"
	}
	return ""
}

func checkNamespace(s string) string {
	if len(s) > 63 || !isDNSLabelText(s) {
		return "is not a Kubernetes namespace name (a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)"
	}
	return ""
}

func (sp *settingsParser) infrastructure(n *yaml.Node) {
	s, ok := sp.pattern(n, "infrastructure", infraPlaceholders)
	if !ok {
		return
	}
	literal := s
	for _, p := range infraPlaceholders {
		literal = strings.ReplaceAll(literal, p, "")
	}
	if i := strings.IndexFunc(literal, func(c rune) bool {
		return !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
	}); i >= 0 {
		sp.v.errorf(n, "infrastructure", "%q must name a Harness identifier: outside placeholders use only letters, digits and '_'", s)
		return
	}
	if c := s[0]; c >= '0' && c <= '9' {
		sp.v.errorf(n, "infrastructure", "%q must name a Harness identifier, which cannot start with a digit", s)
		return
	}
	sp.s.InfrastructurePattern = s
}

// pattern reads a naming pattern whose placeholders must be among allowed.
func (sp *settingsParser) pattern(n *yaml.Node, field string, allowed []string) (string, bool) {
	s, ok := sp.v.str(n, field)
	if !ok {
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		sp.v.errorf(n, field, "must not be empty")
		return "", false
	}
	if strings.ContainsAny(s, " \t\r\n") {
		sp.v.errorf(n, field, "%q must not contain white space", s)
		return "", false
	}
	for rest := s; rest != ""; {
		open, closing := strings.IndexByte(rest, '{'), strings.IndexByte(rest, '}')
		switch {
		case open < 0 && closing < 0:
			rest = ""
		case closing >= 0 && (open < 0 || closing < open):
			sp.v.errorf(n, field, "%q has a '}' without a matching '{'", s)
			return "", false
		default:
			end := strings.IndexByte(rest[open:], '}')
			if end < 0 {
				sp.v.errorf(n, field, "%q has a '{' without a matching '}'", s)
				return "", false
			}
			ph := rest[open : open+end+1]
			if !slices.Contains(allowed, ph) {
				sp.v.errorf(n, field, "%q uses the unknown placeholder %s; allowed: %s", s, ph, strings.Join(allowed, ", "))
				return "", false
			}
			rest = rest[open+end+1:]
		}
	}
	return s, true
}

// checkRelPath returns "" when p is a clean path inside the repository, or
// the reason it is not (as a predicate of p).
func checkRelPath(p string) string {
	switch {
	case strings.Contains(p, `\`):
		return `must use '/' to separate directories, not '\'`
	case path.IsAbs(p):
		return "must be relative to the repository root"
	case p == ".":
		return "must name a directory inside the repository, not its root"
	case slices.Contains(strings.Split(p, "/"), ".."):
		return "must not contain '..'"
	case path.Clean(p) != p:
		return fmt.Sprintf("is not a clean path; write %q", path.Clean(p))
	}
	return ""
}

// checkBranch returns "" when s is a usable Git branch name, or why not
// (the rules of git check-ref-format that matter here).
func checkBranch(s string) string {
	switch {
	case s == "":
		return "it is empty"
	case strings.ContainsFunc(s, func(c rune) bool { return c <= ' ' || c == 0x7f || strings.ContainsRune("~^:?*[\\", c) }):
		return "it contains a space, a control character or one of ~ ^ : ? * [ \\"
	case strings.Contains(s, "..") || strings.Contains(s, "@{") || strings.Contains(s, "//"):
		return "it contains '..', '@{' or '//'"
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.HasPrefix(s, "-"):
		return "it starts with '/' or '-', or ends with '/'"
	case strings.HasSuffix(s, ".") || strings.HasSuffix(s, ".lock") || s == "@":
		return "it ends with '.' or '.lock', or is '@'"
	case strings.HasPrefix(s, ".") || strings.Contains(s, "/."):
		return "a part of it starts with '.'"
	}
	return ""
}

// nonEmptyList reports whether n is a non-empty list, reporting it when
// not. An alias was already reported where it was read.
func (sp *settingsParser) nonEmptyList(n *yaml.Node, field, item string) bool {
	if n.Kind == yaml.AliasNode {
		return false
	}
	if n.Kind != yaml.SequenceNode || tagged(n) {
		sp.v.errorf(n, field, "must be a list of %ss, got %s", item, describe(n))
		return false
	}
	if len(n.Content) == 0 {
		sp.v.errorf(n, field, "must list at least one %s", item)
		return false
	}
	return true
}

// regions reads the `regions:` list, which replaces the default one.
func (sp *settingsParser) regions(n *yaml.Node) {
	if !sp.nonEmptyList(n, "regions", "region") {
		return
	}
	regions := make([]Region, 0, len(n.Content))
	first := make(map[string]int, len(n.Content))
	for i, c := range n.Content {
		field := fmt.Sprintf("regions[%d]", i)
		var name string
		nameNode := c
		desc := ""
		switch c.Kind {
		case yaml.ScalarNode:
			s, ok := sp.v.str(c, field)
			if !ok {
				continue
			}
			name = s
		case yaml.MappingNode:
			fields, _, ok := sp.v.mapping(c, field, []string{"name", "description"})
			if !ok {
				continue
			}
			e, ok := fields["name"]
			if !ok {
				sp.v.errorf(c, field+".name", "missing required field `name`")
				continue
			}
			nameNode = e.value
			s, ok := sp.v.str(e.value, field+".name")
			if !ok {
				continue
			}
			name = s
			if e, ok := fields["description"]; ok {
				if s, ok := sp.v.str(e.value, field+".description"); ok {
					desc = s
				}
			}
			field += ".name"
		case yaml.AliasNode:
			continue
		default:
			sp.v.errorf(c, field, "must be a region name or a mapping with name and description, got %s", describe(c))
			continue
		}
		if msg := checkLabel("region name", name); msg != "" {
			sp.v.errorf(nameNode, field, "%s", msg)
			continue
		}
		if line, dup := first[name]; dup {
			sp.v.errorf(nameNode, field, "duplicate region %q (first defined at line %d)", name, line)
			continue
		}
		first[name] = nameNode.Line
		regions = append(regions, Region{Name: name, Description: desc, Pos: posOf(c)})
	}
	sp.s.Regions = regions
}

// checkDefaultEnvironmentRegions reports default environments that run in
// a region the file's `regions:` list dropped.
func (sp *settingsParser) checkDefaultEnvironmentRegions() {
	for _, env := range sp.s.Environments {
		for _, r := range env.Regions {
			if _, ok := sp.s.Region(r); !ok {
				sp.v.errorf(sp.regionsNode, "regions", "the default environment %q runs in region %q, which this list does not define; add the region or define `environments`", env.Name, r)
			}
		}
	}
}

// rawEnvironment is an environment entry with the nodes needed for the
// checks that span entries.
type rawEnvironment struct {
	env      Environment
	nameNode *yaml.Node // nil when the name is missing or invalid
	aliases  []item     // the valid aliases
	field    string
}

// environments reads the `environments:` list, which replaces the default
// one.
func (sp *settingsParser) environments(n *yaml.Node) {
	if !sp.nonEmptyList(n, "environments", "environment") {
		return
	}
	raws := make([]rawEnvironment, 0, len(n.Content))
	valid := true
	for i, c := range n.Content {
		raw, ok := sp.environment(c, fmt.Sprintf("environments[%d]", i))
		raws = append(raws, raw)
		valid = valid && ok
	}

	// Names are unique; aliases are unique and never another name.
	names := make(map[string]*yaml.Node, len(raws))
	for _, raw := range raws {
		if raw.nameNode == nil {
			continue
		}
		if prev, dup := names[raw.env.Name]; dup {
			sp.v.errorf(raw.nameNode, raw.field+".name", "duplicate environment name %q (first defined at line %d)", raw.env.Name, prev.Line)
			continue
		}
		names[raw.env.Name] = raw.nameNode
	}
	aliases := make(map[string]*yaml.Node)
	for _, raw := range raws {
		for _, a := range raw.aliases {
			field := fmt.Sprintf("%s.aliases[%d]", raw.field, a.index)
			if nameNode, clash := names[a.value]; clash {
				sp.v.errorf(a.node, field, "alias %q is the name of the environment defined at line %d", a.value, nameNode.Line)
				continue
			}
			if prev, dup := aliases[a.value]; dup {
				sp.v.errorf(a.node, field, "duplicate alias %q (first defined at line %d); an alias must name one environment", a.value, prev.Line)
				continue
			}
			aliases[a.value] = a.node
		}
	}
	if !valid {
		return
	}
	envs := make([]Environment, len(raws))
	for i, raw := range raws {
		envs[i] = raw.env
	}
	sp.s.Environments = envs
}

// environment reads one entry of `environments:`.
func (sp *settingsParser) environment(n *yaml.Node, field string) (rawEnvironment, bool) {
	fields, _, ok := sp.v.mapping(n, field, []string{"name", "short", "type", "aliases", "regions", "gate"})
	if !ok {
		return rawEnvironment{}, false
	}
	raw := rawEnvironment{env: Environment{Pos: posOf(n), Type: PreProduction, Gate: Gate{Kind: GateNone}}, field: field}
	valid := true
	for _, req := range []string{"name", "regions"} {
		if _, ok := fields[req]; !ok {
			sp.v.errorf(n, field+"."+req, "missing required field `%s`", req)
			valid = false
		}
	}
	if e, ok := fields["name"]; ok {
		s, ok := sp.label(e.value, field+".name", "environment name")
		if ok {
			raw.env.Name, raw.nameNode = s, e.value
		}
		valid = valid && ok
	}
	raw.env.Short = raw.env.Name
	if e, ok := fields["short"]; ok {
		s, ok := sp.label(e.value, field+".short", "short name")
		raw.env.Short = s
		valid = valid && ok
	}
	if e, ok := fields["type"]; ok {
		t, ok := sp.environmentType(e.value, field+".type")
		raw.env.Type = t
		valid = valid && ok
	}
	if e, ok := fields["aliases"]; ok {
		valid = sp.aliases(e.value, field, &raw) && valid
	}
	if e, ok := fields["regions"]; ok {
		regions, ok := sp.environmentRegions(e.value, field+".regions")
		raw.env.Regions = regions
		valid = valid && ok
	}
	if e, ok := fields["gate"]; ok {
		gate, ok := sp.gate(e.value, field+".gate")
		raw.env.Gate = gate
		valid = valid && ok
	}
	return raw, valid
}

// label reads a string that must be a DNS-1123 label; what names it in the
// message.
func (sp *settingsParser) label(n *yaml.Node, field, what string) (string, bool) {
	s, ok := sp.v.str(n, field)
	if !ok {
		return s, false
	}
	if msg := checkLabel(what, s); msg != "" {
		sp.v.errorf(n, field, "%s", msg)
		return s, false
	}
	return s, true
}

// environmentType reads an environment's type, PreProduction when it is
// not valid.
func (sp *settingsParser) environmentType(n *yaml.Node, field string) (EnvironmentType, bool) {
	s, ok := sp.v.str(n, field)
	if !ok {
		return PreProduction, false
	}
	switch t := EnvironmentType(s); t {
	case Production, PreProduction:
		return t, true
	}
	sp.v.errorf(n, field, "%q is not a Harness environment type: use Production or PreProduction", s)
	return PreProduction, false
}

// aliases reads an environment's aliases into raw.
func (sp *settingsParser) aliases(n *yaml.Node, field string, raw *rawEnvironment) bool {
	items, ok := sp.v.strList(n, field+".aliases")
	valid := ok && len(items) == len(n.Content)
	for _, it := range items {
		f := fmt.Sprintf("%s.aliases[%d]", field, it.index)
		if msg := checkLabel("alias", it.value); msg != "" {
			sp.v.errorf(it.node, f, "%s", msg)
			valid = false
			continue
		}
		if it.value == raw.env.Name {
			sp.v.errorf(it.node, f, "alias %q repeats the environment's own name", it.value)
			valid = false
			continue
		}
		raw.aliases = append(raw.aliases, it)
		raw.env.Aliases = append(raw.env.Aliases, it.value)
	}
	return valid
}

// environmentRegions reads the regions of one environment, which must be
// known and listed once.
func (sp *settingsParser) environmentRegions(n *yaml.Node, field string) ([]string, bool) {
	items, ok := sp.v.strList(n, field)
	if !ok {
		return nil, false
	}
	if len(n.Content) == 0 {
		sp.v.errorf(n, field, "must list at least one region; %s", knownRegions(*sp.s))
		return nil, false
	}
	valid := len(items) == len(n.Content)
	first := make(map[string]int, len(items))
	regions := make([]string, 0, len(items))
	for _, it := range items {
		f := it.field(field)
		if _, known := sp.s.Region(it.value); !known {
			sp.v.errorf(it.node, f, "unknown region %q; %s", it.value, knownRegions(*sp.s))
			valid = false
			continue
		}
		if line, dup := first[it.value]; dup {
			sp.v.errorf(it.node, f, "duplicate region %q (first listed at line %d)", it.value, line)
			valid = false
			continue
		}
		first[it.value] = it.node.Line
		regions = append(regions, it.value)
	}
	return regions, valid
}

// gate reads an environment's gate: {wait: DURATION} or
// {approval: {user_groups: [...], min_approvers: N, timeout: DURATION}}.
func (sp *settingsParser) gate(n *yaml.Node, field string) (Gate, bool) {
	fields, order, ok := sp.v.mapping(n, field, []string{"wait", "approval"})
	if !ok {
		return Gate{Kind: GateNone}, false
	}
	switch len(order) {
	case 0:
		if len(n.Content) == 0 {
			sp.v.errorf(n, field, "must hold `wait` or `approval`; leave `gate` out for no gate")
		}
		return Gate{Kind: GateNone}, false
	case 2:
		sp.v.errorf(fields[order[1]].key, field+"."+order[1], "a gate is either `wait` or `approval`, not both")
		return Gate{Kind: GateNone}, false
	}
	if e, ok := fields["wait"]; ok {
		d, ok := sp.duration(e.value, field+".wait")
		return Gate{Kind: GateWait, Wait: d}, ok
	}
	e := fields["approval"]
	field += ".approval"
	gate := Gate{Kind: GateApproval, MinApprovers: 1, Timeout: 24 * time.Hour}
	afields, _, ok := sp.v.mapping(e.value, field, []string{"user_groups", "min_approvers", "timeout"})
	if !ok {
		return gate, false
	}
	valid := true
	if g, ok := afields["user_groups"]; !ok {
		sp.v.errorf(e.value, field+".user_groups", "missing required field `user_groups`: an approval needs at least one Harness user group")
		valid = false
	} else {
		items, ok := sp.v.strList(g.value, field+".user_groups")
		valid = valid && ok && len(items) == len(g.value.Content)
		if ok && len(g.value.Content) == 0 {
			sp.v.errorf(g.value, field+".user_groups", "must list at least one Harness user group")
			valid = false
		}
		for _, it := range items {
			f := fmt.Sprintf("%s.user_groups[%d]", field, it.index)
			if !scopedHarnessID.MatchString(it.value) {
				sp.v.errorf(it.node, f, "%q is not a Harness user group identifier (such as prod_approvers or account.prod_approvers)", it.value)
				valid = false
				continue
			}
			if slices.Contains(gate.UserGroups, it.value) {
				sp.v.errorf(it.node, f, "duplicate user group %q", it.value)
				valid = false
				continue
			}
			gate.UserGroups = append(gate.UserGroups, it.value)
		}
	}
	if m, ok := afields["min_approvers"]; ok {
		i, ok := sp.v.integer(m.value, field+".min_approvers")
		if ok && i < 1 {
			sp.v.errorf(m.value, field+".min_approvers", "must be at least 1, got %d", i)
			ok = false
		}
		gate.MinApprovers = i
		valid = valid && ok
	}
	if t, ok := afields["timeout"]; ok {
		d, ok := sp.duration(t.value, field+".timeout")
		gate.Timeout = d
		valid = valid && ok
	}
	return gate, valid
}

// duration reads a positive duration written as a Go duration (90m, 1h30m)
// or with a leading number of days (1d, 2d12h).
func (sp *settingsParser) duration(n *yaml.Node, field string) (time.Duration, bool) {
	if n.Kind == yaml.ScalarNode && !tagged(n) && n.ShortTag() == "!!int" {
		sp.v.errorf(n, field, "%s needs a unit: write a duration such as 30m, 1h or 1d", n.Value)
		return 0, false
	}
	s, ok := sp.v.str(n, field)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(s)
	if err != nil {
		sp.v.errorf(n, field, "%v", err)
		return 0, false
	}
	return d, true
}

// parseDuration parses a Go duration with an optional leading whole number
// of days ("1d", "2d12h"). The result must be positive.
func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration: write a duration such as 30m, 1h, 1h30m or 1d", s)
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 || s[0] == '+' {
			return 0, bad
		}
		if n > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || (days > 0 && (rest[0] == '-' || rest[0] == '+')) {
			return 0, bad
		}
	}
	if d > 0 && days > math.MaxInt64-d {
		return 0, fmt.Errorf("%q is too long", s)
	}
	total := days + d
	if total <= 0 {
		return 0, fmt.Errorf("%q must be longer than zero", s)
	}
	return total, nil
}

// pathKeys are the keys of `paths:`, in the order their clashes are
// reported.
var pathKeys = []string{"pipelines", "templates", "services", "environments", "infrastructures", "triggers"}

// dirs returns a pointer to the directory of each key of `paths:`.
func (s *Settings) dirs() map[string]*string {
	return map[string]*string{
		"pipelines": &s.PipelinesDir, "templates": &s.TemplatesDir, "services": &s.ServicesDir,
		"environments": &s.EnvironmentsDir, "infrastructures": &s.InfrastructuresDir, "triggers": &s.TriggersDir,
	}
}

func (sp *settingsParser) paths(n *yaml.Node) {
	fields, _, ok := sp.v.mapping(n, "paths", pathKeys)
	if !ok {
		return
	}
	dirs := sp.s.dirs()
	valid := true
	for _, key := range pathKeys {
		e, ok := fields[key]
		if !ok {
			continue
		}
		s, ok := sp.v.str(e.value, "paths."+key)
		if !ok {
			valid = false
			continue
		}
		if why := checkRelPath(s); why != "" {
			sp.v.errorf(e.value, "paths."+key, "%q %s", s, why)
			valid = false
			continue
		}
		*dirs[key] = s
	}
	if !valid {
		return
	}
	// Plans write and delete files in the directories of the rendered
	// kinds, and tell a file's kind by its directory: they must not
	// overlap, nor hold the templates.
	for i, a := range pathKeys {
		for _, b := range pathKeys[i+1:] {
			da, db := *dirs[a], *dirs[b]
			if da != db && !strings.HasPrefix(da, db+"/") && !strings.HasPrefix(db, da+"/") {
				continue
			}
			at := n
			if e, ok := fields[a]; ok {
				at = e.value
			} else if e, ok := fields[b]; ok {
				at = e.value
			}
			sp.v.errorf(at, "paths", "the %s directory %q and the %s directory %q must be separate: each kind of rendered file has a directory of its own, apart from the templates", a, da, b, db)
			return
		}
	}
}

func (sp *settingsParser) massDelete(n *yaml.Node) {
	fields, _, ok := sp.v.mapping(n, "mass_delete", []string{"max_count", "max_percent"})
	if !ok {
		return
	}
	if e, ok := fields["max_count"]; ok {
		if i, ok := sp.v.integer(e.value, "mass_delete.max_count"); ok {
			if i < 0 {
				sp.v.errorf(e.value, "mass_delete.max_count", "must be 0 or more, got %d", i)
			} else {
				sp.s.MassDelete.MaxCount = i
			}
		}
	}
	if e, ok := fields["max_percent"]; ok {
		if i, ok := sp.v.integer(e.value, "mass_delete.max_percent"); ok {
			if i < 0 || i > 100 {
				sp.v.errorf(e.value, "mass_delete.max_percent", "must be between 0 and 100, got %d", i)
			} else {
				sp.s.MassDelete.MaxPercent = i
			}
		}
	}
}

// knownEnvironments lists the settings' environments for an error message.
func knownEnvironments(s Settings) string {
	if len(s.Environments) == 0 {
		return "the settings define no environments"
	}
	parts := make([]string, len(s.Environments))
	for i, e := range s.Environments {
		parts[i] = e.Name
		if len(e.Aliases) > 0 {
			parts[i] += " (alias " + strings.Join(e.Aliases, ", ") + ")"
		}
	}
	return "known environments: " + strings.Join(parts, ", ")
}

// knownRegions lists the settings' regions for an error message.
func knownRegions(s Settings) string {
	if len(s.Regions) == 0 {
		return "the settings define no regions"
	}
	names := make([]string, len(s.Regions))
	for i, r := range s.Regions {
		names[i] = r.Name
	}
	return "known regions: " + strings.Join(names, ", ")
}
