package planner_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

func TestGate(t *testing.T) {
	badSettings := repoWith(t, nil, map[string]string{"templates/api-pipeline-template.yaml": "pipeline: {{"})
	good := repoWith(t, nil, nil)
	tests := map[string]struct {
		catalog  string
		missing  bool
		lastGood record.LastGoodCatalog
		want     planner.BlockReason // "" means go on
	}{
		"invalid templates block before the catalog is read": {catalog: services(1, "small"), want: planner.BlockedSettings},
		"missing catalog":                       {missing: true, want: planner.BlockedCatalogMissing},
		"invalid catalog":                       {catalog: "services:\n  - name: Bad_Name\n", want: planner.BlockedCatalogInvalid},
		"emptied catalog after a good one":      {catalog: "services: []\n", lastGood: record.LastGoodCatalog{Commit: configBefore, Services: 3}, want: planner.BlockedCatalogEmptied},
		"empty catalog before any good one":     {catalog: "services: []\n"},
		"valid catalog":                         {catalog: services(2, "small"), lastGood: record.LastGoodCatalog{Services: 2}},
		"fewer services than the last good one": {catalog: services(1, "small"), lastGood: record.LastGoodCatalog{Services: 5}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			pipes := good
			if tt.want == planner.BlockedSettings {
				pipes = badSettings
			}
			head := catalogAt(t, configHead, tt.catalog, pipes)
			head.Missing = tt.missing
			b := planner.Gate(pipes, head, tt.lastGood)
			var got planner.BlockReason
			if b != nil {
				got = b.Reason
			}
			if got != tt.want {
				t.Fatalf("Gate = %q, want %q", got, tt.want)
			}
			if got == planner.BlockedCatalogEmptied && (b.Services != 3 || b.LastGood.Commit != configBefore) {
				t.Errorf("emptied catalog names %d services of %s, want 3 of the last good commit", b.Services, b.LastGood.Commit)
			}
			if got == planner.BlockedCatalogInvalid && len(b.Diags) == 0 {
				t.Error("an invalid catalog is blocked without its problems")
			}
		})
	}
}

func TestPropose(t *testing.T) {
	brokenTemplate := map[string]string{"templates/api-pipeline-template.yaml": "pipeline:\n  name: {{index .Stages 5}}\n"}
	tests := map[string]struct {
		current    map[string][]byte
		merged     string // catalog of the last merged bot PR ("" unknown)
		head       string
		templates  map[string]string
		want       render.Counts // services
		writes     []string      // paths written; "-path" deleted
		existing   int           // services and environments
		massDelete bool
		blocked    planner.BlockReason
	}{
		"a new service is created": {
			current: map[string][]byte{}, head: services(1, "small"),
			want: render.Counts{Create: 1}, writes: []string{"environments/int-stable.yaml", "environments/pre-stable.yaml", "environments/prod.yaml",
				"infrastructures/int-stable-euw1.yaml", "infrastructures/pre-stable-euw1.yaml", "infrastructures/prod-euw1.yaml", "infrastructures/prod-euw2.yaml",
				"pipelines/svc-000-cd.yaml", "services/svc-000.yaml", "triggers/svc-000-cd-new-image.yaml"},
		},
		"a config-only change writes nothing": {
			current: rendered(t, services(2, "small")), merged: services(2, "small"), head: services(2, "medium"),
			want: render.Counts{ConfigOnly: 2}, existing: 5,
		},
		"an unchanged catalog writes nothing": {
			current: rendered(t, services(2, "small")), head: services(2, "small"),
			want: render.Counts{Unchanged: 2}, existing: 5,
		},
		"a removed service is deleted": {
			current: rendered(t, services(10, "small")), head: services(9, "small"),
			want: render.Counts{Delete: 1, Unchanged: 9}, existing: 13,
			writes: []string{"-pipelines/svc-009-cd.yaml", "-services/svc-009.yaml", "-triggers/svc-009-cd-new-image.yaml"},
		},
		"many removals are a mass delete": {
			current: rendered(t, services(10, "small")), head: services(4, "small"),
			want: render.Counts{Delete: 6, Unchanged: 4}, existing: 13,
			writes:     deletesOf(4, 10),
			massDelete: true,
		},
		"a template that fails for a service blocks the proposal": {
			current: map[string][]byte{}, head: services(1, "small"), templates: brokenTemplate, blocked: planner.BlockedRender,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			pipes := repoWith(t, tt.current, tt.templates)
			in := planner.ProposeInput{Pipelines: pipes, Head: catalogAt(t, configHead, tt.head, pipes), Current: tt.current, Source: source(configHead)}
			if tt.merged != "" {
				in.Merged = catalogAt(t, configBefore, tt.merged, pipes)
			}
			p := planner.Propose(in)
			if tt.blocked != "" {
				if p.Blocked == nil || p.Blocked.Reason != tt.blocked || len(p.Blocked.Diags) == 0 {
					t.Fatalf("Blocked = %+v, want %s with its problems", p.Blocked, tt.blocked)
				}
				return
			}
			if p.Blocked != nil {
				t.Fatalf("blocked: %+v", p.Blocked)
			}
			sum := p.Plan.Summary
			got := render.Counts{Create: sum.Create, Update: sum.Update, Delete: sum.Delete, ConfigOnly: sum.ConfigOnly, Unchanged: sum.Unchanged}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			var writes []string
			for path, content := range p.Writes {
				if content == nil {
					path = "-" + path
				}
				writes = append(writes, path)
			}
			sort.Strings(writes)
			if diff := cmp.Diff(tt.writes, writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
			if p.MassDelete != tt.massDelete {
				t.Errorf("MassDelete = %v, want %v", p.MassDelete, tt.massDelete)
			}
			if p.LastGood.Commit != configHead || p.Existing != tt.existing {
				t.Errorf("LastGood = %+v, Existing = %d", p.LastGood, p.Existing)
			}
		})
	}
}

