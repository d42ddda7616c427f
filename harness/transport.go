package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/backoff"
)

// transport sends the calls of one account: it builds each request's URL
// and headers, waits for the rate limiter, retries under the RetryPolicy
// with back-off, reads the envelope, classifies answers and failures into
// the package's errors, and keeps the API key out of them. It knows
// nothing of entities. Every Client derived with In shares one.
type transport struct {
	base        *url.URL
	account     string
	apiKey      string
	http        *http.Client
	callTimeout time.Duration
	retry       RetryPolicy
	sleep       func(ctx context.Context, d time.Duration) error
	observe     func(op, result string, d time.Duration)
	limiter     *tokenBucket
}

func sleepTimer(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryMode says which failures a request may be repeated after.
type retryMode int

const (
	// retryIdempotent repeats on every retryable failure (GET, PUT, DELETE,
	// and the read-only list POST).
	retryIdempotent retryMode = iota
	// retryUnsent repeats only when the request provably did not reach
	// Harness (dial error) or was throttled (429). Used for create and
	// execute, which must never be replayed blindly.
	retryUnsent
)

// call is one logical API call.
type call struct {
	op          string // operation name for logs and Observe
	method      string
	path        string // below BaseURL, already escaped
	query       url.Values
	body        []byte
	contentType string
	mode        retryMode
	// decode reads the data of a SUCCESS envelope. An error it returns ends
	// the attempt with that error (e.g. a governance deny).
	decode func(data json.RawMessage) error
	// accountScope marks a call about the account as a whole: it needs no
	// org or project and sends neither.
	accountScope bool
	// header holds extra request headers (the v1 API's Harness-Account).
	header http.Header
	// bare marks an API that answers without the ResponseDTO envelope
	// (the v1 API): a 2xx body is decode's input as it is.
	bare bool
	// reclassify, when set, may change the classification of an error
	// answer, for answers whose meaning depends on the call (a 400
	// INVALID_REQUEST "doesn't exist" to an update means not found).
	reclassify func(ae *APIError)
	// settled, when set, is asked after an ambiguous failure of an
	// idempotent write whether the write is known to have taken effect (by
	// reading the pipeline back). If so the call succeeds without being
	// sent again, so a write that took effect is applied once.
	settled func(ctx context.Context) bool
}

// scope is the org and project a Client's calls address.
type scope struct {
	org, project string
}

// check reports ErrInvalidRequest unless s names an org and a project.
func (s scope) check() error {
	if s.org == "" || s.project == "" {
		return fmt.Errorf("harness: org and project identifiers are required: %w", ErrInvalidRequest)
	}
	return nil
}

// endpoint is what every API family holds: the account's transport and
// the scope its calls address.
type endpoint struct {
	t  *transport
	sc scope
}

// do runs cl in e's scope (transport.do).
func (e endpoint) do(ctx context.Context, cl call) error { return e.t.do(ctx, e.sc, cl) }

// do runs cl in sc with retries. It returns the last attempt's error.
func (t *transport) do(ctx context.Context, sc scope, cl call) error {
	q := url.Values{}
	q.Set("accountIdentifier", t.account)
	if !cl.accountScope {
		if err := sc.check(); err != nil {
			return err
		}
		q.Set("orgIdentifier", sc.org)
		q.Set("projectIdentifier", sc.project)
	}
	u := *t.base
	u.Path = t.base.Path + cl.path
	u.RawPath = t.base.EscapedPath() + cl.path
	for k, vs := range cl.query {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	target := u.String()

	var err error
	for attempt := 1; ; attempt++ {
		if t.limiter != nil {
			if wait := t.limiter.reserve(); wait > 0 {
				if werr := t.sleep(ctx, wait); werr != nil {
					return fmt.Errorf("%s: waiting for the rate limiter: %w", cl.op, werr)
				}
			}
		}
		err = t.attempt(ctx, cl, target, attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if cl.settled != nil && ambiguous(err) && cl.settled(ctx) {
			zerolog.Ctx(ctx).Debug().Str(logKeyOp, cl.op).Str(logKeyMethod, cl.method).Str(logKeyPath, cl.path).
				Int(logKeyAttempt, attempt).Str("error", err.Error()).Msg("harness write failed but took effect")
			return nil
		}
		if attempt >= t.retry.MaxAttempts || !t.mayRetry(cl.mode, err) {
			return err
		}
		delay := t.backoff(attempt)
		if ra, ok := RetryAfter(err); ok {
			if ra > t.retry.MaxDelay {
				return err // longer than we wait inside a call: leave it to the caller
			}
			delay = ra
		}
		zerolog.Ctx(ctx).Debug().Str(logKeyOp, cl.op).Str(logKeyMethod, cl.method).Str(logKeyPath, cl.path).
			Int(logKeyAttempt, attempt).Int64("delay_ms", delay.Milliseconds()).Str("error", err.Error()).Msg("retrying harness request")
		if serr := t.sleep(ctx, delay); serr != nil {
			return fmt.Errorf("%w (gave up waiting to retry: %w)", err, serr)
		}
	}
}

func (t *transport) mayRetry(mode retryMode, err error) bool {
	if !IsRetryable(err) {
		return false
	}
	if mode == retryIdempotent {
		return true
	}
	return notSent(err) || errors.Is(err, ErrRateLimited)
}

// notSent reports whether err provably happened before the request reached
// the server.
func notSent(err error) bool {
	var te *transportError
	return errors.As(err, &te) && te.notSent
}

// ambiguous reports whether a failed write may have taken effect.
func ambiguous(err error) bool {
	if notSent(err) {
		return false
	}
	if errors.Is(err, ErrTransport) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrServer) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.HTTPStatus >= 200 && ae.HTTPStatus < 300 && errors.Is(ae, ErrUnexpectedResponse)
}

// backoff is the full-jitter delay before attempt+1.
func (t *transport) backoff(attempt int) time.Duration {
	return backoff.Exponential{Base: t.retry.BaseDelay, Max: t.retry.MaxDelay}.Delay(attempt, rand.Float64())
}

// attempt sends cl once.
func (t *transport) attempt(ctx context.Context, cl call, target string, attempt int) (err error) {
	start := time.Now()
	status := 0
	defer func() {
		d := time.Since(start)
		ev := zerolog.Ctx(ctx).Debug().Str(logKeyOp, cl.op).Str(logKeyMethod, cl.method).Str(logKeyPath, cl.path).
			Int(logKeyStatus, status).Int(logKeyAttempt, attempt).Int64(logKeyDuration, d.Milliseconds())
		if err != nil {
			ev = ev.Str("error", err.Error())
		}
		ev.Msg("harness request")
		if t.observe != nil {
			t.observe(cl.op, resultOf(err), d)
		}
	}()

	actx, cancel := context.WithTimeout(ctx, t.callTimeout)
	defer cancel()
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, target, body)
	if err != nil {
		return fmt.Errorf("%s: building request: %w", cl.op, ErrInvalidRequest)
	}
	req.Header.Set("x-api-key", t.apiKey)
	req.Header.Set("Accept", "application/json")
	if cl.contentType != "" {
		req.Header.Set("Content-Type", cl.contentType)
	}
	for k, vs := range cl.header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return t.transportErr(ctx, actx, cl, err)
	}
	defer resp.Body.Close()
	status = resp.StatusCode
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return t.transportErr(ctx, actx, cl, err)
	}
	return t.interpret(cl, resp, raw)
}

