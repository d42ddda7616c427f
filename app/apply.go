package app

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// apply converges Harness to the pipelines repo's default branch: every
// pipeline file whose content differs from what was last applied becomes
// one durable operation (create/update, or delete for a removed file). It
// compares with the last applied state, not with the push's before..after,
// so duplicate, late, reordered or force pushes all converge alike.
func (a *App) apply(ctx context.Context, triggers []trigger) (string, error) {
	_, head, err := a.head(ctx, a.pipelinesRepo)
	if err != nil {
		return "", err
	}
	snap, err := a.readPipelinesRepo(ctx, head)
	if err != nil {
		return "", err
	}
	outcome, queued, err := a.applyAt(ctx, head, snap, triggers)
	if err != nil {
		return "", err
	}
	// A push that changed templates or settings asks for a new proposal.
	// So does one that changed pipelines (a bot PR merged, or a pipeline
	// edited by hand): the bot PR's base moved, and a proposal made while
	// the bot PR was being merged may have gone to the merged PR, or be
	// based on the old head.
	proposed, err := a.db.GetState(ctx, keyProposedInputs)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if proposed != snap.InputsHash || queued > 0 {
		more, err := a.propose(ctx, triggers)
		if err != nil {
			return "", err
		}
		outcome += "; " + more
	}
	return outcome, nil
}

// settingsProblems keeps only the diagnostics about the settings file:
// template problems do not stop apply, which never renders.
func settingsProblems(snap pipelinesSnapshot) bool {
	for _, d := range snap.Diags {
		if d.File == SettingsPath {
			return true
		}
	}
	return false
}

