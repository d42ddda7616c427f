package app

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/handlers"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/web"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// guard wraps handlers.Guard so that its refusals are counted too.
func (a *App) guard(next http.Handler) http.Handler {
	guarded := handlers.Guard(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &web.StatusRecorder{ResponseWriter: w}
		guarded.ServeHTTP(rec, r)
		if rec.Code() >= 400 && getWebhookOutcome(r.Context()) == "ignored" {
			// Refused by the guard itself (size, signature header);
			// webhookError marks and counts what the dispatcher refuses.
			a.metrics.Webhook(r.Header.Get("X-GitHub-Event"), "rejected")
		}
	})
}

// withLogger puts the app's logger in the request context, where
// go-githubapp's dispatcher adds the event type and delivery id.
func (a *App) withLogger(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := withWebhookOutcome(a.log.WithContext(r.Context()))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// forgetInstallation drops what is cached of an owner's installation, and
// checks again which repositories the App reaches.
func (a *App) forgetInstallation(owner string) {
	if a.forget != nil {
		a.forget(owner)
	}
	a.reach.kick()
}

// recorder stores handler work as deliveries.
type recorder struct{ a *App }

// Record implements handlers.Recorder.
func (r recorder) Record(ctx context.Context, w handlers.Work) error {
	inserted, err := r.a.db.Deliveries.Record(ctx, store.Delivery{
		ID: w.DeliveryID, Event: w.Event, Action: w.Action, Repo: w.Lane, Installation: w.Installation,
		Key: w.Key, Ref: w.Ref, SHA: w.SHA, Before: w.Before, After: w.SHA, PRNumber: w.PR,
		Data: work.Data{Repo: w.Repo, Sender: w.Sender}.Encode(), ReceivedAt: r.a.now(),
	})
	if err != nil {
		return fmt.Errorf("recording delivery %s: %w", w.DeliveryID, err)
	}
	if inserted {
		setWebhookOutcome(ctx, "recorded")
		r.a.lastRecorded.Store(time.Now().UnixNano())
		r.a.kick()
	} else {
		setWebhookOutcome(ctx, "duplicate")
		zerolog.Ctx(ctx).Info().Msg("duplicate delivery ignored")
	}
	return nil
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
	a.metrics.Webhook(event, outcome)
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
	rec := &web.StatusRecorder{ResponseWriter: w}
	handlers.ErrorCallback(rec, r, err)
	outcome := "rejected"
	if rec.Code() >= 500 {
		outcome = "error"
	}
	setWebhookOutcome(r.Context(), outcome)
	a.metrics.Webhook(event, outcome)
}
