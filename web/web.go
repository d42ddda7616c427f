// Package web serves the app's HTTP surfaces besides the webhook
// endpoint: health and readiness, the Prometheus metrics, the status page
// and the admin API. It reads through a narrow read model (Store, Loop)
// and asks for work through Enqueue; it never talks to GitHub or Harness
// itself.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/loop"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// Store is the surfaces' read model: what they read, and the audit log
// they append to. The app adapts the store to it.
type Store interface {
	ListPipelineStates(ctx context.Context) ([]record.PipelineState, error)
	GetPipelineState(ctx context.Context, service string) (record.PipelineState, error)
	ListOperations(ctx context.Context, f store.OperationFilter) ([]record.Operation, error)
	QueueStats(ctx context.Context) (store.QueueStats, error)
	DeliveryStats(ctx context.Context) (store.DeliveryStats, error)
	RecentDeliveries(ctx context.Context, limit int) ([]store.Delivery, error)
	OpenBotPR(ctx context.Context, repo string) (record.BotPR, error)
	ListBotPRs(ctx context.Context, repo string, limit int) ([]record.BotPR, error)
	LastDrift(ctx context.Context) (record.DriftReport, bool, error)
	// LastPropose is what the last propose run did; false when none was
	// recorded.
	LastPropose(ctx context.Context) (record.ProposeReport, bool, error)
	// ListDrift returns up to limit drift events, newest first.
	ListDrift(ctx context.Context, limit int) ([]record.DriftEvent, error)
	// MergedBotPR returns the number of the bot PR whose merge made the
	// pipelines repo commit, or an error wrapping store.ErrNotFound when
	// no merged bot PR is known to have made it.
	MergedBotPR(ctx context.Context, commit string) (int, error)
	Writable(ctx context.Context) error
	Audit(ctx context.Context, e store.AuditEntry) error
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
}

// Loop is what the surfaces ask of the loop. *loop.Loop implements it.
type Loop interface {
	// LastError is the last error of a run, or "".
	LastError() string
	// Sync enqueues an admin sync of one service.
	Sync(ctx context.Context, service string) (loop.SyncResult, error)
}

// Enqueue records work for the workers (why names who asked).
type Enqueue func(ctx context.Context, kind work.Kind, why string) error

// RepoProblem is a repository the App cannot reach, and the fix.
type RepoProblem struct {
	Repo    string `json:"repo"`
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

// Options configure a Server.
type Options struct {
	Store   Store
	Loop    Loop
	Enqueue Enqueue
	// Metrics serves /metrics.
	Metrics http.Handler
	// ConfigRepo and PipelinesRepo are the repositories served.
	ConfigRepo, PipelinesRepo gh.Repo
	Links                     present.Links
	// Tokens protect the admin API (and the status page, with
	// StatusRequiresToken); none disables the admin API.
	Tokens []Token
	// StatusRequiresToken makes the status page ask for an admin token
	// (HTTP Basic authentication, the token as the password), for a
	// deployment that serves everything on one public address.
	StatusRequiresToken bool
	Log                 zerolog.Logger
	Now                 func() time.Time
	// Reachability lists the repositories the App cannot reach (nil: none
	// known).
	Reachability func() []RepoProblem
}

// Server is the HTTP surfaces.
type Server struct {
	opts Options
}

// New returns the surfaces.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{opts: opts}
}

// Routes mounts every surface on mux: GET /healthz, GET /readyz,
// GET /metrics, GET / (the status page) and the admin API under /api/v1.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", s.opts.Metrics)
	var status http.Handler = http.HandlerFunc(s.statusPage)
	if s.opts.StatusRequiresToken {
		status = s.guarded(status, s.askForToken)
	}
	mux.Handle("GET /{$}", status)
	api := s.adminAPI()
	mux.Handle(adminPrefix+"/", api)
	mux.Handle(adminPrefix, api)
}

// readiness is the answer of GET /readyz.
type readiness struct {
	Status string `json:"status"` // ready | degraded | unavailable
	Error  string `json:"error,omitempty"`
	// Problems are the repositories the App cannot reach, with the fix:
	// the server is degraded (still ready: it must keep receiving the
	// installation events that end the problem).
	Problems []RepoProblem `json:"problems,omitempty"`
}

// ready answers 200 when the store is writable and the configuration is
// loaded (it is, or the server would not exist), "degraded" when a
// repository cannot be reached; 503 when the store is not writable.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.opts.Store.Writable(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, readiness{Status: "unavailable", Error: "store not writable: " + err.Error()})
		return
	}
	rd := readiness{Status: "ready", Problems: s.problems()}
	if len(rd.Problems) > 0 {
		rd.Status = "degraded"
	}
	writeJSON(w, http.StatusOK, rd)
}

func (s *Server) problems() []RepoProblem {
	if s.opts.Reachability == nil {
		return nil
	}
	return s.opts.Reachability()
}

// askForToken refuses the status page to a browser without a token, and
// asks it for one.
func (s *Server) askForToken(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("WWW-Authenticate", `Basic realm="pipeline-orchestrator status (an admin token as the password)"`)
	s.writeError(w, r, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing more to do
}

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
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
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
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
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
