package web

// The admin API: JSON under /api/v1, protected by the admin tokens
// (server.admin_token and the named server.admin_tokens), sent as bearer
// tokens. Without a token configured the API is disabled and every route
// under /api/v1 answers 404 with a message saying how to enable it. Every
// request is logged with the client's address and the token's name (info
// when served, warn when refused), and every action is written to the
// audit log under the token's name.
//
//	GET  /api/v1/pipelines                  {"pipelines": [pipeline...]}
//	GET  /api/v1/pipelines/{service}        pipeline
//	POST /api/v1/pipelines/{service}/sync   202 {"operations": [id...], "proposeQueued": true}
//	GET  /api/v1/operations?status=&entity=&identifier=&service=&pipeline=&limit=
//	                                        {"operations": [operation...]}
//	POST /api/v1/reconcile                  202 {"queued": true}
//	GET  /api/v1/audit?subject=&limit=      {"entries": [entry...]}
//
// Errors are {"error": "message"} with 400, 401 (and WWW-Authenticate:
// Bearer), 404, 405 (and Allow), 409, 502 or 500.

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/loop"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// adminPrefix is where the admin API lives.
const adminPrefix = "/api/v1"

// Bounds of GET /api/v1/operations?limit=.
const (
	defaultOperationsLimit = 100
	maxOperationsLimit     = 1000
)

// adminActor names the admin API in the audit log.
const adminActor = "admin-api"

// apiHandler answers one admin API request; a returned error goes to
// writeError, and nothing must have been written then.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

