// Package harnesstest is an in-process stand-in for the Harness NG v0
// APIs the application uses: services, environments, infrastructure
// definitions and connectors (NG manager), pipelines, triggers, custom
// webhooks, approvals and executions (pipeline service). Runs execute:
// each stage resolves its Service, Environment and infrastructure
// definition, merges its runtime inputs, resolves the artifact image,
// fetches the manifests from GitHub through the Service's connector (as
// the connector's GitHub App, over HTTP to the API Options.GitHubAPIURL
// names) and renders them, waits in Wait and HarnessApproval steps, and
// fails with Harness's message where Harness would. It speaks the same paths, query
// parameters, status codes and JSON envelopes as Harness, keeps every
// entity per account, org and project, rejects on save what Harness
// rejects (each rule carries its source where it is enforced), records
// every call and every change, and injects faults (5xx, 429, hangs,
// dropped connections, latency, 5xx after a write took effect) so that the
// real harness.Client runs unchanged in tests and in the demo.
//
// It also serves Harness's YAML schemas (GET /pipeline/api/yaml-schema)
// from the bytes given in Options, and checks saves against them; it holds
// no copy of Harness's schemas itself.
//
// Every method of Server is safe for concurrent use, including while
// requests are being served.
//
// Where the stand-in is knowingly more lenient than Harness, or departs
// from it:
//   - Schemas. Without Options.PipelineSchema, pipelines and Services'
//     serviceDefinitions are saved unchecked; without
//     Options.TriggerSchema (or without the pipeline schema, which the
//     compiler needs first), triggers are. Of a Service only the
//     serviceDefinition is checked (Harness checks the whole Service
//     against its Service schema, which is not published); environments,
//     infrastructure definitions and connectors are checked against no
//     schema. A trigger's schema check stands for Harness reading the
//     YAML into its trigger classes and may differ from it both ways.
//   - Orgs and projects are not modelled: every org and project exists
//     (Harness refuses a save into a missing one with
//     RESOURCE_NOT_FOUND_EXCEPTION).
//   - Filter creation checks only that a stage's deploymentType matches its
//     existing Service's; its other save-time messages ("serviceRef should
//     be present in stage …" and the like) are not produced. With feature
//     flag PIE_ASYNC_FILTER_CREATION Harness would run that check after
//     saving; the stand-in always runs it before.
//   - Services: manifests are not validated (NGServiceEntityMapper
//     .validateManifests), a gitOpsEnabled change is not refused, and no
//     service has active instances (ACTIVE_SERVICE_INSTANCES_PRESENT_EXCEPTION
//     never comes).
//   - Infrastructure definitions: required fields are checked for the
//     KubernetesDirect type only, with the stand-in's own message; a
//     request without YAML is refused as INVALID_REQUEST, where Harness's
//     Preconditions check answers as an unmapped exception.
//   - Environments: a request without a type is refused as a validation
//     failure (400), where Harness fails on it later (a
//     NullPointerException, inferred).
//   - Triggers: only custom webhook triggers are modelled (no cron, Git
//     webhook or artifact triggers, no webhook registration); inputYaml is
//     not checked against the pipeline's runtime inputs; the HTTP 200
//     answer with errorResponse (InvalidTriggerYamlException) is never
//     produced. The token is fixed at creation as in Harness.
//   - Connectors: only the GitHub connector's spec is validated, and only
//     its credential fields' secret references (privateKeyRef, tokenRef, …)
//     are checked against the secrets store; no connection test runs. The
//     empty fields a connector read back carries are inferred from its DTOs.
//   - References that block deletes (ENTITY_REFERENCE_EXCEPTION) are those
//     of pipelines to Services, environments and infrastructure definitions
//     and of any entity's connectorRef to a connector. Pipelines referenced
//     by other pipelines or templates, secrets referenced by connectors,
//     and references across scopes ("account.x", "org.x") are not modelled.
//   - Cascades happen at once: the triggers of a deleted pipeline (Harness
//     deletes them from an event, asynchronously) and the infrastructure
//     definitions of a deleted environment.
//   - forceDelete is always refused, as when the account setting is off
//     (its default); optimistic locking (If-Match) is ignored; the upsert
//     and batch endpoints, Git Experience (REMOTE entities) and account-
//     or org-level references are not served.
//   - Lists are sorted by identifier; Harness's default order differs
//     (most recently modified first for connectors).
//   - Runs (exec.go and the files it uses) model Deployment stages of
//     Kubernetes Services on KubernetesDirect infrastructure, and the steps
//     of every stage; other stage types run their steps only. Steps other
//     than Wait, HarnessApproval and the K8s deploy steps (K8sRollingDeploy,
//     K8sApply, K8sCanaryDeploy, K8sBlueGreenDeploy) succeed doing nothing,
//     rollback steps never run. Stages, parallel blocks and step groups run
//     one step after the other. when conditions, failure strategies (the
//     first stage that does not succeed ends the run), step timeouts
//     (approvals never expire), looping strategies, templates and delegate
//     selectors are not modelled.
//   - A stage's Service is a Service V2; useFromStage, deployToAll and more
//     than one infrastructure definition per stage fail the stage with the
//     stand-in's own message. environmentInputs and serviceOverrideInputs
//     are not merged; environment variables and overrides are not applied.
//   - Runtime inputs: validators (.allowedValues, .regex) are not checked
//     and defaults (.default) not applied.
//   - Artifacts: there is no registry, so a tag is not checked to exist; a
//     tag left "<+input>", an empty tag (latest, in Harness), tagRegex and
//     digest fail with the stand-in's own messages. Only Gcr and
//     DockerRegistry primary artifacts are modelled; sidecars are ignored.
//   - Manifests: one K8sManifest (and Values manifests) in GitHub stores,
//     read through GitHub connectors whose url is under
//     Options.GitHubWebURL, from Options.GitHubAPIURL with the contents API
//     (as Harness does with OPTIMIZED_GIT_FETCH_FILES on; without it
//     Harness clones). A folder path reads its .yaml, .yml and .json files.
//     HelmChart, Kustomize and OpenshiftTemplate manifests, and other Git
//     providers, fail with the stand-in's own message.
//   - Templating is Go's text/template with a few Sprig functions (see
//     templateFuncs); a missing value renders "<no value>". Manifests are
//     applied nowhere: the stand-in checks that they parse as YAML and that
//     every container image is a valid reference, the failure a cluster
//     would report; the message is the stand-in's.
//   - Expressions: only the names evalCtx.lookup lists resolve; an
//     unresolved expression is quoted with its delimiters.
//   - Approvals: any caller with the API key may approve or reject; user
//     groups, disallowPipelineExecutor, auto-approval and auto-reject are
//     not checked, and each activity counts as another approver toward
//     minimumCount. The v1 approvals API answers errors in the v0 ErrorDTO
//     envelope (its own error body was not read).
//   - Custom webhooks: payload and header conditions and jexlCondition are
//     not evaluated (every event matches); authorization is never mandated;
//     events are processed right after the call (Harness queues them; see
//     HoldWebhookEvents); triggerExecutionDetails is not served; the
//     messages of final statuses other than the token checks' are the
//     stand-in's.
//   - Execution details: the executionGraph holds the service step, the
//     infrastructure step and the stage's steps (Harness nests the
//     artifacts and manifests steps under the service step; their outcomes
//     sit on it here), with step types of the first two inferred. The K8s
//     step's outcomes carry a "harnesstest" entry (files fetched, images,
//     namespace, rendered manifests) that Harness writes to the step's logs
//     instead.
//   - Options.ExecutionSteps makes every run scripted: nothing is
//     resolved, and the statuses are read out in order.
//   - A missing moduleType is refused with 400 as Harness is reported to
//     do, although the server code read declares it optional.
//   - Unknown routes answer a plain-text 404. Under /ng/api and
//     /pipeline/api Jersey probably answers 400 RESOURCE_NOT_FOUND_EXCEPTION
//     "HTTP 404 Not Found" instead (inferred), which the client also reads
//     as a wrong route.
//   - yaml-schema answers the same schema whatever the org, project, scope
//     or identifier asked for, and ignores those parameters; Harness
//     narrows the schema to what is enabled there.
//   - yaml-schema's answer for an entityType other than Pipelines and
//     Triggers is read from the server code (see yamlSchema), not
//     observed. A value that is no Harness entity type at all fails
//     earlier, in Jersey's parameter conversion; the stand-in answers it
//     as an unsupported entity type, and quotes the value as sent where
//     Harness quotes the entity type's YAML name.
package harnesstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// DefaultAPIKey is the key a Server accepts when Options.APIKey is empty.
	// It has the shape of a Harness personal access token.
	DefaultAPIKey = "pat.test_account.tok1.s3cr3t"
	// DefaultAccountID is the account of a Server when Options.AccountID is
	// empty.
	DefaultAccountID = "test_account"
)

