package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ParseOptions is what Parse needs besides the catalog file itself.
type ParseOptions struct {
	// Settings supplies the environments (with their aliases and regions)
	// and the regions a service may use. Pass DefaultSettings() or the
	// result of a ParseSettings call that returned no diagnostics.
	Settings Settings
	// Archetypes are the archetypes the templates provide (the render
	// package knows them); a service's archetype must be one of them.
	Archetypes []string
}

// Parse reads and validates a service catalog (catalog/services.yaml). file
// is the path used in diagnostics; src is the file's content.
//
// Parse reports every problem it finds at once, in file order, each with
// its line and column. When the returned Diagnostics is not empty, the
// catalog is invalid and the returned Catalog is the zero value: it must not
// be used, and in particular must never be read as "no services", since
// that would delete every pipeline. A valid catalog with no services is
// written `services: []`.
//
// The rules are those of the design's catalog section: the file is one YAML
// document, a mapping whose only key is `services`, holding a list of
// mappings. Each service has a name (a DNS-1123 label, unique in the file),
// an archetype (one of opts.Archetypes), a team (a slug), environments
// (names or aliases known to opts.Settings) and regions (known to
// opts.Settings, and each served by at least one of the service's
// environments), and optionally `pipeline: {enabled: false}`. Every other
// field is config-only and kept in Service.Config. Duplicate keys, anchors,
// aliases, merge keys, list or mapping keys, YAML tags on pipeline-shaping
// values, more than one document, tabs used for indentation and text that
// is not UTF-8 are errors.
func Parse(file string, src []byte, opts ParseOptions) (Catalog, Diagnostics) {
	p := catalogParser{
		r:           &reporter{file: file},
		opts:        opts,
		envOrder:    make(map[string]int, len(opts.Settings.Environments)),
		regionOrder: make(map[string]int, len(opts.Settings.Regions)),
	}
	for i, e := range opts.Settings.Environments {
		p.envOrder[e.Name] = i
	}
	for i, r := range opts.Settings.Regions {
		p.regionOrder[r.Name] = i
	}
	cat := p.parse(src)
	if len(p.r.diags) > 0 {
		return Catalog{}, p.r.sorted()
	}
	return cat, nil
}

// catalogParser holds the state of one Parse call.
type catalogParser struct {
	r    *reporter
	opts ParseOptions
	// envOrder and regionOrder give the position of each environment and
	// region in the settings.
	envOrder, regionOrder map[string]int
}

// servicePath matches the field path of a service, to name the service in
// diagnostics found before the service itself was read.
var servicePath = regexp.MustCompile(`^services\[(\d+)\]`)

func (p *catalogParser) parse(src []byte) Catalog {
	services := p.servicesList(src)
	if services == nil {
		return Catalog{}
	}
	cat := Catalog{Services: make([]Service, 0, len(services.Content))}
	names := make([]string, len(services.Content)) // by index, for diagnostics
	firstLine := make(map[string]int, len(services.Content))
	for i, n := range services.Content {
		svc, nameNode, ok := p.service(i, n)
		names[i] = svc.Name
		if nameNode != nil && svc.Name != "" {
			if line, dup := firstLine[svc.Name]; dup {
				p.r.add(posOf(nameNode), svc.Name, fmt.Sprintf("services[%d].name", i),
					"duplicate service name %q (first defined at line %d)", svc.Name, line)
				ok = false
			} else {
				firstLine[svc.Name] = nameNode.Line
			}
		}
		if ok {
			cat.Services = append(cat.Services, svc)
		}
	}
	p.nameServices(names)
	return cat
}

// servicesList reads the document and returns its `services:` list, or
// nil, reporting why, when there is none to read.
func (p *catalogParser) servicesList(src []byte) *yaml.Node {
	root, ok := loadDocument(p.r, src)
	if !ok {
		return nil
	}
	if root == nil || (root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" && !tagged(root)) {
		// A null document has no useful position (yaml.v3 puts it after
		// the last line), so point at the start of the file.
		p.r.add(Pos{Line: 1, Column: 1}, "", "", "catalog is empty: expected a top-level `services:` list")
		return nil
	}
	v := valueReader{r: p.r}
	if root.Kind != yaml.MappingNode {
		v.errorf(root, "", "the catalog must be a mapping with a top-level `services:` list, got %s", describe(root))
		return nil
	}
	var services *yaml.Node
	for _, e := range pairs(root) {
		if e.key.Kind == yaml.ScalarNode && e.key.Value == "services" && e.key.ShortTag() == "!!str" {
			services = e.value
			continue
		}
		if e.key.Kind == yaml.ScalarNode { // other keys were reported by checkHygiene
			v.errorf(e.key, keyText(e.key), "unknown top-level key %q: the catalog holds only a `services:` list", keyText(e.key))
		}
	}
	switch {
	case services == nil:
		v.errorf(root, "", "missing top-level `services:` list")
		return nil
	case services.Kind == yaml.AliasNode:
		return nil
	case services.Kind != yaml.SequenceNode:
		v.errorf(services, "services", "must be a list of services, got %s; write `services: []` for none", describe(services))
		return nil
	case tagged(services):
		v.errorf(services, "services", "YAML tags (%s) are not allowed here: write a plain list", services.Tag)
		return nil
	}
	return services
}