// applyAt enqueues the operations that bring Harness to head and returns
// the outcome and the number of operations it enqueued.
func (a *App) applyAt(ctx context.Context, head Commit, snap pipelinesSnapshot, triggers []trigger) (string, int, error) {
	log := zerolog.Ctx(ctx)
	if settingsProblems(snap) {
		// Without valid settings the pipelines directory is unknown, and a
		// guess could read every pipeline as deleted.
		summary := fmt.Sprintf("`%s` is invalid at this commit, so nothing was applied:\n\n%s", SettingsPath, diagnosticList(snap.Diags))
		a.setLastError(errors.New("apply blocked: invalid settings"))
		return "blocked: invalid settings", 0, a.postCheck(ctx, a.pipelinesRepo, CheckHarness, head.SHA, conclusionFailure, "Invalid settings: nothing applied", summary, nil)
	}
	files := snap.pipelineFiles()
	states, err := a.db.ListPipelineStates(ctx)
	if err != nil {
		return "", 0, err
	}
	applied := map[string]store.PipelineState{} // path → state of what is applied there
	for _, st := range states {
		if st.ContentHash != "" && st.Path != "" {
			applied[st.Path] = st
		}
	}

	var changed []string
	for p, sha := range files {
		if applied[p].ContentHash != sha {
			changed = append(changed, p)
		}
	}
	var removed []string
	for p := range applied {
		if _, ok := files[p]; !ok {
			removed = append(removed, p)
		}
	}
	sort.Strings(changed)
	sort.Strings(removed)

	shas := make([]string, 0, len(changed)+len(removed))
	for _, p := range changed {
		shas = append(shas, files[p])
	}
	for _, p := range removed {
		// The removed file names the org and project its pipeline lives in.
		shas = append(shas, applied[p].ContentHash)
	}
	contents, err := a.blobs(ctx, a.pipelinesRepo, shas)
	if err != nil {
		return "", 0, err
	}

	var ops []store.Operation
	var newStates []store.PipelineState
	var unreadable []string
	configCommits := map[string]bool{}
	for _, p := range changed {
		content := contents[files[p]]
		meta, err := render.ReadMeta(content)
		if err != nil {
			unreadable = append(unreadable, fmt.Sprintf("`%s`: %v", p, err))
			continue
		}
		service := serviceOfPath(p)
		prev := applied[p]
		kind := store.KindCreate
		if prev.ContentHash != "" {
			kind = store.KindUpdate
		}
		if prev.Pipeline != "" && prev.Pipeline != meta.Identifier {
			// The file now defines another pipeline: the old one goes.
			ops = append(ops, store.Operation{Pipeline: prev.Pipeline, Service: service, Path: p, Kind: store.KindDelete,
				Commit: head.SHA, ContentHash: "renamed:" + files[p], YAML: contentOr(contents[prev.ContentHash], prev), Reason: "pipeline identifier changed in " + p})
		}
		ops = append(ops, store.Operation{Pipeline: meta.Identifier, Service: service, Path: p, Kind: kind,
			Commit: head.SHA, ConfigCommit: meta.CatalogCommit, ContentHash: files[p], YAML: content, Reason: "changed in " + p})
		if meta.CatalogCommit != "" && strings.EqualFold(meta.CatalogRepo, a.configRepo.String()) {
			configCommits[meta.CatalogCommit] = true
		}
		st := prev
		st.Service, st.Pipeline, st.Path, st.ContentHash = service, meta.Identifier, p, files[p]
		st.HarnessState, st.LastError = store.HarnessPending, ""
		if meta.CatalogCommit != "" {
			st.LastRenderedCommit = meta.CatalogCommit
		}
		if st.Archetype == "" {
			st.Archetype = meta.Tags["archetype"]
		}
		if st.Team == "" {
			st.Team = meta.Tags["team"]
		}
		newStates = append(newStates, st)
	}

	deletes := 0
	for _, p := range removed {
		prev := applied[p]
		ops = append(ops, store.Operation{Pipeline: prev.Pipeline, Service: prev.Service, Path: p, Kind: store.KindDelete,
			Commit: head.SHA, ConfigCommit: prev.LastRenderedCommit, ContentHash: "deleted:" + prev.ContentHash,
			YAML: contentOr(contents[prev.ContentHash], prev), Reason: "removed from " + path.Dir(p)})
		if prev.LastRenderedCommit != "" {
			configCommits[prev.LastRenderedCommit] = true
		}
		st := prev
		st.ContentHash, st.HarnessState, st.LastError = "", store.HarnessPending, ""
		newStates = append(newStates, st)
		deletes++
	}

	held := false
	if isMassDelete(snap.Settings, deletes, len(applied)) {
		allowed, err := a.massDeleteAllowed(ctx, triggers)
		if err != nil {
			return "", 0, err
		}
		if !allowed {
			held = true
			for i := range ops {
				if ops[i].Kind == store.KindDelete {
					ops[i].State = store.OpHeld
				}
			}
		}
	}

	if len(ops) > 0 {
		if _, err := a.db.EnqueueOperations(ctx, ops); err != nil {
			return "", 0, err
		}
		for _, st := range newStates {
			if err := a.db.UpsertPipelineState(ctx, st); err != nil {
				return "", 0, err
			}
		}
		a.runner.Notify()
		a.audit(ctx, "enqueue", head.SHA, fmt.Sprintf("%d operation(s), %d delete(s)", len(ops), deletes), head.SHA)
	}

	released, err := a.releaseHeldIfAllowed(ctx, triggers)
	if err != nil {
		return "", 0, err
	}

	if len(ops) == 0 && len(unreadable) == 0 && released == 0 {
		return "nothing to apply", 0, nil
	}
	if len(ops) > 0 || len(unreadable) > 0 {
		if err := a.openHarnessChecks(ctx, head.SHA, configCommits, len(ops), unreadable); err != nil {
			log.Warn().Err(err).Msg("opening harness check runs")
		}
	}
	a.reporter.touch(head.SHA)
	outcome := fmt.Sprintf("%d operation(s) queued", len(ops))
	if held {
		outcome += fmt.Sprintf(", %d delete(s) held for the mass-delete label", deletes)
	}
	if released > 0 {
		outcome += fmt.Sprintf(", %d held delete(s) released", released)
	}
	return outcome, len(ops), nil
}