// Options configures a Server.
type Options struct {
	// APIKey is the only x-api-key accepted. Default DefaultAPIKey.
	APIKey string
	// AccountID is the account the key belongs to; calls for any other
	// account are rejected as Harness does. Default DefaultAccountID.
	AccountID string
	// Seed seeds the random source of FailFraction and execution ids.
	Seed uint64
	// ExecutionSteps, when set, makes every run scripted: it resolves
	// nothing and reports these statuses, one per status read, staying on
	// the last. By default runs execute (see exec.go).
	ExecutionSteps []string
	// TimeScale compresses the time Wait steps take: a step of duration d
	// waits d/TimeScale. Default 1.
	TimeScale float64
	// GitHubWebURL is the web base under which GitHub connectors' urls
	// name repositories; default "https://github.com/". GitHubAPIURL is
	// the GitHub API base (a githubtest server's URL) runs read those
	// repositories from, in the place of api.github.com; without it a run
	// that must fetch manifests fails.
	GitHubWebURL, GitHubAPIURL string
	// GitHubHTTPClient sends the requests to GitHubAPIURL. Default: a
	// client with a 30 s timeout.
	GitHubHTTPClient *http.Client
	// PipelineSchema and TriggerSchema are the JSON Schemas that
	// GET /pipeline/api/yaml-schema serves for entityType Pipelines and
	// Triggers. Nil answers as Harness does when it cannot produce the
	// schema (see yamlSchema). The stand-in never has a schema of its own.
	PipelineSchema, TriggerSchema []byte
}