// adminAPI checks that the API is enabled and the token right, then
// routes. Authentication comes before routing, so an unauthenticated
// client learns nothing about which routes exist.
func (s *Server) adminAPI() http.Handler {
	routes := http.NewServeMux()
	route := func(pattern string, handlers map[string]apiHandler) {
		routes.Handle(pattern, s.methods(handlers))
	}
	route(adminPrefix+"/pipelines", map[string]apiHandler{http.MethodGet: s.listPipelines})
	route(adminPrefix+"/pipelines/{service}", map[string]apiHandler{http.MethodGet: s.getPipeline})
	route(adminPrefix+"/pipelines/{service}/sync", map[string]apiHandler{http.MethodPost: s.syncPipeline})
	route(adminPrefix+"/operations", map[string]apiHandler{http.MethodGet: s.listOperations})
	route(adminPrefix+"/reconcile", map[string]apiHandler{http.MethodPost: s.queueReconcile})
	route(adminPrefix+"/audit", map[string]apiHandler{http.MethodGet: s.listAudit})
	routes.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusNotFound, "no such route: %s %s", r.Method, r.URL.Path))
	})

	guarded := s.guarded(routes, s.writeError)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(s.opts.Log.WithContext(r.Context()))
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if len(s.opts.Tokens) == 0 {
			s.writeError(w, r, errorf(http.StatusNotFound, "admin API disabled: set server.admin_token or server.admin_tokens"))
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

// methods dispatches on the request method; GET handlers answer HEAD too.
// Any other method gets 405 with the Allow header.
func (s *Server) methods(handlers map[string]apiHandler) http.Handler {
	if h, ok := handlers[http.MethodGet]; ok {
		handlers[http.MethodHead] = h
	}
	allowed := make([]string, 0, len(handlers))
	for m := range handlers {
		allowed = append(allowed, m)
	}
	sort.Strings(allowed)
	allow := strings.Join(allowed, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := handlers[r.Method]
		if !ok {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s: use %s", r.Method, r.URL.Path, allow))
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// pipelineJSON is one service's pipeline in the admin API.
type pipelineJSON struct {
	Service            string    `json:"service"`
	Pipeline           string    `json:"pipeline"`
	Path               string    `json:"path"`
	Archetype          string    `json:"archetype"`
	Team               string    `json:"team"`
	LastRenderedCommit string    `json:"lastRenderedCommit"`
	LastAppliedCommit  string    `json:"lastAppliedCommit"`
	HarnessState       string    `json:"harnessState"` // in_sync | pending | failed | drifted | deleted
	LastError          string    `json:"lastError"`
	UpdatedAt          time.Time `json:"updatedAt"`
}

func pipelineOf(st record.PipelineState) pipelineJSON {
	return pipelineJSON{
		Service: st.Service, Pipeline: st.Pipeline, Path: st.Path, Archetype: st.Archetype, Team: st.Team,
		LastRenderedCommit: st.LastRenderedCommit, LastAppliedCommit: st.LastAppliedCommit,
		HarnessState: string(st.HarnessState), LastError: st.LastError, UpdatedAt: st.UpdatedAt,
	}
}

// listPipelines answers GET /api/v1/pipelines: every service, by name.
func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request) error {
	states, err := s.opts.Store.ListPipelineStates(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Pipelines []pipelineJSON `json:"pipelines"`
	}{Pipelines: make([]pipelineJSON, 0, len(states))}
	for _, st := range states {
		out.Pipelines = append(out.Pipelines, pipelineOf(st))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getPipeline answers GET /api/v1/pipelines/{service}.
func (s *Server) getPipeline(w http.ResponseWriter, r *http.Request) error {
	service := r.PathValue("service")
	st, err := s.opts.Store.GetPipelineState(r.Context(), service)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "unknown service %q", service)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pipelineOf(st))
	return nil
}

// syncResponse is the answer of POST /api/v1/pipelines/{service}/sync.
type syncResponse struct {
	Operations    []int64 `json:"operations"`
	ProposeQueued bool    `json:"proposeQueued"`
}

// syncPipeline answers POST /api/v1/pipelines/{service}/sync: it queues an
// operation that applies the service's pipeline file at the pipelines
// repo's default branch head to Harness again (loop.Sync), and a propose
// run. A service known neither to the store nor to the pipelines repo is
// 404; a sync the state forbids (invalid settings, a held delete) is 409.
func (s *Server) syncPipeline(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	service := r.PathValue("service")
	res, err := s.opts.Loop.Sync(ctx, service)
	var refusal *planner.Refusal
	var up *loop.UpstreamError
	switch {
	case errors.As(err, &refusal) && refusal.NotFound:
		return errorf(http.StatusNotFound, "%s", refusal.Message)
	case errors.As(err, &refusal):
		return errorf(http.StatusConflict, "%s", refusal.Message)
	case errors.As(err, &up):
		return upstream(up.Err, up.Message)
	case err != nil:
		return err
	}
	if err := s.opts.Enqueue(ctx, work.Propose, "admin sync"); err != nil {
		return err
	}
	detail := "propose queued; " + res.Detail
	s.adminAudit(ctx, "sync", service, detail, res.Commit)
	zerolog.Ctx(ctx).Info().Str(loop.LogKeyService, service).Msg("admin sync: " + detail)
	writeJSON(w, http.StatusAccepted, syncResponse{Operations: res.Operations, ProposeQueued: true})
	return nil
}

// operationJSON is one outbox operation in the admin API (never its YAML).
type operationJSON struct {
	ID int64 `json:"id"`
	// Entity is the kind of Harness entity: service, environment,
	// infrastructure, pipeline or trigger; Parent the environment of an
	// infrastructure definition or the pipeline of a trigger.
	Entity       string    `json:"entity"`
	Identifier   string    `json:"identifier"`
	Parent       string    `json:"parent,omitempty"`
	Service      string    `json:"service"`
	Kind         string    `json:"kind"`  // create | update | delete
	State        string    `json:"state"` // pending | running | failed | done | held | superseded
	Attempts     int       `json:"attempts"`
	LastError    string    `json:"lastError"`
	Result       string    `json:"result"`
	Commit       string    `json:"commit"`
	ConfigCommit string    `json:"configCommit"`
	Reason       string    `json:"reason"`
	SupersededBy int64     `json:"supersededBy,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// entityOf is the kind of entity op changes.
func entityOf(op record.Operation) string {
	if op.Entity == "" {
		return record.EntityPipeline
	}
	return op.Entity
}

var operationStates = []record.OperationState{
	record.OpPending, record.OpRunning, record.OpFailed, record.OpDone, record.OpHeld, record.OpSuperseded,
}

// listOperations answers GET /api/v1/operations, newest first.
// status is a comma-separated list of states; entity and identifier
// select one entity's operations (pipeline=ID is entity=pipeline and
// identifier=ID), service those of a catalog service's entities; limit is
// 1 to 1000 (default 100).
func (s *Server) listOperations(w http.ResponseWriter, r *http.Request) error {
	f, err := parseOperationFilter(r)
	if err != nil {
		return err
	}
	ops, err := s.opts.Store.ListOperations(r.Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Operations []operationJSON `json:"operations"`
	}{Operations: make([]operationJSON, 0, len(ops))}
	for _, op := range ops {
		out.Operations = append(out.Operations, operationJSON{
			ID: op.ID, Entity: entityOf(op), Identifier: op.Identifier, Parent: op.Parent, Service: op.Service, Kind: string(op.Kind), State: string(op.State),
			Attempts: op.Attempts, LastError: op.LastError, Result: op.Result, Commit: op.Commit,
			ConfigCommit: op.ConfigCommit, Reason: op.Reason, SupersededBy: op.SupersededBy,
			CreatedAt: op.CreatedAt, UpdatedAt: op.UpdatedAt,
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func parseOperationFilter(r *http.Request) (store.OperationFilter, error) {
	q := r.URL.Query()
	f := store.OperationFilter{Entity: q.Get("entity"), Identifier: q.Get("identifier"), Service: q.Get("service"),
		Limit: defaultOperationsLimit}
	if p := q.Get("pipeline"); p != "" {
		f.Entity, f.Identifier = record.EntityPipeline, p
	}
	for _, s := range strings.Split(q.Get("status"), ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		valid := false
		for _, known := range operationStates {
			if string(known) == s {
				valid = true
				break
			}
		}
		if !valid {
			names := make([]string, len(operationStates))
			for i, known := range operationStates {
				names[i] = string(known)
			}
			return f, errorf(http.StatusBadRequest, "invalid status %q: want one or more of %s, comma-separated", s, strings.Join(names, ", "))
		}
		f.States = append(f.States, record.OperationState(s))
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxOperationsLimit {
			return f, errorf(http.StatusBadRequest, "invalid limit %q: want a number from 1 to %d", v, maxOperationsLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// queueReconcile answers POST /api/v1/reconcile.
func (s *Server) queueReconcile(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Enqueue(r.Context(), work.Reconcile, "admin"); err != nil {
		return err
	}
	s.adminAudit(r.Context(), "reconcile", s.opts.PipelinesRepo.String(), "reconcile queued", "")
	writeJSON(w, http.StatusAccepted, struct {
		Queued bool `json:"queued"`
	}{Queued: true})
	return nil
}

// adminAudit records an admin action under the name of the token that
// asked for it, with the client's address; failing to is logged, not
// fatal: the action has already been taken.
func (s *Server) adminAudit(ctx context.Context, action, subject, detail, commit string) {
	c := clientOf(ctx)
	e := store.AuditEntry{Actor: adminActor + ":" + c.Token, Action: action, Subject: subject,
		Detail: detail + " (from " + c.Address + ")", Commit: commit}
	if err := s.opts.Store.Audit(ctx, e); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("writing audit log")
	}
}

// auditJSON is one audit log entry in the admin API.
type auditJSON struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject"`
	Detail  string    `json:"detail"`
	Commit  string    `json:"commit"`
}

// listAudit answers GET /api/v1/audit, newest first: subject selects one
// subject (a service, a pipeline, a bot PR), limit 1 to 1000 (default 100).
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.AuditFilter{Subject: q.Get("subject"), Limit: defaultOperationsLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxOperationsLimit {
			return errorf(http.StatusBadRequest, "invalid limit %q: want a number from 1 to %d", v, maxOperationsLimit)
		}
		f.Limit = n
	}
	entries, err := s.opts.Store.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Entries []auditJSON `json:"entries"`
	}{Entries: make([]auditJSON, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, auditJSON{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action,
			Subject: e.Subject, Detail: e.Detail, Commit: e.Commit})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
