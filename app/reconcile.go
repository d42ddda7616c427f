package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// keyLastReconcile holds the last reconcile report (JSON), for the status
// page and the admin API.
const keyLastReconcile = "reconcile.last"

// DriftReport is what one reconcile run found.
type DriftReport struct {
	At        time.Time `json:"at"`
	Commit    string    `json:"commit"`
	Checked   int       `json:"checked"`
	Missing   []string  `json:"missing"`   // in Git, not in Harness: re-created
	Different []string  `json:"different"` // in both, Harness differs: updated
	Extra     []string  `json:"extra"`     // managed by the app in Harness, not in Git: deleted
	Queued    int       `json:"queued"`
	Skipped   []string  `json:"skipped"` // drifted but an operation is already on its way
}

// Drifted is the number of pipelines that differ.
func (r DriftReport) Drifted() int { return len(r.Missing) + len(r.Different) + len(r.Extra) }

type scope struct{ org, project string }

// reconcileTimer enqueues a reconcile run every interval.
func (a *App) reconcileTimer(ctx context.Context) {
	t := time.NewTicker(a.cfg.Reconcile.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Enqueue(ctx, "reconcile", a.pipelinesRepo.String(), "", "timer"); err != nil {
				zerolog.Ctx(ctx).Error().Err(err).Msg("scheduling reconcile")
			}
		}
	}
}

// reconcile compares what Harness holds with the pipelines repo's default
// branch and enqueues the operations that repair the difference: missing
// pipelines are created, different ones updated (compared as normalised
// YAML, not bytes), and pipelines tagged as managed by the app that Git no
// longer has are deleted. Pipelines without the tag are never touched.
func (a *App) reconcile(ctx context.Context) (string, error) {
	_, head, err := a.head(ctx, a.pipelinesRepo)
	if err != nil {
		return "", err
	}
	snap, err := a.readPipelinesRepo(ctx, head)
	if err != nil {
		return "", err
	}
	if settingsProblems(snap) {
		return "blocked: invalid settings", nil
	}
	current, err := a.currentPipelines(ctx, snap)
	if err != nil {
		return "", err
	}
	if err := a.rememberScope(ctx, snap.Settings.Org, snap.Settings.Project); err != nil {
		return "", err
	}

	type wanted struct {
		path, service string
		content       []byte
		blob          string
	}
	want := map[scope]map[string]wanted{{snap.Settings.Org, snap.Settings.Project}: {}}
	files := snap.pipelineFiles()
	for p, content := range current {
		meta, err := render.ReadMeta(content)
		if err != nil {
			continue // apply reports files that are not pipelines
		}
		sc := scope{meta.Org, meta.Project}
		if sc.org == "" || sc.project == "" {
			sc = scope{snap.Settings.Org, snap.Settings.Project}
		}
		if want[sc] == nil {
			want[sc] = map[string]wanted{}
		}
		want[sc][meta.Identifier] = wanted{path: p, service: serviceOfPath(p), content: content, blob: files[p]}
	}

	active, err := a.db.ListOperations(ctx, store.OperationFilter{
		States: []store.OperationState{store.OpPending, store.OpRunning, store.OpHeld}, Limit: 1000000})
	if err != nil {
		return "", err
	}
	busy := map[string]bool{}
	for _, op := range active {
		busy[op.Pipeline] = true
	}

	rep := DriftReport{At: a.now().UTC(), Commit: head.SHA}
	runID := a.now().UTC().Format("20060102T150405.000")
	var ops []store.Operation
	for sc, pipelines := range want {
		h := a.harness(sc.org, sc.project)
		list, err := h.ListPipelines(ctx)
		if err != nil {
			return "", err
		}
		inHarness := map[string]harness.PipelineSummary{}
		for _, p := range list {
			inHarness[p.Identifier] = p
		}
		for id, w := range pipelines {
			rep.Checked++
			kind := ""
			if _, ok := inHarness[id]; !ok {
				kind = "missing"
			} else {
				got, err := h.GetPipeline(ctx, id)
				if errors.Is(err, harness.ErrNotFound) {
					kind = "missing"
				} else if err != nil {
					return "", err
				} else if same, err := harness.SameYAML(got.YAML, w.content); err != nil || !same {
					kind = "different"
				}
			}
			if kind == "" {
				continue
			}
			if kind == "missing" {
				rep.Missing = append(rep.Missing, id)
			} else {
				rep.Different = append(rep.Different, id)
			}
			if busy[id] {
				rep.Skipped = append(rep.Skipped, id)
				continue
			}
			meta, _ := render.ReadMeta(w.content)
			opKind := store.KindUpdate
			if kind == "missing" {
				opKind = store.KindCreate
			}
			ops = append(ops, store.Operation{
				Key: "reconcile|" + id + "|" + w.blob + "|" + runID, Pipeline: id, Service: w.service, Path: w.path,
				Kind: opKind, Commit: head.SHA, ConfigCommit: meta.CatalogCommit, ContentHash: w.blob, YAML: w.content,
				Reason: "reconcile: " + kind + " in Harness",
			})
		}
		for id, p := range inHarness {
			if _, ok := pipelines[id]; ok || p.Tags[render.ManagedByTag] != render.ManagedByValue {
				continue // in Git, or not the app's: never touched
			}
			rep.Extra = append(rep.Extra, id)
			if busy[id] {
				rep.Skipped = append(rep.Skipped, id)
				continue
			}
			doc := fmt.Sprintf("pipeline:\n  identifier: %s\n  orgIdentifier: %s\n  projectIdentifier: %s\n", id, sc.org, sc.project)
			ops = append(ops, store.Operation{
				Key: "reconcile|" + id + "|delete|" + runID, Pipeline: id, Kind: store.KindDelete, Commit: head.SHA,
				ContentHash: "extra", YAML: []byte(doc), Reason: "reconcile: managed pipeline no longer in Git",
			})
		}
	}
	for _, l := range [][]string{rep.Missing, rep.Different, rep.Extra, rep.Skipped} {
		sort.Strings(l)
	}
	if len(ops) > 0 {
		if _, err := a.db.EnqueueOperations(ctx, ops); err != nil {
			return "", err
		}
		rep.Queued = len(ops)
		a.runner.Notify()
		a.audit(ctx, "reconcile", head.SHA, fmt.Sprintf("%d drifted, %d repair(s) queued", rep.Drifted(), len(ops)), head.SHA)
		for _, op := range ops {
			if op.Service == "" {
				continue
			}
			if st, err := a.db.GetPipelineState(ctx, op.Service); err == nil {
				st.HarnessState, st.LastError = store.HarnessDrifted, op.Reason
				if err := a.db.UpsertPipelineState(ctx, st); err != nil {
					return "", err
				}
			}
		}
	}
	a.metrics.drift(rep)
	b, _ := json.Marshal(rep)
	if err := a.db.SetState(ctx, keyLastReconcile, string(b)); err != nil {
		return "", err
	}
	if err := a.postDriftCheck(ctx, rep); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("posting drift check run")
	}
	return fmt.Sprintf("checked %d, drifted %d, queued %d", rep.Checked, rep.Drifted(), rep.Queued), nil
}

