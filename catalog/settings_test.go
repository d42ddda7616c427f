package catalog

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseSettingsDefaults(t *testing.T) {
	for name, src := range map[string]string{
		"empty file":       "",
		"only comments":    "# settings: the defaults suit us\n",
		"empty mapping":    "{}\n",
		"null document":    "---\n~\n",
		"document markers": "---\n...\n",
	} {
		t.Run(name, func(t *testing.T) {
			got, diags := ParseSettings(settingsFile, []byte(src))
			checkDiags(t, settingsFile, diags, nil)
			if diff := cmp.Diff(DefaultSettings(), got); diff != "" {
				t.Errorf("ParseSettings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSettingsFullFile(t *testing.T) {
	src := y(
		"harness: {org: acme, project: payments_platform}",
		"manifests:",
		"  connector: account.github_config",
		"  repo: config.repo",
		"  branch: release/v2",
		`  path: "out/{region}/{env_short}/{service}.yaml"`,
		`  values_path: "out/{region}/{env_short}/{service}-values.yaml"`,
		"  private_key_secret: org.github_app_key",
		`delegate_selector: "delegate-{env}-{region}"`,
		`infrastructure: "k8s_{env_id}_{region}"`, // 10
		`artifact: {type: DockerRegistry, connector: account.dockerhub, image: "acme/{team}-{service}"}`,
		`cluster: {connector: "account.gke_{env_id}_{region}", namespace: "apps-{env}"}`,
		"environments:",
		"  - name: dev",
		"    aliases: [development, d]", // 15
		"    regions: [usw1]",
		"  - name: staging",
		"    short: stg",
		"    regions: [usw1, use1]",
		"    gate: {wait: 2d12h}", // 20
		"  - name: live",
		"    type: Production",
		"    regions: [use1, usw1]",
		"    gate:",
		"      approval:", // 25
		"        user_groups: [org.release_managers, sre]",
		"        min_approvers: 2",
		"regions:",
		"  - usw1",
		"  - {name: use1, description: us-east1}", // 30
		"external: {connectors: [account.vault], user_groups: [sre_oncall]}",
		"paths: {pipelines: harness/pipelines, templates: harness/templates, services: harness/services,",
		"  environments: harness/environments, infrastructures: harness/infrastructures, triggers: harness/triggers}",
		"mass_delete: {max_count: 0, max_percent: 100}",
	)
	got, diags := ParseSettings(settingsFile, src)
	checkDiags(t, settingsFile, diags, nil)
	want := Settings{
		Org:     "acme",
		Project: "payments_platform",
		Manifests: ManifestSource{
			Connector:         "account.github_config",
			Repo:              "config.repo",
			Branch:            "release/v2",
			PathPattern:       "out/{region}/{env_short}/{service}.yaml",
			ValuesPathPattern: "out/{region}/{env_short}/{service}-values.yaml",
			PrivateKeySecret:  "org.github_app_key",
		},
		DelegateSelectorPattern: "delegate-{env}-{region}",
		InfrastructurePattern:   "k8s_{env_id}_{region}",
		Artifact:                Artifact{Type: ArtifactDockerRegistry, Connector: "account.dockerhub", ImagePattern: "acme/{team}-{service}"},
		Cluster:                 Cluster{ConnectorPattern: "account.gke_{env_id}_{region}", NamespacePattern: "apps-{env}"},
		Environments: []Environment{
			{Name: "dev", Short: "dev", Aliases: []string{"development", "d"}, Regions: []string{"usw1"},
				Type: PreProduction, Gate: Gate{Kind: GateNone}, Pos: Pos{14, 5}},
			{Name: "staging", Short: "stg", Regions: []string{"usw1", "use1"},
				Type: PreProduction, Gate: Gate{Kind: GateWait, Wait: 60 * time.Hour}, Pos: Pos{17, 5}},
			{Name: "live", Short: "live", Regions: []string{"use1", "usw1"}, Type: Production,
				Gate: Gate{Kind: GateApproval, UserGroups: []string{"org.release_managers", "sre"}, MinApprovers: 2, Timeout: 24 * time.Hour},
				Pos:  Pos{21, 5}},
		},
		Regions: []Region{
			{Name: "usw1", Pos: Pos{29, 5}},
			{Name: "use1", Description: "us-east1", Pos: Pos{30, 5}},
		},
		External:           External{Connectors: []string{"account.vault"}, UserGroups: []string{"sre_oncall"}},
		PipelinesDir:       "harness/pipelines",
		TemplatesDir:       "harness/templates",
		ServicesDir:        "harness/services",
		EnvironmentsDir:    "harness/environments",
		InfrastructuresDir: "harness/infrastructures",
		TriggersDir:        "harness/triggers",
		MassDelete:         MassDelete{MaxCount: 0, MaxPercent: 100},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseSettings mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"account.dockerhub", "account.github_config", "account.gke_dev_usw1", "account.gke_live_use1",
		"account.gke_live_usw1", "account.gke_staging_use1", "account.gke_staging_usw1", "account.vault"}, got.DeclaredConnectors()); diff != "" {
		t.Errorf("DeclaredConnectors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"org.release_managers", "sre", "sre_oncall"}, got.DeclaredUserGroups()); diff != "" {
		t.Errorf("DeclaredUserGroups (-want +got):\n%s", diff)
	}
}

// TestParseSettingsExampleMatchesDefaults pins the documented example:
// written out in full, the defaults read back as DefaultSettings.
func TestParseSettingsExampleMatchesDefaults(t *testing.T) {
	src := y(
		"harness: {org: default, project: platform}",
		"manifests:",
		"  connector: github_platform_next_cross_org",
		"  repo: platform-next",
		"  branch: main",
		`  path: "generated/{service}/{env}/{region}/manifests.yaml"`,
		`  values_path: "generated/{service}/{env}/{region}/values.yaml"`,
		"  private_key_secret: account.po_github_app_key",
		`delegate_selector: "harness-delegate-{env_short}-{region}"`,
		`infrastructure: "{env_id}_{region}_k8s"`,
		`artifact: {type: Gcr, connector: gcr_platform, registry: gcr.io, image: "project/{service}"}`,
		`cluster: {connector: "k8s_{env_id}_{region}", namespace: "{env_short}"}`,
		"environments:",
		"  - name: int-stable",
		"    short: int",
		"    type: PreProduction",
		"    aliases: [int]",
		"    regions: [euw1]",
		"  - name: pre-stable",
		"    short: pre",
		"    aliases: [pre]",
		"    regions: [euw1]",
		"    gate: {wait: 1h}",
		"  - name: prod",
		"    short: prod",
		"    type: Production",
		"    aliases: [production]",
		"    regions: [euw1, euw2]",
		"    gate:",
		"      approval: {user_groups: [account.prod_approvers], min_approvers: 1, timeout: 1d}",
		"regions:",
		"  - {name: euw1, description: europe-west1}",
		"  - {name: euw2, description: europe-west2}",
		"external: {connectors: [], user_groups: []}",
		"paths: {pipelines: pipelines, templates: templates, services: services, environments: environments,",
		"  infrastructures: infrastructures, triggers: triggers}",
		"mass_delete: {max_count: 5, max_percent: 20}",
	)
	example, err := os.ReadFile("../examples/.pipeline-orchestrator.yml")
	if err != nil {
		t.Fatal(err)
	}
	ignorePos := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Pos" }, cmp.Ignore())
	for name, src := range map[string][]byte{"written out": src, "examples/.pipeline-orchestrator.yml": example} {
		got, diags := ParseSettings(settingsFile, src)
		checkDiags(t, settingsFile, diags, nil)
		if diff := cmp.Diff(DefaultSettings(), got, ignorePos, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: ParseSettings mismatch (-want +got):\n%s", name, diff)
		}
	}
}

func TestParseSettingsOverridesOneValue(t *testing.T) {
	got, diags := ParseSettings(settingsFile, y(
		"harness: {org: acme}",
		"manifests: {branch: trunk}",
		"paths: {pipelines: generated-pipelines}",
		"mass_delete: {max_percent: 50}",
	))
	checkDiags(t, settingsFile, diags, nil)
	want := DefaultSettings()
	want.Org = "acme"
	want.Manifests.Branch = "trunk"
	want.PipelinesDir = "generated-pipelines"
	want.MassDelete.MaxPercent = 50
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseSettings mismatch (-want +got):\n%s", diff)
	}
}

func TestParseSettingsIdentifierLength(t *testing.T) {
	longest := "a" + strings.Repeat("_", 127) // 128 characters, the Harness limit
	got, diags := ParseSettings(settingsFile, y("harness:", "  project: "+longest))
	checkDiags(t, settingsFile, diags, nil)
	if got.Project != longest {
		t.Errorf("Project = %q, want %q", got.Project, longest)
	}
}

func TestParseSettingsDurations(t *testing.T) {
	tests := []struct {
		src  string
		want time.Duration
	}{
		{"90s", 90 * time.Second},
		{"45m", 45 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"1d", 24 * time.Hour},
		{"7d", 7 * 24 * time.Hour},
		{"1d6h", 30 * time.Hour},
		{"0d1m", time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, diags := ParseSettings(settingsFile, y(
				"environments:",
				"  - name: only",
				"    regions: [euw1]",
				"    gate: {wait: "+tt.src+"}",
			))
			checkDiags(t, settingsFile, diags, nil)
			if w := got.Environments[0].Gate.Wait; w != tt.want {
				t.Errorf("Wait = %v, want %v", w, tt.want)
			}
		})
	}
}

// TestParseSettingsRules covers every rule of the settings file, one table
// case per way of breaking it, with the exact position of each diagnostic.
func TestParseSettingsRules(t *testing.T) {
	// env builds an environments list with one environment whose gate line
	// (line 4) is gate; positions in the gate start at column 11.
	env := func(gate string) []byte {
		return y(
			"environments:",
			"  - name: prod",
			"    regions: [euw1]",
			"    gate: "+gate,
		)
	}
	tests := []struct {
		name string
		src  []byte
		want []wantDiag
	}{
		// The file as a whole.
		{"top level is a list", y("- harness"), []wantDiag{{1, 1, "", "", "the settings file must be a mapping of settings, got a list"}}},
		{"unknown top-level key", y("harnes: {org: x}"), []wantDiag{
			{1, 1, "", "harnes", `unknown field "harnes"; known fields: harness, manifests, delegate_selector, infrastructure, artifact, cluster, environments, regions, external, paths, mass_delete`},
		}},
		{"camelCase key", y("delegateSelector: x"), []wantDiag{{1, 1, "", "delegateSelector", `unknown field "delegateSelector"`}}},

		// harness
		{"harness is a string", y("harness: default"), []wantDiag{{1, 10, "", "harness", "must be a mapping, got a string (default)"}}},
		{"harness unknown key", y("harness: {org: a, account: b}"), []wantDiag{{1, 19, "", "harness.account", `unknown field "account"; known fields: org, project`}}},
		{"org not an identifier", y("harness:", "  org: my-org"), []wantDiag{{2, 8, "", "harness.org", `"my-org" is not a Harness identifier`}}},
		{"project starts with a digit", y("harness:", "  project: 9lives"), []wantDiag{{2, 12, "", "harness.project", `"9lives" is not a Harness identifier`}}},
		{"project is a number", y("harness:", "  project: 123"), []wantDiag{{2, 12, "", "harness.project", "must be a string, got an integer (123)"}}},
		{"org too long", y("harness:", "  org: a_"+strings.Repeat("x", 127)), []wantDiag{{2, 8, "", "harness.org", "is not a Harness identifier"}}},

		// manifests
		{"connector not an identifier", y("manifests:", "  connector: github-config"), []wantDiag{{2, 14, "", "manifests.connector", `"github-config" is not a Harness identifier`}}},
		{"connector with an unknown scope", y("manifests:", "  connector: project.github"), []wantDiag{{2, 14, "", "manifests.connector", "optionally after account. or org."}}},
		{"repo with a slash", y("manifests:", "  repo: company/platform-next"), []wantDiag{{2, 9, "", "manifests.repo", `"company/platform-next" is not a repository name`}}},
		{"branch with two dots", y("manifests:", "  branch: main..dev"), []wantDiag{{2, 11, "", "manifests.branch", `"main..dev" is not a valid branch name`}}},
		{"branch with a space", y("manifests:", `  branch: "my branch"`), []wantDiag{{2, 11, "", "manifests.branch", "contains a space"}}},
		{"branch ending in .lock", y("manifests:", "  branch: main.lock"), []wantDiag{{2, 11, "", "manifests.branch", "ends with '.' or '.lock'"}}},
		{"path without service", y("manifests:", `  path: "generated/{env}/{region}.yaml"`), []wantDiag{{2, 9, "", "manifests.path", "must contain {service}"}}},
		{"path absolute", y("manifests:", `  path: "/generated/{service}.yaml"`), []wantDiag{{2, 9, "", "manifests.path", "must be relative to the repository root"}}},
		{"path with dot-dot", y("manifests:", `  path: "generated/../{service}.yaml"`), []wantDiag{{2, 9, "", "manifests.path", "must not contain '..'"}}},
		{"path not clean", y("manifests:", `  path: "generated//{service}.yaml"`), []wantDiag{{2, 9, "", "manifests.path", `is not a clean path; write "generated/{service}.yaml"`}}},
		{"path with backslashes", y("manifests:", `  path: 'generated\{service}.yaml'`), []wantDiag{{2, 9, "", "manifests.path", "must use '/' to separate directories"}}},
		{"path with unknown placeholder", y("manifests:", `  path: "{service}/{env_id}.yaml"`), []wantDiag{
			{2, 9, "", "manifests.path", "uses the unknown placeholder {env_id}; allowed: {service}, {env}, {env_short}, {region}"},
		}},
		{"path with unclosed brace", y("manifests:", `  path: "{service}/{env.yaml"`), []wantDiag{{2, 9, "", "manifests.path", "has a '{' without a matching '}'"}}},
		{"path with stray closing brace", y("manifests:", `  path: "{service}/env}.yaml"`), []wantDiag{{2, 9, "", "manifests.path", "has a '}' without a matching '{'"}}},
		{"manifests unknown key", y("manifests: {connector: c, org: x}"), []wantDiag{{1, 27, "", "manifests.org", `unknown field "org"; known fields: connector, repo, branch, path, values_path, private_key_secret`}}},

		// Patterns.
		{"selector with service placeholder", y(`delegate_selector: "d-{service}"`), []wantDiag{
			{1, 20, "", "delegate_selector", "uses the unknown placeholder {service}; allowed: {env}, {env_short}, {region}"},
		}},
		{"selector empty", y(`delegate_selector: ""`), []wantDiag{{1, 20, "", "delegate_selector", "must not be empty"}}},
		{"selector with a space", y(`delegate_selector: "d {env}"`), []wantDiag{{1, 20, "", "delegate_selector", "must not contain white space"}}},
		{"selector is a list", y("delegate_selector: [a, b]"), []wantDiag{{1, 20, "", "delegate_selector", "must be a string, got a list"}}},
		{"infrastructure with a dash", y(`infrastructure: "{env_id}-{region}"`), []wantDiag{
			{1, 17, "", "infrastructure", "outside placeholders use only letters, digits and '_'"},
		}},
		{"infrastructure starts with a digit", y(`infrastructure: "1_{env_id}"`), []wantDiag{{1, 17, "", "infrastructure", "cannot start with a digit"}}},
		{"infrastructure with env placeholder", y(`infrastructure: "{env}_{region}"`), []wantDiag{
			{1, 17, "", "infrastructure", "uses the unknown placeholder {env}; allowed: {env_id}, {region}"},
		}},

		// environments
		{"environments is a mapping", y("environments: {prod: {}}"), []wantDiag{{1, 15, "", "environments", "must be a list of environments, got a mapping"}}},
		{"environments empty", y("environments: []"), []wantDiag{{1, 15, "", "environments", "must list at least one environment"}}},
		{"environment is a string", y("environments: [prod]"), []wantDiag{{1, 16, "", "environments[0]", "must be a mapping, got a string (prod)"}}},
		{"environment without name and regions", y("environments:", "  - short: p"), []wantDiag{
			{2, 5, "", "environments[0].name", "missing required field `name`"},
			{2, 5, "", "environments[0].regions", "missing required field `regions`"},
		}},
		{"environment name invalid", y("environments:", "  - name: Prod", "    regions: [euw1]"), []wantDiag{
			{2, 11, "", "environments[0].name", `environment name "Prod" is not a DNS-1123 label`},
		}},
		{"environment unknown key", y("environments:", "  - name: prod", "    region: [euw1]", "    regions: [euw1]"), []wantDiag{
			{3, 5, "", "environments[0].region", `unknown field "region"; known fields: name, short, type, aliases, regions, gate`},
		}},
		{"environment names repeat", y(
			"environments:",
			"  - name: prod",
			"    regions: [euw1]",
			"  - name: prod",
			"    regions: [euw2]",
		), []wantDiag{{4, 11, "", "environments[1].name", `duplicate environment name "prod" (first defined at line 2)`}}},
		{"short name invalid", y("environments:", "  - name: prod", "    short: P_1", "    regions: [euw1]"), []wantDiag{
			{3, 12, "", "environments[0].short", `short name "P_1" is not a DNS-1123 label`},
		}},
		{"aliases not a list", y("environments:", "  - name: prod", "    aliases: live", "    regions: [euw1]"), []wantDiag{
			{3, 14, "", "environments[0].aliases", "must be a list of strings, got a string (live)"},
		}},
		{"alias invalid", y("environments:", "  - name: prod", "    aliases: [Live]", "    regions: [euw1]"), []wantDiag{
			{3, 15, "", "environments[0].aliases[0]", `alias "Live" is not a DNS-1123 label`},
		}},
		{"alias repeats own name", y("environments:", "  - name: prod", "    aliases: [live, prod]", "    regions: [euw1]"), []wantDiag{
			{3, 21, "", "environments[0].aliases[1]", `alias "prod" repeats the environment's own name`},
		}},
		{"alias is another environment's name", y(
			"environments:",
			"  - name: int",
			"    aliases: [prod]",
			"    regions: [euw1]",
			"  - name: prod",
			"    regions: [euw1]",
		), []wantDiag{{3, 15, "", "environments[0].aliases[0]", `alias "prod" is the name of the environment defined at line 5`}}},
		{"alias used by two environments", y(
			"environments:",
			"  - name: int-stable",
			"    aliases: [int]",
			"    regions: [euw1]",
			"  - name: int-canary",
			"    aliases: [canary, int]",
			"    regions: [euw1]",
		), []wantDiag{{6, 23, "", "environments[1].aliases[1]", `duplicate alias "int" (first defined at line 3); an alias must name one environment`}}},
		{"environment regions empty", y("environments:", "  - name: prod", "    regions: []"), []wantDiag{
			{3, 14, "", "environments[0].regions", "must list at least one region; known regions: euw1, euw2"},
		}},
		{"environment region unknown", y("environments:", "  - name: prod", "    regions: [euw1, usw1]"), []wantDiag{
			{3, 21, "", "environments[0].regions[1]", `unknown region "usw1"; known regions: euw1, euw2`},
		}},
		{"environment region repeated", y("environments:", "  - name: prod", "    regions: [euw1, euw1]"), []wantDiag{
			{3, 21, "", "environments[0].regions[1]", `duplicate region "euw1" (first listed at line 3)`},
		}},
		{"environment region not a string", y("environments:", "  - name: prod", "    regions: [1]"), []wantDiag{
			{3, 15, "", "environments[0].regions[0]", "must be a string, got an integer (1)"},
		}},

		// Gates.
		{"gate empty", env("{}"), []wantDiag{{4, 11, "", "environments[0].gate", "must hold `wait` or `approval`; leave `gate` out for no gate"}}},
		{"gate is a string", env("none"), []wantDiag{{4, 11, "", "environments[0].gate", "must be a mapping, got a string (none)"}}},
		{"gate with both kinds", env("{wait: 1h, approval: {user_groups: [a]}}"), []wantDiag{
			{4, 22, "", "environments[0].gate.approval", "a gate is either `wait` or `approval`, not both"},
		}},
		{"gate unknown key", env("{sleep: 1h}"), []wantDiag{{4, 12, "", "environments[0].gate.sleep", `unknown field "sleep"; known fields: wait, approval`}}},
		{"wait with fractional days", env("{wait: 1.5d}"), []wantDiag{
			{4, 18, "", "environments[0].gate.wait", `"1.5d" is not a duration: write a duration such as 30m, 1h, 1h30m or 1d`},
		}},
		{"wait not a duration", env("{wait: soon}"), []wantDiag{{4, 18, "", "environments[0].gate.wait", `"soon" is not a duration`}}},
		{"wait zero", env("{wait: 0s}"), []wantDiag{{4, 18, "", "environments[0].gate.wait", `"0s" must be longer than zero`}}},
		{"wait negative", env("{wait: -1h}"), []wantDiag{{4, 18, "", "environments[0].gate.wait", `"-1h" must be longer than zero`}}},
		{"wait negative after days", env("{wait: 1d-1h}"), []wantDiag{{4, 18, "", "environments[0].gate.wait", `"1d-1h" is not a duration`}}},
		{"wait without unit", env("{wait: 3600}"), []wantDiag{{4, 18, "", "environments[0].gate.wait", "3600 needs a unit: write a duration such as 30m, 1h or 1d"}}},
		{"wait too long", env("{wait: 999999999d}"), []wantDiag{{4, 18, "", "environments[0].gate.wait", `"999999999d" is too long`}}},
		{"approval without user groups", env("{approval: {min_approvers: 1}}"), []wantDiag{
			{4, 22, "", "environments[0].gate.approval.user_groups", "missing required field `user_groups`: an approval needs at least one Harness user group"},
		}},
		{"approval with no user groups", env("{approval: {user_groups: []}}"), []wantDiag{
			{4, 36, "", "environments[0].gate.approval.user_groups", "must list at least one Harness user group"},
		}},
		{"approval user group invalid", env("{approval: {user_groups: [prod-approvers]}}"), []wantDiag{
			{4, 37, "", "environments[0].gate.approval.user_groups[0]", `"prod-approvers" is not a Harness user group identifier`},
		}},
		{"approval user group repeated", env("{approval: {user_groups: [sre, sre]}}"), []wantDiag{
			{4, 42, "", "environments[0].gate.approval.user_groups[1]", `duplicate user group "sre"`},
		}},
		{"approval min approvers zero", env("{approval: {user_groups: [sre], min_approvers: 0}}"), []wantDiag{
			{4, 58, "", "environments[0].gate.approval.min_approvers", "must be at least 1, got 0"},
		}},
		{"approval min approvers not a number", env("{approval: {user_groups: [sre], min_approvers: two}}"), []wantDiag{
			{4, 58, "", "environments[0].gate.approval.min_approvers", "must be a whole number, got a string (two)"},
		}},
		{"approval timeout invalid", env("{approval: {user_groups: [sre], timeout: 1w}}"), []wantDiag{
			{4, 52, "", "environments[0].gate.approval.timeout", `"1w" is not a duration`},
		}},
		{"approval unknown key", env("{approval: {user_groups: [sre], approvers: 2}}"), []wantDiag{
			{4, 43, "", "environments[0].gate.approval.approvers", `unknown field "approvers"; known fields: user_groups, min_approvers, timeout`},
		}},

		// regions
		{"regions is a string", y("regions: euw1"), []wantDiag{{1, 10, "", "regions", "must be a list of regions, got a string (euw1)"}}},
		{"regions empty", y("regions: []"), []wantDiag{{1, 10, "", "regions", "must list at least one region"}}},
		{"region name invalid", y("regions: [euw1, euw2, EU_West]"), []wantDiag{{1, 23, "", "regions[2]", `region name "EU_West" is not a DNS-1123 label`}}},
		{"region repeated", y("regions:", "  - euw1", "  - euw2", "  - {name: euw1}"), []wantDiag{
			{4, 12, "", "regions[2].name", `duplicate region "euw1" (first defined at line 2)`},
		}},
		{"region without name", y("regions:", "  - euw1", "  - euw2", "  - {description: europe-west9}"), []wantDiag{
			{4, 5, "", "regions[2].name", "missing required field `name`"},
		}},
		{"region unknown key", y("regions: [euw1, {name: euw2, zone: b}]"), []wantDiag{{1, 30, "", "regions[1].zone", `unknown field "zone"; known fields: name, description`}}},
		{"region is a number", y("regions: [euw1, euw2, 3]"), []wantDiag{{1, 23, "", "regions[2]", "must be a string, got an integer (3)"}}},
		{"region is a list", y("regions: [euw1, euw2, [a]]"), []wantDiag{{1, 23, "", "regions[2]", "must be a region name or a mapping with name and description, got a list"}}},
		{"regions drop one the default environments use", y("regions: [euw1]"), []wantDiag{
			{1, 10, "", "regions", `the default environment "prod" runs in region "euw2", which this list does not define; add the region or define ` + "`environments`"},
		}},

		// paths
		{"pipelines path absolute", y("paths: {pipelines: /pipelines}"), []wantDiag{{1, 20, "", "paths.pipelines", `"/pipelines" must be relative to the repository root`}}},
		{"templates path escapes", y("paths: {templates: ../templates}"), []wantDiag{{1, 20, "", "paths.templates", `"../templates" must not contain '..'`}}},
		{"pipelines path is the root", y("paths: {pipelines: .}"), []wantDiag{{1, 20, "", "paths.pipelines", "must name a directory inside the repository, not its root"}}},
		{"pipelines path not clean", y("paths: {pipelines: pipelines/}"), []wantDiag{{1, 20, "", "paths.pipelines", `is not a clean path; write "pipelines"`}}},
		{"paths the same", y("paths: {pipelines: harness, templates: harness}"), []wantDiag{
			{1, 20, "", "paths", `the pipelines directory "harness" and the templates directory "harness" must be separate: each kind of rendered file has a directory of its own`},
		}},
		{"templates inside pipelines", y("paths:", "  templates: pipelines/templates"), []wantDiag{
			{2, 14, "", "paths", `the pipelines directory "pipelines" and the templates directory "pipelines/templates" must be separate`},
		}},
		{"paths unknown key", y("paths: {policies: policies}"), []wantDiag{{1, 9, "", "paths.policies", `unknown field "policies"; known fields: pipelines, templates, services, environments, infrastructures, triggers`}}},

		// New kinds' settings.
		{"values path without service", y("manifests:", `  values_path: "generated/{env}/values.yaml"`), []wantDiag{
			{2, 16, "", "manifests.values_path", "must contain {service}, or every service would read the same values"},
		}},
		{"private key secret with project scope", y("manifests:", "  private_key_secret: project.key"), []wantDiag{
			{2, 23, "", "manifests.private_key_secret", `"project.key" is not a Harness secret reference`},
		}},
		{"artifact type unknown", y("artifact: {type: Ecr}"), []wantDiag{{1, 18, "", "artifact.type", `"Ecr" is not an artifact type this application renders: use Gcr or DockerRegistry`}}},
		{"artifact connector not an identifier", y("artifact: {connector: gcr-platform}"), []wantDiag{{1, 23, "", "artifact.connector", `"gcr-platform" is not a Harness identifier`}}},
		{"artifact registry with a scheme", y("artifact: {registry: \"https://gcr.io\"}"), []wantDiag{{1, 22, "", "artifact.registry", `"https://gcr.io" is not a registry host name`}}},
		{"artifact registry for docker", y("artifact: {type: DockerRegistry, registry: docker.io}"), []wantDiag{
			{1, 44, "", "artifact.registry", "a DockerRegistry artifact takes its registry from its connector"},
		}},
		{"artifact image upper case", y(`artifact: {image: "Project/{service}"}`), []wantDiag{{1, 19, "", "artifact.image", `"Project/{service}" is not an image path`}}},
		{"artifact image with env", y(`artifact: {image: "p/{env}"}`), []wantDiag{
			{1, 19, "", "artifact.image", "uses the unknown placeholder {env}; allowed: {service}, {team}"},
		}},
		{"artifact unknown key", y("artifact: {tag: latest}"), []wantDiag{{1, 12, "", "artifact.tag", `unknown field "tag"; known fields: type, connector, registry, image`}}},
		{"cluster connector with service", y(`cluster: {connector: "k8s_{service}"}`), []wantDiag{
			{1, 22, "", "cluster.connector", "uses the unknown placeholder {service}; allowed: {env}, {env_short}, {env_id}, {region}"},
		}},
		{"cluster connector gives a dash", y(`cluster: {connector: "k8s_{env}"}`), []wantDiag{
			{1, 22, "", "cluster.connector", `gives the cluster connector "k8s_int-stable" for environment "int-stable" in region "euw1", which is not a Harness identifier`},
		}},
		{"namespace gives an underscore", y(`cluster: {namespace: "{env_id}"}`), []wantDiag{
			{1, 22, "", "cluster.namespace", `gives the namespace "int_stable" for environment "int-stable" in region "euw1", which is not a Kubernetes namespace name`},
		}},
		{"infrastructure gives a dash from the region", y(
			"environments:",
			"  - name: prod",
			"    regions: [eu-west1]",
			"regions: [eu-west1]",
		), []wantDiag{
			{2, 5, "", "environments[0]", `gives the infrastructure identifier "prod_eu-west1_k8s" for environment "prod" in region "eu-west1", which is not a Harness identifier`},
		}},
		{"infrastructure without region", y(`infrastructure: "{env_id}_k8s"`), []wantDiag{
			{1, 17, "", "infrastructure", `gives the infrastructure identifier "prod_k8s" to environment "prod" in both euw1 and euw2: use {region}`},
		}},
		{"environment type unknown", y("environments:", "  - name: prod", "    type: Live", "    regions: [euw1]"), []wantDiag{
			{3, 11, "", "environments[0].type", `"Live" is not a Harness environment type: use Production or PreProduction`},
		}},
		{"external connector invalid", y("external: {connectors: [vault-1]}"), []wantDiag{
			{1, 25, "", "external.connectors[0]", `"vault-1" is not a Harness connector identifier`},
		}},
		{"external user group repeated", y("external: {user_groups: [sre, sre]}"), []wantDiag{
			{1, 31, "", "external.user_groups[1]", `duplicate user group "sre"`},
		}},
		{"external unknown key", y("external: {services: [x]}"), []wantDiag{{1, 12, "", "external.services", `unknown field "services"; known fields: connectors, user_groups`}}},
		{"services and triggers share a directory", y("paths: {services: harness, triggers: harness}"), []wantDiag{
			{1, 19, "", "paths", `the services directory "harness" and the triggers directory "harness" must be separate`},
		}},
		{"environments inside pipelines", y("paths: {environments: pipelines/environments}"), []wantDiag{
			{1, 23, "", "paths", `the pipelines directory "pipelines" and the environments directory "pipelines/environments" must be separate`},
		}},

		// mass_delete
		{"max count negative", y("mass_delete: {max_count: -1}"), []wantDiag{{1, 26, "", "mass_delete.max_count", "must be 0 or more, got -1"}}},
		{"max percent above 100", y("mass_delete: {max_percent: 101}"), []wantDiag{{1, 28, "", "mass_delete.max_percent", "must be between 0 and 100, got 101"}}},
		{"max percent negative", y("mass_delete: {max_percent: -5}"), []wantDiag{{1, 28, "", "mass_delete.max_percent", "must be between 0 and 100, got -5"}}},
		{"max percent a fraction", y("mass_delete: {max_percent: 12.5}"), []wantDiag{{1, 28, "", "mass_delete.max_percent", "must be a whole number, got a number (12.5)"}}},
		{"max count a string", y(`mass_delete: {max_count: "5"}`), []wantDiag{{1, 26, "", "mass_delete.max_count", `must be a whole number, got a string ("5")`}}},
		{"max count huge", y("mass_delete: {max_count: 99999999999999999999}"), []wantDiag{{1, 26, "", "mass_delete.max_count", "must be a whole number, got a number (99999999999999999999)"}}},
		{"max count tagged", y("mass_delete: {max_count: !!int 5}"), []wantDiag{{1, 26, "", "mass_delete.max_count", "YAML tags (!!int) are not allowed here"}}},

		// YAML hygiene.
		{"duplicate key", y("harness: {org: a}", "harness: {org: b}"), []wantDiag{{2, 1, "", "harness", `duplicate key "harness" (first defined at line 1)`}}},
		{"duplicate nested key", y("mass_delete:", "  max_count: 1", "  max_count: 2"), []wantDiag{
			{3, 3, "", "mass_delete.max_count", `duplicate key "max_count" (first defined at line 2)`},
		}},
		{"anchor and alias", y("harness: {org: &o acme, project: *o}"), []wantDiag{
			{1, 16, "", "harness.org", "anchors (&o) are not allowed"},
			{1, 34, "", "harness.project", "aliases (*o) are not allowed"},
		}},
		{"tab indentation", y("harness:", "\torg: acme"), []wantDiag{{2, 1, "", "", "tab character used for indentation"}}},
		{"invalid UTF-8", []byte("harness: {org: \xc3\x28}\n"), []wantDiag{{1, 16, "", "", "the file is not valid UTF-8 text: invalid byte 0xC3"}}},
		{"two documents", y("harness: {org: a}", "---", "harness: {org: b}"), []wantDiag{{2, 1, "", "", "the file holds more than one YAML document"}}},
		{"syntax error", y("harness:", "  org: a", " project: b"), []wantDiag{{3, 0, "", "", "invalid YAML: "}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := ParseSettings(settingsFile, tt.src)
			checkDiags(t, settingsFile, diags, tt.want)
			if len(diags) > 0 && !cmp.Equal(got, Settings{}) {
				t.Errorf("ParseSettings returned non-zero settings with diagnostics: %+v", got)
			}
		})
	}
}

func TestParseSettingsReportsEveryErrorInFileOrder(t *testing.T) {
	src := y(
		"harness: {org: my-org}", // 1
		"environments:",
		"  - name: prod",
		"    regions: [euw3]",
		"    gate: {wait: forever}", // 5
		"regions: [euw1, euw2, euw1]",
		"mass_delete: {max_percent: 200}",
		"unknown: 1",
	)
	_, diags := ParseSettings(settingsFile, src)
	checkDiags(t, settingsFile, diags, []wantDiag{
		{1, 16, "", "harness.org", "not a Harness identifier"},
		{4, 15, "", "environments[0].regions[0]", `unknown region "euw3"`},
		{5, 18, "", "environments[0].gate.wait", `"forever" is not a duration`},
		{6, 23, "", "regions[2]", `duplicate region "euw1"`},
		{7, 28, "", "mass_delete.max_percent", "must be between 0 and 100"},
		{8, 1, "", "unknown", `unknown field "unknown"`},
	})
}

func TestExpand(t *testing.T) {
	v := PatternValues{Service: "payments", Team: "core", Env: Environment{Name: "int-stable", Short: "int"}, Region: "euw1"}
	for pattern, want := range map[string]string{
		"":      "",
		"plain": "plain",
		"generated/{service}/{env}/{region}/manifests.yaml": "generated/payments/int-stable/euw1/manifests.yaml",
		"{env_id}_{region}_k8s":                             "int_stable_euw1_k8s",
		"harness-delegate-{env_short}-{region}":             "harness-delegate-int-euw1",
		"{team}/{service}":                                  "core/payments",
		"{unknown}-{service}":                               "{unknown}-payments",
		"{{service}}":                                       "{payments}",
		"open {service":                                     "open {service",
	} {
		if got := Expand(pattern, v); got != want {
			t.Errorf("Expand(%q) = %q, want %q", pattern, got, want)
		}
	}
}
