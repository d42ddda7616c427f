package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testArchetypes are the archetypes of the default templates.
var testArchetypes = []string{"api", "listener", "job", "scheduler"}

// testOptions returns the options most tests parse with: the default
// settings and the four default archetypes.
func testOptions() ParseOptions {
	return ParseOptions{Settings: DefaultSettings(), Archetypes: testArchetypes}
}

// oneService returns a catalog with one valid service, laid out on fixed
// lines so that positions are easy to state:
//
//	1 services:
//	2   - name: payment-service          (value at column 11)
//	3     archetype: api                 (column 16)
//	4     team: payments                 (column 11)
//	5     environments: [int, prod]      (column 19; items at 20 and 25)
//	6     regions: [euw1, euw2]          (column 14; items at 15 and 21)
//
// Each change is "key: value", which replaces the line of that key or, for
// any other key, is appended after line 6; "-key" replaces the line of key
// with a comment, so that the other lines keep their numbers. Lines that do
// not start with a key (such as "      - pdb") are appended as they are.
func oneService(changes ...string) []byte {
	lines := []string{
		"services:",
		"  - name: payment-service",
		"    archetype: api",
		"    team: payments",
		"    environments: [int, prod]",
		"    regions: [euw1, euw2]",
	}
	index := map[string]int{"name": 1, "archetype": 2, "team": 3, "environments": 4, "regions": 5}
	for _, c := range changes {
		if key, ok := strings.CutPrefix(c, "-"); ok && index[key] > 0 {
			lines[index[key]] = "    # " + key + " left out"
			continue
		}
		key, _, _ := strings.Cut(c, ":")
		if i, ok := index[key]; ok {
			prefix := "    "
			if i == 1 {
				prefix = "  - "
			}
			lines[i] = prefix + c
			continue
		}
		if strings.HasPrefix(c, " ") {
			lines = append(lines, c)
		} else {
			lines = append(lines, "    "+c)
		}
	}
	return y(lines...)
}

func TestParseValid(t *testing.T) {
	src := y(
		"# The platform's services.",
		"services:",
		"  - name: payment-service",
		"    archetype: api",
		"    team: payments",
		"    environments: [prod, int]", // aliases and any order
		"    regions:",
		"      - euw2",
		"      - euw1",
		"    profile: medium",
		"    components: [pdb, hpa]",
		"  - name: nightly-report",
		"    archetype: job",
		`    team: "data"`,
		"    environments: [int-stable, pre-stable]",
		"    regions: [euw1]",
		"    pipeline: {enabled: false}",
	)
	cat, diags := Parse(catalogFile, src, testOptions())
	checkDiags(t, catalogFile, diags, nil)
	want := Catalog{Services: []Service{
		{
			Name:         "payment-service",
			Archetype:    "api",
			Team:         "payments",
			Environments: []string{"int-stable", "prod"},
			Regions:      []string{"euw1", "euw2"},
			Pipeline:     PipelineOptions{Enabled: true},
			Config:       map[string]string{"profile": "medium", "components": "[pdb, hpa]"},
			Pos:          Pos{Line: 3, Column: 5},
			FieldPos: map[string]Pos{
				"name": {3, 11}, "archetype": {4, 16}, "team": {5, 11}, "environments": {6, 19},
				"regions": {8, 7}, "profile": {10, 14}, "components": {11, 17},
			},
		},
		{
			Name:         "nightly-report",
			Archetype:    "job",
			Team:         "data",
			Environments: []string{"int-stable", "pre-stable"},
			Regions:      []string{"euw1"},
			Pipeline:     PipelineOptions{Enabled: false},
			Pos:          Pos{Line: 12, Column: 5},
			FieldPos: map[string]Pos{
				"name": {12, 11}, "archetype": {13, 16}, "team": {14, 11}, "environments": {15, 19},
				"regions": {16, 14}, "pipeline": {17, 15},
			},
		},
	}}
	if diff := cmp.Diff(want, cat); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
}