func (a *App) postDriftCheck(ctx context.Context, rep DriftReport) error {
	if rep.Drifted() == 0 {
		return a.postCheck(ctx, a.pipelinesRepo, CheckDrift, rep.Commit, conclusionSuccess, "No drift",
			fmt.Sprintf("Harness holds exactly the %d pipelines of this commit.", rep.Checked), nil)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Harness differs from this commit for %d pipeline(s); %d repair operation(s) were queued.\n\n", rep.Drifted(), rep.Queued)
	list := func(title string, ids []string) {
		if len(ids) == 0 {
			return
		}
		fmt.Fprintf(&b, "**%s:** ", title)
		for i, id := range ids {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("`" + id + "`")
		}
		b.WriteString("\n\n")
	}
	list("Missing in Harness (re-created)", rep.Missing)
	list("Different in Harness (updated)", rep.Different)
	list("Managed by the app but no longer in Git (deleted)", rep.Extra)
	list("Already being repaired", rep.Skipped)
	return a.postCheck(ctx, a.pipelinesRepo, CheckDrift, rep.Commit, conclusionNeutral,
		fmt.Sprintf("Drift: %d pipeline(s) repaired", rep.Drifted()), b.String(), nil)
}

// LastDrift returns the last reconcile report, if any.
func (a *App) LastDrift(ctx context.Context) (DriftReport, bool) {
	v, err := a.db.GetState(ctx, keyLastReconcile)
	if err != nil {
		return DriftReport{}, false
	}
	var rep DriftReport
	if json.Unmarshal([]byte(v), &rep) != nil {
		return DriftReport{}, false
	}
	return rep, true
}
