package planner

import (
	"fmt"
	"strings"

	"sort"
	"time"

	"github.com/aymanbagabas/go-udiff"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// Scope is a Harness org and project.
type Scope struct{ Org, Project string }

// Wanted is an entity Git has: where its file is and what it holds.
type Wanted struct {
	Path, Service string
	Content       []byte
	Blob          string
	Entity        render.Entity
}

// WantedEntities groups the entity files of a pipelines commit by the
// Harness scope they name (the settings' scope when a file names none),
// keyed by entity. contents and files are by path; files that are not
// entities of their directory's kind are left out (apply reports them).
// The settings' scope is always present, empty or not, so that managed
// entities left there are found.
func WantedEntities(contents map[string][]byte, files map[string]string, s catalog.Settings) map[Scope]map[EntityID]Wanted {
	settings := Scope{s.Org, s.Project}
	want := map[Scope]map[EntityID]Wanted{settings: {}}
	for p, content := range contents {
		e, err := render.ReadEntity(content)
		if k, _ := render.KindOfPath(s, p); err != nil || k != e.Kind {
			continue
		}
		sc := Scope{e.Org, e.Project}
		if sc.Org == "" || sc.Project == "" {
			sc = settings
		}
		if want[sc] == nil {
			want[sc] = map[EntityID]Wanted{}
		}
		service := e.Service
		if service == "" {
			service = render.ServiceOfPath(s, p)
		}
		want[sc][EntityID{e.Kind, e.Identifier, parentOf(e)}] = Wanted{Path: p, Service: service, Content: content, Blob: files[p], Entity: e}
	}
	return want
}

// InHarness is what Harness holds in one scope.
type InHarness struct {
	// Tags of every entity listed.
	Tags map[EntityID]map[string]string
	// YAML of the listed entities Git has too; absent when the entity
	// vanished between the list and the read.
	YAML map[EntityID][]byte
}

// ReconcileInput is everything reconcile plans from.
type ReconcileInput struct {
	Head    string // the pipelines commit compared with
	Wanted  map[Scope]map[EntityID]Wanted
	Harness map[Scope]InHarness
	// Busy entities have an operation pending, running or held: drift on
	// them is reported, not repaired again.
	Busy map[EntityID]bool
	// Same compares two YAML documents as data.
	Same func(a, b []byte) (bool, error)
	// Run names this run in the keys of its repairs; Now is when it ran.
	Run string
	Now time.Time
	// Connector is the managed connector's identifier (ManagedConnector),
	// which repairs of Services wait for; "" for none.
	Connector string
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

// Reconcile compares Harness with Git: an entity Git has that Harness
// lacks is created, one that differs (as data, not bytes) is updated, and
// one tagged as managed by the app that Git no longer has is deleted.
// Entities without the tag are never touched: one that Git has too is
// reported as unmanaged (a person created it; Harness would refuse the
// app's update with harness.ErrNotManaged on every run), not repaired. The repairs are ordered and
// linked like apply's (orderOps).
func Reconcile(in ReconcileInput) ReconcilePlan {
	r := reconciler{in: in, rep: record.DriftReport{At: in.Now.UTC(), Commit: in.Head}}
	for _, sc := range sortedScopes(in.Wanted) {
		r.scope(sc)
	}
	for _, l := range [][]string{r.rep.Missing, r.rep.Different, r.rep.Extra, r.rep.Skipped, r.rep.Unmanaged} {
		sort.Strings(l)
	}
	ops := orderOps(r.ops, nil, in.Connector)
	plan := ReconcilePlan{Report: r.rep, Ops: ops, Events: r.events}
	// orderOps sorted the repairs: find each event's again.
	index := map[EntityID]int{}
	for i, op := range ops {
		index[IDOf(op)] = i
	}
	for i, id := range r.eventIDs {
		at := -1
		if r.repaired[i] {
			at = index[id]
		}
		plan.Repair = append(plan.Repair, at)
	}
	plan.Report.Queued = len(ops)
	return plan
}

// reconciler gathers what Reconcile finds.
type reconciler struct {
	in       ReconcileInput
	rep      record.DriftReport
	ops      []Op
	events   []record.DriftEvent
	eventIDs []EntityID
	repaired []bool
}

// drifted records one drifted entity, and its repair unless it is busy.
func (r *reconciler) drifted(id EntityID, drift, diff string, repair Op) {
	name := id.String()
	switch drift {
	case "missing":
		r.rep.Missing = append(r.rep.Missing, name)
	case "different":
		r.rep.Different = append(r.rep.Different, name)
	default:
		r.rep.Extra = append(r.rep.Extra, name)
	}
	busy := r.in.Busy[id]
	if busy {
		r.rep.Skipped = append(r.rep.Skipped, name)
	} else {
		r.ops = append(r.ops, repair)
	}
	r.events = append(r.events, record.DriftEvent{At: r.rep.At, Commit: r.in.Head, Entity: string(id.Kind),
		Identifier: id.Identifier, Drift: drift, Diff: diff})
	r.eventIDs = append(r.eventIDs, id)
	r.repaired = append(r.repaired, !busy)
}

// unmanaged records an entity Git has that Harness holds without the
// managed tag: reported, never repaired.
func (r *reconciler) unmanaged(id EntityID) {
	r.rep.Unmanaged = append(r.rep.Unmanaged, id.String())
	r.events = append(r.events, record.DriftEvent{At: r.rep.At, Commit: r.in.Head, Entity: string(id.Kind),
		Identifier: id.Identifier, Drift: record.DriftUnmanaged,
		Diff: fmt.Sprintf("%s exists in Harness without the tag %s: %s, so the app leaves it alone: delete it, or tag it, for the app to manage it", id, render.ManagedByTag, render.ManagedByValue)})
	r.eventIDs = append(r.eventIDs, id)
	r.repaired = append(r.repaired, false)
}

// scope compares one scope.
func (r *reconciler) scope(sc Scope) {
	wanted, h := r.in.Wanted[sc], r.in.Harness[sc]
	for _, id := range sortedIDs(wanted) {
		w := wanted[id]
		r.rep.Checked++
		drift := ""
		if _, listed := h.Tags[id]; !listed {
			drift = "missing"
		} else if got, ok := h.YAML[id]; !ok {
			drift = "missing"
		} else if same, err := r.in.Same(got, w.Content); err != nil || !same {
			drift = "different"
		}
		if drift == "" {
			continue
		}
		if drift == "different" && h.Tags[id][render.ManagedByTag] != render.ManagedByValue {
			r.unmanaged(id)
			continue
		}
		kind, diff := record.KindUpdate, ""
		if drift == "missing" {
			kind = record.KindCreate
		} else {
			diff = driftDiff(id.Identifier, w.Content, h.YAML[id])
		}
		r.drifted(id, drift, diff, Op{
			Kind: kind, Entity: id.Kind, Identifier: id.Identifier, Parent: id.Parent, Service: w.Service, Path: w.Path,
			Commit: r.in.Head, ConfigCommit: w.Entity.CatalogCommit, Blob: w.Blob, YAML: w.Content,
			Reason: "reconcile: " + drift + " in Harness", Cause: FromReconcile, Run: r.in.Run,
		})
	}
	for _, id := range sortedIDs(h.Tags) {
		if _, ok := wanted[id]; ok || h.Tags[id][render.ManagedByTag] != render.ManagedByValue {
			continue // in Git, or not the app's: never touched
		}
		r.drifted(id, "extra", "", Op{
			Kind: record.KindDelete, Entity: id.Kind, Identifier: id.Identifier, Parent: id.Parent, Service: h.Tags[id]["service"],
			Commit: r.in.Head, Org: sc.Org, Project: sc.Project,
			Reason: "reconcile: managed " + string(id.Kind) + " no longer in Git", Cause: FromExtra, Run: r.in.Run,
		})
	}
}

func sortedScopes(m map[Scope]map[EntityID]Wanted) []Scope {
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

// sortedIDs returns m's entities in apply order, then by parent and
// identifier.
func sortedIDs[V any](m map[EntityID]V) []EntityID {
	out := make([]EntityID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return rank(a.Kind) < rank(b.Kind)
		}
		if a.Parent != b.Parent {
			return a.Parent < b.Parent
		}
		return a.Identifier < b.Identifier
	})
	return out
}