// deletesOf lists the deletes of the files of services from to to-1.
func deletesOf(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("-pipelines/svc-%03d-cd.yaml", i), fmt.Sprintf("-services/svc-%03d.yaml", i),
			fmt.Sprintf("-triggers/svc-%03d-cd-new-image.yaml", i))
	}
	sort.Strings(out)
	return out
}

func TestPlanBotPR(t *testing.T) {
	current := rendered(t, services(1, "small"))
	pipes := repoWith(t, current, nil)
	next := planner.Propose(planner.ProposeInput{Pipelines: pipes, Head: catalogAt(t, configHead, services(2, "small"), pipes),
		Current: current, Source: source(configHead)})
	nothing := planner.Propose(planner.ProposeInput{Pipelines: pipes, Head: catalogAt(t, configHead, services(1, "small"), pipes),
		Current: current, Source: source(configHead)})
	identity := planner.Identity(pipes.EntityFiles(), next.Writes)
	body := func(id string) string { return "text\n" + planner.BotMeta{Identity: id}.Encode() + "\n" }
	pr := func(state string, merged bool, id string) *gh.PullRequest {
		return &gh.PullRequest{Number: 7, State: state, Merged: merged, Body: body(id)}
	}
	tests := map[string]struct {
		proposal   planner.Proposal
		open, last *gh.PullRequest
		want       planner.PRAction
	}{
		"nothing to change, no bot PR":                        {proposal: nothing, want: planner.PRNone},
		"nothing left to change closes the bot PR":            {proposal: nothing, open: pr("open", false, "other"), want: planner.PRClose},
		"a change opens a bot PR":                             {proposal: next, want: planner.PRCommit},
		"the open bot PR proposes exactly this":               {proposal: next, open: pr("open", false, identity), want: planner.PRUnchanged},
		"the open bot PR proposes something older":            {proposal: next, open: pr("open", false, "older"), want: planner.PRCommit},
		"the same change was closed without merging":          {proposal: next, last: pr("closed", false, identity), want: planner.PRNotReopened},
		"another change was closed without merging":           {proposal: next, last: pr("closed", false, "other"), want: planner.PRCommit},
		"the same change was merged (and Git moved on since)": {proposal: next, last: pr("closed", true, identity), want: planner.PRCommit},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := planner.PlanBotPR(planner.BotPRInput{Proposal: tt.proposal, EntityFiles: pipes.EntityFiles(), Open: tt.open, Last: tt.last,
				ConfigHead: configHead, PipelinesHead: pipelinesHead, ConfigRepo: configRepo, PipelinesRepo: pipelinesRepo})
			if got.Action != tt.want {
				t.Fatalf("Action = %s, want %s", got.Action, tt.want)
			}
			if got.Action == planner.PRCommit {
				want := planner.BotMeta{Identity: identity, ConfigCommit: configHead, PipelinesBase: pipelinesHead,
					SourceCommits: []string{configRepo.String() + "@" + configHead, pipelinesRepo.String() + "@" + pipelinesHead}}
				if diff := cmp.Diff(want, got.Meta); diff != "" {
					t.Errorf("meta (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestBotMetaRoundTrips(t *testing.T) {
	m := planner.BotMeta{Identity: "abc", ConfigCommit: configHead, Deletes: 6, MassDelete: true, SourceCommits: []string{"a@b"}}
	got, ok := planner.ParseBotMeta("| table |\n\n" + m.Encode() + "\n")
	if !ok {
		t.Fatal("the encoded block is not found again")
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("meta (-want +got):\n%s", diff)
	}
	if _, ok := planner.ParseBotMeta("a body written by hand"); ok {
		t.Error("a body without the block parses")
	}
	forged := planner.BotMeta{Identity: "forged"}.Encode()
	if got, _ := planner.ParseBotMeta("| `team`: `" + forged + "` |\n\n" + m.Encode() + "\n"); got.Identity != m.Identity {
		t.Errorf("a block quoted above the body's own is read: identity %q", got.Identity)
	}
}

func TestKeepOpenPRHeaders(t *testing.T) {
	old := rendered(t, services(1, "small"))["pipelines/svc-000-cd.yaml"]
	pipes := repoWith(t, nil, nil)
	c := catalogAt(t, configHead, services(1, "small"), pipes)
	files, _ := render.All(pipes.Templates, c.Catalog, render.Options{Settings: pipes.Settings, Source: source(configHead)}) // same body, newer header
	writes := map[string][]byte{"pipelines/svc-000-cd.yaml": files["pipelines/svc-000-cd.yaml"], "pipelines/gone-cd.yaml": nil}
	prFiles := map[string]string{"pipelines/svc-000-cd.yaml": gh.BlobSHA(old)}
	need := planner.OpenPRBlobs(writes, prFiles)
	if diff := cmp.Diff([]string{gh.BlobSHA(old)}, need); diff != "" {
		t.Fatalf("blobs asked for (-want +got):\n%s", diff)
	}
	planner.KeepOpenPRHeaders(writes, prFiles, map[string][]byte{gh.BlobSHA(old): old})
	if string(writes["pipelines/svc-000-cd.yaml"]) != string(old) {
		t.Error("a file whose body did not change lost the open PR's header")
	}
	if writes["pipelines/gone-cd.yaml"] != nil {
		t.Error("a delete became a write")
	}
}

func TestSyncTargets(t *testing.T) {
	const pipelinesPush = "beef000000000000000000000000000000000099"
	configPush := work.Trigger{Repo: "Company/Platform-Next", SHA: configBefore} // GitHub's case may differ from the config
	templatePush := work.Trigger{Repo: pipelinesRepo.String(), SHA: pipelinesPush}
	tests := map[string]struct {
		triggers []work.Trigger
		changed  bool
		success  bool
		want     []planner.CheckTarget
	}{
		"a catalog push gets a run, and so does the head it rendered": {
			triggers: []work.Trigger{configPush}, success: true,
			want: []planner.CheckTarget{{Repo: configRepo, SHA: configHead, Annotate: true}, {Repo: configRepo, SHA: configBefore}},
		},
		"a restart's catch-up that changed nothing reports nowhere": {success: true},
		"a catch-up that changed something reports on the head": {
			changed: true, success: true, want: []planner.CheckTarget{{Repo: configRepo, SHA: configHead, Annotate: true}},
		},
		"a template push that succeeded reports on the config head only when it changed": {
			triggers: []work.Trigger{templatePush}, success: true,
		},
		"a template push that failed gets the failure": {
			triggers: []work.Trigger{templatePush}, changed: true,
			want: []planner.CheckTarget{{Repo: configRepo, SHA: configHead, Annotate: true}, {Repo: pipelinesRepo, SHA: pipelinesPush}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := planner.SyncTargets(planner.SyncTargetsInput{Triggers: tt.triggers, ConfigRepo: configRepo, PipelinesRepo: pipelinesRepo,
				ConfigHead: configHead, Changed: tt.changed, Success: tt.success})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsMassDelete(t *testing.T) {
	s := catalog.DefaultSettings().MassDelete // more than 5, or more than 20%
	for _, tt := range []struct {
		deletes, existing int
		want              bool
	}{
		{0, 0, false}, {0, 100, false}, {1, 100, false}, {5, 100, false}, {6, 100, true},
		{1, 10, false}, {2, 10, false}, {3, 10, true}, {1, 4, true}, {1, 0, false},
	} {
		if got := planner.IsMassDelete(s.MaxCount, s.MaxPercent, tt.deletes, tt.existing); got != tt.want {
			t.Errorf("IsMassDelete(%d of %d) = %v, want %v", tt.deletes, tt.existing, got, tt.want)
		}
	}
}
