// Package harness is the client for the Harness NextGen (NG) v0 APIs that
// pipeline-orchestrator uses: every entity a deploy needs (services,
// environments, infrastructure definitions, pipelines, triggers and
// connectors) through one idempotent surface that the durable outbox calls
// (Apply, Remove, Get, List); runs (Execute, GetExecution, ExecutionStatus),
// custom webhook triggers (FireTrigger, TriggerEvent) and approvals
// (ApprovalInstances, GetApproval, Approve, Reject); and the account's YAML
// schemas. The pipeline-specific calls of earlier
// versions (CreateOrUpdate, DeleteIfExists, GetPipeline, ListPipelines)
// remain.
//
// Errors are classified once, here: see the Err* sentinels, *APIError,
// IsRetryable and RetryAfter. The API key is sent only as the x-api-key
// header and never appears in an error string or a log line.
//
// The package harness/harnesstest holds an in-process server that speaks the
// same endpoints, envelopes and status codes, for tests and for the demo.
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

// DefaultBaseURL is the SaaS gateway the Harness Go SDK and Terraform
// provider default to (harness/harness-go-sdk:harness/utils/const.go). Other
// clusters and self-managed installs use another host.
const DefaultBaseURL = "https://app.harness.io/gateway"

// Defaults for Config fields left zero. Harness documents no retry policy;
// with these, one call sleeps at most 1+2+4+8 s between its five attempts.
const (
	// DefaultCallTimeout bounds one attempt.
	DefaultCallTimeout = 30 * time.Second
	// DefaultMaxAttempts counts every attempt, the first included.
	DefaultMaxAttempts = 5
	// DefaultBaseDelay is the first backoff cap.
	DefaultBaseDelay = time.Second
	// DefaultMaxDelay caps every backoff.
	DefaultMaxDelay = 30 * time.Second
)

// maxBody bounds how much of a response body is read. Pipeline YAML can be
// large (Harness rate-limits requests over 500,000 characters separately),
// so the bound is generous.
const maxBody = 32 << 20

// Log keys used on every request line.
const (
	logKeyMethod   = "method"
	logKeyPath     = "path"
	logKeyStatus   = "status"
	logKeyAttempt  = "attempt"
	logKeyDuration = "duration_ms"
	logKeyOp       = "harness_op"
	// logKeyEntity is not "entity": the outbox puts its own "entity" on
	// the logger it hands down, and a key twice on one line is invalid
	// JSON for strict parsers.
	logKeyEntity = "harness_entity"
)

// RetryPolicy bounds the retries the client makes inside one call.
// Backoff is exponential with full jitter: before attempt n+1 the client
// sleeps a random duration in [0, min(MaxDelay, BaseDelay*2^(n-1))], or the
// server's Retry-After when one was sent.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included. 1 disables
	// retries. Zero means DefaultMaxAttempts.
	MaxAttempts int
	// BaseDelay is the first backoff cap. Zero means DefaultBaseDelay.
	BaseDelay time.Duration
	// MaxDelay caps every backoff. A Retry-After longer than MaxDelay ends
	// the call with the error instead of sleeping; RetryAfter(err) then
	// tells the caller how long to wait. Zero means DefaultMaxDelay.
	MaxDelay time.Duration
}

// Config configures a Client. AccountID and APIKey are required.
type Config struct {
	// BaseURL is the API root, e.g. DefaultBaseURL (the default) or
	// "https://app.harness.io" for clusters served without /gateway.
	BaseURL string
	// AccountID, OrgID and ProjectID are sent as accountIdentifier,
	// orgIdentifier and projectIdentifier on every call. OrgID and ProjectID
	// may be left empty here and set with In.
	AccountID, OrgID, ProjectID string
	// APIKey is a personal access token or service-account token, sent as
	// the x-api-key header.
	APIKey string
	// HTTPClient sends the requests. Nil means a client with no overall
	// timeout (CallTimeout bounds each attempt instead).
	HTTPClient *http.Client
	// CallTimeout bounds one attempt, through its context. Zero means
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// Retry bounds retries inside a call.
	Retry RetryPolicy
	// Sleep waits between attempts and for the rate limiter. It must return
	// ctx.Err() when ctx ends first. Nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Observe, when set, is called after every attempt with the operation
	// (get_<kind>, create_<kind>, update_<kind>, delete_<kind> and
	// list_<kind>s for every Kind, e.g. get_pipeline or list_services;
	// execute, execution_status, fire_trigger, get_trigger_event,
	// list_approvals, get_approval, approval_activity, get_yaml_schema),
	// its result (ok,
	// not_found, already_exists, invalid_request, unauthorized, forbidden,
	// rate_limited, server_error, timeout, transport_error, canceled,
	// governance_denied, not_managed, reference_not_found, referenced,
	// unexpected_response) and its duration. It must be safe for
	// concurrent use.
	Observe func(op, result string, d time.Duration)
	// ManagedTag, when its Key is set, is the tag (key and value) that
	// marks the entities this application manages. Apply and Remove then
	// refuse, with ErrNotManaged, to change or delete an existing entity
	// that does not carry it, and Apply refuses YAML that does not carry
	// it (which would leave an entity Apply could not change again). With
	// an empty Key there is no such guard.
	ManagedTag Tag
	// RateLimit, when positive, is a client-side token bucket in requests
	// per second (burst: the same number, at least 1), shared by every
	// Client derived with In. Harness documents 1000 requests per minute
	// per API key (https://developer.harness.io/docs/platform/rate-limits/).
	RateLimit float64
}