// nameServices names the service in the diagnostics that were found
// without knowing it, from names by index in the services list.
func (p *catalogParser) nameServices(names []string) {
	for i := range p.r.diags {
		d := &p.r.diags[i]
		if d.Service != "" {
			continue
		}
		if m := servicePath.FindStringSubmatch(d.Field); m != nil {
			if idx, err := strconv.Atoi(m[1]); err == nil && idx < len(names) {
				d.Service = names[idx]
			}
		}
	}
}

// service reads the i-th entry of the services list. It returns the service,
// its name node (nil when the name is missing or not a string) and whether
// the service is valid. svc.Name is set whenever the name is a string, even
// an invalid one, so that diagnostics can name the service.
func (p *catalogParser) service(i int, n *yaml.Node) (svc Service, nameNode *yaml.Node, valid bool) {
	path := fmt.Sprintf("services[%d]", i)
	before := len(p.r.diags)
	v := valueReader{r: p.r}
	if n.Kind != yaml.MappingNode && n.Kind != yaml.AliasNode {
		// The common mistake: `- payment-service` instead of `- name: payment-service`.
		v.errorf(n, path, "each service must be a mapping with name, archetype, team, environments and regions, got %s", describe(n))
		return Service{}, nil, false
	}
	fields, order, ok := v.mapping(n, path, nil)
	if !ok {
		return Service{}, nil, false
	}
	if e, ok := fields[FieldName]; ok && e.value.Kind == yaml.ScalarNode && e.value.ShortTag() == "!!str" && !tagged(e.value) {
		svc.Name = e.value.Value
		nameNode = e.value
	}
	v.service = svc.Name
	svc.Pos = posOf(n)
	svc.FieldPos = make(map[string]Pos, len(order))
	svc.Pipeline.Enabled = true

	for _, name := range order {
		e := fields[name]
		svc.FieldPos[name] = posOf(e.value)
		p.field(v, &svc, name, e.value, path+"."+name)
	}
	for _, req := range []string{FieldName, FieldArchetype, FieldTeam, FieldEnvironments, FieldRegions} {
		if _, ok := fields[req]; !ok {
			v.errorf(n, path+"."+req, "missing required field `%s`", req)
		}
	}
	var envs []Environment
	if e, ok := fields[FieldEnvironments]; ok {
		envs = p.environments(v, e.value, path+"."+FieldEnvironments)
		for _, env := range envs {
			svc.Environments = append(svc.Environments, env.Name)
		}
	}
	if e, ok := fields[FieldRegions]; ok {
		svc.Regions = p.regions(v, e.value, path+"."+FieldRegions, envs)
	}
	return svc, nameNode, len(p.r.diags) == before
}

// field reads one field of a service into svc.
func (p *catalogParser) field(v valueReader, svc *Service, name string, n *yaml.Node, fp string) {
	switch name {
	case FieldName:
		if s, ok := v.str(n, fp); ok {
			if msg := checkLabel("service name", s); msg != "" {
				v.errorf(n, fp, "%s", msg)
			}
		}
	case FieldArchetype:
		if s, ok := v.str(n, fp); ok {
			if slices.Contains(p.opts.Archetypes, s) {
				svc.Archetype = s
			} else {
				v.errorf(n, fp, "unknown archetype %q; %s", s, knownArchetypes(p.opts.Archetypes))
			}
		}
	case FieldTeam:
		if s, ok := v.str(n, fp); ok {
			if msg := checkLabel("team", s); msg != "" {
				v.errorf(n, fp, "%s", msg)
			} else {
				svc.Team = s
			}
		}
	case FieldEnvironments, FieldRegions:
		// Checked by service, once both are known.
	case FieldPipeline:
		svc.Pipeline = p.pipelineOptions(v, n, fp)
	default:
		if svc.Config == nil {
			svc.Config = make(map[string]string)
		}
		svc.Config[name] = canonical(n)
	}
}

// knownArchetypes lists the archetypes for an error message.
func knownArchetypes(archetypes []string) string {
	if len(archetypes) == 0 {
		return "the templates provide no archetypes"
	}
	sorted := slices.Clone(archetypes)
	slices.Sort(sorted)
	return "known archetypes: " + strings.Join(sorted, ", ")
}

