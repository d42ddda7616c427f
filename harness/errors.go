package harness

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors. Every error returned by Client matches at most one of
// ErrNotFound through ErrUnexpectedResponse with errors.Is (none when the
// caller canceled ctx); ErrOutcomeUnknown may come on top of one. Callers
// decide with errors.Is and errors.As only and never look at HTTP status
// codes.
var (
	// ErrNotFound means Harness said the entity does not exist: error code
	// ENTITY_NOT_FOUND (pipelines and triggers, HTTP 404) or
	// RESOURCE_NOT_FOUND_EXCEPTION (services, environments, infrastructure
	// definitions and connectors, HTTP 400: NotFoundExceptionMapper in
	// harness-core's 960-ng-core-beans), or the 400 INVALID_REQUEST
	// "... doesn't exist" answer Harness gives for an update or delete of a
	// missing entity (see the Kind constants). Any other 404 (an HTML page
	// from a proxy, a wrong BaseURL, an unknown route) is
	// ErrUnexpectedResponse instead, so a misconfigured client never mistakes
	// "wrong URL" for "already deleted".
	ErrNotFound = errors.New("harness: not found")
	// ErrAlreadyExists means a create found the identifier taken:
	// DUPLICATE_FIELD, or the INVALID_REQUEST "... already exists" with
	// which Harness wraps a duplicate service, environment, trigger or
	// connector.
	ErrAlreadyExists = errors.New("harness: already exists")
	// ErrNotManaged means Apply or Remove found an existing entity that
	// does not carry Config.ManagedTag: someone else's entity with the same
	// identifier. Nothing was written. Not retryable.
	ErrNotManaged = errors.New("harness: entity not managed by this application")
	// ErrReferenceNotFound means a create or update names another entity
	// that does not exist: an infrastructure definition's environment, or
	// the org or project itself (RESOURCE_NOT_FOUND_EXCEPTION answering a
	// write). Not retryable as such; it may succeed once the other entity
	// exists.
	ErrReferenceNotFound = errors.New("harness: referenced entity not found")
	// ErrReferenced means a delete was refused because other entities
	// still reference the entity (ENTITY_REFERENCE_EXCEPTION, HTTP 400:
	// ReferencedEntityException in harness-core). Not retryable as such.
	ErrReferenced = errors.New("harness: entity is referenced by other entities")
	// ErrInvalidRequest means Harness rejected the request as malformed or
	// invalid (400 and other 4xx not listed separately). Not retryable.
	ErrInvalidRequest = errors.New("harness: invalid request")
	// ErrUnauthorized means the API key was missing, wrong or expired (401).
	ErrUnauthorized = errors.New("harness: unauthorized")
	// ErrForbidden means the key lacks a permission (403, NG_ACCESS_DENIED).
	ErrForbidden = errors.New("harness: forbidden")
	// ErrRateLimited means Harness throttled the client (429). Retryable.
	ErrRateLimited = errors.New("harness: rate limited")
	// ErrServer means Harness or its edge failed (5xx). 500, 502, 503 and 504
	// are retryable; others (501, 505, ...) are not.
	ErrServer = errors.New("harness: server error")
	// ErrTransport means the HTTP exchange itself failed (dial, TLS, reset,
	// dropped connection). Retryable.
	ErrTransport = errors.New("harness: transport error")
	// ErrTimeout means one attempt exceeded Config.CallTimeout. Retryable.
	ErrTimeout = errors.New("harness: timeout")
	// ErrGovernanceDenied means an OPA policy denied a create or update.
	// Harness answers HTTP 200 with governanceMetadata.deny=true and no
	// identifier, and saves nothing. Not retryable: the YAML must change.
	ErrGovernanceDenied = errors.New("harness: denied by governance policy")
	// ErrUnexpectedResponse means the answer was not the Harness JSON envelope
	// the call requires (for example a 2xx or 404 HTML page). Not retryable:
	// it usually means a wrong BaseURL or a proxy in the way.
	ErrUnexpectedResponse = errors.New("harness: unexpected response")
	// ErrOutcomeUnknown marks a non-idempotent call (Execute) that failed after
	// the request may have reached Harness: it may or may not have taken
	// effect. IsRetryable reports false for it, whatever else it wraps.
	ErrOutcomeUnknown = errors.New("harness: outcome unknown")
)

// Harness ErrorCode names the client relies on (980-commons ErrorCode.java in
// the harness-core sources).
const (
	codeInvalidRequest   = "INVALID_REQUEST"
	codeDuplicateField   = "DUPLICATE_FIELD"
	codeEntityNotFound   = "ENTITY_NOT_FOUND"
	codeResourceNotFound = "RESOURCE_NOT_FOUND_EXCEPTION"
	codeReferenced       = "ENTITY_REFERENCE_EXCEPTION"
	codeAccessDenied     = "NG_ACCESS_DENIED"
	codeInvalidToken     = "INVALID_TOKEN"
	codeExpiredToken     = "EXPIRED_TOKEN"
	codeInvalidCred      = "INVALID_CREDENTIAL"
)

