// Package handlers holds the GitHub webhook handlers. Each one decodes its
// event, decides whether it matters to the loop, and records the work it
// asks for; it never does the work (that is the workers' job, from the
// store). Events are hints: a recorded Work carries identity — which repo,
// which commit, what kind of run — never a delta to apply.
package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// Work is what one delivery asks the workers to do.
type Work struct {
	DeliveryID   string
	Event        string
	Action       string
	Lane         string // repository whose worker lane runs the work ("owner/name")
	Key          string // work.Key(kind, subject) (e.g. "preview:<sha>"); same key, same run
	Repo         string // repository the event came from
	Installation int64
	Ref          string // branch the work concerns (base branch for a PR)
	SHA          string // commit to look at (head SHA for a PR, after for a push)
	Before       string // previous commit (push before, PR base SHA)
	PR           int
	Sender       string
}

// Recorder stores work durably. Record must be idempotent on
// (DeliveryID, Event, Key): GitHub's redeliveries reuse the delivery id,
// and one delivery may ask for several kinds of work.
type Recorder interface {
	Record(ctx context.Context, w Work) error
}

// Repos names the two repositories the app serves ("owner/name", compared
// case-insensitively as GitHub does).
type Repos struct {
	Config    string
	Pipelines string
}

func (r Repos) isConfig(full string) bool    { return strings.EqualFold(full, r.Config) }
func (r Repos) isPipelines(full string) bool { return strings.EqualFold(full, r.Pipelines) }

// record logs and stores w.
func record(ctx context.Context, rec Recorder, w Work) error {
	zerolog.Ctx(ctx).Debug().Str("lane", w.Lane).Str("key", w.Key).Str("sha", w.SHA).Msg("recording work")
	return rec.Record(ctx, w)
}

// ignore logs why an event does not matter. Ignoring is a decision, not an
// error: GitHub gets a 2xx.
func ignore(ctx context.Context, why string) error {
	zerolog.Ctx(ctx).Debug().Str("reason", why).Msg("ignoring event")
	return nil
}

// All returns the handlers for every event the app subscribes to.
func All(repos Repos, rec Recorder, onInstallation func(owner string)) []githubapp.EventHandler {
	return []githubapp.EventHandler{
		&Push{Repos: repos, Recorder: rec},
		&PullRequest{Repos: repos, Recorder: rec},
		&CheckSuite{Repos: repos, Recorder: rec},
		&CheckRun{Repos: repos, Recorder: rec},
		&Installation{Repos: repos, Recorder: rec, OnChange: onInstallation},
	}
}

// PayloadError is a webhook body that does not decode. GitHub never sends
// one, so it is answered 400 rather than 500.
type PayloadError struct {
	Event string
	Err   error
}

func (e *PayloadError) Error() string { return "decoding " + e.Event + " payload: " + e.Err.Error() }
func (e *PayloadError) Unwrap() error { return e.Err }

// decode unmarshals a payload into v.
func decode(event string, payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return &PayloadError{Event: event, Err: err}
	}
	return nil
}

// MaxDeliveryIDBytes bounds X-GitHub-Delivery: GitHub sends a GUID (36
// characters); the bound leaves room without letting an unbounded value
// into the logs.
const MaxDeliveryIDBytes = 100

// MaxPayloadBytes is GitHub's cap on webhook payloads: larger events are
// never delivered by GitHub, so a larger body is not from GitHub.
const MaxPayloadBytes = 25 << 20

// ErrorCallback answers a failed webhook: 413 for oversized bodies, 401 for
// a bad or missing signature, 400 for other malformed requests, 500 when
// recording failed (GitHub then shows the delivery as failed, and it can be
// redelivered).
func ErrorCallback(w http.ResponseWriter, r *http.Request, err error) {
	log := zerolog.Ctx(r.Context())
	var tooBig *http.MaxBytesError
	var invalid githubapp.ValidationError
	var malformed *PayloadError
	if errors.As(err, &invalid) && invalid.Cause != nil {
		// ValidationError does not unwrap; look at its cause directly.
		errors.As(invalid.Cause, &tooBig)
	}
	switch {
	case tooBig != nil || errors.As(err, &tooBig):
		log.Warn().Err(err).Msg("webhook body too large")
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
	case errors.As(err, &invalid) && isSignatureProblem(invalid.Cause):
		log.Warn().Err(err).Msg("webhook signature rejected")
		http.Error(w, "invalid signature", http.StatusUnauthorized)
	case errors.As(err, &invalid) || errors.As(err, &malformed):
		log.Warn().Err(err).Msg("invalid webhook request")
		http.Error(w, "invalid webhook request", http.StatusBadRequest)
	default:
		log.Error().Err(err).Msg("recording webhook failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func isSignatureProblem(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "signature") || strings.Contains(msg, "HMAC")
}

// Guard runs before the dispatcher: it caps request bodies at
// MaxPayloadBytes and requires the SHA-256 signature header. go-github
// would otherwise fall back to the legacy SHA-1 X-Hub-Signature when
// X-Hub-Signature-256 is absent; GitHub always sends both.
func Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxPayloadBytes {
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		if r.Header.Get("X-Hub-Signature-256") == "" {
			http.Error(w, "missing X-Hub-Signature-256", http.StatusUnauthorized)
			return
		}
		switch id := r.Header.Get("X-GitHub-Delivery"); {
		case id == "":
			http.Error(w, "missing X-GitHub-Delivery", http.StatusBadRequest)
			return
		case len(id) > MaxDeliveryIDBytes:
			// GitHub's delivery ids are GUIDs: a longer one is not from
			// GitHub, and would otherwise reach every log line of its run.
			http.Error(w, "X-GitHub-Delivery too long", http.StatusBadRequest)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxPayloadBytes)
		next.ServeHTTP(w, r)
	})
}
