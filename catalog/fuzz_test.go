package catalog

import (
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// serviceName is the name rule restated independently of the parser:
// a DNS-1123 label of 1 to 63 characters.
var serviceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// FuzzParse checks properties that hold for any input: Parse never panics,
// every diagnostic has a position and a message, an invalid catalog is
// never returned, a valid one obeys the catalog's rules, and parsing is
// deterministic. The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	opts := testOptions()
	f.Fuzz(func(t *testing.T, src []byte) {
		cat, diags := Parse(catalogFile, src, opts)
		for _, d := range diags {
			if d.Line < 1 || d.Column < 0 {
				t.Errorf("diagnostic without a position: %#v", d)
			}
			if d.Message == "" {
				t.Errorf("diagnostic without a message: %#v", d)
			}
			if d.File != catalogFile {
				t.Errorf("diagnostic names file %q: %#v", d.File, d)
			}
		}
		if len(diags) > 0 {
			if cat.Services != nil {
				t.Errorf("Parse returned %d services along with diagnostics", len(cat.Services))
			}
			return
		}
		seen := make(map[string]bool)
		for _, s := range cat.Services {
			if !serviceName.MatchString(s.Name) {
				t.Errorf("valid catalog holds the invalid name %q", s.Name)
			}
			if seen[s.Name] {
				t.Errorf("valid catalog holds %q twice", s.Name)
			}
			seen[s.Name] = true
			if !slices.Contains(opts.Archetypes, s.Archetype) {
				t.Errorf("service %q has the unknown archetype %q", s.Name, s.Archetype)
			}
			if !serviceName.MatchString(s.Team) {
				t.Errorf("service %q has the invalid team %q", s.Name, s.Team)
			}
			if len(s.Environments) == 0 || len(s.Regions) == 0 {
				t.Errorf("service %q has no environments or no regions: %+v", s.Name, s)
			}
			for _, e := range s.Environments {
				if env, ok := opts.Settings.Environment(e); !ok || env.Name != e {
					t.Errorf("service %q has the non-canonical environment %q", s.Name, e)
				}
			}
		}
		again, _ := Parse(catalogFile, src, opts)
		if diff := cmp.Diff(cat, again); diff != "" {
			t.Errorf("parsing twice gave different catalogs (-first +second):\n%s", diff)
		}
		if d := Diff(cat, again); !d.Empty() {
			t.Errorf("a catalog differs from itself: %+v", d)
		}
	})
}

// FuzzParseSettings checks that ParseSettings never panics and that every
// diagnostic has a position and a message. The seed corpus is in
// testdata/fuzz/FuzzParseSettings.
func FuzzParseSettings(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte) {
		s, diags := ParseSettings(settingsFile, src)
		for _, d := range diags {
			if d.Line < 1 || d.Column < 0 || d.Message == "" {
				t.Errorf("diagnostic without a position or message: %#v", d)
			}
		}
		if len(diags) == 0 && len(s.Environments) == 0 {
			t.Errorf("valid settings without environments: %+v", s)
		}
	})
}
