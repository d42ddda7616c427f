package render

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// Data is the value a pipeline or Service template executes on ("." at
// its top). Every string in it is text to pass through quote, except the
// fields named Identifier (and Stage.Infrastructure), which are valid
// Harness identifiers.
type Data struct {
	Service  ServiceData
	Settings SettingsData
	Pipeline PipelineData
	// Stages are the service's environments in promotion order, each
	// times the regions the service and the environment share.
	Stages []Stage
	Source SourceData
}

// ServiceData is the catalog entry being rendered.
type ServiceData struct {
	Name         string // e.g. "payment-service"
	Identifier   string // Identifier(Name), e.g. "payment_service"
	Team         string
	Archetype    string
	Environments []string // canonical names, promotion order
	Regions      []string
}

// SettingsData holds the settings the templates need, as they apply to
// the service.
type SettingsData struct {
	Org        string // Harness org identifier
	Project    string // Harness project identifier
	Connector  string // connector that reads the config repo's manifests
	ConfigRepo string // the config repo's name (the connector's URL names it)
	Branch     string // branch the manifests are read from
	Artifact   ArtifactData
}

// ArtifactData is the service's image: the primary artifact of its Service.
type ArtifactData struct {
	Type      string // "Gcr" or "DockerRegistry"
	Connector string // registry connector identifier, optionally scoped
	Registry  string // registry host (Gcr's registryHostname); "" for DockerRegistry
	ImagePath string // image path in the registry, e.g. "project/payment-service"
}

// PipelineData names the pipeline.
type PipelineData struct {
	Name       string // "<service>-cd"
	Identifier string // Identifier("<service>_cd")
}

// Stage is one deployment: an environment in one region.
type Stage struct {
	Identifier  string // Identifier("<env>_<region>"), e.g. "int_stable_euw1"
	Name        string // e.g. "deploy int-stable euw1"
	Environment EnvironmentData
	Region      string
	// ManifestPath is the generated manifest file in the config repo,
	// from the settings' path pattern; ValuesPath the values file beside
	// it, from the values path pattern.
	ManifestPath     string
	ValuesPath       string
	DelegateSelector string // from the settings' delegate selector pattern
	Infrastructure   string // infrastructure definition identifier, from the settings' pattern
	Gate             GateData
	// FirstInEnvironment is true for the environment's first region: the
	// gate belongs before that stage only.
	FirstInEnvironment bool
}

// EnvironmentData is a stage's environment.
type EnvironmentData struct {
	Name       string // e.g. "int-stable"
	Identifier string // Identifier(Name), e.g. "int_stable"
	Short      string // e.g. "int"
}

// GateData is the control before an environment's first stage.
type GateData struct {
	Kind         string   // "none", "wait" or "approval"
	Wait         string   // wait duration in Harness form ("1h"); "" unless Kind is "wait"
	UserGroups   []string // approver user groups; nil unless Kind is "approval"
	MinApprovers int      // approvals needed; 0 unless Kind is "approval"
	Timeout      string   // approval timeout in Harness form ("1d"); "" unless Kind is "approval"
}

// SourceData describes where the rendering comes from. It holds no commit
// on purpose: the header names the commits, and a commit in the body
// would change every pipeline file on every commit.
type SourceData struct {
	CatalogRepo string // e.g. "company/platform-next"; "" when unknown
	Template    string // path of the template being executed
}

// valueError is a catalog value that cannot be rendered.
type valueError struct {
	field, msg string
}

// newData builds the template data for svc. A value the templates
// cannot carry safely is a *valueError; a service the settings cannot
// place is a plain error.
func newData(svc catalog.Service, s catalog.Settings, src Source, templatePath string) (Data, error) {
	if err := checkServiceValues(svc); err != nil {
		return Data{}, err
	}
	d := Data{
		Service: ServiceData{
			Name:         svc.Name,
			Identifier:   Identifier(svc.Name),
			Team:         svc.Team,
			Archetype:    svc.Archetype,
			Environments: slices.Clone(svc.Environments),
			Regions:      slices.Clone(svc.Regions),
		},
		Settings: SettingsData{
			Org:        s.Org,
			Project:    s.Project,
			Connector:  s.Manifests.Connector,
			ConfigRepo: s.Manifests.Repo,
			Branch:     s.Manifests.Branch,
			Artifact: ArtifactData{
				Type:      string(s.Artifact.Type),
				Connector: s.Artifact.Connector,
				Registry:  s.Artifact.Registry,
				ImagePath: catalog.Expand(s.Artifact.ImagePattern, catalog.PatternValues{Service: svc.Name, Team: svc.Team}),
			},
		},
		Pipeline: PipelineData{
			Name:       svc.Name + "-cd",
			Identifier: Identifier(svc.Name + "_cd"),
		},
		Source: SourceData{CatalogRepo: src.CatalogRepo, Template: templatePath},
	}
	stages, err := newStages(svc, s)
	if err != nil {
		return Data{}, err
	}
	d.Stages = stages
	return d, nil
}