// Tag is one Harness tag: a key and its value.
type Tag struct {
	Key, Value string
}

// on reports whether tags hold t. The zero Tag is on every entity.
func (t Tag) on(tags map[string]string) bool {
	if t.Key == "" {
		return true
	}
	v, ok := tags[t.Key]
	return ok && v == t.Value
}

// String formats cfg for logs with the API key redacted.
func (cfg Config) String() string {
	key := ""
	if cfg.APIKey != "" {
		key = "[redacted]"
	}
	return fmt.Sprintf("harness.Config{BaseURL:%q AccountID:%q OrgID:%q ProjectID:%q APIKey:%s CallTimeout:%s Retry:%+v ManagedTag:%q=%q RateLimit:%g}",
		cfg.BaseURL, cfg.AccountID, cfg.OrgID, cfg.ProjectID, key, cfg.CallTimeout, cfg.Retry,
		cfg.ManagedTag.Key, cfg.ManagedTag.Value, cfg.RateLimit)
}

// GoString is String, so that %#v redacts the API key too.
func (cfg Config) GoString() string { return cfg.String() }

// Client calls the Harness NG v0 APIs for one account, org and project:
// the generic entity surface (Apply, Remove, Get, List) for every Kind, and
// the pipeline-specific calls. It is safe for concurrent use.
type Client struct {
	sh      *shared
	org     string
	project string
}

// shared is what every Client derived with In has in common.
type shared struct {
	base        *url.URL
	account     string
	apiKey      string
	http        *http.Client
	callTimeout time.Duration
	retry       RetryPolicy
	sleep       func(ctx context.Context, d time.Duration) error
	observe     func(op, result string, d time.Duration)
	limiter     *tokenBucket
	locks       keyedMutex
	managed     Tag
}

// New returns a Client for cfg, with defaults applied.
func New(cfg Config) (*Client, error) {
	if cfg.AccountID == "" {
		return nil, errors.New("harness: config: account id is required")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("harness: config: api key is required")
	}
	if strings.ContainsAny(cfg.APIKey, "\r\n") {
		return nil, errors.New("harness: config: api key contains a line break")
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("harness: config: base url %q is not an http(s) URL", raw)
	}
	if base.User != nil || base.RawQuery != "" {
		return nil, fmt.Errorf("harness: config: base url %q must not carry credentials or a query", raw)
	}
	sh := &shared{
		base:        base,
		account:     cfg.AccountID,
		apiKey:      cfg.APIKey,
		http:        cfg.HTTPClient,
		callTimeout: cfg.CallTimeout,
		retry:       cfg.Retry,
		sleep:       cfg.Sleep,
		observe:     cfg.Observe,
		managed:     cfg.ManagedTag,
	}
	if sh.http == nil {
		sh.http = &http.Client{}
	}
	if sh.callTimeout <= 0 {
		sh.callTimeout = DefaultCallTimeout
	}
	if sh.retry.MaxAttempts <= 0 {
		sh.retry.MaxAttempts = DefaultMaxAttempts
	}
	if sh.retry.BaseDelay <= 0 {
		sh.retry.BaseDelay = DefaultBaseDelay
	}
	if sh.retry.MaxDelay <= 0 {
		sh.retry.MaxDelay = DefaultMaxDelay
	}
	if sh.sleep == nil {
		sh.sleep = sleepTimer
	}
	if cfg.RateLimit > 0 {
		sh.limiter = newTokenBucket(cfg.RateLimit, time.Now)
	}
	return &Client{sh: sh, org: cfg.OrgID, project: cfg.ProjectID}, nil
}

// In returns a Client for another org and project of the same account. It
// shares the HTTP client, the rate limiter, the managed tag and the
// per-entity write serialisation with c.
func (c *Client) In(org, project string) *Client {
	return &Client{sh: c.sh, org: org, project: project}
}