// Call is one recorded request.
type Call struct {
	Method string
	Path   string // without a /gateway prefix
	Query  url.Values
	Header http.Header // every request header except x-api-key
	Body   []byte
	// Status is the HTTP status answered; 0 when the call hung or its
	// connection was dropped (see Fault).
	Status int
	// Fault names the injected fault ("status", "hang", "drop"), if any.
	Fault string
}

// Effect is a change that took effect in the server's state through the API.
type Effect struct {
	Kind                  string // "create", "update", "delete" or "execute"
	Entity                Kind   // the kind of entity changed; KindPipeline for execute
	Account, Org, Project string
	ID                    string // the entity's identifier
	// Parent is the environment of an infrastructure definition and the
	// pipeline of a trigger; "" for the other kinds.
	Parent string
	// YAML is the entity's YAML as stored for create and update (a
	// connector's JSON object under "connector:"), the runtime inputs for
	// execute.
	YAML        []byte
	ExecutionID string // for execute
	// Trigger is the trigger whose webhook started the run, for execute.
	Trigger string
	// Cascade marks a delete Harness made because of another one: the
	// infrastructure definitions of a deleted environment, the triggers of
	// a deleted pipeline.
	Cascade bool
}

// FaultKind is how an injected fault answers.
type FaultKind int

const (
	// FaultStatus answers Fault.Status with an ErrorDTO body, or an HTML page
	// as the edge sends when Fault.HTML is set.
	FaultStatus FaultKind = iota + 1
	// FaultHang holds the request until the client gives up (its context
	// ends and the connection closes) or the server closes.
	FaultHang
	// FaultDrop hijacks the connection and closes it without an answer.
	FaultDrop
)

// Fault describes one injected failure.
type Fault struct {
	Kind FaultKind
	// Status is the code FaultStatus answers: 429, 500, 502, 503, 504, ...
	Status int
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up) with FaultStatus.
	RetryAfter time.Duration
	// HTML makes FaultStatus answer an HTML page, as Harness's edge does for
	// 429 and 502-504.
	HTML bool
	// Code is the ErrorDTO code FaultStatus sends when HTML is false.
	// Default: TOO_MANY_REQUESTS for 429, UNEXPECTED otherwise.
	Code string
	// Message is the ErrorDTO message FaultStatus sends; a default fits Code.
	Message string
	// AfterEffect applies the fault only to a call that changed the state
	// (create, update, delete, execute, a custom webhook, an approval),
	// after the change: the client sees a failure although the write took
	// effect.
	AfterEffect bool
	// Method and Path restrict the fault to matching calls: an empty Method
	// matches every method, an empty Path every path, and otherwise the
	// request path must start with Path.
	Method string
	Path   string
}

type faultRule struct {
	f         Fault
	remaining int     // FailNext: calls left; -1 for a fraction rule
	p         float64 // FailFraction: probability
}

type scope struct{ account, org, project string }

