package planner

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// ApplyDiff is what apply must read before it plans: which pipeline files
// differ from what was last applied.
type ApplyDiff struct {
	// Applied is the state of what is applied, by path.
	Applied map[string]record.PipelineState
	// Changed are the files whose content differs from what was applied
	// there (new files included); Removed the applied files that are gone.
	Changed, Removed []string
	// Blobs are the contents apply needs: the changed files, and the
	// removed ones (they name the org and project their pipeline lives in).
	Blobs []string
	// MassDelete: the removals cross the settings' threshold, so whether
	// the mass-delete label is there must be known.
	MassDelete bool
}

// DiffApplied compares the pipeline files of a pipelines commit (path →
// blob SHA) with what the store says is applied. It compares with the last
// applied state, not with a push's before..after, so duplicate, late,
// reordered or force pushes all converge alike.
func DiffApplied(files map[string]string, states []record.PipelineState, s catalog.Settings) ApplyDiff {
	d := ApplyDiff{Applied: map[string]record.PipelineState{}}
	for _, st := range states {
		if st.ContentHash != "" && st.Path != "" {
			d.Applied[st.Path] = st
		}
	}
	for p, sha := range files {
		if d.Applied[p].ContentHash != sha {
			d.Changed = append(d.Changed, p)
		}
	}
	for p := range d.Applied {
		if _, ok := files[p]; !ok {
			d.Removed = append(d.Removed, p)
		}
	}
	sort.Strings(d.Changed)
	sort.Strings(d.Removed)
	for _, p := range d.Changed {
		d.Blobs = append(d.Blobs, files[p])
	}
	for _, p := range d.Removed {
		d.Blobs = append(d.Blobs, d.Applied[p].ContentHash)
	}
	d.MassDelete = IsMassDelete(s.MassDelete.MaxCount, s.MassDelete.MaxPercent, len(d.Removed), len(d.Applied))
	return d
}

// ApplyInput is everything apply plans from.
type ApplyInput struct {
	Diff ApplyDiff
	// Head is the pipelines commit applied; Files its pipeline files.
	Head  string
	Files map[string]string
	// Contents are the blobs Diff.Blobs named.
	Contents map[string][]byte
	// MassDeleteAllowed: the bot PR carries the mass-delete label (only
	// read when Diff.MassDelete).
	MassDeleteAllowed bool
	ConfigRepo        gh.Repo
}

// ApplyPlan is what apply enqueues and records.
type ApplyPlan struct {
	Ops []record.Operation
	// States are the pipeline states to record with the operations.
	States []record.PipelineState
	// Unreadable lists the changed files that are not pipelines the app
	// can apply, with why.
	Unreadable []string
	// ConfigCommits are the config commits behind the changes, sorted: they
	// get a harness check run too.
	ConfigCommits []string
	Deletes       int
	// Held: the deletes wait for the mass-delete label.
	Held bool
}

// Apply plans one operation per changed pipeline file (create or update,
// and a delete of the old pipeline when the file now defines another one)
// and one delete per removed file. Deletes over the mass-delete threshold
// are held unless the label allows them.
func Apply(in ApplyInput) ApplyPlan {
	var plan ApplyPlan
	commits := map[string]bool{}
	for _, p := range in.Diff.Changed {
		blob := in.Files[p]
		content := in.Contents[blob]
		meta, err := render.ReadMeta(content)
		if err != nil {
			plan.Unreadable = append(plan.Unreadable, fmt.Sprintf("`%s`: %v", p, err))
			continue
		}
		service := ServiceOfPath(p)
		prev := in.Diff.Applied[p]
		kind := record.KindCreate
		if prev.ContentHash != "" {
			kind = record.KindUpdate
		}
		if prev.Pipeline != "" && prev.Pipeline != meta.Identifier {
			plan.Ops = append(plan.Ops, NewOperation(Op{
				Kind: record.KindDelete, Pipeline: prev.Pipeline, Service: service, Path: p,
				Commit: in.Head, Blob: blob, YAML: in.Contents[prev.ContentHash],
				Reason: "pipeline identifier changed in " + p, Cause: FromRename,
			}))
		}
		plan.Ops = append(plan.Ops, NewOperation(Op{
			Kind: kind, Pipeline: meta.Identifier, Service: service, Path: p,
			Commit: in.Head, ConfigCommit: meta.CatalogCommit, Blob: blob, YAML: content,
			Reason: "changed in " + p, Cause: FromApply,
		}))
		if meta.CatalogCommit != "" && in.ConfigRepo.Is(meta.CatalogRepo) {
			commits[meta.CatalogCommit] = true
		}
		st := prev
		st.Service, st.Pipeline, st.Path, st.ContentHash = service, meta.Identifier, p, blob
		st.HarnessState, st.LastError = record.HarnessPending, ""
		if meta.CatalogCommit != "" {
			st.LastRenderedCommit = meta.CatalogCommit
		}
		if st.Archetype == "" {
			st.Archetype = meta.Tags["archetype"]
		}
		if st.Team == "" {
			st.Team = meta.Tags["team"]
		}
		plan.States = append(plan.States, st)
	}

	for _, p := range in.Diff.Removed {
		prev := in.Diff.Applied[p]
		plan.Ops = append(plan.Ops, NewOperation(Op{
			Kind: record.KindDelete, Pipeline: prev.Pipeline, Service: prev.Service, Path: p,
			Commit: in.Head, ConfigCommit: prev.LastRenderedCommit, Blob: prev.ContentHash,
			YAML: in.Contents[prev.ContentHash], Reason: "removed from " + path.Dir(p), Cause: FromRemoval,
		}))
		if prev.LastRenderedCommit != "" {
			commits[prev.LastRenderedCommit] = true
		}
		st := prev
		st.ContentHash, st.HarnessState, st.LastError = "", record.HarnessPending, ""
		plan.States = append(plan.States, st)
		plan.Deletes++
	}

	if in.Diff.MassDelete && !in.MassDeleteAllowed {
		plan.Held = true
		for i := range plan.Ops {
			if plan.Ops[i].Kind == record.KindDelete {
				plan.Ops[i].State = record.OpHeld
			}
		}
	}
	for c := range commits {
		plan.ConfigCommits = append(plan.ConfigCommits, c)
	}
	sort.Strings(plan.ConfigCommits)
	return plan
}

// ServiceOfPath is the service a pipeline file is named after.
func ServiceOfPath(p string) string {
	return strings.TrimSuffix(path.Base(p), "-cd.yaml")
}

// MassDeleteAllowed reports whether the mass-delete label allows the
// deletes: on the most recent bot PR, or on a merged bot PR that an event
// behind this run is about (the label may be added after the merge, when
// the app has already opened the next bot PR). labelled are those merged
// PRs, read by the caller; only the bot PR's label counts (from repo's
// own sync branch and opened by a bot: a fork's branch of the same name
// does not).
func MassDeleteAllowed(repo gh.Repo, last *gh.PullRequest, labelled []gh.PullRequest) bool {
	if last != nil && last.HasLabel(gh.MassDeleteLabel) {
		return true
	}
	for _, pr := range labelled {
		if pr.Merged && pr.IsBotPR(repo, "") && pr.HasLabel(gh.MassDeleteLabel) {
			return true
		}
	}
	return false
}
