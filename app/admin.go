package app

// The admin API: JSON under /api/v1, protected by the bearer token
// server.admin_token. Without a token configured the API is disabled and
// every route under /api/v1 answers 404 with a message saying how to
// enable it.
//
//	GET  /api/v1/pipelines                  {"pipelines": [pipeline...]}
//	GET  /api/v1/pipelines/{service}        pipeline
//	POST /api/v1/pipelines/{service}/sync   202 {"operations": [id...], "proposeQueued": true}
//	GET  /api/v1/operations?status=&pipeline=&limit=
//	                                        {"operations": [operation...]}
//	POST /api/v1/reconcile                  202 {"queued": true}
//
// Errors are {"error": "message"} with 400, 401 (and WWW-Authenticate:
// Bearer), 404, 405 (and Allow), 409, 502 or 500.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
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

// httpError is an error with the status and the message a client sees;
// its cause (Err) is for the operator's log only.
type httpError struct {
	Status  int
	Message string
	Err     error
}

func (e *httpError) Error() string {
	if e.Err == nil {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

func (e *httpError) Unwrap() error { return e.Err }

func errorf(status int, format string, args ...any) error {
	return &httpError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// upstream marks err as a failure of GitHub or Harness behind the request.
func upstream(err error, message string) error {
	return &httpError{Status: http.StatusBadGateway, Message: message, Err: err}
}

// writeError is the one place where errors become HTTP answers, for the
// admin API and the status page alike. Clients see the status and a clean
// message; the operator's log gets the whole chain of server errors.
// Under /api/ the answer is JSON {"error": "..."}; elsewhere plain text.
func (a *App) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, message := http.StatusInternalServerError, "internal error: see the server log"
	var he *httpError
	switch {
	case errors.As(err, &he):
		status, message = he.Status, he.Message
	case errors.Is(err, context.DeadlineExceeded):
		status, message = http.StatusGatewayTimeout, "timed out: see the server log"
	case errors.Is(err, context.Canceled):
		status, message = http.StatusServiceUnavailable, "request cancelled"
	}
	log := zerolog.Ctx(r.Context())
	if status >= 500 {
		log.Error().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).Msg("request failed")
	} else {
		log.Debug().Str("error", err.Error()).Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).Msg("request refused")
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pipeline-orchestrator"`)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, status, apiError{Error: message})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, message) // the client went away: nothing more to do
}

// apiError is the body of every admin API error.
type apiError struct {
	Error string `json:"error"`
}

// apiHandler answers one admin API request; a returned error goes to
// writeError, and nothing must have been written then.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

// adminRoutes mounts the admin API.
func (a *App) adminRoutes(mux *http.ServeMux) {
	api := a.adminAPI()
	mux.Handle(adminPrefix+"/", api)
	mux.Handle(adminPrefix, api)
}

// adminAPI checks that the API is enabled and the token right, then
// routes. Authentication comes before routing, so an unauthenticated
// client learns nothing about which routes exist.
func (a *App) adminAPI() http.Handler {
	routes := http.NewServeMux()
	route := func(pattern string, handlers map[string]apiHandler) {
		routes.Handle(pattern, a.methods(handlers))
	}
	route(adminPrefix+"/pipelines", map[string]apiHandler{http.MethodGet: a.listPipelines})
	route(adminPrefix+"/pipelines/{service}", map[string]apiHandler{http.MethodGet: a.getPipeline})
	route(adminPrefix+"/pipelines/{service}/sync", map[string]apiHandler{http.MethodPost: a.syncPipeline})
	route(adminPrefix+"/operations", map[string]apiHandler{http.MethodGet: a.listOperations})
	route(adminPrefix+"/reconcile", map[string]apiHandler{http.MethodPost: a.queueReconcile})
	routes.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, errorf(http.StatusNotFound, "no such route: %s %s", r.Method, r.URL.Path))
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(a.log.WithContext(r.Context()))
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		want := a.cfg.Server.AdminToken.Value()
		if want == "" {
			a.writeError(w, r, errorf(http.StatusNotFound, "admin API disabled: set server.admin_token"))
			return
		}
		if err := checkBearer(r, want); err != nil {
			a.writeError(w, r, err)
			return
		}
		routes.ServeHTTP(w, r)
	})
}

