package catalog

import (
	"slices"
	"strings"
)

// PatternValues are what the placeholders of a naming pattern stand for.
// A placeholder whose value is not set expands to the empty string; the
// settings parser only lets a pattern use the placeholders its field
// allows.
type PatternValues struct {
	Service string      // {service}
	Team    string      // {team}
	Env     Environment // {env}, {env_short}; {env_id} is Env.Name as a Harness identifier
	Region  string      // {region}
}

// Expand returns pattern with its placeholders replaced by v's values. A
// '{' that starts no placeholder stays as it is.
func Expand(pattern string, v PatternValues) string {
	i := strings.IndexByte(pattern, '{')
	if i < 0 {
		return pattern
	}
	var b strings.Builder
	b.Grow(len(pattern) + 32)
	for i >= 0 {
		b.WriteString(pattern[:i])
		pattern = pattern[i:]
		end := strings.IndexByte(pattern, '}')
		if end < 0 {
			break
		}
		value, ok := v.value(pattern[:end+1])
		if ok {
			b.WriteString(value)
			pattern = pattern[end+1:]
		} else {
			b.WriteByte('{')
			pattern = pattern[1:]
		}
		i = strings.IndexByte(pattern, '{')
	}
	b.WriteString(pattern)
	return b.String()
}

// value returns what the placeholder stands for.
func (v PatternValues) value(placeholder string) (string, bool) {
	switch placeholder {
	case PlaceholderService:
		return v.Service, true
	case PlaceholderTeam:
		return v.Team, true
	case PlaceholderEnv:
		return v.Env.Name, true
	case PlaceholderEnvShort:
		return v.Env.Short, true
	case PlaceholderEnvID:
		return EnvironmentID(v.Env.Name), true
	case PlaceholderRegion:
		return v.Region, true
	}
	return "", false
}

// EnvironmentID is the Harness identifier of an environment name:
// "int-stable" → "int_stable". It is the {env_id} placeholder, and the
// identifier the rendered environment gets. Environment names are DNS
// labels, for which it gives what render.Identifier gives: '-' becomes
// '_', a leading digit gets a '_' before it, and a word Harness reserves
// a '_' after it.
func EnvironmentID(name string) string {
	id := strings.ReplaceAll(name, "-", "_")
	if id != "" && id[0] >= '0' && id[0] <= '9' {
		id = "_" + id
	}
	if ReservedIdentifier(id) {
		id += "_"
	}
	return id
}

// reservedIdentifiers are rejected by Harness as whole identifiers
// (EntityIdentifierValidator), compared case-insensitively.
var reservedIdentifiers = map[string]bool{
	"or": true, "and": true, "eq": true, "ne": true, "lt": true, "gt": true,
	"le": true, "ge": true, "div": true, "mod": true, "not": true, "null": true,
	"true": true, "false": true, "new": true, "var": true, "return": true,
	"step": true, "parallel": true, "stepgroup": true, "org": true,
	"account": true, "class": true, "shellscriptprovisioner": true,
}

// ReservedIdentifier reports whether Harness rejects id as an identifier
// because it is a reserved word ("null", "step", …), whatever its case.
func ReservedIdentifier(id string) bool {
	return reservedIdentifiers[strings.ToLower(id)]
}

// InfrastructureID is the identifier of the infrastructure definition of
// env in region, from the infrastructure pattern.
func (s Settings) InfrastructureID(env Environment, region string) string {
	return Expand(s.InfrastructurePattern, PatternValues{Env: env, Region: region})
}

// ClusterConnector is the Kubernetes cluster connector of env in region.
func (s Settings) ClusterConnector(env Environment, region string) string {
	return Expand(s.Cluster.ConnectorPattern, PatternValues{Env: env, Region: region})
}

// Namespace is the Kubernetes namespace of env in region.
func (s Settings) Namespace(env Environment, region string) string {
	return Expand(s.Cluster.NamespacePattern, PatternValues{Env: env, Region: region})
}

// DeclaredConnectors are the connectors rendered entities may refer to,
// sorted and without duplicates: the manifests connector, the artifact
// connector, the cluster connector of every environment and region, and
// the external connectors. None is rendered: each must exist in Harness.
func (s Settings) DeclaredConnectors() []string {
	out := []string{s.Manifests.Connector, s.Artifact.Connector}
	for _, env := range s.Environments {
		for _, r := range env.Regions {
			out = append(out, s.ClusterConnector(env, r))
		}
	}
	out = append(out, s.External.Connectors...)
	return sortedSet(out)
}

// DeclaredUserGroups are the user groups rendered entities may refer to,
// sorted and without duplicates: the approvers of every gate and the
// external user groups.
func (s Settings) DeclaredUserGroups() []string {
	var out []string
	for _, env := range s.Environments {
		out = append(out, env.Gate.UserGroups...)
	}
	out = append(out, s.External.UserGroups...)
	return sortedSet(out)
}

func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > 0 && out[0] == "" {
		out = out[1:]
	}
	return out
}
