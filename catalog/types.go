package catalog

import (
	"fmt"
	"strings"
	"time"
)

// Pos is a 1-based line and column in a YAML source file. The zero Pos means
// "no position known" (for example, a default value).
type Pos struct {
	Line   int
	Column int
}

// Diagnostic is one problem found in a user-facing YAML file.
type Diagnostic struct {
	File string // path as given to the parser, e.g. "catalog/services.yaml"
	Pos
	Service string // name of the service the problem concerns; "" for file-level problems
	Field   string // field path, e.g. "services[2].environments[1]"; "" when none applies
	Message string // one sentence, lower-case start, no trailing period
}

// String formats d in the compiler form PATH:LINE:COL: message, which editors
// and CI annotators understand.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d", d.Line)
		if d.Column > 0 {
			fmt.Fprintf(&b, ":%d", d.Column)
		}
	}
	b.WriteString(": ")
	if d.Service != "" && d.Field != "" {
		fmt.Fprintf(&b, "service %q, %s: ", d.Service, d.Field)
	} else if d.Service != "" {
		fmt.Fprintf(&b, "service %q: ", d.Service)
	} else if d.Field != "" {
		fmt.Fprintf(&b, "%s: ", d.Field)
	}
	b.WriteString(d.Message)
	return b.String()
}

// Error makes a Diagnostic usable as an error.
func (d Diagnostic) Error() string { return d.String() }

// Diagnostics is a list of problems, in file order.
type Diagnostics []Diagnostic

// Error joins every diagnostic, one per line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns ds as an error, or nil when ds is empty.
func (ds Diagnostics) Err() error {
	if len(ds) == 0 {
		return nil
	}
	return ds
}

// Pipeline-shaping fields of a service. Any other field is config-only: it
// shapes the manifests the config repo's CI generates, never the pipeline.
const (
	FieldName         = "name"
	FieldArchetype    = "archetype"
	FieldTeam         = "team"
	FieldEnvironments = "environments"
	FieldRegions      = "regions"
	FieldPipeline     = "pipeline"
)

// ShapesPipeline reports whether a change to the named service field can
// change the service's rendered pipeline.
func ShapesPipeline(field string) bool {
	switch field {
	case FieldName, FieldArchetype, FieldTeam, FieldEnvironments, FieldRegions, FieldPipeline:
		return true
	}
	return false
}

// Service is one validated entry of the catalog.
type Service struct {
	Name      string
	Archetype string
	Team      string
	// Environments are canonical environment names (aliases resolved), in
	// the settings' promotion order, without duplicates.
	Environments []string
	// Regions are region names in the settings' order, without duplicates.
	Regions  []string
	Pipeline PipelineOptions
	// Config holds config-only fields (profile, components, resources, …):
	// field name → the value re-encoded as canonical flow-style YAML, so two
	// equal values compare equal whatever their layout in the file.
	Config map[string]string

	// Pos is where the service's mapping starts in the catalog file.
	Pos Pos
	// FieldPos is where each field's value starts, by field name.
	FieldPos map[string]Pos
}

// PipelineOptions is the optional `pipeline:` block of a service.
type PipelineOptions struct {
	// Enabled is false when the service opted out with `pipeline: {enabled: false}`.
	// It defaults to true.
	Enabled bool
}

// Catalog is a validated service catalog. Services are in file order.
type Catalog struct {
	Services []Service
}

