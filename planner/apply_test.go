package planner_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// applied is the store's state after files were applied at commit.
func applied(t *testing.T, files map[string][]byte, commit string) []record.EntityState {
	t.Helper()
	var out []record.EntityState
	for p, content := range files {
		e, err := render.ReadEntity(content)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		parent := e.EnvironmentRef + e.PipelineRef
		out = append(out, record.EntityState{Path: p, Kind: string(e.Kind), Identifier: e.Identifier, Parent: parent,
			Service: e.Service, ContentHash: gh.BlobSHA(content), LastRenderedCommit: commit})
	}
	return out
}

// applyPlan plans applying files over what was applied, with contents
// from both.
func applyPlan(t *testing.T, files map[string][]byte, before map[string][]byte) planner.ApplyPlan {
	t.Helper()
	shas := map[string]string{}
	contents := map[string][]byte{}
	for p, c := range files {
		shas[p] = gh.BlobSHA(c)
		contents[gh.BlobSHA(c)] = c
	}
	for _, c := range before {
		contents[gh.BlobSHA(c)] = c
	}
	diff := planner.DiffApplied(shas, applied(t, before, configBefore))
	return planner.Apply(planner.ApplyInput{Diff: diff, Head: pipelinesHead, Files: shas, Contents: contents,
		Settings: catalog.DefaultSettings(), ConfigRepo: configRepo})
}

// op is an operation as the tests compare it: "create pipeline
// svc_000_cd", with what it waits for.
func summarize(ops []record.Operation) []string {
	var out []string
	for _, op := range ops {
		line := fmt.Sprintf("%s %s %s", op.Kind, op.Entity, op.Identifier)
		if op.State == record.OpHeld {
			line += " (held)"
		}
		if len(op.After) > 0 {
			line += " after " + strings.Join(op.After, " ")
		}
		out = append(out, line)
	}
	return out
}

// only keeps the files of files whose path starts with one of prefixes.
func only(files map[string][]byte, prefixes ...string) map[string][]byte {
	out := map[string][]byte{}
	for p, c := range files {
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre) {
				out[p] = c
			}
		}
	}
	return out
}

// without returns files less those whose path starts with one of prefixes.
func without(files map[string][]byte, prefixes ...string) map[string][]byte {
	out := maps.Clone(files)
	for p := range only(files, prefixes...) {
		delete(out, p)
	}
	return out
}

func edited(files map[string][]byte, p, old, new string) map[string][]byte {
	out := maps.Clone(files)
	out[p] = []byte(strings.Replace(string(files[p]), old, new, 1))
	return out
}

