package render

import (
	"path"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// Kind is a kind of Harness entity this package renders, one file each.
type Kind string

// The kinds of rendered entities. A service renders a Service, a pipeline
// and a trigger; the settings render the environments and, for every
// environment and region, an infrastructure definition.
const (
	KindService        Kind = "service"
	KindEnvironment    Kind = "environment"
	KindInfrastructure Kind = "infrastructure"
	KindPipeline       Kind = "pipeline"
	KindTrigger        Kind = "trigger"
	// KindConnector is the cross-org GitHub connector the Services read
	// their manifests through. It is not rendered and has no directory:
	// the application builds it (GitHubConnector) and applies it before
	// every other kind.
	KindConnector Kind = "connector"
)

// ApplyOrder is the order in which Harness must receive the kinds: each
// entity after those it refers to (an infrastructure names its
// environment, a pipeline its Service, environment and infrastructures, a
// trigger its pipeline). Deletes go in the reverse order. The cross-org
// connector, which the application manages from the settings, comes
// before all of them and is not rendered.
var ApplyOrder = []Kind{KindEnvironment, KindInfrastructure, KindService, KindPipeline, KindTrigger}

// RootKey is the key Harness's YAML of the kind is rooted at.
func (k Kind) RootKey() string {
	if k == KindInfrastructure {
		return "infrastructureDefinition"
	}
	return string(k)
}

// applyRank is the position of each kind in ApplyOrder.
var applyRank = map[Kind]int{KindEnvironment: 0, KindInfrastructure: 1, KindService: 2, KindPipeline: 3, KindTrigger: 4}

// File name suffixes of the kinds. A service's files are named after it:
// services/<service>.yaml, pipelines/<service>-cd.yaml and
// triggers/<service>-cd-new-image.yaml; environments/<environment>.yaml
// and infrastructures/<environment>-<region>.yaml after the settings.
const (
	pipelineSuffix = "-cd.yaml"
	triggerSuffix  = "-cd-new-image.yaml"
	entitySuffix   = ".yaml"
)

// dir returns the pipelines repo directory of the kind's files.
func (k Kind) dir(s catalog.Settings) string {
	var dir, def string
	switch k {
	case KindService:
		dir, def = s.ServicesDir, "services"
	case KindEnvironment:
		dir, def = s.EnvironmentsDir, "environments"
	case KindInfrastructure:
		dir, def = s.InfrastructuresDir, "infrastructures"
	case KindTrigger:
		dir, def = s.TriggersDir, "triggers"
	default:
		dir, def = s.PipelinesDir, "pipelines"
	}
	if dir == "" {
		return def
	}
	return path.Clean(dir)
}

// suffix returns the end of the kind's file names.
func (k Kind) suffix() string {
	switch k {
	case KindPipeline:
		return pipelineSuffix
	case KindTrigger:
		return triggerSuffix
	}
	return entitySuffix
}

// kindPath joins the kind's directory and a file named after name.
// Characters that cannot appear in one path component are replaced by
// "_" (rendering refuses such names anyway).
func kindPath(s catalog.Settings, k Kind, name string) string {
	b := []byte(name)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' && i > 0
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		b = []byte("_")
	}
	return path.Join(k.dir(s), string(b)+k.suffix())
}

// ServicePath returns the path of service's Harness Service:
// "<ServicesDir>/<service>.yaml".
func ServicePath(s catalog.Settings, service string) string {
	return kindPath(s, KindService, service)
}

// PipelinePath returns the path of service's pipeline:
// "<PipelinesDir>/<service>-cd.yaml".
func PipelinePath(s catalog.Settings, service string) string {
	return kindPath(s, KindPipeline, service)
}

// TriggerPath returns the path of the trigger that deploys a new image of
// service: "<TriggersDir>/<service>-cd-new-image.yaml".
func TriggerPath(s catalog.Settings, service string) string {
	return kindPath(s, KindTrigger, service)
}

// EnvironmentPath returns the path of an environment of the settings:
// "<EnvironmentsDir>/<environment>.yaml".
func EnvironmentPath(s catalog.Settings, environment string) string {
	return kindPath(s, KindEnvironment, environment)
}

// InfrastructurePath returns the path of the infrastructure definition of
// an environment in a region: "<InfrastructuresDir>/<environment>-<region>.yaml".
func InfrastructurePath(s catalog.Settings, environment, region string) string {
	return kindPath(s, KindInfrastructure, environment+"-"+region)
}

// KindOfPath reports which kind of rendered entity p names, if any: a file
// directly in the kind's directory whose name the kind's path function can
// give (letters, digits, '.', '_' and '-', not starting with '.', before
// the kind's suffix). Plans write and delete no other file.
func KindOfPath(s catalog.Settings, p string) (Kind, bool) {
	dir, base := path.Dir(p), path.Base(p)
	if !pathSafe(base) {
		return "", false
	}
	for _, k := range ApplyOrder {
		if dir != k.dir(s) {
			continue
		}
		stem, ok := strings.CutSuffix(base, k.suffix())
		if !ok || stem == "" {
			return "", false
		}
		return k, true
	}
	return "", false
}

// IsPipelinePath reports whether p names a pipeline file this application
// manages (see KindOfPath).
func IsPipelinePath(s catalog.Settings, p string) bool {
	k, ok := KindOfPath(s, p)
	return ok && k == KindPipeline
}

// serviceOfPath returns the service a service, pipeline or trigger path
// is named after.
func serviceOfPath(k Kind, p string) string {
	return strings.TrimSuffix(path.Base(p), k.suffix())
}

// ServiceOfPath returns the catalog service a Service, pipeline or trigger
// file of the settings' directories is named after, and "" for any other
// path (an environment's or infrastructure definition's file, or a file
// KindOfPath does not accept).
func ServiceOfPath(s catalog.Settings, p string) string {
	k, ok := KindOfPath(s, p)
	if !ok || k == KindEnvironment || k == KindInfrastructure {
		return ""
	}
	return serviceOfPath(k, p)
}