// transportErr turns a failed exchange into a sanitised error. The message
// is rebuilt from the innermost error so that nothing of the request other
// than its method and path can leak into it.
func (t *transport) transportErr(ctx, actx context.Context, cl call, err error) error {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	msg := fmt.Sprintf("%s: %s %s: %s", cl.op, cl.method, cl.path, t.redact(inner.Error()))
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// The caller stopped: not a Harness failure, and not ours to retry.
		return &transportError{msg: msg, cause: context.Canceled}
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		return &transportError{kind: ErrTimeout, msg: msg, cause: context.DeadlineExceeded}
	}
	var oe *net.OpError
	notSent := errors.As(err, &oe) && oe.Op == "dial"
	return &transportError{kind: ErrTransport, msg: msg, notSent: notSent}
}

// envelope is the union of Harness's ResponseDTO, ErrorDTO and FailureDTO.
type envelope struct {
	Status           string          `json:"status"`
	Data             json.RawMessage `json:"data"`
	Code             string          `json:"code"`
	Message          string          `json:"message"`
	CorrelationID    string          `json:"correlationId"`
	DetailedMessage  string          `json:"detailedMessage"`
	ResponseMessages []struct {
		Code    string `json:"code"`
		Level   string `json:"level"`
		Message string `json:"message"`
	} `json:"responseMessages"`
	Errors []struct {
		FieldID string `json:"fieldId"`
		Error   string `json:"error"`
	} `json:"errors"`
}

