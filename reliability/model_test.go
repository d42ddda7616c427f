package reliability_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/templates"
)

// The tests keep their own model of the catalog and the templates: the
// state of each default branch, as the test last wrote it. Each change is
// applied to that model and committed in full.

var (
	modelArchetypes = []string{"api", "listener", "job", "scheduler"}
	modelEnvs       = []string{"int-stable", "pre-stable", "prod"}
	modelTeams      = []string{"payments", "search", "identity", "growth", "platform", "data"}
	modelProfiles   = []string{"small", "medium", "large", "xlarge"}
)

// service is one catalog entry.
type service struct {
	Name, Archetype, Team, Profile string
	Envs, Regions                  []string
}

// catalogModel is a catalog, services in file order.
type catalogModel struct {
	Services []service
	removed  []string // names removed earlier, which an add may bring back
	next     int      // number of the next new service name
}

func (m *catalogModel) clone() *catalogModel {
	c := &catalogModel{removed: slices.Clone(m.removed), next: m.next}
	for _, s := range m.Services {
		s.Envs, s.Regions = slices.Clone(s.Envs), slices.Clone(s.Regions)
		c.Services = append(c.Services, s)
	}
	return c
}

// YAML writes the catalog file.
func (m *catalogModel) YAML() string {
	if len(m.Services) == 0 {
		return "services: []\n"
	}
	var b strings.Builder
	b.WriteString("services:\n")
	for _, s := range m.Services {
		fmt.Fprintf(&b, "  - name: %s\n    archetype: %s\n    team: %s\n    environments: [%s]\n    regions: [%s]\n    profile: %s\n",
			s.Name, s.Archetype, s.Team, strings.Join(s.Envs, ", "), strings.Join(s.Regions, ", "), s.Profile)
	}
	return b.String()
}

// newCatalog returns a catalog of n random services.
func newCatalog(rng *rand.Rand, n int) *catalogModel {
	m := &catalogModel{}
	for range n {
		m.Services = append(m.Services, randomService(rng, m.newName()))
	}
	return m
}