// contentOr returns the pipeline file a delete removes (it names the org
// and project the pipeline lives in), or a minimal document naming the
// pipeline when the file is no longer known.
func contentOr(file []byte, st store.PipelineState) []byte {
	if file != nil {
		return file
	}
	return []byte(fmt.Sprintf("pipeline:\n  identifier: %s\n", st.Pipeline))
}

func serviceOfPath(p string) string {
	return strings.TrimSuffix(path.Base(p), "-cd.yaml")
}

// massDeleteAllowed reports whether the most recent bot PR carries the
// mass-delete label, or a merged bot PR that a trigger of this run is
// about does: the label may be added after the merge, when the app has
// already opened the next bot PR.
func (a *App) massDeleteAllowed(ctx context.Context, triggers []trigger) (bool, error) {
	pr, err := a.gh.LastPR(ctx, a.pipelinesRepo, SyncBranch)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	if err == nil && pr.HasLabel(MassDeleteLabel) {
		return true, nil
	}
	for _, t := range triggers {
		if t.PR == 0 || t.PR == pr.Number || t.Repo != a.pipelinesRepo.String() {
			continue
		}
		labelled, err := a.gh.GetPR(ctx, a.pipelinesRepo, t.PR)
		if err != nil {
			return false, err
		}
		if labelled.Merged && labelled.HeadRef == SyncBranch && labelled.HasLabel(MassDeleteLabel) {
			return true, nil
		}
	}
	return false, nil
}

// releaseHeldIfAllowed releases held deletes once the label is there.
func (a *App) releaseHeldIfAllowed(ctx context.Context, triggers []trigger) (int, error) {
	held, err := a.db.ListOperations(ctx, store.OperationFilter{States: []store.OperationState{store.OpHeld}})
	if err != nil || len(held) == 0 {
		return 0, err
	}
	allowed, err := a.massDeleteAllowed(ctx, triggers)
	if err != nil || !allowed {
		return 0, err
	}
	commits := map[string]bool{}
	for _, op := range held {
		commits[op.Commit] = true
	}
	total := 0
	for c := range commits {
		n, err := a.db.ReleaseHeld(ctx, c)
		if err != nil {
			return total, err
		}
		total += n
		a.reporter.touch(c)
	}
	a.audit(ctx, "release-held", MassDeleteLabel, fmt.Sprintf("%d delete(s) released", total), "")
	a.runner.Notify()
	return total, nil
}

// openHarnessChecks creates the in-progress harness check runs of a
// pipelines commit and of the config commits behind it, and remembers
// them for the reporter.
func (a *App) openHarnessChecks(ctx context.Context, commit string, configCommits map[string]bool, ops int, unreadable []string) error {
	existing, err := a.loadHarnessChecks(ctx, commit)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, c := range existing {
		have[c.Repo.String()+"@"+c.SHA] = true
	}
	title := fmt.Sprintf("Applying %d change(s) to Harness", ops)
	want := []check{{Repo: a.pipelinesRepo, SHA: commit, Name: CheckHarness}}
	for sha := range configCommits {
		want = append(want, check{Repo: a.configRepo, SHA: sha, Name: CheckHarness})
	}
	for _, w := range want {
		if have[w.Repo.String()+"@"+w.SHA] {
			continue
		}
		id, err := a.gh.CreateCheckRun(ctx, w.Repo, CheckRun{Name: CheckHarness, HeadSHA: w.SHA, Status: statusInProgress,
			DetailsURL: a.detailsURL(), Title: title, Summary: title + "…"})
		if err != nil {
			return err
		}
		w.ID = id
		existing = append(existing, w)
	}
	if len(unreadable) > 0 {
		if err := a.db.SetState(ctx, "unreadable:"+commit, strings.Join(unreadable, "\n")); err != nil {
			return err
		}
	}
	return a.saveHarnessChecks(ctx, commit, existing)
}