// checkBearer checks the request's bearer token against want in constant
// time. Both sides are hashed first, so that neither the comparison's
// duration nor its early exit on a length mismatch tells anything about
// the token's length.
func checkBearer(r *http.Request, want string) error {
	header := r.Header.Get("Authorization")
	if header == "" {
		return errorf(http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <server.admin_token>")
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return errorf(http.StatusUnauthorized, "unsupported authorization scheme: send Authorization: Bearer <server.admin_token>")
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	expected := sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(got[:], expected[:]) != 1 {
		return errorf(http.StatusUnauthorized, "invalid bearer token")
	}
	return nil
}

// methods dispatches on the request method; GET handlers answer HEAD too.
// Any other method gets 405 with the Allow header.
func (a *App) methods(handlers map[string]apiHandler) http.Handler {
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
			a.writeError(w, r, errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s: use %s", r.Method, r.URL.Path, allow))
			return
		}
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
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

func pipelineOf(st store.PipelineState) pipelineJSON {
	return pipelineJSON{
		Service: st.Service, Pipeline: st.Pipeline, Path: st.Path, Archetype: st.Archetype, Team: st.Team,
		LastRenderedCommit: st.LastRenderedCommit, LastAppliedCommit: st.LastAppliedCommit,
		HarnessState: string(st.HarnessState), LastError: st.LastError, UpdatedAt: st.UpdatedAt,
	}
}

// listPipelines answers GET /api/v1/pipelines: every service, by name.
func (a *App) listPipelines(w http.ResponseWriter, r *http.Request) error {
	states, err := a.db.ListPipelineStates(r.Context())
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
func (a *App) getPipeline(w http.ResponseWriter, r *http.Request) error {
	service := r.PathValue("service")
	st, err := a.db.GetPipelineState(r.Context(), service)
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

// syncPipeline answers POST /api/v1/pipelines/{service}/sync: it queues a
// propose run, and an operation that applies the service's pipeline file
// at the pipelines repo's default branch head to Harness again, even if
// the same change was applied before (a create or an update, by what the
// store knows). When the file is gone but the pipeline was applied, the
// operation is a delete. A service known neither to the store nor to the
// pipelines repo is 404.
func (a *App) syncPipeline(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	service := r.PathValue("service")
	plan, err := a.planSync(ctx, service)
	if err != nil {
		return err
	}
	if err := a.Enqueue(ctx, "propose", a.pipelinesRepo.String(), "", "admin sync"); err != nil {
		return err
	}
	ids := []int64{}
	if plan.op != nil {
		// The state goes first: the operation may finish before this
		// handler returns, and its result must not be overwritten.
		if plan.state != nil {
			if err := a.db.UpsertPipelineState(ctx, *plan.state); err != nil {
				return err
			}
		}
		if ids, err = a.db.EnqueueOperations(ctx, []store.Operation{*plan.op}); err != nil {
			return err
		}
		a.runner.Notify()
	}
	detail := "propose queued; nothing in the pipelines repo to apply"
	if plan.op != nil {
		detail = fmt.Sprintf("propose queued; %s of %s queued as operation %d", plan.op.Kind, plan.op.Pipeline, ids[0])
	}
	a.adminAudit(ctx, "sync", service, detail, plan.commit)
	zerolog.Ctx(ctx).Info().Str(LogKeyService, service).Msg("admin sync: " + detail)
	writeJSON(w, http.StatusAccepted, syncResponse{Operations: ids, ProposeQueued: true})
	return nil
}

// syncPlan is what an admin sync of one service enqueues.
type syncPlan struct {
	commit string               // pipelines repo head it was read from
	op     *store.Operation     // nil: nothing to apply
	state  *store.PipelineState // the service's state to record first, if any
}

// planSync reads the pipelines repo's default branch head and the
// service's state, and works out the operation that re-applies it.
func (a *App) planSync(ctx context.Context, service string) (syncPlan, error) {
	st, err := a.db.GetPipelineState(ctx, service)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return syncPlan{}, err
	}
	_, head, err := a.head(ctx, a.pipelinesRepo)
	if err != nil {
		return syncPlan{}, upstream(err, "reading the pipelines repo's default branch on GitHub failed")
	}
	snap, err := a.readPipelinesRepo(ctx, head)
	if err != nil {
		return syncPlan{}, upstream(err, "reading the pipelines repo on GitHub failed")
	}
	if settingsProblems(snap) {
		return syncPlan{}, errorf(http.StatusConflict, "%s is invalid at %s@%s: nothing can be applied until it is fixed",
			SettingsPath, a.pipelinesRepo, shortSHA(head.SHA))
	}
	path := servicePath(snap.pipelineFiles(), service, st.Path)
	plan := syncPlan{commit: head.SHA}
	unique := fmt.Sprintf("%d-%08x", a.now().UnixNano(), rand.Uint32())

	if path == "" {
		if !known {
			return syncPlan{}, errorf(http.StatusNotFound, "unknown service %q: not in the store and no pipeline file for it in %s", service, a.pipelinesRepo)
		}
		if !wasApplied(st) {
			return plan, nil // rendered, never merged: the propose run takes care of it
		}
		// A new delete would supersede a held one: never a way around the
		// mass-delete label.
		held, err := a.db.ListOperations(ctx, store.OperationFilter{
			States: []store.OperationState{store.OpHeld}, Pipeline: st.Pipeline, Limit: 1})
		if err != nil {
			return syncPlan{}, err
		}
		if len(held) > 0 {
			return syncPlan{}, errorf(http.StatusConflict, "the delete of %s is held until the bot PR carries the label %s; an admin sync does not bypass it",
				st.Pipeline, MassDeleteLabel)
		}
		var file []byte
		if st.ContentHash != "" {
			blobs, err := a.blobs(ctx, a.pipelinesRepo, []string{st.ContentHash})
			if err != nil {
				return syncPlan{}, upstream(err, "reading the service's last applied pipeline file on GitHub failed")
			}
			file = blobs[st.ContentHash]
		}
		plan.op = &store.Operation{
			Key:      "admin-sync|" + st.Pipeline + "|delete|" + head.SHA + "|" + unique,
			Pipeline: st.Pipeline, Service: service, Path: st.Path, Kind: store.KindDelete,
			Commit: head.SHA, ConfigCommit: st.LastRenderedCommit, ContentHash: "admin-sync-delete:" + st.ContentHash,
			YAML: contentOr(file, st), Reason: "admin sync: " + st.Path + " is no longer in the pipelines repo",
		}
		st.HarnessState, st.LastError = store.HarnessPending, ""
		plan.state = &st
		return plan, nil
	}

	blob := snap.pipelineFiles()[path]
	blobs, err := a.blobs(ctx, a.pipelinesRepo, []string{blob})
	if err != nil {
		return syncPlan{}, upstream(err, "reading the service's pipeline file on GitHub failed")
	}
	content := blobs[blob]
	meta, err := render.ReadMeta(content)
	if err != nil {
		return syncPlan{}, errorf(http.StatusConflict, "%s at %s@%s is not a pipeline the app can apply: %v",
			path, a.pipelinesRepo, shortSHA(head.SHA), err)
	}
	kind := store.KindCreate
	if known && st.ContentHash != "" && st.HarnessState != store.HarnessDeleted {
		kind = store.KindUpdate
	}
	plan.op = &store.Operation{
		Key:      "admin-sync|" + meta.Identifier + "|" + string(kind) + "|" + head.SHA + "|" + unique,
		Pipeline: meta.Identifier, Service: service, Path: path, Kind: kind,
		Commit: head.SHA, ConfigCommit: meta.CatalogCommit, ContentHash: blob, YAML: content,
		Reason: "admin sync of " + path,
	}
	switch {
	case !known:
		// A file the store never saw: record it as apply would.
		plan.state = &store.PipelineState{
			Service: service, Pipeline: meta.Identifier, Path: path, ContentHash: blob,
			Archetype: meta.Tags["archetype"], Team: meta.Tags["team"], LastRenderedCommit: meta.CatalogCommit,
			HarnessState: store.HarnessPending,
		}
	case st.Pipeline == meta.Identifier:
		// The rest of the state (what was applied from which file) is
		// apply's: a rename or a newer file is still its to handle.
		st.HarnessState, st.LastError = store.HarnessPending, ""
		plan.state = &st
	}
	return plan, nil
}

// servicePath finds the service's pipeline file: the path the store knows
// if it still exists, else the file named after the service.
func servicePath(files map[string]string, service, known string) string {
	if _, ok := files[known]; ok && known != "" {
		return known
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if serviceOfPath(p) == service {
			return p
		}
	}
	return ""
}

// wasApplied reports whether the service's pipeline may be in Harness:
// a file of it was applied (or is being removed), and it was not deleted.
func wasApplied(st store.PipelineState) bool {
	return st.HarnessState != store.HarnessDeleted && (st.ContentHash != "" || st.LastAppliedCommit != "")
}

// operationJSON is one outbox operation in the admin API (never its YAML).
type operationJSON struct {
	ID           int64     `json:"id"`
	Pipeline     string    `json:"pipeline"`
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

var operationStates = []store.OperationState{
	store.OpPending, store.OpRunning, store.OpFailed, store.OpDone, store.OpHeld, store.OpSuperseded,
}

// listOperations answers GET /api/v1/operations, newest first.
// status is a comma-separated list of states, pipeline a Harness pipeline
// identifier, limit 1 to 1000 (default 100).
func (a *App) listOperations(w http.ResponseWriter, r *http.Request) error {
	f, err := parseOperationFilter(r)
	if err != nil {
		return err
	}
	ops, err := a.db.ListOperations(r.Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Operations []operationJSON `json:"operations"`
	}{Operations: make([]operationJSON, 0, len(ops))}
	for _, op := range ops {
		out.Operations = append(out.Operations, operationJSON{
			ID: op.ID, Pipeline: op.Pipeline, Service: op.Service, Kind: string(op.Kind), State: string(op.State),
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
	f := store.OperationFilter{Pipeline: q.Get("pipeline"), Limit: defaultOperationsLimit}
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
		f.States = append(f.States, store.OperationState(s))
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
func (a *App) queueReconcile(w http.ResponseWriter, r *http.Request) error {
	if err := a.Enqueue(r.Context(), "reconcile", a.pipelinesRepo.String(), "", "admin"); err != nil {
		return err
	}
	a.adminAudit(r.Context(), "reconcile", a.pipelinesRepo.String(), "reconcile queued", "")
	writeJSON(w, http.StatusAccepted, struct {
		Queued bool `json:"queued"`
	}{Queued: true})
	return nil
}

// adminAudit records an admin action; failing to is logged, not fatal:
// the action has already been taken.
func (a *App) adminAudit(ctx context.Context, action, subject, detail, commit string) {
	if err := a.db.Audit(ctx, store.AuditEntry{Actor: adminActor, Action: action, Subject: subject, Detail: detail, Commit: commit}); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("writing audit log")
	}
}