// OrgID returns the org identifier c sends.
func (c *Client) OrgID() string { return c.org }

// ProjectID returns the project identifier c sends.
func (c *Client) ProjectID() string { return c.project }

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

// scope checks that c names an org and a project.
func (c *Client) scope() error {
	if c.org == "" || c.project == "" {
		return fmt.Errorf("harness: org and project identifiers are required: %w", ErrInvalidRequest)
	}
	return nil
}

// do runs cl with retries. It returns the last attempt's error.
func (c *Client) do(ctx context.Context, cl call) error {
	q := url.Values{}
	q.Set("accountIdentifier", c.sh.account)
	if !cl.accountScope {
		if err := c.scope(); err != nil {
			return err
		}
		q.Set("orgIdentifier", c.org)
		q.Set("projectIdentifier", c.project)
	}
	u := *c.sh.base
	u.Path = c.sh.base.Path + cl.path
	u.RawPath = c.sh.base.EscapedPath() + cl.path
	for k, vs := range cl.query {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	target := u.String()

	var err error
	for attempt := 1; ; attempt++ {
		if c.sh.limiter != nil {
			if wait := c.sh.limiter.reserve(); wait > 0 {
				if werr := c.sh.sleep(ctx, wait); werr != nil {
					return fmt.Errorf("%s: waiting for the rate limiter: %w", cl.op, werr)
				}
			}
		}
		err = c.attempt(ctx, cl, target, attempt)
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
		if attempt >= c.sh.retry.MaxAttempts || !c.mayRetry(cl.mode, err) {
			return err
		}
		delay := c.backoff(attempt)
		if ra, ok := RetryAfter(err); ok {
			if ra > c.sh.retry.MaxDelay {
				return err // longer than we wait inside a call: leave it to the caller
			}
			delay = ra
		}
		zerolog.Ctx(ctx).Debug().Str(logKeyOp, cl.op).Str(logKeyMethod, cl.method).Str(logKeyPath, cl.path).
			Int(logKeyAttempt, attempt).Int64("delay_ms", delay.Milliseconds()).Str("error", err.Error()).Msg("retrying harness request")
		if serr := c.sh.sleep(ctx, delay); serr != nil {
			return fmt.Errorf("%w (gave up waiting to retry: %w)", err, serr)
		}
	}
}

func (c *Client) mayRetry(mode retryMode, err error) bool {
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
func (c *Client) backoff(attempt int) time.Duration {
	return backoff.Exponential{Base: c.sh.retry.BaseDelay, Max: c.sh.retry.MaxDelay}.Delay(attempt, rand.Float64())
}

// attempt sends cl once.
func (c *Client) attempt(ctx context.Context, cl call, target string, attempt int) (err error) {
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
		if c.sh.observe != nil {
			c.sh.observe(cl.op, resultOf(err), d)
		}
	}()

	actx, cancel := context.WithTimeout(ctx, c.sh.callTimeout)
	defer cancel()
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, target, body)
	if err != nil {
		return fmt.Errorf("%s: building request: %w", cl.op, ErrInvalidRequest)
	}
	req.Header.Set("x-api-key", c.sh.apiKey)
	req.Header.Set("Accept", "application/json")
	if cl.contentType != "" {
		req.Header.Set("Content-Type", cl.contentType)
	}
	for k, vs := range cl.header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	resp, err := c.sh.http.Do(req)
	if err != nil {
		return c.transportErr(ctx, actx, cl, err)
	}
	defer resp.Body.Close()
	status = resp.StatusCode
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return c.transportErr(ctx, actx, cl, err)
	}
	return c.interpret(cl, resp, raw)
}

// transportErr turns a failed exchange into a sanitised error. The message
// is rebuilt from the innermost error so that nothing of the request other
// than its method and path can leak into it.
func (c *Client) transportErr(ctx, actx context.Context, cl call, err error) error {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	msg := fmt.Sprintf("%s: %s %s: %s", cl.op, cl.method, cl.path, c.redact(inner.Error()))
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
func (c *Client) interpret(cl call, resp *http.Response, raw []byte) error {
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
		ae.Message = c.redact(envMessage(&env))
	} else {
		// The edge (proxy, WAF, Cloud Armor) answers 429 and 502-504 with
		// HTML; Harness's own MCP server handles non-JSON error bodies for
		// that reason (harness/mcp-server:src/client/harness-client.ts).
		ae.Message = c.redact(describeBody(resp, raw))
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
func (c *Client) redact(s string) string {
	if c.sh.apiKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.sh.apiKey, "[redacted]")
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

// keyedMutex serialises work per key, honouring ctx while waiting.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{} // holds one token while locked
	refs int
}

func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyLock)
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()

	release := func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
