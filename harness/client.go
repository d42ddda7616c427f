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
// Inside, each part owns one thing, and Client only hands calls on:
//   - transport (transport.go) sends a call: URL, headers, rate limit,
//     retries with back-off, the envelope, error classification and
//     redaction. It knows nothing of entities.
//   - entities (entities.go) is the idempotent entity surface: checks,
//     per-entity serialisation, the managed tag, compare before write,
//     create-else-update and its read-backs. It reaches Harness only
//     through a family of endpoints per kind:
//   - ngAPI (ng.go) for services, environments, infrastructure
//     definitions and connectors under /ng/api; pipelineAPI
//     (pipelines.go) for pipelines; triggerAPI (triggers.go) for triggers.
//   - runAPI (executions.go, approvals.go, webhooks.go) starts and
//     follows runs; schemaAPI (schemas.go) reads the YAML schemas.
//
// Each API family embeds an endpoint: the shared transport and the org
// and project of its Client.
//
// The package harness/harnesstest holds an in-process server that speaks the
// same endpoints, envelopes and status codes, for tests and for the demo.
package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
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
// the generic entity surface (Apply, Remove, Get, List) for every Kind, the
// pipeline-specific calls, runs, webhooks, approvals and YAML schemas. It
// is the package's public surface and only that: each method hands the
// call to the part that owns it (see the package documentation). It is
// safe for concurrent use.
type Client struct {
	sh        *shared
	sc        scope
	entities  *entities
	pipelines *pipelineAPI
	runs      *runAPI
	schemas   *schemaAPI
}

// shared is what every Client derived with In has in common: the
// transport, the managed tag and the per-entity write serialisation.
type shared struct {
	t       *transport
	locks   keyedMutex
	managed Tag
}

// newClient builds the Client of sc and its API families.
func newClient(sh *shared, sc scope) *Client {
	ep := endpoint{t: sh.t, sc: sc}
	pipelines := &pipelineAPI{ep}
	return &Client{
		sh:        sh,
		sc:        sc,
		entities:  &entities{sh: sh, sc: sc, ng: &ngAPI{ep}, pipelines: pipelines, triggers: &triggerAPI{ep}},
		pipelines: pipelines,
		runs:      &runAPI{ep},
		schemas:   &schemaAPI{ep},
	}
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
	t := &transport{
		base:        base,
		account:     cfg.AccountID,
		apiKey:      cfg.APIKey,
		http:        cfg.HTTPClient,
		callTimeout: cfg.CallTimeout,
		retry:       cfg.Retry,
		sleep:       cfg.Sleep,
		observe:     cfg.Observe,
	}
	if t.http == nil {
		t.http = &http.Client{}
	}
	if t.callTimeout <= 0 {
		t.callTimeout = DefaultCallTimeout
	}
	if t.retry.MaxAttempts <= 0 {
		t.retry.MaxAttempts = DefaultMaxAttempts
	}
	if t.retry.BaseDelay <= 0 {
		t.retry.BaseDelay = DefaultBaseDelay
	}
	if t.retry.MaxDelay <= 0 {
		t.retry.MaxDelay = DefaultMaxDelay
	}
	if t.sleep == nil {
		t.sleep = sleepTimer
	}
	if cfg.RateLimit > 0 {
		t.limiter = newTokenBucket(cfg.RateLimit, time.Now)
	}
	sh := &shared{t: t, managed: cfg.ManagedTag}
	return newClient(sh, scope{org: cfg.OrgID, project: cfg.ProjectID}), nil
}

// In returns a Client for another org and project of the same account. It
// shares the HTTP client, the rate limiter, the managed tag and the
// per-entity write serialisation with c.
func (c *Client) In(org, project string) *Client {
	return newClient(c.sh, scope{org: org, project: project})
}

// OrgID returns the org identifier c sends.
func (c *Client) OrgID() string { return c.sc.org }

// ProjectID returns the project identifier c sends.
func (c *Client) ProjectID() string { return c.sc.project }