func TestParseEmptyServicesList(t *testing.T) {
	for name, src := range map[string]string{
		"flow":         "services: []\n",
		"with comment": "# nothing deployed yet\nservices: []  # add services here\n",
	} {
		t.Run(name, func(t *testing.T) {
			cat, diags := Parse(catalogFile, []byte(src), testOptions())
			checkDiags(t, catalogFile, diags, nil)
			if len(cat.Services) != 0 {
				t.Errorf("Parse returned %d services, want 0", len(cat.Services))
			}
		})
	}
}

// TestParseRules covers every rule of the catalog, one table case per way
// of breaking it, with the exact position of each diagnostic.
func TestParseRules(t *testing.T) {
	const svc = "payment-service"
	tests := []struct {
		name string
		src  []byte
		want []wantDiag
	}{
		// The file as a whole.
		{"empty file", []byte(""), []wantDiag{{1, 1, "", "", "catalog is empty: expected a top-level `services:` list"}}},
		{"only comments", y("# services go here", "  # one day"), []wantDiag{{1, 1, "", "", "catalog is empty"}}},
		{"only a document marker", y("---"), []wantDiag{{1, 1, "", "", "catalog is empty"}}},
		{"top level is a list", y("- name: a"), []wantDiag{{1, 1, "", "", "must be a mapping with a top-level `services:` list, got a list"}}},
		{"top level is a string", y("hello"), []wantDiag{{1, 1, "", "", "got a string (hello)"}}},
		{"missing services", y("service:", "  - name: a"), []wantDiag{
			{1, 1, "", "service", `unknown top-level key "service"`},
			{1, 1, "", "", "missing top-level `services:` list"},
		}},
		{"unknown top-level key", y("version: 2", "services: []"), []wantDiag{{1, 1, "", "version", `unknown top-level key "version"`}}},
		{"services is null", y("services:"), []wantDiag{{1, 10, "", "services", "must be a list of services, got an empty value"}}},
		{"services is a mapping", y("services:", "  name: a"), []wantDiag{{2, 3, "", "services", "must be a list of services, got a mapping"}}},
		{"service is a string", y("services:", "  - payment-service"), []wantDiag{
			{2, 5, "", "services[0]", `each service must be a mapping with name, archetype, team, environments and regions, got a string (payment-service)`},
		}},

		// name
		{"name missing", y("services:", "  - archetype: api", "    team: payments", "    environments: [int]", "    regions: [euw1]"), []wantDiag{
			{2, 5, "", "services[0].name", "missing required field `name`"},
		}},
		{"name upper case", oneService("name: Payment-Service"), []wantDiag{
			{2, 11, "Payment-Service", "services[0].name", `service name "Payment-Service" is not a DNS-1123 label`},
		}},
		{"name with underscore", oneService("name: payment_service"), []wantDiag{
			{2, 11, "payment_service", "services[0].name", "not a DNS-1123 label"},
		}},
		{"name leading dash", oneService(`name: "-payment"`), []wantDiag{
			{2, 11, "-payment", "services[0].name", "starting and ending with a letter or digit"},
		}},
		{"name trailing dash", oneService("name: payment-"), []wantDiag{
			{2, 11, "payment-", "services[0].name", "not a DNS-1123 label"},
		}},
		{"name too long", oneService("name: " + strings.Repeat("a", 64)), []wantDiag{
			{2, 11, strings.Repeat("a", 64), "services[0].name", "is 64 characters long; the limit is 63"},
		}},
		{"name empty string", oneService(`name: ""`), []wantDiag{
			{2, 11, "", "services[0].name", "service name must not be empty"},
		}},
		{"name is a number", oneService("name: 123"), []wantDiag{
			{2, 11, "", "services[0].name", "must be a string, got an integer (123); quote it if you mean the text"},
		}},
		{"name is null", oneService("name:"), []wantDiag{
			{2, 10, "", "services[0].name", "must be a string, got an empty value"},
		}},
		{"name is a list", oneService("name: [a]"), []wantDiag{
			{2, 11, "", "services[0].name", "must be a string, got a list"},
		}},
		{"name has a tag", oneService("name: !!binary cGF5"), []wantDiag{
			{2, 11, "", "services[0].name", "YAML tags (!!binary) are not allowed here"},
		}},
		{"name has a str tag", oneService("name: !!str payment"), []wantDiag{
			{2, 11, "", "services[0].name", "YAML tags (!!str) are not allowed here"},
		}},

		// archetype
		{"archetype missing", oneService("-archetype"), []wantDiag{
			{2, 5, svc, "services[0].archetype", "missing required field `archetype`"},
		}},
		{"archetype unknown", oneService("archetype: worker"), []wantDiag{
			{3, 16, svc, "services[0].archetype", `unknown archetype "worker"; known archetypes: api, job, listener, scheduler`},
		}},
		{"archetype is a boolean", oneService("archetype: true"), []wantDiag{
			{3, 16, svc, "services[0].archetype", "must be a string, got a boolean (true)"},
		}},
		{"archetype is a mapping", oneService("archetype: {kind: api}"), []wantDiag{
			{3, 16, svc, "services[0].archetype", "must be a string, got a mapping"},
		}},

		// team
		{"team missing", oneService("-team"), []wantDiag{
			{2, 5, svc, "services[0].team", "missing required field `team`"},
		}},
		{"team not a slug", oneService("team: Payments Team"), []wantDiag{
			{4, 11, svc, "services[0].team", `team "Payments Team" is not a DNS-1123 label`},
		}},
		{"team too long", oneService("team: " + strings.Repeat("t", 64)), []wantDiag{
			{4, 11, svc, "services[0].team", "is 64 characters long"},
		}},
		{"team is a number", oneService("team: 42"), []wantDiag{
			{4, 11, svc, "services[0].team", "must be a string, got an integer (42)"},
		}},

		// environments
		{"environments missing", oneService("-environments"), []wantDiag{
			{2, 5, svc, "services[0].environments", "missing required field `environments`"},
		}},
		{"environments empty", oneService("environments: []"), []wantDiag{
			{5, 19, svc, "services[0].environments", "must list at least one environment; known environments: int-stable (alias int), pre-stable (alias pre), prod (alias production)"},
		}},
		{"environments is a string", oneService("environments: prod"), []wantDiag{
			{5, 19, svc, "services[0].environments", `must be a list of strings, got a string (prod)`},
		}},
		{"environment unknown", oneService("environments: [int, staging, prod]"), []wantDiag{
			{5, 25, svc, "services[0].environments[1]", `unknown environment "staging"; known environments: int-stable (alias int)`},
		}},
		{"environment listed twice", oneService("environments: [prod, int, prod]"), []wantDiag{
			{5, 31, svc, "services[0].environments[2]", `duplicate environment "prod" (first listed at line 5)`},
		}},
		{"environment listed by name and alias", oneService("environments: [int, prod, int-stable]"), []wantDiag{
			{5, 31, svc, "services[0].environments[2]", `environment "int-stable" duplicates "int" at line 5: both mean int-stable`},
		}},
		{"environment is a number", oneService("environments: [int, 7]"), []wantDiag{
			{5, 25, svc, "services[0].environments[1]", "must be a string, got an integer (7)"},
		}},
		{"environments hold mappings", y(
			"services:",
			"  - name: payment-service",
			"    archetype: api",
			"    team: payments",
			"    environments:",
			"      - name: prod",
			"      - int",
			"    regions: [euw1]",
		), []wantDiag{
			{6, 9, svc, "services[0].environments[0]", "must be a string, got a mapping"},
		}},

		// regions
		{"regions missing", oneService("-regions"), []wantDiag{
			{2, 5, svc, "services[0].regions", "missing required field `regions`"},
		}},
		{"regions empty", oneService("regions: []"), []wantDiag{
			{6, 14, svc, "services[0].regions", "must list at least one region; known regions: euw1, euw2"},
		}},
		{"regions is a mapping", oneService("regions: {euw1: true}"), []wantDiag{
			{6, 14, svc, "services[0].regions", "must be a list of strings, got a mapping"},
		}},
		{"region unknown", oneService("regions: [euw1, usw1]"), []wantDiag{
			{6, 21, svc, "services[0].regions[1]", `unknown region "usw1"; known regions: euw1, euw2`},
		}},
		{"region listed twice", oneService("regions: [euw1, euw2, euw1]"), []wantDiag{
			{6, 27, svc, "services[0].regions[2]", `duplicate region "euw1" (first listed at line 6)`},
		}},
		{"region is a boolean", oneService("regions: [euw1, false]"), []wantDiag{
			{6, 21, svc, "services[0].regions[1]", "must be a string, got a boolean (false)"},
		}},
		{"region not served by the environments", oneService("environments: [int, pre]"), []wantDiag{
			{6, 21, svc, "services[0].regions[1]", `region "euw2" is not served by any of the service's environments (int-stable serves euw1; pre-stable serves euw1)`},
		}},
		{"no stages", oneService("environments: [int]", "regions: [euw2]"), []wantDiag{
			{6, 14, svc, "services[0].regions", "the service has no stages: none of its regions (euw2) is served by its environments (int-stable serves euw1)"},
		}},
		{"served check skipped when an environment is unknown", oneService("environments: [intt]", "regions: [euw2]"), []wantDiag{
			{5, 20, svc, "services[0].environments[0]", `unknown environment "intt"`},
		}},

		// pipeline
		{"pipeline enabled is a string", oneService("pipeline: {enabled: yes}"), []wantDiag{
			{7, 25, svc, "services[0].pipeline.enabled", "must be true or false, got a string (yes)"},
		}},
		{"pipeline enabled quoted", oneService(`pipeline: {enabled: "false"}`), []wantDiag{
			{7, 25, svc, "services[0].pipeline.enabled", `must be true or false, got a string ("false")`},
		}},
		{"pipeline unknown key", oneService("pipeline:", "      enabled: true", "      trigger: cron"), []wantDiag{
			{9, 7, svc, "services[0].pipeline.trigger", `unknown field "trigger"; known fields: enabled`},
		}},
		{"pipeline is a boolean", oneService("pipeline: false"), []wantDiag{
			{7, 15, svc, "services[0].pipeline", "must be a mapping, got a boolean (false)"},
		}},

		// Field names.
		{"field name is a number", oneService("1: one"), []wantDiag{
			{7, 5, svc, "services[0].1", "field names must be plain strings, got an integer (1)"},
		}},

		// YAML hygiene.
		{"duplicate key in a service", y(
			"services:",
			"  - name: payment-service",
			"    archetype: api",
			"    team: payments",
			"    environments: [int, prod]",
			"    regions: [euw1, euw2]",
			"    team: billing",
		), []wantDiag{
			{7, 5, svc, "services[0].team", `duplicate key "team" (first defined at line 4)`},
		}},
		{"duplicate key deep in a config-only field", oneService("resources:", "      limits: {cpu: 1, memory: 1Gi, cpu: 2}"), []wantDiag{
			{8, 37, svc, "services[0].resources.limits.cpu", `duplicate key "cpu" (first defined at line 8)`},
		}},
		{"list as a key", oneService("? [a, b]", ": both"), []wantDiag{
			{7, 7, svc, "services[0].(list key)", "a list or a mapping cannot be a key: keys must be plain strings"},
		}},
		{"deeply nested anchor", oneService("x: " + strings.Repeat("{a: ", 20) + "&deep b" + strings.Repeat("}", 20)), []wantDiag{
			{7, 88, svc, "services[0].x.a.a.a.a.a.….a.a.a.a.a.a.a", "anchors (&deep) are not allowed"},
		}},
		{"duplicate services key", y("services: []", "services: []"), []wantDiag{
			{2, 1, "", "services", `duplicate key "services" (first defined at line 1)`},
		}},
		{"anchor", oneService("profile: &size medium"), []wantDiag{
			{7, 14, svc, "services[0].profile", "anchors (&size) are not allowed"},
		}},
		{"alias", oneService("profile: &size medium", "  - name: other", "    profile: *size"), []wantDiag{
			{7, 14, svc, "services[0].profile", "anchors (&size) are not allowed"},
			{8, 5, "other", "services[1].archetype", "missing required field `archetype`"},
			{8, 5, "other", "services[1].team", "missing required field `team`"},
			{8, 5, "other", "services[1].environments", "missing required field `environments`"},
			{8, 5, "other", "services[1].regions", "missing required field `regions`"},
			{9, 14, "other", "services[1].profile", "aliases (*size) are not allowed"},
		}},
		{"alias to an unknown anchor", oneService("profile: medium", "  - name: other", "    profile: *size"), []wantDiag{
			{9, 14, "", "", "alias *size refers to an anchor that is not defined"},
		}},
		{"merge key", y(
			"services:",
			"  - name: a",
			"    archetype: api",
			"    team: t",
			"    environments: [int]",
			"    regions: [euw1]",
			"    <<: {profile: small}",
		), []wantDiag{
			{7, 5, "a", "services[0].<<", "merge keys (<<) are not allowed"},
		}},
		{"merge of an alias reports the anchor and the merge key", y(
			"services:",
			"  - &base",
			"    name: a",
			"    archetype: api",
			"    team: t",
			"    environments: [int]",
			"    regions: [euw1]",
			"  - <<: *base",
			"    name: b",
		), []wantDiag{
			{2, 5, "a", "services[0]", "anchors (&base) are not allowed"},
			{8, 5, "b", "services[1].<<", "merge keys (<<) are not allowed"},
			{8, 5, "b", "services[1].archetype", "missing required field `archetype`"},
			{8, 5, "b", "services[1].team", "missing required field `team`"},
			{8, 5, "b", "services[1].environments", "missing required field `environments`"},
			{8, 5, "b", "services[1].regions", "missing required field `regions`"},
		}},
		{"invalid UTF-8", append(oneService(), []byte("    profile: \"méd\xffium\"\n")...), []wantDiag{
			{7, 18, "", "", "the file is not valid UTF-8 text: invalid byte 0xFF"},
		}},
		{"control character", oneService("profile: a\x07b"), []wantDiag{
			{7, 15, "", "", "control character U+0007 is not allowed"},
		}},
		{"tab indentation", y("services:", "  - name: a", "\tarchetype: api"), []wantDiag{
			{3, 1, "", "", "tab character used for indentation; YAML indentation must use spaces"},
		}},
		{"tab after spaces", y("services:", "  - name: a", "   \tarchetype: api"), []wantDiag{
			{3, 4, "", "", "tab character used for indentation"},
		}},
		{"syntax error", y("services:", "  - name: a", "    archetype: api", "  team: x"), []wantDiag{
			{4, 0, "", "", "invalid YAML: did not find expected '-' indicator"},
		}},
		{"unterminated flow list", y("services:", "  - name: a", "    regions: [euw1", "    team: x", "other: y"), []wantDiag{
			{3, 0, "", "", "invalid YAML: did not find expected ',' or ']'"},
		}},
		{"mapping value in plain scalar", y("services:", "  - name: a: b"), []wantDiag{
			{2, 0, "", "", "invalid YAML: mapping values are not allowed in this context"},
		}},
		{"two documents", y("services: []", "---", "services: []"), []wantDiag{
			{2, 1, "", "", "the file holds more than one YAML document"},
		}},
		{"syntax error far below the start of its block", append(oneService(
			"profile: medium",
			"  - name: b",
			"    archetype: api",
			"    team: t",
			"    environments: [int]",
			"    regions: [euw1]",
		), y("   bad: indentation")...), []wantDiag{
			{13, 0, "", "", "invalid YAML: did not find expected '-' indicator"},
		}},
		{"unclosed quote", oneService(`profile: "medium`, "components: [pdb]"), []wantDiag{
			{7, 0, "", "", "invalid YAML: found unexpected end of stream"},
		}},
		{"syntax error in the second document", y("services: []", "---", "services: [", "x: y"), []wantDiag{
			{3, 0, "", "", "invalid YAML: did not find expected ',' or ']'"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, diags := Parse(catalogFile, tt.src, testOptions())
			checkDiags(t, catalogFile, diags, tt.want)
			if len(diags) > 0 && cat.Services != nil {
				t.Errorf("Parse returned %d services with diagnostics; want the zero Catalog", len(cat.Services))
			}
		})
	}
}

func TestParseReportsEveryErrorInFileOrder(t *testing.T) {
	src := y(
		"services:", // 1
		"  - name: Payments",
		"    archetype: apii",
		"    team: payments",
		"    environments: [int, nope]", // 5
		"    regions: [euw1]",
		"  - name: orders",
		"    archetype: api",
		"    team: orders",
		"    environments: [int]", // 10
		"    regions: [euw1]",
		"    pipeline: {enabled: maybe}",
		"  - name: orders",
		"    archetype: job",
		"    team: orders", // 15
		"    environments: [prod]",
		"    regions: [euw1, mars]",
		"    profile: large",
		"    profile: small",
	)
	_, diags := Parse(catalogFile, src, testOptions())
	checkDiags(t, catalogFile, diags, []wantDiag{
		{2, 11, "Payments", "services[0].name", "not a DNS-1123 label"},
		{3, 16, "Payments", "services[0].archetype", `unknown archetype "apii"`},
		{5, 25, "Payments", "services[0].environments[1]", `unknown environment "nope"`},
		{12, 25, "orders", "services[1].pipeline.enabled", "must be true or false"},
		{13, 11, "orders", "services[2].name", `duplicate service name "orders" (first defined at line 7)`},
		{17, 21, "orders", "services[2].regions[1]", `unknown region "mars"`},
		{19, 5, "orders", "services[2].profile", `duplicate key "profile" (first defined at line 18)`},
	})
}

func TestParseArchetypesComeFromOptions(t *testing.T) {
	opts := testOptions()
	opts.Archetypes = []string{"worker"}
	_, diags := Parse(catalogFile, oneService(), opts)
	checkDiags(t, catalogFile, diags, []wantDiag{
		{3, 16, "payment-service", "services[0].archetype", `unknown archetype "api"; known archetypes: worker`},
	})

	opts.Archetypes = nil
	_, diags = Parse(catalogFile, oneService(), opts)
	checkDiags(t, catalogFile, diags, []wantDiag{
		{3, 16, "payment-service", "services[0].archetype", "the templates provide no archetypes"},
	})
}

func TestParseUsesTheGivenSettings(t *testing.T) {
	settings, diags := ParseSettings(settingsFile, y(
		"environments:",
		"  - name: dev",
		"    aliases: [development]",
		"    regions: [usw1]",
		"  - name: live",
		"    regions: [usw1, use1]",
		"regions: [usw1, use1]",
	))
	checkDiags(t, settingsFile, diags, nil)
	opts := ParseOptions{Settings: settings, Archetypes: testArchetypes}

	cat, diags := Parse(catalogFile, oneService("environments: [live, development]", "regions: [use1, usw1]"), opts)
	checkDiags(t, catalogFile, diags, nil)
	if len(cat.Services) != 1 {
		t.Fatalf("got %d services, want 1", len(cat.Services))
	}
	got := cat.Services[0]
	if diff := cmp.Diff([]string{"dev", "live"}, got.Environments); diff != "" {
		t.Errorf("Environments mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"usw1", "use1"}, got.Regions); diff != "" {
		t.Errorf("Regions mismatch (-want +got):\n%s", diff)
	}

	_, diags = Parse(catalogFile, oneService(), opts)
	checkDiags(t, catalogFile, diags, []wantDiag{
		{5, 20, "payment-service", "services[0].environments[0]", `unknown environment "int"; known environments: dev (alias development), live`},
		{5, 25, "payment-service", "services[0].environments[1]", `unknown environment "prod"`},
		{6, 15, "payment-service", "services[0].regions[0]", `unknown region "euw1"; known regions: usw1, use1`},
		{6, 21, "payment-service", "services[0].regions[1]", `unknown region "euw2"`},
	})
}

func TestParseConfigOnlyFields(t *testing.T) {
	tests := []struct {
		name string
		src  []byte
		want map[string]string
	}{
		{"flow list", oneService("components: [pdb, hpa]"), map[string]string{"components": "[pdb, hpa]"}},
		{"block list", oneService("components:", "      - pdb", "      - hpa"), map[string]string{"components": "[pdb, hpa]"}},
		{"quoted string", oneService(`profile: "medium"`), map[string]string{"profile": "medium"}},
		{"mapping keys sorted", oneService("resources:", "      memory: 1Gi", "      cpu: 500m"), map[string]string{"resources": "{cpu: 500m, memory: 1Gi}"}},
		{"nested flow and block alike", oneService("resources: {limits: {cpu: 1}, requests: {cpu: 0.5}}"), map[string]string{"resources": "{limits: {cpu: 1}, requests: {cpu: 0.5}}"}},
		{"numbers and booleans take one spelling", oneService("replicas: 0x10", "debug: True", "ratio: 1e3", "note: ~"),
			map[string]string{"replicas": "16", "debug": "true", "ratio": "1000.0", "note": "null"}},
		{"strings that need quotes", oneService(`label: "true"`, `motto: "a: b"`, `zip: "01234"`),
			map[string]string{"label": `"true"`, "motto": `"a: b"`, "zip": `"01234"`}},
		{"tags are kept, not rejected", oneService("blob: !!binary aGk="), map[string]string{"blob": `!!binary "aGk="`}},
		{"field that looks like a typo is config-only", oneService("enviroments: [prod]"), map[string]string{"enviroments": "[prod]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, diags := Parse(catalogFile, tt.src, testOptions())
			checkDiags(t, catalogFile, diags, nil)
			if len(cat.Services) != 1 {
				t.Fatalf("got %d services, want 1", len(cat.Services))
			}
			if diff := cmp.Diff(tt.want, cat.Services[0].Config); diff != "" {
				t.Errorf("Config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePipelineOptions(t *testing.T) {
	tests := []struct {
		name string
		src  []byte
		want bool
	}{
		{"absent", oneService(), true},
		{"empty mapping", oneService("pipeline: {}"), true},
		{"enabled", oneService("pipeline: {enabled: true}"), true},
		{"disabled", oneService("pipeline:", "      enabled: false"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, diags := Parse(catalogFile, tt.src, testOptions())
			checkDiags(t, catalogFile, diags, nil)
			if got := cat.Services[0].Pipeline.Enabled; got != tt.want {
				t.Errorf("Pipeline.Enabled = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseAcceptsLongestName(t *testing.T) {
	name := strings.Repeat("a", 62) + "1"
	cat, diags := Parse(catalogFile, oneService("name: "+name), testOptions())
	checkDiags(t, catalogFile, diags, nil)
	if got := cat.Services[0].Name; got != name {
		t.Errorf("Name = %q, want %q", got, name)
	}
}

func TestDiagnosticString(t *testing.T) {
	_, diags := Parse(catalogFile, oneService("archetype: worker"), testOptions())
	want := `catalog/services.yaml:3:16: service "payment-service", services[0].archetype: unknown archetype "worker"; known archetypes: api, job, listener, scheduler`
	if diff := cmp.Diff(want, diags.Error()); diff != "" {
		t.Errorf("Diagnostics.Error mismatch (-want +got):\n%s", diff)
	}
}