func TestApply(t *testing.T) {
	// One environment and its infrastructure definition, to keep the
	// expected lists short; the settings render the others too.
	one := only(rendered(t, services(1, "small")), "services/", "pipelines/", "triggers/",
		"environments/int-stable", "infrastructures/int-stable")
	two := only(rendered(t, services(2, "small")), "services/", "pipelines/", "triggers/",
		"environments/int-stable", "infrastructures/int-stable")
	ten := only(rendered(t, services(10, "small")), "services/", "pipelines/", "triggers/",
		"environments/int-stable", "infrastructures/int-stable")
	renamed := edited(one, "pipelines/svc-000-cd.yaml", "identifier: svc_000_cd", "identifier: svc_000_deploy")
	moved := maps.Clone(one)
	moved["pipelines/svc-zero-cd.yaml"] = moved["pipelines/svc-000-cd.yaml"]
	delete(moved, "pipelines/svc-000-cd.yaml")
	tests := map[string]struct {
		files, before map[string][]byte
		want          []string
		deletes       int
		massDelete    bool
		unreadable    []string // prefixes of the paths reported
		commits       []string
	}{
		"new entities are created, each after those it refers to": {
			files: one,
			want: []string{
				"create environment int_stable",
				"create infrastructure int_stable_euw1_k8s after environment/int_stable",
				"create service svc_000 after connector/github_platform_next_cross_org",
				"create pipeline svc_000_cd after environment/int_stable infrastructure/int_stable_euw1_k8s service/svc_000",
				"create trigger svc_000_cd_new_image after pipeline/svc_000_cd",
			},
			commits: []string{configBefore},
		},
		"an applied commit again changes nothing": {files: two, before: two},
		"a changed pipeline is updated, after its Service": {
			files: edited(two, "pipelines/svc-001-cd.yaml", "timeout: 10m", "timeout: 20m"), before: two,
			want: []string{"update pipeline svc_001_cd after service/svc_001"}, commits: []string{configBefore},
		},
		"a removed service loses its trigger, then its pipeline, then its Service": {
			files: without(ten, "services/svc-009", "pipelines/svc-009", "triggers/svc-009"), before: ten,
			want: []string{
				"delete trigger svc_009_cd_new_image",
				"delete pipeline svc_009_cd after trigger/svc_009_cd_new_image",
				"delete service svc_009 after pipeline/svc_009_cd",
			},
			deletes: 3, commits: []string{configBefore},
		},
		"one service of two is a mass delete (50%), counted once for its three files": {
			files: without(two, "services/svc-001", "pipelines/svc-001", "triggers/svc-001"), before: two,
			want: []string{
				"delete trigger svc_001_cd_new_image",
				"delete pipeline svc_001_cd after trigger/svc_001_cd_new_image",
				"delete service svc_001 after pipeline/svc_001_cd",
			},
			deletes: 3, massDelete: true, commits: []string{configBefore},
		},
		"a file that now defines another pipeline deletes the old one after the new one is written": {
			files: renamed, before: one,
			want: []string{
				"create pipeline svc_000_deploy after service/svc_000",
				"delete pipeline svc_000_cd",
			},
			deletes: 1, commits: []string{configBefore},
		},
		"a file moved to another path deletes nothing": {
			files: moved, before: one,
			want: []string{"update pipeline svc_000_cd after service/svc_000"}, commits: []string{configBefore},
		},
		"a removed environment goes after its infrastructure definitions and the pipelines": {
			files: without(one, "environments/", "infrastructures/"), before: one,
			want: []string{
				"delete infrastructure int_stable_euw1_k8s",
				"delete environment int_stable after infrastructure/int_stable_euw1_k8s",
			},
			deletes: 2, massDelete: true, commits: []string{configBefore},
		},
		"a file that is not an entity is reported, not applied": {
			files: map[string][]byte{"pipelines/notes-cd.yaml": []byte("just: notes\n")}, unreadable: []string{"`pipelines/notes-cd.yaml`: "},
		},
		"a file of another kind than its directory's is reported, not applied": {
			files:      map[string][]byte{"services/svc-000.yaml": one["pipelines/svc-000-cd.yaml"]},
			unreadable: []string{"`services/svc-000.yaml`: the file holds a pipeline (pipeline:), but files in services/ are services"},
		},
		"two files defining one entity are both reported, neither applied": {
			files: map[string][]byte{"pipelines/a-cd.yaml": one["pipelines/svc-000-cd.yaml"], "pipelines/b-cd.yaml": one["pipelines/svc-000-cd.yaml"]},
			unreadable: []string{
				"`pipelines/a-cd.yaml`: pipeline svc_000_cd is defined by 2 files (pipelines/a-cd.yaml, pipelines/b-cd.yaml)",
				"`pipelines/b-cd.yaml`: pipeline svc_000_cd is defined by 2 files",
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			plan := applyPlan(t, tt.files, tt.before)
			if d := cmp.Diff(tt.want, summarize(plan.Ops)); d != "" {
				t.Errorf("operations (-want +got):\n%s", d)
			}
			if plan.Deletes != tt.deletes || plan.MassDelete != tt.massDelete {
				t.Errorf("deletes %d, mass delete %v; want %d, %v", plan.Deletes, plan.MassDelete, tt.deletes, tt.massDelete)
			}
			if len(plan.Unreadable) != len(tt.unreadable) {
				t.Fatalf("unreadable = %q, want %d", plan.Unreadable, len(tt.unreadable))
			}
			for i, u := range tt.unreadable {
				if !strings.HasPrefix(plan.Unreadable[i], u) {
					t.Errorf("unreadable[%d] = %q, want it to start with %q", i, plan.Unreadable[i], u)
				}
			}
			if d := cmp.Diff(tt.commits, plan.ConfigCommits); d != "" {
				t.Errorf("config commits (-want +got):\n%s", d)
			}
			for _, st := range plan.States {
				if st.HarnessState != record.HarnessPending {
					t.Errorf("state of %s = %s, want pending until the operation runs", st.Service, st.HarnessState)
				}
			}
		})
	}
}