// APIError is an error answer from Harness: an ErrorDTO or FailureDTO
// envelope, or a non-JSON error page from the edge. Use errors.Is with the
// sentinels above to classify it.
type APIError struct {
	// HTTPStatus is the HTTP status code. It is 200 for a governance deny
	// and for a 2xx answer whose envelope status is not SUCCESS.
	HTTPStatus int
	// Code is the Harness ErrorCode (e.g. "DUPLICATE_FIELD"); empty when the
	// body was not a Harness envelope.
	Code string
	// Message is Harness's message, or a short description of a non-JSON
	// body. It never contains the API key.
	Message string
	// CorrelationID is Harness's correlationId, for support requests.
	CorrelationID string
	// RetryAfter is the server's Retry-After, or 0 when none was sent.
	// Harness's edge does not send it today (see RetryAfter).
	RetryAfter time.Duration

	kind error // one of the sentinels; decided once, at construction
}

// Error implements error.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "harness: HTTP %d", e.HTTPStatus)
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " (correlation id %s)", e.CorrelationID)
	}
	return b.String()
}

// Is reports whether target is the sentinel that classifies e.
func (e *APIError) Is(target error) bool {
	return e.kind != nil && target == e.kind
}

// classify picks the sentinel for an error answer. The edge's 429 and 5xx
// come first because their bodies may be anything; then the Harness code,
// which is authoritative where present; then the HTTP status.
func classify(status int, code, message string, envelope bool) error {
	switch {
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status >= 500:
		return ErrServer
	}
	switch code {
	case codeEntityNotFound:
		return ErrNotFound
	case codeResourceNotFound:
		// NotFoundExceptionMapper writes javax.ws.rs.NotFoundException as a
		// 400 FailureDTO with this code. The GETs of services,
		// environments, infrastructure definitions and connectors throw it
		// for a missing entity; Jersey throws the same exception, with the
		// message "HTTP 404 Not Found", for a path no resource matches
		// (inferred from Jersey's behaviour), which must not read as "gone".
		if message == "HTTP 404 Not Found" {
			return ErrUnexpectedResponse
		}
		return ErrNotFound
	case codeReferenced:
		return ErrReferenced
	case codeDuplicateField:
		return ErrAlreadyExists
	case codeInvalidToken, codeExpiredToken, codeInvalidCred:
		return ErrUnauthorized
	case codeAccessDenied:
		return ErrForbidden
	}
	switch {
	case status == http.StatusUnauthorized:
		return ErrUnauthorized
	case status == http.StatusForbidden:
		return ErrForbidden
	case status == http.StatusNotFound:
		// Not ENTITY_NOT_FOUND: the route, not the entity, is missing.
		return ErrUnexpectedResponse
	case status >= 200 && status < 300 && !envelope:
		return ErrUnexpectedResponse
	}
	return ErrInvalidRequest
}

// transportError is a failed HTTP exchange. Its message is built by the
// client from sanitised parts, so it never carries request headers.
type transportError struct {
	kind    error // ErrTransport, ErrTimeout, or nil when the caller's context was canceled
	msg     string
	notSent bool // the failure provably happened before the request reached the server
	cause   error
}

func (e *transportError) Error() string { return e.msg }

func (e *transportError) Is(target error) bool { return e.kind != nil && target == e.kind }

// Unwrap exposes the cause (for example context.DeadlineExceeded) with
// its message already sanitised.
func (e *transportError) Unwrap() error { return e.cause }

// IsRetryable reports whether err is worth retrying later with the same
// request: transport failures, per-attempt timeouts, 429, and 500, 502, 503
// and 504. A deadline that ends a call (the caller's or CallTimeout) counts
// as ErrTimeout. It is false for every other 4xx, for a governance deny, for
// an unexpected response, for ErrOutcomeUnknown and for a canceled context
// (errors.Is(err, context.Canceled)), which means the caller chose to stop.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrOutcomeUnknown) {
		return false
	}
	if errors.Is(err, ErrTransport) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrRateLimited) {
		return true
	}
	var ae *APIError
	if errors.As(err, &ae) && errors.Is(ae, ErrServer) {
		switch ae.HTTPStatus {
		case http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

// RetryAfter returns the delay the server asked for with a Retry-After
// header, if err carries one. Harness documents that its edge (Google Cloud
// Armor) does not send Retry-After on 429 today
// (https://developer.harness.io/docs/platform/rate-limits/), so callers
// must have their own backoff and use this only when it is present.
func RetryAfter(err error) (time.Duration, bool) {
	var ae *APIError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		return ae.RetryAfter, true
	}
	return 0, false
}
