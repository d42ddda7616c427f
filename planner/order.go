package planner

import (
	"cmp"
	"slices"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// rank is each kind's place in render.ApplyOrder; the connector, which is
// not rendered, comes before them all.
func rank(k render.Kind) int {
	if k == render.KindConnector {
		return -1
	}
	return slices.Index(render.ApplyOrder, k)
}

// orderOps sorts ops into the order Harness must receive them and links
// each to the entities whose operations must finish first
// (Operation.After): the connector first, then creates and updates in
// render.ApplyOrder (an infrastructure definition after its environment;
// a Service after connector, which it reads its manifests through,
// whenever that was enqueued; a pipeline after its Service and the
// environments and infrastructure definitions written with it; a
// trigger after its pipeline), then deletes in the
// reverse order (a trigger; a pipeline after its triggers; a Service
// after its pipeline; an infrastructure definition, then its environment,
// after every pipeline written or deleted with them, which may have
// referred to them). applied, by path, tells which triggers and which
// Service an entity has beyond those in ops; connector is the managed
// connector's identifier ("" for none).
func orderOps(ops []Op, applied map[string]record.EntityState, connector string) []record.Operation {
	slices.SortStableFunc(ops, func(a, b Op) int {
		ad, bd := a.Kind == record.KindDelete, b.Kind == record.KindDelete
		if ad != bd {
			if ad {
				return 1
			}
			return -1
		}
		ra, rb := rank(a.Entity), rank(b.Entity)
		if ad {
			ra, rb = -ra, -rb
		}
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(a.Path, b.Path))
	})
	serviceEntity := map[string]string{} // catalog service → its Service's identifier
	for _, st := range applied {
		if st.Kind == string(render.KindService) && st.Service != "" {
			serviceEntity[st.Service] = st.Identifier
		}
	}
	var envInfra, pipelines []string // entity keys of the ops
	for _, o := range ops {
		key := record.EntityKey(string(o.Entity), o.Identifier)
		switch {
		case o.Entity == render.KindService && o.Kind != record.KindDelete && o.Service != "":
			serviceEntity[o.Service] = o.Identifier
		case (o.Entity == render.KindEnvironment || o.Entity == render.KindInfrastructure) && o.Kind != record.KindDelete:
			envInfra = append(envInfra, key)
		case o.Entity == render.KindPipeline:
			pipelines = append(pipelines, key)
		}
	}
	out := make([]record.Operation, 0, len(ops))
	for i, o := range ops {
		o.After = dependencies(o, ops[:i], serviceEntity, envInfra, pipelines)
		if o.Entity == render.KindService && o.Kind != record.KindDelete && connector != "" {
			o.After = compact(append(o.After, record.EntityKey(string(render.KindConnector), connector)))
		}
		out = append(out, NewOperation(o))
	}
	return out
}

// dependencies returns the entities o waits for; earlier are the
// operations ordered before it.
func dependencies(o Op, earlier []Op, serviceEntity map[string]string, envInfra, pipelines []string) []string {
	var after []string
	add := func(kind render.Kind, id string) {
		if id != "" {
			after = append(after, record.EntityKey(string(kind), id))
		}
	}
	deletedHere := func(kind render.Kind, match func(Op) bool) {
		for _, e := range earlier {
			if e.Kind == record.KindDelete && e.Entity == kind && match(e) {
				add(kind, e.Identifier)
			}
		}
	}
	if o.Kind != record.KindDelete {
		switch o.Entity {
		case render.KindInfrastructure:
			add(render.KindEnvironment, o.Parent)
		case render.KindPipeline:
			add(render.KindService, serviceEntity[o.Service])
			after = append(after, envInfra...)
		case render.KindTrigger:
			add(render.KindPipeline, o.Parent)
		}
		return compact(after)
	}
	switch o.Entity {
	case render.KindPipeline:
		deletedHere(render.KindTrigger, func(e Op) bool { return e.Parent == o.Identifier })
	case render.KindService:
		deletedHere(render.KindPipeline, func(e Op) bool { return e.Service == o.Service && o.Service != "" })
	case render.KindInfrastructure:
		after = append(after, pipelines...)
	case render.KindEnvironment:
		after = append(after, pipelines...)
		deletedHere(render.KindInfrastructure, func(e Op) bool { return e.Parent == o.Identifier })
	}
	return compact(after)
}

// compact sorts keys and drops duplicates; nil when there are none.
func compact(keys []string) []string {
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