// Lookup returns the service with the given name.
func (c Catalog) Lookup(name string) (Service, bool) {
	for _, s := range c.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// GateKind says what happens before the first stage of an environment runs.
type GateKind string

// Gate kinds.
const (
	GateNone     GateKind = "none"     // deploy straight away
	GateWait     GateKind = "wait"     // wait a fixed time (Harness Wait step)
	GateApproval GateKind = "approval" // manual approval (Harness HarnessApproval step)
)

// Gate is the control before an environment's stages.
type Gate struct {
	Kind GateKind
	// Wait is the duration of a GateWait.
	Wait time.Duration
	// UserGroups are the Harness user group identifiers that may approve a
	// GateApproval (scoped ids such as "account.prod_approvers" are allowed).
	UserGroups []string
	// MinApprovers is the number of approvals a GateApproval needs (>= 1).
	MinApprovers int
	// Timeout bounds how long a GateApproval waits.
	Timeout time.Duration
}

// EnvironmentType is a Harness environment's type.
type EnvironmentType string

// Environment types, as Harness names them.
const (
	PreProduction EnvironmentType = "PreProduction"
	Production    EnvironmentType = "Production"
)

// Environment is one deployment environment, in promotion order.
type Environment struct {
	Name    string   // canonical name, e.g. "int-stable"
	Short   string   // short name used in delegate selectors, e.g. "int"
	Aliases []string // other names the catalog may use, e.g. ["int"]
	Regions []string // regions this environment runs in
	// Type is the Harness environment's type: Production or
	// PreProduction (the default for an entry that does not say).
	Type EnvironmentType
	Gate Gate
	Pos  Pos
}

// Region is one region a service can run in.
type Region struct {
	Name        string // e.g. "euw1"
	Description string // e.g. "europe-west1"
	Pos         Pos
}

// ManifestSource says where Harness reads the manifests generated in the
// config repo.
type ManifestSource struct {
	Connector string // Harness connector identifier (cross-org), e.g. "github_platform_next_cross_org"
	Repo      string // repository name as the connector sees it, e.g. "platform-next"
	Branch    string // e.g. "main"
	// PathPattern is the manifest path with the placeholders {service},
	// {env}, {env_short} and {region}.
	PathPattern string
	// ValuesPathPattern is the path of the values file beside the
	// manifests (it holds image: <+artifacts.primary.image>), with the
	// same placeholders.
	ValuesPathPattern string
	// PrivateKeySecret is the Harness secret reference that holds the
	// GitHub App's private key, e.g. "account.po_github_app_key". The
	// application uses it to manage the connector; nothing renders it.
	PrivateKeySecret string
}

// ArtifactType is the Harness artifact source type of a service's image.
type ArtifactType string

// Artifact source types this application renders.
const (
	ArtifactGcr            ArtifactType = "Gcr"
	ArtifactDockerRegistry ArtifactType = "DockerRegistry"
)

// Artifact says where a service's image comes from: the primary artifact
// of its Harness Service, whose tag each deploy supplies.
type Artifact struct {
	Type      ArtifactType
	Connector string // Harness registry connector identifier, optionally scoped
	// Registry is the registry host ("gcr.io"): the Gcr source's
	// registryHostname. Empty for DockerRegistry, whose connector names
	// the registry.
	Registry string
	// ImagePattern is the image path in the registry with the placeholder
	// {service} (and {team}), e.g. "project/{service}".
	ImagePattern string
}

// Cluster names what an infrastructure definition deploys to, per
// environment and region, with the placeholders {env}, {env_short},
// {env_id} and {region}.
type Cluster struct {
	ConnectorPattern string // Kubernetes cluster connector identifier
	NamespacePattern string // Kubernetes namespace
}

// External declares Harness entities that exist outside the rendered
// graph and that rendered entities may refer to. The connectors and user
// groups the rest of the settings name are declared too (see
// Settings.DeclaredConnectors and Settings.DeclaredUserGroups).
type External struct {
	Connectors []string // connector identifiers, optionally scoped
	UserGroups []string // user group identifiers, optionally scoped
}

// MassDelete is the threshold above which a proposal's deletes need the
// label pipeline-orchestrator/allow-mass-delete. A proposal is a mass delete
// when it deletes more than MaxCount units or more than MaxPercent percent
// of the units that exist, counted per service: a service with its
// Harness Service, pipeline and trigger is one unit, and so is an
// environment with its infrastructure definitions.
type MassDelete struct {
	MaxCount   int
	MaxPercent int
}

// Settings is the validated content of .pipeline-orchestrator.yml, with the
// seed's values as defaults (see DefaultSettings).
type Settings struct {
	Org       string // Harness org identifier
	Project   string // Harness project identifier
	Manifests ManifestSource
	// DelegateSelectorPattern names the delegate of a stage, with the
	// placeholders {env}, {env_short} and {region}.
	DelegateSelectorPattern string
	// InfrastructurePattern names the infrastructure definition identifier
	// of a stage, with the placeholders {env_id} (the environment name as a
	// Harness identifier) and {region}.
	InfrastructurePattern string
	Artifact              Artifact
	Cluster               Cluster
	Environments          []Environment // promotion order
	Regions               []Region
	External              External
	// Directories of the pipelines repo: one per rendered entity kind,
	// and the templates.
	PipelinesDir       string // rendered pipelines, "pipelines"
	TemplatesDir       string // templates, "templates"
	ServicesDir        string // rendered Harness services, "services"
	EnvironmentsDir    string // rendered environments, "environments"
	InfrastructuresDir string // rendered infrastructure definitions, "infrastructures"
	TriggersDir        string // rendered triggers, "triggers"
	MassDelete         MassDelete
}

// DefaultSettings returns the settings used when the pipelines repo has no
// .pipeline-orchestrator.yml, and the base that a settings file overrides.
// The values are the seed architecture's.
func DefaultSettings() Settings {
	return Settings{
		Org:     "default",
		Project: "platform",
		Manifests: ManifestSource{
			Connector:         "github_platform_next_cross_org",
			Repo:              "platform-next",
			Branch:            "main",
			PathPattern:       "generated/{service}/{env}/{region}/manifests.yaml",
			ValuesPathPattern: "generated/{service}/{env}/{region}/values.yaml",
			PrivateKeySecret:  "account.po_github_app_key",
		},
		DelegateSelectorPattern: "harness-delegate-{env_short}-{region}",
		InfrastructurePattern:   "{env_id}_{region}_k8s",
		Artifact: Artifact{
			Type:         ArtifactGcr,
			Connector:    "gcr_platform",
			Registry:     "gcr.io",
			ImagePattern: "project/{service}",
		},
		Cluster: Cluster{
			ConnectorPattern: "k8s_{env_id}_{region}",
			NamespacePattern: "{env_short}",
		},
		Environments: []Environment{
			{Name: "int-stable", Short: "int", Aliases: []string{"int"}, Regions: []string{"euw1"},
				Type: PreProduction, Gate: Gate{Kind: GateNone}},
			{Name: "pre-stable", Short: "pre", Aliases: []string{"pre"}, Regions: []string{"euw1"},
				Type: PreProduction, Gate: Gate{Kind: GateWait, Wait: time.Hour}},
			{Name: "prod", Short: "prod", Aliases: []string{"production"}, Regions: []string{"euw1", "euw2"},
				Type: Production, Gate: Gate{Kind: GateApproval, UserGroups: []string{"account.prod_approvers"}, MinApprovers: 1, Timeout: 24 * time.Hour}},
		},
		Regions: []Region{
			{Name: "euw1", Description: "europe-west1"},
			{Name: "euw2", Description: "europe-west2"},
		},
		PipelinesDir:       "pipelines",
		TemplatesDir:       "templates",
		ServicesDir:        "services",
		EnvironmentsDir:    "environments",
		InfrastructuresDir: "infrastructures",
		TriggersDir:        "triggers",
		MassDelete:         MassDelete{MaxCount: 5, MaxPercent: 20},
	}
}

// Environment returns the environment with the given canonical name or alias.
func (s Settings) Environment(nameOrAlias string) (Environment, bool) {
	for _, e := range s.Environments {
		if e.Name == nameOrAlias {
			return e, true
		}
		for _, a := range e.Aliases {
			if a == nameOrAlias {
				return e, true
			}
		}
	}
	return Environment{}, false
}

// Region returns the region with the given name.
func (s Settings) Region(name string) (Region, bool) {
	for _, r := range s.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return Region{}, false
}

// ChangeKind says how a service differs between two catalogs.
type ChangeKind string

// Change kinds.
const (
	Added   ChangeKind = "added"
	Removed ChangeKind = "removed"
	Changed ChangeKind = "changed"
)

// FieldChange is one field of a service that differs between two catalogs.
// Old and New are the values as canonical YAML text ("" when the field is
// absent on that side).
type FieldChange struct {
	Name           string
	Old            string
	New            string
	ShapesPipeline bool
}

// WholeService reports whether fields describe a whole service that was
// added (added true) or removed: every field, the name among them, only
// on that side.
func WholeService(fields []FieldChange, added bool) bool {
	named := false
	for _, f := range fields {
		if (added && f.Old != "") || (!added && f.New != "") {
			return false
		}
		named = named || f.Name == FieldName
	}
	return named
}

// ServiceChange is one service that was added, removed or changed.
type ServiceChange struct {
	Name   string
	Kind   ChangeKind
	Old    *Service      // nil when Added
	New    *Service      // nil when Removed
	Fields []FieldChange // sorted by field name; for Added/Removed, every field present
}

// ShapesPipeline reports whether any changed field can change the pipeline.
func (c ServiceChange) ShapesPipeline() bool {
	for _, f := range c.Fields {
		if f.ShapesPipeline {
			return true
		}
	}
	return c.Kind != Changed
}

// CatalogDiff is the difference between a base and a head catalog. Each list
// is sorted by service name.
type CatalogDiff struct {
	Added   []ServiceChange
	Removed []ServiceChange
	Changed []ServiceChange
}

// Empty reports whether the two catalogs hold the same services with the
// same values.
func (d CatalogDiff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}