// checkServiceValues returns a *valueError for a catalog value the
// templates cannot carry safely.
func checkServiceValues(svc catalog.Service) error {
	for _, f := range []struct {
		field  string
		values []string
	}{
		{catalog.FieldName, []string{svc.Name}},
		{catalog.FieldTeam, []string{svc.Team}},
		{catalog.FieldArchetype, []string{svc.Archetype}},
		{catalog.FieldEnvironments, svc.Environments},
		{catalog.FieldRegions, svc.Regions},
	} {
		for _, v := range f.values {
			if msg := checkValue(v); msg != "" {
				return &valueError{f.field, fmt.Sprintf("value %s %s", quote(v), msg)}
			}
		}
	}
	if !pathSafe(svc.Name) {
		return &valueError{catalog.FieldName, fmt.Sprintf("name %s cannot name a file: use letters, digits, '.', '_' and '-', not starting with '.'", quote(svc.Name))}
	}
	return nil
}

// newStages returns svc's stages: its environments in the settings'
// promotion order, each times the regions the service and the environment
// share.
func newStages(svc catalog.Service, s catalog.Settings) ([]Stage, error) {
	wanted := map[string]bool{}
	for _, name := range svc.Environments {
		env, ok := s.Environment(name)
		if !ok {
			return nil, &valueError{catalog.FieldEnvironments, fmt.Sprintf("environment %s is not in the settings", quote(name))}
		}
		wanted[env.Name] = true
	}
	for _, r := range svc.Regions {
		if _, ok := s.Region(r); !ok {
			return nil, &valueError{catalog.FieldRegions, fmt.Sprintf("region %s is not in the settings", quote(r))}
		}
	}
	var stages []Stage
	for _, env := range s.Environments {
		if !wanted[env.Name] {
			continue
		}
		gate, err := gateData(env.Gate)
		if err != nil {
			return nil, fmt.Errorf("settings, environment %s: %w", quote(env.Name), err)
		}
		ed := EnvironmentData{Name: env.Name, Identifier: catalog.EnvironmentID(env.Name), Short: env.Short}
		first := true
		for _, region := range env.Regions {
			if !slices.Contains(svc.Regions, region) {
				continue
			}
			v := catalog.PatternValues{Service: svc.Name, Team: svc.Team, Env: env, Region: region}
			stages = append(stages, Stage{
				Identifier:         Identifier(env.Name + "_" + region),
				Name:               "deploy " + env.Name + " " + region,
				Environment:        ed,
				Region:             region,
				ManifestPath:       catalog.Expand(s.Manifests.PathPattern, v),
				ValuesPath:         catalog.Expand(s.Manifests.ValuesPathPattern, v),
				DelegateSelector:   catalog.Expand(s.DelegateSelectorPattern, v),
				Infrastructure:     s.InfrastructureID(env, region),
				Gate:               gate,
				FirstInEnvironment: first,
			})
			first = false
		}
	}
	if len(stages) == 0 {
		return nil, &valueError{catalog.FieldEnvironments, "the service has no stage: none of its environments runs in any of its regions"}
	}
	return stages, nil
}

// gateData converts a settings gate for templates.
func gateData(g catalog.Gate) (GateData, error) {
	switch g.Kind {
	case catalog.GateNone, "":
		return GateData{Kind: string(catalog.GateNone)}, nil
	case catalog.GateWait:
		w, err := harnessDuration(g.Wait)
		if err != nil {
			return GateData{}, fmt.Errorf("wait gate: %w", err)
		}
		return GateData{Kind: string(g.Kind), Wait: w}, nil
	case catalog.GateApproval:
		t, err := harnessDuration(g.Timeout)
		if err != nil {
			return GateData{}, fmt.Errorf("approval gate timeout: %w", err)
		}
		return GateData{Kind: string(g.Kind), UserGroups: slices.Clone(g.UserGroups), MinApprovers: g.MinApprovers, Timeout: t}, nil
	}
	// An unknown kind must not render as "no gate": that would drop an
	// approval silently.
	return GateData{}, fmt.Errorf("unknown gate kind %s", quote(string(g.Kind)))
}

// harnessDuration formats d the way Harness writes timeouts: days, hours,
// minutes and seconds, largest first, without zero parts ("1d", "1h30m").
func harnessDuration(d time.Duration) (string, error) {
	if d <= 0 || d%time.Second != 0 {
		return "", fmt.Errorf("duration %v is not a positive whole number of seconds", d)
	}
	var b strings.Builder
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.suffix)
			d -= n * u.unit
		}
	}
	return b.String(), nil
}

// pathSafe reports whether name can be used as one file name component.
func pathSafe(name string) bool {
	if name == "" || name[0] == '.' {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

func (e *valueError) Error() string { return e.field + ": " + e.msg }
