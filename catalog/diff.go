package catalog

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Diff compares two valid catalogs (as returned by Parse without
// diagnostics) service by service, matching services by name.
//
// Values are compared as canonical YAML text, so the order of services in
// the file, the layout of a value (flow or block style, quoting, key order
// in a mapping) and the spelling of an environment (alias or canonical
// name) never count as changes; the order of the environments and regions
// of a service does not either, since Parse puts them in the settings'
// order. A change to a config-only field gives a Changed entry whose fields
// all have ShapesPipeline false.
//
// The services in the result are copies: changing them does not change
// base or head. If a catalog holds a name twice (which Parse never
// returns), the first service of that name is used.
func Diff(base, head Catalog) CatalogDiff {
	old, cur := byName(base), byName(head)
	var d CatalogDiff
	for _, name := range slices.Sorted(maps.Keys(old)) {
		if _, ok := cur[name]; !ok {
			s := cloneService(old[name])
			d.Removed = append(d.Removed, ServiceChange{Name: name, Kind: Removed, Old: &s, Fields: fieldChanges(&s, nil)})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cur)) {
		o, existed := old[name]
		if !existed {
			n := cloneService(cur[name])
			d.Added = append(d.Added, ServiceChange{Name: name, Kind: Added, New: &n, Fields: fieldChanges(nil, &n)})
			continue
		}
		if sameValues(o, cur[name]) {
			continue // most services of a large catalog: nothing to compute or copy
		}
		o, n := cloneService(o), cloneService(cur[name])
		if fields := fieldChanges(&o, &n); len(fields) > 0 {
			d.Changed = append(d.Changed, ServiceChange{Name: name, Kind: Changed, Old: &o, New: &n, Fields: fields})
		}
	}
	return d
}

// sameValues reports whether two services have the same field values;
// a quick check before fieldChanges, which builds the canonical texts.
func sameValues(a, b Service) bool {
	return a.Name == b.Name && a.Archetype == b.Archetype && a.Team == b.Team &&
		slices.Equal(a.Environments, b.Environments) && slices.Equal(a.Regions, b.Regions) &&
		a.Pipeline == b.Pipeline && maps.Equal(a.Config, b.Config)
}

// byName indexes services by name, keeping the first of duplicates.
func byName(c Catalog) map[string]Service {
	m := make(map[string]Service, len(c.Services))
	for _, s := range c.Services {
		if _, dup := m[s.Name]; !dup {
			m[s.Name] = s
		}
	}
	return m
}

// fieldChanges lists the fields whose canonical text differs between old
// and cur, sorted by field name; a nil side has no fields.
func fieldChanges(old, cur *Service) []FieldChange {
	ov, cv := fieldValues(old), fieldValues(cur)
	names := make([]string, 0, len(ov)+len(cv))
	names = slices.AppendSeq(names, maps.Keys(ov))
	for k := range cv {
		if _, ok := ov[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var out []FieldChange
	for _, name := range names {
		if ov[name] != cv[name] {
			out = append(out, FieldChange{Name: name, Old: ov[name], New: cv[name], ShapesPipeline: ShapesPipeline(name)})
		}
	}
	return out
}

// fieldValues returns every field of s as canonical YAML text.
func fieldValues(s *Service) map[string]string {
	if s == nil {
		return nil
	}
	m := make(map[string]string, 6+len(s.Config))
	for k, v := range s.Config {
		m[k] = v
	}
	m[FieldName] = quoteString(s.Name)
	m[FieldArchetype] = quoteString(s.Archetype)
	m[FieldTeam] = quoteString(s.Team)
	m[FieldEnvironments] = stringList(s.Environments)
	m[FieldRegions] = stringList(s.Regions)
	m[FieldPipeline] = "{enabled: " + strconv.FormatBool(s.Pipeline.Enabled) + "}"
	return m
}

// stringList writes a list of strings as a canonical flow-style sequence.
func stringList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = quoteString(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// cloneService returns a copy of s that shares no slice or map with it.
func cloneService(s Service) Service {
	s.Environments = slices.Clone(s.Environments)
	s.Regions = slices.Clone(s.Regions)
	s.Config = maps.Clone(s.Config)
	s.FieldPos = maps.Clone(s.FieldPos)
	return s
}