// Server is the stand-in. Create it with New.
type Server struct {
	// URL is the base URL of the test listener, e.g. "http://127.0.0.1:1234";
	// use it as harness.Config.BaseURL.
	URL string

	ts      *httptest.Server
	handler http.Handler
	closing chan struct{}
	once    sync.Once

	apiKey  string
	account string
	steps   []string

	// Runs: they go on in goroutines until done or Close.
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	timeScale  float64
	githubWeb  string
	githubAPI  string
	githubHTTP *http.Client
	schemas    map[string][]byte // yaml-schema entity type → schema; nil when absent

	mu            sync.Mutex
	schemaSet     *schemaSet // the schemas saves are checked against
	rng           *rand.Rand
	entities      map[scope]map[Kind]map[string]*entity
	secrets       map[string]string // by secretKey
	executions    map[string]*execution
	execOrder     []string
	approvals     map[string]*approval
	events        map[string]*webhookEvent
	queuedEvents  []*webhookEvent
	holdEvents    bool
	stopped       bool // Close was called: no new runs
	calls         []Call
	effects       []Effect
	rules         []*faultRule
	latency       time.Duration
	onCall        func(Call)
	governance    bool
	updateMissing int
	deleteMissing int
	corr          atomic.Int64
	runSeq        map[string]int
	now           func() time.Time
}

// New starts a Server on a local test listener.
func New(opts Options) *Server {
	s := &Server{
		closing: make(chan struct{}),
		apiKey:  opts.APIKey,
		account: opts.AccountID,
		steps:   slices.Clone(opts.ExecutionSteps),
		schemas: map[string][]byte{
			schemaPipelines: bytes.Clone(opts.PipelineSchema),
			schemaTriggers:  bytes.Clone(opts.TriggerSchema),
		},
		rng:           rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		entities:      make(map[scope]map[Kind]map[string]*entity),
		secrets:       make(map[string]string),
		executions:    make(map[string]*execution),
		approvals:     make(map[string]*approval),
		events:        make(map[string]*webhookEvent),
		timeScale:     opts.TimeScale,
		githubWeb:     opts.GitHubWebURL,
		githubAPI:     opts.GitHubAPIURL,
		githubHTTP:    opts.GitHubHTTPClient,
		runSeq:        make(map[string]int),
		updateMissing: http.StatusBadRequest,
		deleteMissing: http.StatusBadRequest,
		now:           time.Now,
	}
	s.schemaSet = schemasFor(opts.PipelineSchema, opts.TriggerSchema)
	if s.apiKey == "" {
		s.apiKey = DefaultAPIKey
	}
	if s.account == "" {
		s.account = DefaultAccountID
	}
	if len(s.steps) == 0 {
		s.steps = nil
	}
	if s.timeScale <= 0 {
		s.timeScale = 1
	}
	if s.githubWeb == "" {
		s.githubWeb = "https://github.com/"
	}
	if !strings.HasSuffix(s.githubWeb, "/") {
		s.githubWeb += "/"
	}
	if s.githubAPI != "" && !strings.HasSuffix(s.githubAPI, "/") {
		s.githubAPI += "/"
	}
	if s.githubHTTP == nil {
		s.githubHTTP = &http.Client{Timeout: 30 * time.Second}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.handler = http.HandlerFunc(s.serve)
	s.ts = httptest.NewServer(s.handler)
	s.URL = s.ts.URL
	return s
}

// Handler returns the server's handler, to serve the same state on another
// listener (the demo does). Paths may carry a /gateway prefix or not.
func (s *Server) Handler() http.Handler { return s.handler }

// Close releases hanging requests, ends the runs still going (they stay
// as they were, or Aborted) and stops the test listener.
func (s *Server) Close() {
	s.once.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		close(s.closing)
		s.cancel()
		s.ts.CloseClientConnections()
		s.ts.Close()
		s.wg.Wait()
	})
}

// APIKey returns the accepted x-api-key.
func (s *Server) APIKey() string { return s.apiKey }

// AccountID returns the account the key belongs to.
func (s *Server) AccountID() string { return s.account }

// SetGovernanceDeny makes every create and update answer as an OPA policy
// deny does: HTTP 200, governanceMetadata.deny=true, no identifier, and
// nothing saved.
func (s *Server) SetGovernanceDeny(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.governance = deny
}

// SetUpdateMissingStatus sets how an update of a missing pipeline answers:
// http.StatusBadRequest (400 INVALID_REQUEST "... does not exist ...", what
// the server code does; the default) or http.StatusNotFound (404
// ENTITY_NOT_FOUND).
func (s *Server) SetUpdateMissingStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateMissing = status
}