func (m *catalogModel) newName() string {
	m.next++
	return fmt.Sprintf("svc-%03d", m.next)
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// pickOther picks an element of xs other than cur.
func pickOther(rng *rand.Rand, xs []string, cur string) string {
	for {
		if x := pick(rng, xs); x != cur {
			return x
		}
	}
}

func randomService(rng *rand.Rand, name string) service {
	envs := randomEnvs(rng)
	return service{
		Name: name, Archetype: pick(rng, modelArchetypes), Team: pick(rng, modelTeams),
		Profile: pick(rng, modelProfiles), Envs: envs, Regions: randomRegions(rng, envs),
	}
}

// randomEnvs returns a non-empty subset of the environments, in promotion
// order.
func randomEnvs(rng *rand.Rand) []string {
	for {
		var out []string
		for _, e := range modelEnvs {
			if rng.IntN(3) > 0 {
				out = append(out, e)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
}

// randomRegions returns regions the environments serve: euw1 always (every
// environment runs there), euw2 only with prod.
func randomRegions(rng *rand.Rand, envs []string) []string {
	if slices.Contains(envs, "prod") && rng.IntN(2) == 0 {
		return []string{"euw1", "euw2"}
	}
	return []string{"euw1"}
}

// changeKind is a kind of catalog or template change.
type changeKind string

const (
	changeAdd          changeKind = "add"
	changeRemove       changeKind = "remove"
	changeRegions      changeKind = "regions"
	changeEnvironments changeKind = "environments"
	changeTeam         changeKind = "team"
	changeArchetype    changeKind = "archetype"
	changeProfile      changeKind = "profile"  // config-only
	changeTemplate     changeKind = "template" // a pipeline or Service template
	changeSettings     changeKind = "settings" // environments and infrastructure definitions
)

// changeKinds are drawn with these weights.
var changeWeights = []struct {
	kind   changeKind
	weight int
}{
	{changeAdd, 22}, {changeRemove, 14}, {changeRegions, 10}, {changeEnvironments, 10},
	{changeTeam, 10}, {changeArchetype, 8}, {changeProfile, 12}, {changeTemplate, 8}, {changeSettings, 6},
}

func randomKind(rng *rand.Rand) changeKind {
	total := 0
	for _, w := range changeWeights {
		total += w.weight
	}
	x := rng.IntN(total)
	for _, w := range changeWeights {
		if x < w.weight {
			return w.kind
		}
		x -= w.weight
	}
	panic("unreachable")
}

// minServices keeps the catalog from emptying: an emptied catalog is
// refused by design, which is tested elsewhere.
const minServices = 4

// applyCatalogChange applies a change of kind to m, choosing its target
// and values with rng, and describes it. Every change changes the file.
func applyCatalogChange(m *catalogModel, kind changeKind, rng *rand.Rand) string {
	if kind == changeRemove && len(m.Services) <= minServices {
		kind = changeAdd
	}
	if kind == changeAdd {
		name := ""
		if len(m.removed) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(m.removed))
			name = m.removed[i]
			m.removed = slices.Delete(m.removed, i, i+1)
		} else {
			name = m.newName()
		}
		s := randomService(rng, name)
		at := rng.IntN(len(m.Services) + 1)
		m.Services = slices.Insert(m.Services, at, s)
		return fmt.Sprintf("add %s (%s, %s)", s.Name, s.Archetype, s.Team)
	}
	i := rng.IntN(len(m.Services))
	s := &m.Services[i]
	switch kind {
	case changeRemove:
		name := s.Name
		m.Services = slices.Delete(m.Services, i, i+1)
		m.removed = append(m.removed, name)
		return "remove " + name
	case changeRegions:
		if !slices.Contains(s.Envs, "prod") {
			s.Envs = append(s.Envs, "prod")
		}
		if len(s.Regions) == 2 {
			s.Regions = []string{"euw1"}
		} else {
			s.Regions = []string{"euw1", "euw2"}
		}
		return fmt.Sprintf("%s: regions [%s]", s.Name, strings.Join(s.Regions, ", "))
	case changeEnvironments:
		old := strings.Join(s.Envs, ",")
		for strings.Join(s.Envs, ",") == old {
			s.Envs = randomEnvs(rng)
		}
		if !slices.Contains(s.Envs, "prod") {
			s.Regions = []string{"euw1"}
		}
		return fmt.Sprintf("%s: environments [%s]", s.Name, strings.Join(s.Envs, ", "))
	case changeTeam:
		s.Team = pickOther(rng, modelTeams, s.Team)
		return fmt.Sprintf("%s: team %s", s.Name, s.Team)
	case changeArchetype:
		s.Archetype = pickOther(rng, modelArchetypes, s.Archetype)
		return fmt.Sprintf("%s: archetype %s", s.Name, s.Archetype)
	case changeProfile:
		s.Profile = pickOther(rng, modelProfiles, s.Profile)
		return fmt.Sprintf("%s: profile %s (config-only)", s.Name, s.Profile)
	}
	panic("not a catalog change: " + string(kind))
}

// modelTemplates are the built-in templates the tests edit, by name: an
// archetype's pipeline template and its Service template.
var modelTemplates = []string{
	"api-pipeline", "listener-pipeline", "job-pipeline", "scheduler-pipeline",
	"api-service", "listener-service", "job-service", "scheduler-service",
}

// templateMarkers are the texts of the built-in templates that edits
// rewrite: in a pipeline template the description of the imageTag
// variable, in a Service template the Service's description.
var templateMarkers = map[string]string{
	"pipeline": "description: Image tag to deploy",
	"service":  "Generated by pipeline-orchestrator from the service catalog",
}

// templateAt returns the built-in template name ("api-pipeline",
// "job-service") at revision rev (0: unchanged). A pipeline template's
// edit changes the archetype's pipelines, a Service template's its
// Services.
func templateAt(name string, rev int) string {
	src := string(templates.Default()[name+"-template.yaml"])
	_, kind, _ := strings.Cut(name, "-")
	marker := templateMarkers[kind]
	if marker == "" || strings.Count(src, marker) != 1 {
		panic("the " + name + " template does not hold its marker " + strconv.Quote(marker) + " once")
	}
	if rev == 0 {
		return src
	}
	return strings.Replace(src, marker, fmt.Sprintf("%s (revision %d)", marker, rev), 1)
}

// templatePath is where the pipelines repo keeps the template name.
func templatePath(name string) string {
	return "templates/" + name + "-template.yaml"
}

// settingsAt returns the pipelines repo's settings file: base (settings
// of the test's own, or "") at revision rev. Revision 0 is base alone: the
// default environments. Each later revision renames the clusters'
// namespace, which rewrites every infrastructure definition, and odd
// revisions make pre-stable a Production environment, which rewrites that
// environment.
func settingsAt(base string, rev int) string {
	if rev == 0 {
		return base
	}
	preType := "PreProduction"
	if rev%2 == 1 {
		preType = "Production"
	}
	return base + fmt.Sprintf(`cluster:
  namespace: "{env_short}-r%d"
environments:
  - name: int-stable
    short: int
    aliases: [int]
    regions: [euw1]
  - name: pre-stable
    short: pre
    type: %s
    aliases: [pre]
    regions: [euw1]
    gate: {wait: 1h}
  - name: prod
    short: prod
    type: Production
    aliases: [production]
    regions: [euw1, euw2]
    gate:
      approval: {user_groups: [account.prod_approvers], min_approvers: 1, timeout: 1d}
`, rev, preType)
}