// pipelineOptions reads the optional `pipeline:` block.
func (p *catalogParser) pipelineOptions(v valueReader, n *yaml.Node, path string) PipelineOptions {
	opts := PipelineOptions{Enabled: true}
	fields, _, ok := v.mapping(n, path, []string{"enabled"})
	if !ok {
		return opts
	}
	if e, ok := fields["enabled"]; ok {
		if b, ok := v.boolean(e.value, path+".enabled"); ok {
			opts.Enabled = b
		}
	}
	return opts
}

// environments reads a service's environments and returns those that are
// valid, in the settings' promotion order. It returns nil when any listed
// environment is invalid, so that the region checks, which depend on the
// environments, are skipped rather than misleading.
func (p *catalogParser) environments(v valueReader, n *yaml.Node, path string) []Environment {
	items, ok := v.strList(n, path)
	if !ok {
		return nil
	}
	if len(n.Content) == 0 {
		v.errorf(n, path, "must list at least one environment; %s", knownEnvironments(p.opts.Settings))
		return nil
	}
	all := len(items) == len(n.Content)
	type seen struct {
		spelling string
		line     int
	}
	first := make(map[string]seen, len(items))
	envs := make([]Environment, 0, len(items))
	for _, it := range items {
		env, ok := p.opts.Settings.Environment(it.value)
		if !ok {
			v.errorf(it.node, it.field(path), "unknown environment %q; %s", it.value, knownEnvironments(p.opts.Settings))
			all = false
			continue
		}
		if prev, dup := first[env.Name]; dup {
			if prev.spelling == it.value {
				v.errorf(it.node, it.field(path), "duplicate environment %q (first listed at line %d)", it.value, prev.line)
			} else {
				v.errorf(it.node, it.field(path), "environment %q duplicates %q at line %d: both mean %s", it.value, prev.spelling, prev.line, env.Name)
			}
			all = false
			continue
		}
		first[env.Name] = seen{spelling: it.value, line: it.node.Line}
		envs = append(envs, env)
	}
	if !all {
		return nil
	}
	slices.SortStableFunc(envs, func(a, b Environment) int { return p.envOrder[a.Name] - p.envOrder[b.Name] })
	return envs
}

// regions reads a service's regions and returns them in the settings'
// order. envs are the service's valid environments (nil when they are
// missing or invalid); when present, every region must be served by one of
// them.
func (p *catalogParser) regions(v valueReader, n *yaml.Node, path string, envs []Environment) []string {
	items, ok := v.strList(n, path)
	if !ok {
		return nil
	}
	if len(n.Content) == 0 {
		v.errorf(n, path, "must list at least one region; %s", knownRegions(p.opts.Settings))
		return nil
	}
	first := make(map[string]int, len(items))
	var valid []item
	for _, it := range items {
		if _, ok := p.opts.Settings.Region(it.value); !ok {
			v.errorf(it.node, it.field(path), "unknown region %q; %s", it.value, knownRegions(p.opts.Settings))
			continue
		}
		if line, dup := first[it.value]; dup {
			v.errorf(it.node, it.field(path), "duplicate region %q (first listed at line %d)", it.value, line)
			continue
		}
		first[it.value] = it.node.Line
		valid = append(valid, it)
	}
	if len(envs) > 0 && len(valid) > 0 {
		var unserved []item
		for _, it := range valid {
			if !servedBy(envs, it.value) {
				unserved = append(unserved, it)
			}
		}
		switch {
		case len(unserved) == len(valid):
			names := make([]string, len(valid))
			for i, it := range valid {
				names[i] = it.value
			}
			v.errorf(n, path, "the service has no stages: none of its regions (%s) is served by its environments (%s)",
				strings.Join(names, ", "), whoServesWhat(envs))
		default:
			for _, it := range unserved {
				v.errorf(it.node, it.field(path), "region %q is not served by any of the service's environments (%s)", it.value, whoServesWhat(envs))
			}
		}
	}
	regions := make([]string, len(valid))
	for i, it := range valid {
		regions[i] = it.value
	}
	slices.SortStableFunc(regions, func(a, b string) int { return p.regionOrder[a] - p.regionOrder[b] })
	return regions
}

// servedBy reports whether one of envs runs in region.
func servedBy(envs []Environment, region string) bool {
	for _, e := range envs {
		if slices.Contains(e.Regions, region) {
			return true
		}
	}
	return false
}

// whoServesWhat describes the regions of each environment, such as
// "int-stable serves euw1; prod serves euw1, euw2".
func whoServesWhat(envs []Environment) string {
	parts := make([]string, len(envs))
	for i, e := range envs {
		parts[i] = e.Name + " serves " + strings.Join(e.Regions, ", ")
	}
	return strings.Join(parts, "; ")
}