// TestApplyRecordsWhatIsApplied checks the entity states apply records:
// what the next apply compares with.
// TestApplyConnector checks when apply enqueues the connector the
// settings and the App's installation call for, and that the Services,
// which read their manifests through it, wait for it.
func TestApplyConnector(t *testing.T) {
	one := only(rendered(t, services(1, "small")), "services/", "pipelines/", "triggers/")
	desired := func(t *testing.T, s catalog.Settings, installation int64) *planner.DesiredConnector {
		t.Helper()
		d, err := planner.NewDesiredConnector(s, render.ConnectorApp{WebURL: "https://github.com", Owner: "company", AppID: 424242, InstallationID: installation})
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	def := catalog.DefaultSettings()
	moved := catalog.DefaultSettings()
	moved.Project = "payments"
	scoped := catalog.DefaultSettings()
	scoped.Manifests.Connector = "account.github_shared"
	const (
		svc      = "create service svc_000"
		pipeline = "create pipeline svc_000_cd after service/svc_000"
		trigger  = "create trigger svc_000_cd_new_image after pipeline/svc_000_cd"
		waits    = " after connector/github_platform_next_cross_org"
	)
	tests := map[string]struct {
		settings catalog.Settings
		files    map[string][]byte
		want     *planner.DesiredConnector
		applied  record.ConnectorState
		ops      []string
		recorded bool
	}{
		"the first apply creates the connector before everything": {
			settings: def, files: one, want: desired(t, def, 51), recorded: true,
			ops: []string{"create connector github_platform_next_cross_org", svc + waits, pipeline, trigger},
		},
		"a connector already enqueued is not enqueued again": {
			settings: def, want: desired(t, def, 51), applied: desired(t, def, 51).State(),
		},
		"a new installation of the App updates it": {
			settings: def, want: desired(t, def, 52), applied: desired(t, def, 51).State(), recorded: true,
			ops: []string{"update connector github_platform_next_cross_org"},
		},
		"settings naming another project create it there": {
			settings: moved, want: desired(t, moved, 51), applied: desired(t, def, 51).State(), recorded: true,
			ops: []string{"create connector github_platform_next_cross_org"},
		},
		"an unknown connector is left as it is; the Services still wait for one on its way": {
			settings: def, files: one, applied: desired(t, def, 51).State(),
			ops: []string{svc + waits, pipeline, trigger},
		},
		"a connector of the account is not the app's: nothing waits for it": {
			settings: scoped, files: one,
			ops: []string{svc, pipeline, trigger},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			shas, contents := map[string]string{}, map[string][]byte{}
			for p, c := range tt.files {
				shas[p], contents[gh.BlobSHA(c)] = gh.BlobSHA(c), c
			}
			in := planner.ApplyInput{Diff: planner.DiffApplied(shas, nil), Head: pipelinesHead, Files: shas, Contents: contents,
				Settings: tt.settings, ConfigRepo: configRepo, Connector: tt.want, ConnectorApplied: tt.applied}
			plan := planner.Apply(in)
			if d := cmp.Diff(tt.ops, summarize(plan.Ops)); d != "" {
				t.Errorf("operations (-want +got):\n%s", d)
			}
			checkConnectorRecorded(t, in, plan, tt.recorded)
		})
	}
}

// checkConnectorRecorded checks the connector state a plan records (when
// recorded), and that its operation carries the document under a key from
// the commit and the content, the same when planned again.
func checkConnectorRecorded(t *testing.T, in planner.ApplyInput, plan planner.ApplyPlan, recorded bool) {
	t.Helper()
	if !recorded {
		if plan.Connector != nil {
			t.Errorf("records the connector %+v, want nothing", *plan.Connector)
		}
		return
	}
	want := in.Connector.State()
	if plan.Connector == nil || *plan.Connector != want {
		t.Fatalf("records %v, want %+v", plan.Connector, want)
	}
	op := plan.Ops[0]
	if string(op.YAML) != string(in.Connector.YAML) || op.ContentHash != want.Hash || op.Commit != pipelinesHead || op.Key != "" {
		t.Errorf("connector operation %+v: want the document, keyed by commit and content", op)
	}
	if again := planner.Apply(in); record.DefaultKey(again.Ops[0]) != record.DefaultKey(op) {
		t.Error("planning the same apply twice gives the connector another key")
	}
}