// SetDeleteMissingStatus sets how a delete of a missing pipeline answers:
// http.StatusBadRequest (400 INVALID_REQUEST "... could not be deleted.",
// the default, inferred from the server code), http.StatusNotFound (404
// ENTITY_NOT_FOUND) or http.StatusOK (data:true).
func (s *Server) SetDeleteMissingStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteMissing = status
}

// SetSchemas replaces the schemas GET /pipeline/api/yaml-schema serves and
// saves are checked against, as when the account moves to a new Harness
// version; nil answers as Harness does when it cannot produce that schema,
// and skips that check.
func (s *Server) SetSchemas(pipeline, trigger []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.schemas = map[string][]byte{schemaPipelines: bytes.Clone(pipeline), schemaTriggers: bytes.Clone(trigger)}
	s.schemaSet = schemasFor(pipeline, trigger)
}

// SetLatency delays every call by d before it is handled (0 turns it off).
// A call whose client gives up during the delay is still handled, as a
// real server would handle it.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// OnCall sets a function run after each call is handled and before its
// answer is written (nil removes it); calls answered by a fault skip it. The client has not seen the answer
// yet, so the function can change the state behind the application's back
// at an exact point, e.g. delete a pipeline right after it was read. It
// runs without the server's lock held and may call any Server method.
func (s *Server) OnCall(fn func(Call)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onCall = fn
}

// FailNext makes the next n calls matching f fail as f says. Rules are
// checked in the order they were added.
func (s *Server) FailNext(n int, f Fault) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, &faultRule{f: f, remaining: n})
}

// FailFraction makes each call matching f fail as f says with probability p,
// drawn from the seeded random source, until ClearFaults.
func (s *Server) FailFraction(p float64, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, &faultRule{f: f, remaining: -1, p: p})
}

// ClearFaults removes every fault rule and the latency.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
	s.latency = 0
}

// Calls returns a copy of every call recorded so far, in the order they
// were answered.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	copy(out, s.calls)
	return out
}

// Effects returns a copy of every create, update, delete and execute that
// took effect through the API, in order. Changes made with PutPipeline and
// DeletePipeline are not effects.
func (s *Server) Effects() []Effect {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Effect, len(s.effects))
	copy(out, s.effects)
	return out
}

// ClearRecords forgets the recorded calls and effects (long runs and
// benchmarks use it to bound memory).
func (s *Server) ClearRecords() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
	s.effects = nil
}

// reply is a buffered answer, so that a fault can replace it after the
// handler ran.
type reply struct {
	status int
	header http.Header
	body   []byte
	effect bool // the call changed the state
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == "/gateway" || strings.HasPrefix(path, "/gateway/") {
		path = strings.TrimPrefix(path, "/gateway")
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	hdr := r.Header.Clone()
	hdr.Del("X-Api-Key")
	rec := Call{Method: r.Method, Path: path, Query: r.URL.Query(), Header: hdr, Body: body}

	s.mu.Lock()
	latency := s.latency
	before := s.pickFault(r.Method, path, false)
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-s.closing:
		}
		t.Stop()
	}
	if before != nil {
		s.inject(w, r, *before, &rec)
		return
	}

	rp := s.route(r, path, body)

	if rp.effect {
		s.mu.Lock()
		after := s.pickFault(r.Method, path, true)
		s.mu.Unlock()
		if after != nil {
			s.inject(w, r, *after, &rec)
			return
		}
	}
	rec.Status = rp.status
	s.record(rec)
	s.mu.Lock()
	onCall := s.onCall
	s.mu.Unlock()
	if onCall != nil {
		onCall(rec)
	}
	for k, vs := range rp.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(rp.status)
	_, _ = w.Write(rp.body)
}

