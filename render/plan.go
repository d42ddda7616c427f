package render

import (
	"bytes"
	"cmp"
	"path"
	"slices"
	"strings"

	"github.com/aymanbagabas/go-udiff"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// Action is what a plan does to one service's pipeline.
type Action string

// Plan actions, in the order a plan lists them.
const (
	ActionCreate     Action = "create"      // the pipeline file is new
	ActionUpdate     Action = "update"      // the pipeline file changes
	ActionDelete     Action = "delete"      // the pipeline file goes away
	ActionConfigOnly Action = "config-only" // the service changed, its pipeline did not
	ActionUnchanged  Action = "unchanged"   // nothing changed
)

// actionOrder is the rank of each action in a plan's list.
var actionOrder = map[Action]int{ActionCreate: 0, ActionUpdate: 1, ActionDelete: 2, ActionConfigOnly: 3, ActionUnchanged: 4}

// Change is the plan for one service.
type Change struct {
	Service  string
	Action   Action
	Path     string // pipeline file in the pipelines repo
	Pipeline string // Harness pipeline identifier
	// Fields are the catalog fields of the service that changed between
	// the base and head catalogs (every field for an added or removed
	// service). Empty when the catalog entry did not change (for example
	// an update caused by a template).
	Fields []catalog.FieldChange
	// Old is the current file (nil for a create); New the file to write
	// (nil for a delete; the current file, header included, when only the
	// header would differ).
	Old, New []byte
}

// Summary counts a plan's changes by action.
type Summary struct {
	Create     int `json:"create"`
	Update     int `json:"update"`
	Delete     int `json:"delete"`
	ConfigOnly int `json:"configOnly"`
	Unchanged  int `json:"unchanged"`
}

// Changed is the number of pipeline files the plan writes or removes.
func (s Summary) Changed() int { return s.Create + s.Update + s.Delete }

// PipelinePlan is the ordered list of what a catalog change does to the
// pipelines: creates, updates, deletes, config-only changes, then
// unchanged services, each group sorted by service name (then path).
type PipelinePlan struct {
	Changes []Change
	Summary Summary
	// SchemaSkipped is true when the plan was computed without Harness's
	// schema (PlanInput.Schemas was nil): every other check ran, but the
	// new files were not checked against the schema. Callers should tell
	// the user so.
	SchemaSkipped bool
}

// Writes returns the files a proposal writes: path → new content, nil for a
// delete. Unchanged and config-only services are not included, so an empty
// map means there is nothing to propose.
func (p PipelinePlan) Writes() map[string][]byte {
	out := map[string][]byte{}
	for _, c := range p.Changes {
		switch c.Action {
		case ActionCreate, ActionUpdate:
			out[c.Path] = c.New
		case ActionDelete:
			out[c.Path] = nil
		}
	}
	return out
}

// PlanInput is everything a plan is computed from.
type PlanInput struct {
	// Base and Head are the catalog before and after the change; both
	// must be valid (returned by catalog.Parse without diagnostics).
	Base, Head catalog.Catalog
	Settings   catalog.Settings
	Templates  *Templates
	// Source names the head's commits in the header of new files.
	Source Source
	// Current holds the pipeline files as they are now, by path. Only files
	// named like pipelines (see IsPipelinePath) are considered; other files
	// are never changed or deleted. When Current is nil, the rendering of
	// Base (with BaseSource) stands for it; a non-nil empty map means there
	// is no pipeline yet.
	Current    map[string][]byte
	BaseSource Source
	// Schemas are Harness's compiled schemas to check the renderings
	// against; nil skips that check (see PipelinePlan.SchemaSkipped).
	Schemas *Schemas
}

// Plan computes what going from in.Base to in.Head does to the pipelines.
//
// Every enabled service of the head is rendered and compared with its
// current file. A service whose new rendering has the same body (see Body)
// as its current file is unchanged, or config-only if its catalog entry
// changed, and keeps its current file, header included: a pipeline's
// header names the commit that last changed it, not the latest one. A
// current pipeline file that no enabled head service renders is deleted.
// A service whose pipeline is disabled on both sides but whose catalog
// entry changed is listed as config-only.
//
// Diagnostics report head services that could not be rendered; the plan
// leaves their pipelines alone (no update, no delete), so a caller that
// acts on a plan with diagnostics never deletes a pipeline by mistake.
func Plan(in PlanInput) (PipelinePlan, catalog.Diagnostics) {
	current := in.Current
	if current == nil {
		// The base was valid when it was merged; a service of it that no
		// longer renders is missing here and shows as a create.
		current, _ = All(in.Templates, in.Base, Options{Settings: in.Settings, Source: in.BaseSource, Schemas: in.Schemas})
	}
	// Services whose current file was rendered from the same inputs keep
	// it without being rendered again.
	desired, diags := renderAll(in.Templates, in.Head, Options{Settings: in.Settings, Source: in.Source, Schemas: in.Schemas}, current)
	broken := map[string]bool{}
	for _, d := range diags {
		if d.Service != "" {
			broken[PipelinePath(in.Settings, d.Service)] = true
		}
	}

	diff := catalog.Diff(in.Base, in.Head)
	fields := make(map[string][]catalog.FieldChange, len(diff.Added)+len(diff.Removed)+len(diff.Changed))
	for _, group := range [][]catalog.ServiceChange{diff.Added, diff.Removed, diff.Changed} {
		for _, c := range group {
			fields[c.Name] = c.Fields
		}
	}

	plan := PipelinePlan{SchemaSkipped: in.Schemas == nil}
	add := func(c Change) {
		plan.Changes = append(plan.Changes, c)
		switch c.Action {
		case ActionCreate:
			plan.Summary.Create++
		case ActionUpdate:
			plan.Summary.Update++
		case ActionDelete:
			plan.Summary.Delete++
		case ActionConfigOnly:
			plan.Summary.ConfigOnly++
		default:
			plan.Summary.Unchanged++
		}
	}

	for _, svc := range in.Head.Services {
		p := PipelinePath(in.Settings, svc.Name)
		if !svc.Pipeline.Enabled || broken[p] {
			continue
		}
		c := Change{Service: svc.Name, Path: p, Pipeline: Identifier(svc.Name + "_cd"), Fields: fields[svc.Name], New: desired[p]}
		old, exists := current[p]
		switch {
		case !exists:
			c.Action = ActionCreate
		case bytes.Equal(Body(old), Body(c.New)):
			c.New, c.Old = old, old
			c.Action = ActionUnchanged
			if len(c.Fields) > 0 {
				c.Action = ActionConfigOnly
			}
		default:
			c.Old = old
			c.Action = ActionUpdate
		}
		add(c)
	}

	serviceOf := make(map[string]string, len(in.Base.Services)) // path → service name
	for _, s := range in.Base.Services {
		serviceOf[PipelinePath(in.Settings, s.Name)] = s.Name
	}
	for _, s := range in.Head.Services {
		serviceOf[PipelinePath(in.Settings, s.Name)] = s.Name
	}
	for p, old := range current {
		if _, keep := desired[p]; keep || broken[p] || !IsPipelinePath(in.Settings, p) {
			continue
		}
		name, known := serviceOf[p]
		if !known {
			name = strings.TrimSuffix(path.Base(p), pipelineSuffix)
		}
		add(Change{Service: name, Action: ActionDelete, Path: p, Pipeline: pipelineIDOf(old, name), Fields: fields[name], Old: old})
	}

	// A service with no pipeline on either side (disabled in both
	// catalogs) whose entry changed: whatever changed, no pipeline does.
	for _, c := range diff.Changed {
		if c.Old.Pipeline.Enabled || c.New.Pipeline.Enabled {
			continue
		}
		p := PipelinePath(in.Settings, c.Name)
		if _, inCurrent := current[p]; inCurrent {
			continue // a leftover file: deleted above
		}
		add(Change{Service: c.Name, Action: ActionConfigOnly, Path: p, Pipeline: Identifier(c.Name + "_cd"), Fields: c.Fields})
	}

	slices.SortFunc(plan.Changes, func(a, b Change) int {
		return cmp.Or(
			cmp.Compare(actionOrder[a.Action], actionOrder[b.Action]),
			strings.Compare(a.Service, b.Service),
			strings.Compare(a.Path, b.Path),
		)
	})
	return plan, diags
}

// Diff returns the unified diff of the pipeline file; "" when it does not
// change. It is computed on each call, not with the plan: a check run
// shows only the diffs that fit in it, and a plan of thousands of new
// pipelines would otherwise hold a diff of each.
func (c Change) Diff() string {
	switch c.Action {
	case ActionCreate, ActionUpdate, ActionDelete:
		return unified(c.Path, c.Old, c.New)
	}
	return ""
}

// pipelineSuffix ends the name of every pipeline file.
const pipelineSuffix = "-cd.yaml"

// IsPipelinePath reports whether p names a pipeline file this application
// manages: <PipelinesDir>/<name>-cd.yaml, directly in the directory, with
// a name PipelinePath can give (letters, digits, '.', '_' and '-', not
// starting with '.'). Plans never write or delete any other file.
func IsPipelinePath(s catalog.Settings, p string) bool {
	dir := s.PipelinesDir
	if dir == "" {
		dir = "pipelines"
	}
	base := path.Base(p)
	return path.Dir(p) == path.Clean(dir) &&
		strings.HasSuffix(base, pipelineSuffix) && len(base) > len(pipelineSuffix) &&
		pathSafe(base)
}

// pipelineIDOf reads the pipeline identifier of a file, falling back to
// the one the service's name gives.
func pipelineIDOf(file []byte, service string) string {
	if id := PipelineIdentifierOf(file); id != "" {
		return id
	}
	return Identifier(service + "_cd")
}

// unified returns the unified diff between two versions of a file.
func unified(p string, old, new []byte) string {
	from, to := "a/"+p, "b/"+p
	if old == nil {
		from = "/dev/null"
	}
	if new == nil {
		to = "/dev/null"
	}
	return udiff.Unified(from, to, string(old), string(new))
}