func TestApplyRecordsWhatIsApplied(t *testing.T) {
	one := only(rendered(t, services(1, "small")), "services/", "pipelines/", "triggers/")
	plan := applyPlan(t, one, nil)
	got := map[string]string{}
	for _, e := range plan.Entities {
		got[e.Path] = fmt.Sprintf("%s %s parent=%q service=%q commit=%s", e.Kind, e.Identifier, e.Parent, e.Service, e.LastRenderedCommit)
	}
	want := map[string]string{
		"services/svc-000.yaml":              `service svc_000 parent="" service="svc-000" commit=` + configBefore,
		"pipelines/svc-000-cd.yaml":          `pipeline svc_000_cd parent="" service="svc-000" commit=` + configBefore,
		"triggers/svc-000-cd-new-image.yaml": `trigger svc_000_cd_new_image parent="svc_000_cd" service="svc-000" commit=` + configBefore,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("entities recorded (-want +got):\n%s", d)
	}
	if len(plan.States) != 1 || plan.States[0].Service != "svc-000" || plan.States[0].Pipeline != "svc_000_cd" {
		t.Errorf("service states = %+v, want the pipeline state of svc-000", plan.States)
	}
	gone := applyPlan(t, nil, one)
	if d := cmp.Diff([]string{"pipelines/svc-000-cd.yaml", "services/svc-000.yaml", "triggers/svc-000-cd-new-image.yaml"}, gone.Gone); d != "" {
		t.Errorf("paths no longer applied (-want +got):\n%s", d)
	}
}

func TestHoldHoldsOnlyTheDeletes(t *testing.T) {
	two := only(rendered(t, services(2, "small")), "services/", "pipelines/", "triggers/")
	next := edited(without(two, "services/svc-001", "pipelines/svc-001", "triggers/svc-001"),
		"pipelines/svc-000-cd.yaml", "timeout: 10m", "timeout: 20m")
	plan := applyPlan(t, next, two)
	if !plan.MassDelete {
		t.Fatal("removing one service of two is not a mass delete")
	}
	plan.Hold()
	want := []string{
		"update pipeline svc_000_cd after service/svc_000",
		"delete trigger svc_001_cd_new_image (held)",
		"delete pipeline svc_001_cd (held) after trigger/svc_001_cd_new_image",
		"delete service svc_001 (held) after pipeline/svc_001_cd",
	}
	if d := cmp.Diff(want, summarize(plan.Ops)); d != "" {
		t.Errorf("operations (-want +got):\n%s", d)
	}
}

func TestMassDeleteAllowed(t *testing.T) {
	labelled := gh.PullRequest{Number: 3, Merged: true, HeadRef: gh.SyncBranch, HeadRepo: pipelinesRepo.String(), AuthorIsBot: true,
		Author: "pipeline-orchestrator[bot]", Labels: []string{gh.MassDeleteLabel}}
	fork := labelled
	fork.HeadRepo, fork.Author, fork.AuthorIsBot = "mallory/harness-pipelines", "mallory", false
	for name, tt := range map[string]struct {
		last     *gh.PullRequest
		labelled []gh.PullRequest
		want     bool
	}{
		"no bot PR":                                                   {},
		"the last bot PR carries the label":                           {last: &gh.PullRequest{Labels: []string{gh.MassDeleteLabel}}, want: true},
		"the last bot PR has other labels":                            {last: &gh.PullRequest{Labels: []string{gh.BotLabel}}},
		"a merged bot PR was labelled later":                          {last: &gh.PullRequest{}, labelled: []gh.PullRequest{labelled}, want: true},
		"a labelled PR from another branch":                           {labelled: []gh.PullRequest{{Merged: true, HeadRef: "feature", Labels: labelled.Labels}}},
		"a labelled bot PR that was not merged":                       {labelled: []gh.PullRequest{{HeadRef: gh.SyncBranch, Labels: labelled.Labels}}},
		"a fork's merged PR from a branch named like the sync branch": {labelled: []gh.PullRequest{fork}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := planner.MassDeleteAllowed(pipelinesRepo, tt.last, tt.labelled); got != tt.want {
				t.Errorf("MassDeleteAllowed = %v, want %v", got, tt.want)
			}
		})
	}
}