// interpret reads a response. The envelope's status, not only the HTTP
// code, says whether a v0 call failed (ResponseDTO / ErrorDTO / FailureDTO
// in harness-core's 960-ng-core-beans).
func (t *transport) interpret(cl call, resp *http.Response, raw []byte) error {
	var env envelope
	isEnv := isJSON(resp.Header.Get("Content-Type"), raw) && json.Unmarshal(raw, &env) == nil && env.Status != ""
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if ok && cl.bare && isJSON(resp.Header.Get("Content-Type"), raw) {
		if cl.decode == nil {
			return nil
		}
		if err := cl.decode(raw); err != nil {
			return fmt.Errorf("%s: %w", cl.op, err)
		}
		return nil
	}
	if ok && isEnv && env.Status == "SUCCESS" {
		if cl.decode == nil {
			return nil
		}
		if err := cl.decode(env.Data); err != nil {
			return fmt.Errorf("%s: %w", cl.op, err)
		}
		return nil
	}
	ae := &APIError{HTTPStatus: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
	if isEnv {
		ae.Code = env.Code
		ae.CorrelationID = env.CorrelationID
		ae.Message = t.redact(envMessage(&env))
	} else {
		// The edge (proxy, WAF, Cloud Armor) answers 429 and 502-504 with
		// HTML; Harness's own MCP server handles non-JSON error bodies for
		// that reason (harness/mcp-server:src/client/harness-client.ts).
		ae.Message = t.redact(describeBody(resp, raw))
	}
	ae.kind = classify(resp.StatusCode, ae.Code, ae.Message, isEnv)
	if cl.reclassify != nil {
		cl.reclassify(ae)
	}
	return fmt.Errorf("%s: %w", cl.op, ae)
}

func envMessage(env *envelope) string {
	msg := env.Message
	if msg == "" {
		msg = env.DetailedMessage
	}
	if msg == "" {
		for _, m := range env.ResponseMessages {
			if m.Message != "" {
				msg = m.Message
				break
			}
		}
	}
	var fields []string
	for _, fe := range env.Errors {
		fields = append(fields, fe.FieldID+": "+fe.Error)
	}
	if len(fields) > 0 {
		if msg != "" {
			msg += " "
		}
		msg += "[" + strings.Join(fields, "; ") + "]"
	}
	return msg
}

func isJSON(contentType string, raw []byte) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		return true
	}
	// Some proxies drop the header; sniff instead of trusting it.
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

// describeBody summarises a non-envelope body in one short line.
func describeBody(resp *http.Response, raw []byte) string {
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		ct = "no content type"
	}
	snippet := strings.Join(strings.Fields(string(raw)), " ")
	if r := []rune(snippet); len(r) > 120 {
		snippet = string(r[:120]) + "..."
	}
	if snippet == "" {
		return fmt.Sprintf("%s with an empty body (%s)", http.StatusText(resp.StatusCode), ct)
	}
	return fmt.Sprintf("%s with a non-envelope body (%s): %s", http.StatusText(resp.StatusCode), ct, snippet)
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// redact removes the API key from s. Harness's own messages quote only the
// token id ("Invalid API token <id>: ..."), but a proxy page might echo
// anything.
func (t *transport) redact(s string) string {
	if t.apiKey == "" {
		return s
	}
	return strings.ReplaceAll(s, t.apiKey, "[redacted]")
}

// resultOf names an attempt's outcome for Observe.
func resultOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrAlreadyExists):
		return "already_exists"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrServer):
		return "server_error"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errors.Is(err, ErrTransport):
		return "transport_error"
	case errors.Is(err, ErrGovernanceDenied):
		return "governance_denied"
	case errors.Is(err, ErrNotManaged):
		return "not_managed"
	case errors.Is(err, ErrReferenceNotFound):
		return "reference_not_found"
	case errors.Is(err, ErrReferenced):
		return "referenced"
	case errors.Is(err, ErrUnexpectedResponse):
		return "unexpected_response"
	default:
		return "invalid_request"
	}
}

// tokenBucket is a client-side rate limiter. reserve takes a token and
// returns how long the caller must wait for it; tokens may go negative,
// which queues callers fairly without a goroutine.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newTokenBucket(rate float64, now func() time.Time) *tokenBucket {
	burst := max(1, rate)
	return &tokenBucket{rate: rate, burst: burst, tokens: burst, last: now(), now: now}
}

func (b *tokenBucket) reserve() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}
