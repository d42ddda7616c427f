package app

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/handlers"
)

// routes adds every surface besides the webhook endpoint.
func (a *App) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.ready)
	mux.Handle("GET /metrics", a.metrics.Handler())
	a.statusRoutes(mux)
	a.adminRoutes(mux)
}

// ready answers 200 when the store is writable and the configuration is
// loaded (it is, or the app would not exist); 503 otherwise.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.db.Writable(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "store not writable: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing more to do
}

// webhookOutcomeKey holds, in a webhook request's context, whether the
// handler recorded the delivery (for the webhooks metric).
type webhookOutcomeKey struct{}

type webhookOutcome struct{ v atomic.Value }

func withWebhookOutcome(ctx context.Context) context.Context {
	return context.WithValue(ctx, webhookOutcomeKey{}, &webhookOutcome{})
}

func setWebhookOutcome(ctx context.Context, outcome string) {
	if o, ok := ctx.Value(webhookOutcomeKey{}).(*webhookOutcome); ok {
		o.v.Store(outcome)
	}
}

func getWebhookOutcome(ctx context.Context) string {
	if o, ok := ctx.Value(webhookOutcomeKey{}).(*webhookOutcome); ok {
		if s, ok := o.v.Load().(string); ok {
			return s
		}
	}
	return "ignored"
}

// webhookResponse answers a delivery the dispatcher accepted.
func (a *App) webhookResponse(w http.ResponseWriter, r *http.Request, event string, handled bool) {
	outcome := getWebhookOutcome(r.Context())
	if !handled {
		outcome = "ignored"
	}
	a.metrics.webhook(event, outcome)
	zerolog.Ctx(r.Context()).Debug().Str("outcome", outcome).Msg("webhook answered")
	if !handled && event != "ping" {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// webhookError answers a delivery that failed validation or recording.
func (a *App) webhookError(w http.ResponseWriter, r *http.Request, err error) {
	event := r.Header.Get("X-GitHub-Event")
	rec := &statusRecorder{ResponseWriter: w}
	handlers.ErrorCallback(rec, r, err)
	outcome := "rejected"
	if rec.status >= 500 {
		outcome = "error"
	}
	setWebhookOutcome(r.Context(), outcome)
	a.metrics.webhook(event, outcome)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
