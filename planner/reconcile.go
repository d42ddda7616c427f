package planner

import (
	"fmt"
	"strings"

	"sort"
	"time"

	"github.com/aymanbagabas/go-udiff"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// Scope is a Harness org and project.
type Scope struct{ Org, Project string }

// Wanted is a pipeline Git has: where its file is and what it holds.
type Wanted struct {
	Path, Service string
	Content       []byte
	Blob          string
}

// WantedPipelines groups the pipeline files of a pipelines commit by the
// Harness scope they name (the settings' scope when a file names none),
// keyed by pipeline identifier. contents and files are by path; files
// that are not pipelines are left out (apply reports them). The settings'
// scope is always present, empty or not, so that managed pipelines left
// there are found.
func WantedPipelines(contents map[string][]byte, files map[string]string, settings Scope) map[Scope]map[string]Wanted {
	want := map[Scope]map[string]Wanted{settings: {}}
	for p, content := range contents {
		meta, err := render.ReadMeta(content)
		if err != nil {
			continue
		}
		sc := Scope{meta.Org, meta.Project}
		if sc.Org == "" || sc.Project == "" {
			sc = settings
		}
		if want[sc] == nil {
			want[sc] = map[string]Wanted{}
		}
		want[sc][meta.Identifier] = Wanted{Path: p, Service: ServiceOfPath(p), Content: content, Blob: files[p]}
	}
	return want
}

// InHarness is what Harness holds in one scope.
type InHarness struct {
	// Tags of every pipeline listed, by identifier.
	Tags map[string]map[string]string
	// YAML of the listed pipelines Git has too, by identifier; absent when
	// the pipeline vanished between the list and the read.
	YAML map[string][]byte
}

// ReconcileInput is everything reconcile plans from.
type ReconcileInput struct {
	Head    string // the pipelines commit compared with
	Wanted  map[Scope]map[string]Wanted
	Harness map[Scope]InHarness
	// Busy pipelines have an operation pending, running or held: drift on
	// them is reported, not repaired again.
	Busy map[string]bool
	// Same compares two YAML documents as data.
	Same func(a, b []byte) (bool, error)
	// Run names this run in the keys of its repairs; Now is when it ran.
	Run string
	Now time.Time
}

// ReconcilePlan is the drift found and the repairs to enqueue.
type ReconcilePlan struct {
	Report record.DriftReport
	Ops    []record.Operation
	// Events record each drifted entity; Repair is the index in Ops of
	// its repair, -1 when none was queued (one was on its way).
	Events []record.DriftEvent
	Repair []int
}

// maxDiffLines bounds the diff a drift event keeps.
const maxDiffLines = 40

// driftDiff shows Git's version of an entity against Harness's, cut to
// maxDiffLines lines.
func driftDiff(id string, git, harness []byte) string {
	d := udiff.Unified("git/"+id, "harness/"+id, string(git), string(harness))
	lines := strings.SplitAfter(d, "\n")
	if len(lines) > maxDiffLines {
		d = strings.Join(lines[:maxDiffLines], "") + fmt.Sprintf("… %d more lines\n", len(lines)-maxDiffLines)
	}
	return d
}

// Reconcile compares Harness with Git: a pipeline Git has that Harness
// lacks is created, one that differs (as data, not bytes) is updated, and
// one tagged as managed by the app that Git no longer has is deleted.
// Pipelines without the tag are never touched.
func Reconcile(in ReconcileInput) ReconcilePlan {
	rep := record.DriftReport{At: in.Now.UTC(), Commit: in.Head}
	var ops []record.Operation
	var events []record.DriftEvent
	var repair []int
	event := func(id, drift, diff string, repaired bool) {
		events = append(events, record.DriftEvent{At: rep.At, Commit: in.Head, Entity: record.EntityPipeline,
			Identifier: id, Drift: drift, Diff: diff})
		if repaired {
			repair = append(repair, len(ops)-1)
		} else {
			repair = append(repair, -1)
		}
	}
	for _, sc := range sortedScopes(in.Wanted) {
		pipelines := in.Wanted[sc]
		h := in.Harness[sc]
		for _, id := range sortedKeys(pipelines) {
			w := pipelines[id]
			rep.Checked++
			kind := ""
			if _, listed := h.Tags[id]; !listed {
				kind = "missing"
			} else if got, ok := h.YAML[id]; !ok {
				kind = "missing"
			} else if same, err := in.Same(got, w.Content); err != nil || !same {
				kind = "different"
			}
			if kind == "" {
				continue
			}
			if kind == "missing" {
				rep.Missing = append(rep.Missing, id)
			} else {
				rep.Different = append(rep.Different, id)
			}
			diff := ""
			if kind == "different" {
				diff = driftDiff(id, w.Content, h.YAML[id])
			}
			if in.Busy[id] {
				rep.Skipped = append(rep.Skipped, id)
				event(id, kind, diff, false)
				continue
			}
			meta, _ := render.ReadMeta(w.Content)
			opKind := record.KindUpdate
			if kind == "missing" {
				opKind = record.KindCreate
			}
			ops = append(ops, NewOperation(Op{
				Kind: opKind, Pipeline: id, Service: w.Service, Path: w.Path, Commit: in.Head,
				ConfigCommit: meta.CatalogCommit, Blob: w.Blob, YAML: w.Content,
				Reason: "reconcile: " + kind + " in Harness", Cause: FromReconcile, Run: in.Run,
			}))
			event(id, kind, diff, true)
		}
		for _, id := range sortedKeys(h.Tags) {
			if _, ok := pipelines[id]; ok || h.Tags[id][render.ManagedByTag] != render.ManagedByValue {
				continue // in Git, or not the app's: never touched
			}
			rep.Extra = append(rep.Extra, id)
			if in.Busy[id] {
				rep.Skipped = append(rep.Skipped, id)
				event(id, "extra", "", false)
				continue
			}
			ops = append(ops, NewOperation(Op{
				Kind: record.KindDelete, Pipeline: id, Commit: in.Head, Org: sc.Org, Project: sc.Project,
				Reason: "reconcile: managed pipeline no longer in Git", Cause: FromExtra, Run: in.Run,
			}))
			event(id, "extra", "", true)
		}
	}
	for _, l := range [][]string{rep.Missing, rep.Different, rep.Extra, rep.Skipped} {
		sort.Strings(l)
	}
	rep.Queued = len(ops)
	return ReconcilePlan{Report: rep, Ops: ops, Events: events, Repair: repair}
}

func sortedScopes(m map[Scope]map[string]Wanted) []Scope {
	out := make([]Scope, 0, len(m))
	for sc := range m {
		out = append(out, sc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Org != out[j].Org {
			return out[i].Org < out[j].Org
		}
		return out[i].Project < out[j].Project
	})
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