// pickFault returns the fault for this call, consuming it, or nil. The
// caller holds s.mu.
func (s *Server) pickFault(method, path string, afterEffect bool) *Fault {
	for i, fr := range s.rules {
		f := fr.f
		if f.AfterEffect != afterEffect || (f.Method != "" && f.Method != method) || !strings.HasPrefix(path, f.Path) {
			continue
		}
		if fr.remaining < 0 {
			if s.rng.Float64() < fr.p {
				return &f
			}
			continue
		}
		fr.remaining--
		if fr.remaining == 0 {
			s.rules = slices.Delete(s.rules, i, i+1)
		}
		return &f
	}
	return nil
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func (s *Server) inject(w http.ResponseWriter, r *http.Request, f Fault, rec *Call) {
	switch f.Kind {
	case FaultHang:
		rec.Fault = "hang"
		s.record(*rec)
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
	case FaultDrop:
		rec.Fault = "drop"
		s.record(*rec)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler) // closes the connection without an answer
		}
		_ = conn.Close()
	default:
		rec.Fault = "status"
		rec.Status = f.Status
		s.record(*rec)
		if f.RetryAfter > 0 {
			secs := int((f.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
		if f.HTML {
			text := http.StatusText(f.Status)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(f.Status)
			fmt.Fprintf(w, "<html><head><title>%d %s</title></head><body><center><h1>%d %s</h1></center></body></html>\n",
				f.Status, text, f.Status, text)
			return
		}
		code := "UNEXPECTED"
		msg := "An error has occurred. Please contact the Harness support team."
		if f.Status == http.StatusTooManyRequests {
			code, msg = "TOO_MANY_REQUESTS", "Too many requests"
		}
		if f.Code != "" {
			code, msg = f.Code, strings.ReplaceAll(strings.ToLower(f.Code), "_", " ")
		}
		if f.Message != "" {
			msg = f.Message
		}
		rp := s.errorDTO(f.Status, code, msg)
		for k, vs := range rp.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(rp.status)
		_, _ = w.Write(rp.body)
	}
}

// route authenticates, validates the scope and dispatches.
func (s *Server) route(r *http.Request, path string, body []byte) reply {
	if webhookPath(path) {
		// The webhook resource authenticates differently (see routeWebhook).
		return s.routeWebhook(r, path, body)
	}
	if org, project, exec, ok := approvalsV1Path(path); ok {
		// The v1 API takes the account from the Harness-Account header.
		if rp, ok := s.authenticateKey(r); !ok {
			return rp
		}
		return s.routeApprovalsV1(r, org, project, exec, body)
	}
	if rp, ok := s.authenticate(r); !ok {
		return rp
	}
	if rest, ok := strings.CutPrefix(path, "/pipeline/api/approvals/"); ok {
		// Account-level: ApprovalResource takes accountIdentifier only.
		return s.routeApprovalsV0(r, rest, body)
	}
	if path == pathYAMLSchema && r.Method == http.MethodGet {
		// Account-level: org and project are optional here.
		return s.yamlSchema(r)
	}
	if rp, ok := s.routeNG(r, path, body); ok {
		return rp
	}
	if strings.HasPrefix(path, "/ng/api/") {
		return notFoundRoute()
	}
	return s.routePipelineService(r, path, body)
}

// routePipelineService dispatches the pipeline service's project-level
// resources: pipelines, executions and triggers.
func (s *Server) routePipelineService(r *http.Request, path string, body []byte) reply {
	// The pipeline service's resources: org and project are @NotNull.
	q := r.URL.Query()
	var missing []string
	for _, k := range []string{"orgIdentifier", "projectIdentifier"} {
		if q.Get(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return s.failureDTO(missing)
	}
	sc := scope{q.Get("accountIdentifier"), q.Get("orgIdentifier"), q.Get("projectIdentifier")}

	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case segments(seg, "pipeline", "api", "pipelines", "v2") && post:
		return s.create(r, sc, body)
	case segments(seg, "pipeline", "api", "pipelines", "list") && post:
		return s.list(r, sc, body)
	case segments(seg, "pipeline", "api", "pipelines", "*") && get:
		return s.get(sc, seg[3])
	case segments(seg, "pipeline", "api", "pipelines", "*") && r.Method == http.MethodDelete:
		return s.del(sc, seg[3])
	case segments(seg, "pipeline", "api", "pipelines", "v2", "*") && r.Method == http.MethodPut:
		return s.update(r, sc, seg[4], body)
	case segments(seg, "pipeline", "api", "pipeline", "execute", "*") && post:
		return s.executeRun(r, sc, seg[4], body)
	case segments(seg, "pipeline", "api", "pipelines", "execution", "v2", "*") && get:
		return s.executionDetails(r.URL.Query(), sc, seg[5])
	case segments(seg, "pipeline", "api", "triggers"):
		return s.routeTriggers(r, sc, "", body)
	case segments(seg, "pipeline", "api", "triggers", "*"):
		return s.routeTriggers(r, sc, seg[3], body)
	}
	return notFoundRoute()
}

// segments reports whether the path segments seg are pattern, where "*"
// matches any one segment.
func segments(seg []string, pattern ...string) bool {
	if len(seg) != len(pattern) {
		return false
	}
	for i, p := range pattern {
		if p != "*" && p != seg[i] {
			return false
		}
	}
	return true
}

// notFoundRoute is the answer to a path no resource serves: the plain 404
// a router or proxy gives, not an ErrorDTO (see the package documentation).
func notFoundRoute() reply {
	return reply{status: http.StatusNotFound, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		body: []byte("404 page not found\n")}
}

// approvalsV1Path matches /v1/orgs/{org}/projects/{project}/approvals/
// execution/{execution-id}, also under /pipeline/api as the documented
// gateway URL has it (the ingress routes /v1/orgs/.+/projects/.+/approvals/
// to the pipeline service).
func approvalsV1Path(path string) (org, project, exec string, ok bool) {
	p := strings.TrimPrefix(path, "/pipeline/api")
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(seg) != 8 || seg[0] != "v1" || seg[1] != "orgs" || seg[3] != "projects" || seg[5] != "approvals" ||
		seg[6] != "execution" {
		return "", "", "", false
	}
	return seg[2], seg[4], seg[7], true
}

// authenticate follows NextGenAuthenticationFilter: no key → 401; a key
// without an account → 400; a key for another account or an unknown key →
// 401 INVALID_TOKEN quoting only the token id.
func (s *Server) authenticate(r *http.Request) (reply, bool) {
	key := r.Header.Get("X-Api-Key")
	account := r.URL.Query().Get("accountIdentifier")
	if key != "" && account == "" {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", "Account detail is not present in the request"), false
	}
	if rp, ok := s.authenticateKey(r); !ok {
		return rp, false
	}
	if account != s.account {
		return s.errorDTO(http.StatusUnauthorized, "INVALID_TOKEN",
			fmt.Sprintf("Invalid account token access %s", tokenID(key))), false
	}
	return reply{}, true
}

// tokenID is the id part of an API key ("pat.<account>.<id>.<secret>" or
// "sat.…").
func tokenID(key string) string {
	parts := strings.Split(key, ".")
	switch len(parts) {
	case 3:
		return parts[1]
	case 4:
		return parts[2]
	}
	return ""
}

// authenticateKey checks the x-api-key alone.
func (s *Server) authenticateKey(r *http.Request) (reply, bool) {
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		return s.errorDTO(http.StatusUnauthorized, "INVALID_CREDENTIAL", "Invalid credentials"), false
	}
	parts := strings.Split(key, ".")
	var tokenID string
	switch len(parts) {
	case 3:
		tokenID = parts[1]
	case 4:
		tokenID = parts[2]
	default:
		return s.errorDTO(http.StatusUnauthorized, "INVALID_TOKEN",
			"Invalid API Token: Token length not matching for API token"), false
	}
	if key != s.apiKey {
		return s.errorDTO(http.StatusUnauthorized, "INVALID_TOKEN",
			fmt.Sprintf("Invalid API token %s: Token not found", tokenID)), false
	}
	return reply{}, true
}

// pathYAMLSchema is PmsYamlSchemaResource's path in the pipeline service
// (harness-core pipeline-service/contracts/src/main/java/io/harness/pms/
// schema/PmsYamlSchemaResource.java: @Path("/yaml-schema"), served under
// /pipeline/api like the other pipeline-service resources).
const pathYAMLSchema = "/pipeline/api/yaml-schema"

// The entity types yaml-schema serves: EntityType.PIPELINES and TRIGGERS,
// whose YAML names are "Pipelines" and "Triggers" (harness-core
// 970-ng-commons io/harness/common/EntityTypeConstants.java).
const (
	schemaPipelines = "Pipelines"
	schemaTriggers  = "Triggers"
)

// yamlSchema answers GET /pipeline/api/yaml-schema as
// PmsYamlSchemaResourceImpl.getYamlSchema does (harness-core
// pipeline-service/service/src/main/java/io/harness/pms/schema/
// PmsYamlSchemaResourceImpl.java). The caller has authenticated the
// request, which checks accountIdentifier (NextGenAuthenticationFilter).
func (s *Server) yamlSchema(r *http.Request) reply {
	raw := r.URL.Query().Get("entityType")
	if raw == "" {
		// entityType is @NotNull in PmsYamlSchemaResource.getYamlSchema;
		// JerseyViolationExceptionMapperV2 answers the violation.
		return s.failureDTO([]string{"entityType"})
	}
	// EntityType.fromString matches the YAML name or the constant's name,
	// ignoring case (harness-core 970-ng-commons io/harness/EntityType.java).
	var entity string
	for _, e := range []struct{ yamlName, constant string }{
		{schemaPipelines, "PIPELINES"}, {schemaTriggers, "TRIGGERS"},
	} {
		if strings.EqualFold(raw, e.yamlName) || strings.EqualFold(raw, e.constant) {
			entity = e.yamlName
		}
	}
	if entity == "" {
		// getYamlSchema throws javax.ws.rs.NotSupportedException("Entity
		// type %s is not supported") for any other entity type; the
		// pipeline service registers NotSupportedExceptionMapper
		// (PipelineServiceApplication.registerJerseyProviders), which
		// answers 415 with a FailureDTO of code MEDIA_NOT_SUPPORTED and the
		// exception's message (harness-core 960-ng-core-beans
		// io/harness/ng/core/exceptionmappers/NotSupportedExceptionMapper.java).
		return s.failure(http.StatusUnsupportedMediaType, "MEDIA_NOT_SUPPORTED",
			fmt.Sprintf("Entity type %s is not supported", raw))
	}
	s.mu.Lock()
	schema := s.schemas[entity]
	s.mu.Unlock()
	if len(schema) == 0 {
		// PMSYamlSchemaServiceImpl.getPipelineYamlSchema turns any failure
		// to produce the schema into a JsonSchemaException, whose error
		// code UNEXPECTED_SCHEMA_EXCEPTION has the default status 400
		// (harness-core 980-commons io/harness/eraro/ErrorCode.java);
		// WingsExceptionMapperV2 writes it as an ErrorDTO. The message is
		// the underlying failure's, so this one is the stand-in's own.
		return s.errorDTO(http.StatusBadRequest, "UNEXPECTED_SCHEMA_EXCEPTION",
			fmt.Sprintf("The %s YAML schema is not available", entity))
	}
	// ResponseDTO<JsonNode>: the schema is the envelope's data.
	return s.success(json.RawMessage(schema))
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// newExecutionID makes a 22-character id like Harness's. The caller holds s.mu.
func (s *Server) newExecutionID() string {
	b := make([]byte, 22)
	for i := range b {
		b[i] = idAlphabet[s.rng.IntN(len(idAlphabet))]
	}
	return string(b)
}

func (s *Server) correlationID() string {
	return fmt.Sprintf("corr-%08d", s.corr.Add(1))
}

// success is a ResponseDTO envelope.
func (s *Server) success(data any) reply {
	return s.jsonReply(http.StatusOK, map[string]any{
		"status": "SUCCESS", "data": data, "metaData": nil, "correlationId": s.correlationID(),
	})
}

// errorDTO is the envelope WingsExceptionMapperV2 writes for domain errors.
func (s *Server) errorDTO(status int, code, message string) reply {
	return s.errorDTOMeta(status, code, message, nil)
}

// errorDTOMeta is errorDTO with the exception's metadata.
func (s *Server) errorDTOMeta(status int, code, message string, metadata any) reply {
	return s.jsonReply(status, map[string]any{
		"status": "ERROR", "code": code, "message": message, "correlationId": s.correlationID(),
		"detailedMessage": nil,
		"responseMessages": []any{map[string]any{
			"code": code, "level": "ERROR", "message": message, "exception": nil, "failureTypes": []any{},
		}},
		"metadata": metadata,
	})
}

type fieldError struct{ field, msg string }

// failureDTO is the envelope JerseyViolationExceptionMapperV2 writes for
// request validation errors, such as a missing required query parameter.
func (s *Server) failureDTO(missingParams []string, extra ...fieldError) reply {
	var errs []any
	var parts []string
	for _, p := range missingParams {
		errs = append(errs, map[string]any{"fieldId": p, "error": "must not be null"})
		parts = append(parts, p+": must not be null")
	}
	for _, fe := range extra {
		errs = append(errs, map[string]any{"fieldId": fe.field, "error": fe.msg})
		parts = append(parts, fe.field+": "+fe.msg)
	}
	return s.jsonReply(http.StatusBadRequest, map[string]any{
		"status": "FAILURE", "code": "INVALID_REQUEST", "message": strings.Join(parts, ", "),
		"correlationId": s.correlationID(), "errors": errs,
	})
}

// failure is a FailureDTO without field errors, as the exception mappers
// of 960-ng-core-beans write it (FailureDTO.toBody with no errors).
func (s *Server) failure(status int, code, message string) reply {
	return s.jsonReply(status, map[string]any{
		"status": "FAILURE", "code": code, "message": message,
		"correlationId": s.correlationID(), "errors": nil,
	})
}

func (s *Server) jsonReply(status int, v any) reply {
	// Jackson, which writes Harness's envelopes, leaves <, > and & as they
	// are; encoding/json escapes them unless told not to. Pipelines and
	// schemas are full of them (<+input>, lookaround patterns).
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("harnesstest: encoding a reply: %v", err))
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return reply{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: b}
}
