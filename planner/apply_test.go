package planner_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
)

// applied is the store's state after files were applied at commit.
func applied(files map[string][]byte, commit string) []record.PipelineState {
	var out []record.PipelineState
	for p, content := range files {
		out = append(out, record.PipelineState{Service: planner.ServiceOfPath(p), Pipeline: strings.ReplaceAll(planner.ServiceOfPath(p), "-", "_") + "_cd",
			Path: p, ContentHash: gh.BlobSHA(content), LastRenderedCommit: commit, HarnessState: record.HarnessInSync})
	}
	return out
}

// applyPlan plans applying files over what was applied, with contents
// from both.
func applyPlan(files map[string][]byte, before map[string][]byte, allowed bool) (planner.ApplyDiff, planner.ApplyPlan) {
	shas := map[string]string{}
	contents := map[string][]byte{}
	for p, c := range files {
		shas[p] = gh.BlobSHA(c)
		contents[gh.BlobSHA(c)] = c
	}
	for _, c := range before {
		contents[gh.BlobSHA(c)] = c
	}
	diff := planner.DiffApplied(shas, applied(before, configBefore), catalog.DefaultSettings())
	return diff, planner.Apply(planner.ApplyInput{Diff: diff, Head: pipelinesHead, Files: shas, Contents: contents,
		MassDeleteAllowed: allowed, ConfigRepo: configRepo})
}

type opSummary struct {
	Kind     record.OperationKind
	Pipeline string
	Held     bool
}

func summarize(ops []record.Operation) []opSummary {
	var out []opSummary
	for _, op := range ops {
		out = append(out, opSummary{op.Kind, op.Identifier, op.State == record.OpHeld})
	}
	return out
}

func TestApply(t *testing.T) {
	two := rendered(t, services(2, "small"))
	ten := rendered(t, services(10, "small"))
	changed := map[string][]byte{}
	for p, c := range two {
		changed[p] = c
	}
	changed["pipelines/svc-001-cd.yaml"] = []byte(strings.Replace(string(two["pipelines/svc-001-cd.yaml"]), "timeout: 10m", "timeout: 20m", 1))
	renamed := map[string][]byte{"pipelines/svc-000-cd.yaml": []byte(strings.ReplaceAll(string(two["pipelines/svc-000-cd.yaml"]), "svc_000_cd", "svc_000_deploy"))}
	fourOfTen, nineOfTen := map[string][]byte{}, map[string][]byte{}
	for p, c := range ten {
		if p < "pipelines/svc-004" {
			fourOfTen[p] = c
		}
		if p < "pipelines/svc-009" {
			nineOfTen[p] = c
		}
	}
	tests := map[string]struct {
		files, before map[string][]byte
		allowed       bool
		want          []opSummary
		deletes       int
		held          bool
		unreadable    int
		commits       []string
	}{
		"new pipelines are created": {
			files: two, before: nil,
			want:    []opSummary{{"create", "svc_000_cd", false}, {"create", "svc_001_cd", false}},
			commits: []string{configBefore},
		},
		"an applied commit again changes nothing": {files: two, before: two},
		"a changed file is updated": {
			files: changed, before: two, want: []opSummary{{"update", "svc_001_cd", false}}, commits: []string{configBefore},
		},
		"a removed file is deleted": {
			files: nineOfTen, before: ten, want: []opSummary{{"delete", "svc_009_cd", false}}, deletes: 1, commits: []string{configBefore},
		},
		"one of two is already a mass delete (50%)": {
			files: map[string][]byte{"pipelines/svc-000-cd.yaml": two["pipelines/svc-000-cd.yaml"]}, before: two,
			want: []opSummary{{"delete", "svc_001_cd", true}}, deletes: 1, held: true, commits: []string{configBefore},
		},
		"a file that now defines another pipeline deletes the old one": {
			files: renamed, before: map[string][]byte{"pipelines/svc-000-cd.yaml": two["pipelines/svc-000-cd.yaml"]},
			want: []opSummary{{"delete", "svc_000_cd", false}, {"update", "svc_000_deploy", false}}, commits: []string{configBefore},
		},
		"a mass delete is held": {
			files: fourOfTen, before: ten, deletes: 6, held: true, commits: []string{configBefore},
			want: []opSummary{{"delete", "svc_004_cd", true}, {"delete", "svc_005_cd", true}, {"delete", "svc_006_cd", true},
				{"delete", "svc_007_cd", true}, {"delete", "svc_008_cd", true}, {"delete", "svc_009_cd", true}},
		},
		"the label lets a mass delete through": {
			files: fourOfTen, before: ten, allowed: true, deletes: 6, commits: []string{configBefore},
			want: []opSummary{{"delete", "svc_004_cd", false}, {"delete", "svc_005_cd", false}, {"delete", "svc_006_cd", false},
				{"delete", "svc_007_cd", false}, {"delete", "svc_008_cd", false}, {"delete", "svc_009_cd", false}},
		},
		"a file that is not a pipeline is reported, not applied": {
			files: map[string][]byte{"pipelines/notes-cd.yaml": []byte("just: notes\n")}, unreadable: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			diff, plan := applyPlan(tt.files, tt.before, tt.allowed)
			if d := cmp.Diff(tt.want, summarize(plan.Ops)); d != "" {
				t.Errorf("operations (-want +got):\n%s", d)
			}
			if plan.Deletes != tt.deletes || plan.Held != tt.held || len(plan.Unreadable) != tt.unreadable {
				t.Errorf("deletes %d held %v unreadable %v, want %d %v %d", plan.Deletes, plan.Held, plan.Unreadable, tt.deletes, tt.held, tt.unreadable)
			}
			if d := cmp.Diff(tt.commits, plan.ConfigCommits); d != "" {
				t.Errorf("config commits (-want +got):\n%s", d)
			}
			if diff.MassDelete != (tt.held || tt.allowed) {
				t.Errorf("DiffApplied.MassDelete = %v with %d deletes", diff.MassDelete, tt.deletes)
			}
			for _, st := range plan.States {
				if st.HarnessState != record.HarnessPending {
					t.Errorf("state of %s = %s, want pending until the operation runs", st.Service, st.HarnessState)
				}
			}
		})
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
