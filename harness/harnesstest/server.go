// Package harnesstest is an in-process stand-in for the Harness NG v0
// pipeline APIs. It speaks the same paths, query parameters, status codes and
// JSON envelopes as Harness, keeps pipelines per account, org and project,
// rejects what Harness rejects, records every call, and injects faults
// (5xx, 429, hangs, dropped connections, latency, 5xx after a write took
// effect) so that the real harness.Client runs unchanged in tests and in the
// demo.
//
// It also serves Harness's YAML schemas (GET /pipeline/api/yaml-schema)
// from the bytes given in Options; it holds no copy of Harness's schemas
// itself.
//
// Every method of Server is safe for concurrent use, including while
// requests are being served.
//
// Where the stand-in knowingly departs from Harness:
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
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"
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
	// ExecutionSteps are the statuses an execution reports, one per status
	// read, staying on the last. Default ["Running", "Success"].
	ExecutionSteps []string
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
	Account, Org, Project string
	ID                    string // pipeline identifier
	YAML                  []byte // the pipeline YAML for create and update; runtime inputs for execute
	ExecutionID           string // for execute
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
	// (create, update, delete, execute), after the change: the client sees
	// a failure although the write took effect.
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

type pipelineRec struct {
	yaml      []byte
	version   int64
	createdAt int64
	updatedAt int64
}

type execution struct {
	scope      scope
	pipelineID string
	step       int
	seq        int
	startTs    int64
}

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
	schemas map[string][]byte // yaml-schema entity type → schema; nil when absent

	mu            sync.Mutex
	rng           *rand.Rand
	pipelines     map[scope]map[string]*pipelineRec
	executions    map[string]*execution
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
		pipelines:     make(map[scope]map[string]*pipelineRec),
		executions:    make(map[string]*execution),
		runSeq:        make(map[string]int),
		updateMissing: http.StatusBadRequest,
		deleteMissing: http.StatusBadRequest,
		now:           time.Now,
	}
	if s.apiKey == "" {
		s.apiKey = DefaultAPIKey
	}
	if s.account == "" {
		s.account = DefaultAccountID
	}
	if len(s.steps) == 0 {
		s.steps = []string{"Running", "Success"}
	}
	s.handler = http.HandlerFunc(s.serve)
	s.ts = httptest.NewServer(s.handler)
	s.URL = s.ts.URL
	return s
}

// Handler returns the server's handler, to serve the same state on another
// listener (the demo does). Paths may carry a /gateway prefix or not.
func (s *Server) Handler() http.Handler { return s.handler }

// Close releases hanging requests and stops the test listener.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.ts.CloseClientConnections()
		s.ts.Close()
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

// SetSchemas replaces the schemas GET /pipeline/api/yaml-schema serves,
// as when the account moves to a new Harness version; nil answers as
// Harness does when it cannot produce that schema.
func (s *Server) SetSchemas(pipeline, trigger []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.schemas = map[string][]byte{schemaPipelines: bytes.Clone(pipeline), schemaTriggers: bytes.Clone(trigger)}
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

// Pipelines returns a copy of the pipelines of org and project in the
// server's account, by identifier.
func (s *Server) Pipelines(org, project string) map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte)
	for id, p := range s.pipelines[scope{s.account, org, project}] {
		out[id] = bytes.Clone(p.yaml)
	}
	return out
}

// PutPipeline stores a pipeline directly, as a change made behind the
// application's back (in the Harness UI, say). It is not an Effect.
func (s *Server) PutPipeline(org, project, id string, yamlSrc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := scope{s.account, org, project}
	now := s.now().UnixMilli()
	if p := s.pipelines[sc][id]; p != nil {
		p.yaml, p.updatedAt = bytes.Clone(yamlSrc), now
		p.version++
		return
	}
	if s.pipelines[sc] == nil {
		s.pipelines[sc] = make(map[string]*pipelineRec)
	}
	s.pipelines[sc][id] = &pipelineRec{yaml: bytes.Clone(yamlSrc), version: 1, createdAt: now, updatedAt: now}
}

// DeletePipeline removes a pipeline directly, behind the application's back.
// It is not an Effect.
func (s *Server) DeletePipeline(org, project, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pipelines[scope{s.account, org, project}], id)
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
	if rp, ok := s.authenticate(r); !ok {
		return rp
	}
	if path == pathYAMLSchema && r.Method == http.MethodGet {
		// Account-level: org and project are optional here.
		return s.yamlSchema(r)
	}
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
	switch {
	case len(seg) == 4 && seg[0] == "pipeline" && seg[1] == "api" && seg[2] == "pipelines":
		switch {
		case seg[3] == "v2" && r.Method == http.MethodPost:
			return s.create(r, sc, body)
		case seg[3] == "list" && r.Method == http.MethodPost:
			return s.list(r, sc, body)
		case r.Method == http.MethodGet:
			return s.get(sc, seg[3])
		case r.Method == http.MethodDelete:
			return s.del(sc, seg[3])
		}
	case len(seg) == 5 && seg[0] == "pipeline" && seg[1] == "api" && seg[2] == "pipelines" && seg[3] == "v2" &&
		r.Method == http.MethodPut:
		return s.update(r, sc, seg[4], body)
	case len(seg) == 5 && seg[0] == "pipeline" && seg[1] == "api" && seg[2] == "pipeline" && seg[3] == "execute" &&
		r.Method == http.MethodPost:
		return s.execute(r, sc, seg[4], body)
	case len(seg) == 6 && seg[0] == "pipeline" && seg[1] == "api" && seg[2] == "pipelines" && seg[3] == "execution" &&
		seg[4] == "v2" && r.Method == http.MethodGet:
		return s.executionStatus(sc, seg[5])
	}
	// Unknown routes get the plain 404 a router or proxy gives, not an
	// ErrorDTO.
	return reply{status: http.StatusNotFound, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		body: []byte("404 page not found\n")}
}

// authenticate follows NextGenAuthenticationFilter: no key → 401; a key
// without an account → 400; a key for another account or an unknown key →
// 401 INVALID_TOKEN quoting only the token id.
func (s *Server) authenticate(r *http.Request) (reply, bool) {
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		return s.errorDTO(http.StatusUnauthorized, "INVALID_CREDENTIAL", "Invalid credentials"), false
	}
	account := r.URL.Query().Get("accountIdentifier")
	if account == "" {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", "Account detail is not present in the request"), false
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
	if account != s.account {
		return s.errorDTO(http.StatusUnauthorized, "INVALID_TOKEN",
			fmt.Sprintf("Invalid account token access %s", tokenID)), false
	}
	return reply{}, true
}

var (
	identifierRE  = regexp.MustCompile(`^[a-zA-Z_][0-9a-zA-Z_]{0,127}$`)
	reservedWords = map[string]bool{}
)

func init() {
	// EntityIdentifierValidator's reserved words (harness-core 980-commons).
	for _, w := range strings.Fields(`or and eq ne lt gt le ge div mod not null true false new var return step
		parallel stepGroup org account class shellScriptProvisioner`) {
		reservedWords[w] = true
	}
}

type basicPipeline struct {
	Identifier        string            `yaml:"identifier"`
	Name              string            `yaml:"name"`
	OrgIdentifier     string            `yaml:"orgIdentifier"`
	ProjectIdentifier string            `yaml:"projectIdentifier"`
	Description       string            `yaml:"description"`
	Tags              map[string]string `yaml:"tags"`
	Stages            []any             `yaml:"stages"`
}

// parsePipeline validates a create or update body the way Harness does.
func (s *Server) parsePipeline(r *http.Request, sc scope, body []byte) (*basicPipeline, *reply) {
	if rp := s.requireYAML(r); rp != nil {
		return nil, rp
	}
	if len(bytes.TrimSpace(body)) == 0 {
		rp := s.failureDTO(nil, fieldError{"yaml", "must not be null"})
		return nil, &rp
	}
	var root yaml.Node
	if err := yaml.Unmarshal(body, &root); err != nil {
		rp := s.errorDTO(http.StatusBadRequest, "INVALID_YAML_ERROR", "Invalid yaml: "+err.Error())
		return nil, &rp
	}
	var doc struct {
		Pipeline *basicPipeline `yaml:"pipeline"`
	}
	if err := root.Decode(&doc); err != nil || doc.Pipeline == nil {
		rp := s.errorDTO(http.StatusBadRequest, "INVALID_YAML_ERROR",
			"Invalid yaml: the document must have a pipeline: root with the pipeline's fields")
		return nil, &rp
	}
	p := doc.Pipeline
	bad := func(msg string) (*basicPipeline, *reply) {
		rp := s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", msg)
		return nil, &rp
	}
	switch {
	case strings.HasPrefix(p.Identifier, "<+input>"):
		return bad("Pipeline identifier cannot be runtime input")
	case p.Identifier == "":
		return bad("Pipeline identifier cannot be empty")
	case !identifierRE.MatchString(p.Identifier):
		return bad(fmt.Sprintf("Pipeline identifier [%s] must match regex %s", p.Identifier, identifierRE))
	case reservedWords[p.Identifier]:
		return bad(fmt.Sprintf("Pipeline identifier [%s] is a reserved word", p.Identifier))
	case strings.TrimSpace(p.Name) == "":
		return bad("Pipeline name cannot be empty")
	case p.OrgIdentifier != "" && p.OrgIdentifier != sc.org:
		return bad(fmt.Sprintf("Expected Pipeline Organization identifier in YAML to be [%s], but was [%s]",
			sc.org, p.OrgIdentifier))
	case p.ProjectIdentifier != "" && p.ProjectIdentifier != sc.project:
		return bad(fmt.Sprintf("Expected Pipeline Project identifier in YAML to be [%s], but was [%s]",
			sc.project, p.ProjectIdentifier))
	}
	return p, nil
}

func (s *Server) requireYAML(r *http.Request) *reply {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml" {
		return nil
	}
	rp := s.errorDTO(http.StatusUnsupportedMediaType, "INVALID_REQUEST", "HTTP 415 Unsupported Media Type")
	return &rp
}

func notFoundMessage(sc scope, id string) string {
	// PipelineCRUDErrorResponse.errorMessageForPipelineNotFound.
	return fmt.Sprintf("Pipeline [%s] under Project[%s], Organization [%s] doesn't exist or has been deleted.",
		id, sc.project, sc.org)
}

func governanceOK() map[string]any {
	return map[string]any{"id": "", "deny": false, "details": []any{}, "message": "", "status": "pass"}
}

func (s *Server) governanceDeny() reply {
	return s.success(map[string]any{
		"governanceMetadata": map[string]any{
			"id": "gov1", "deny": true, "status": "error",
			"message": "Pipeline does not follow the Policies in these Policy Sets: [deny_all]",
			"details": []any{map[string]any{"identifier": "deny_all", "deny": true, "status": "error"}},
		},
	})
}

func (s *Server) create(r *http.Request, sc scope, body []byte) reply {
	p, rp := s.parsePipeline(r, sc, body)
	if rp != nil {
		return *rp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.governance {
		return s.governanceDeny()
	}
	if s.pipelines[sc][p.Identifier] != nil {
		// PMSPipelineServiceImpl's DUP_KEY_EXP_FORMAT_STRING.
		return s.errorDTO(http.StatusBadRequest, "DUPLICATE_FIELD",
			fmt.Sprintf("Pipeline [%s] under Project[%s], Organization [%s] already exists or has been deleted.",
				p.Identifier, sc.project, sc.org))
	}
	if s.pipelines[sc] == nil {
		s.pipelines[sc] = make(map[string]*pipelineRec)
	}
	now := s.now().UnixMilli()
	s.pipelines[sc][p.Identifier] = &pipelineRec{yaml: bytes.Clone(body), version: 1, createdAt: now, updatedAt: now}
	s.effects = append(s.effects, Effect{Kind: "create", Account: sc.account, Org: sc.org, Project: sc.project,
		ID: p.Identifier, YAML: bytes.Clone(body)})
	rp2 := s.success(map[string]any{"identifier": p.Identifier, "governanceMetadata": governanceOK()})
	rp2.effect = true
	return rp2
}

func (s *Server) update(r *http.Request, sc scope, id string, body []byte) reply {
	p, rp := s.parsePipeline(r, sc, body)
	if rp != nil {
		return *rp
	}
	if p.Identifier != id {
		// PMSPipelineDtoMapper.toPipelineEntityWithVersion.
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
			fmt.Sprintf("Expected Pipeline identifier in YAML to be [%s], but was [%s]", id, p.Identifier))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.governance {
		return s.governanceDeny()
	}
	cur := s.pipelines[sc][id]
	if cur == nil {
		if s.updateMissing == http.StatusNotFound {
			return s.errorDTO(http.StatusNotFound, "ENTITY_NOT_FOUND", notFoundMessage(sc, id))
		}
		// The repository's EntityNotFoundException, re-wrapped by
		// PMSPipelineServiceImpl.makePipelineUpdateCall.
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
			fmt.Sprintf("Error while updating pipeline [%s]: Pipeline with identifier %s does not exist in account %s, org %s, project %s",
				id, id, sc.account, sc.org, sc.project))
	}
	cur.yaml = bytes.Clone(body)
	cur.version++
	cur.updatedAt = s.now().UnixMilli()
	s.effects = append(s.effects, Effect{Kind: "update", Account: sc.account, Org: sc.org, Project: sc.project,
		ID: id, YAML: bytes.Clone(body)})
	rp2 := s.success(map[string]any{"identifier": id, "governanceMetadata": governanceOK()})
	rp2.effect = true
	return rp2
}

func (s *Server) get(sc scope, id string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pipelines[sc][id]
	if p == nil {
		return s.errorDTO(http.StatusNotFound, "ENTITY_NOT_FOUND", notFoundMessage(sc, id))
	}
	return s.success(map[string]any{
		"yamlPipeline":          string(p.yaml),
		"modules":               []string{"pms"},
		"entityValidityDetails": map[string]any{"valid": true},
		"storeType":             "INLINE",
	})
}

func (s *Server) del(sc scope, id string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pipelines[sc][id] == nil {
		switch s.deleteMissing {
		case http.StatusNotFound:
			return s.errorDTO(http.StatusNotFound, "ENTITY_NOT_FOUND", notFoundMessage(sc, id))
		case http.StatusOK:
			return s.success(true)
		}
		// PMSPipelineServiceImpl.delete: findAndRemove finds nothing and the
		// generic catch answers this.
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
			fmt.Sprintf("Pipeline [%s] under Project[%s], Organization [%s] could not be deleted.", id, sc.project, sc.org))
	}
	delete(s.pipelines[sc], id)
	s.effects = append(s.effects, Effect{Kind: "delete", Account: sc.account, Org: sc.org, Project: sc.project, ID: id})
	rp := s.success(true)
	rp.effect = true
	return rp
}

func (s *Server) list(r *http.Request, sc scope, body []byte) reply {
	var filter struct {
		FilterType          string   `json:"filterType"`
		PipelineIdentifiers []string `json:"pipelineIdentifiers"`
	}
	if err := json.Unmarshal(body, &filter); err != nil || filter.FilterType != "PipelineSetup" {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", "Filter type must be PipelineSetup")
	}
	q := r.URL.Query()
	page, size := 0, 25
	if v := q.Get("page"); v != "" {
		page, _ = strconv.Atoi(v)
	}
	if v := q.Get("size"); v != "" {
		size, _ = strconv.Atoi(v)
	}
	if page < 0 || size <= 0 || size > 200 {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", "page must be >= 0 and size between 1 and 200")
	}
	want := map[string]bool{}
	for _, id := range filter.PipelineIdentifiers {
		want[id] = true
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.pipelines[sc] {
		if len(want) == 0 || want[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	total := len(ids)
	from, to := min(page*size, total), min((page+1)*size, total)
	content := []any{}
	for _, id := range ids[from:to] {
		p := s.pipelines[sc][id]
		var doc struct {
			Pipeline basicPipeline `yaml:"pipeline"`
		}
		_ = yaml.Unmarshal(p.yaml, &doc)
		tags := doc.Pipeline.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		content = append(content, map[string]any{
			"name": doc.Pipeline.Name, "identifier": id, "description": doc.Pipeline.Description, "tags": tags,
			"version": p.version, "numOfStages": len(doc.Pipeline.Stages), "createdAt": p.createdAt,
			"lastUpdatedAt": p.updatedAt, "modules": []string{"pms"}, "storeType": "INLINE",
		})
	}
	totalPages := (total + size - 1) / size
	sortObj := map[string]any{"empty": false, "sorted": true, "unsorted": false}
	// A Spring Data Page, as Jackson writes PageImpl.
	return s.success(map[string]any{
		"content": content,
		"pageable": map[string]any{"sort": sortObj, "offset": page * size, "pageNumber": page, "pageSize": size,
			"paged": true, "unpaged": false},
		"totalElements":    total,
		"totalPages":       totalPages,
		"last":             page >= totalPages-1,
		"size":             size,
		"number":           page,
		"sort":             sortObj,
		"numberOfElements": len(content),
		"first":            page == 0,
		"empty":            len(content) == 0,
	})
}

func (s *Server) execute(r *http.Request, sc scope, id string, body []byte) reply {
	if rp := s.requireYAML(r); rp != nil {
		return *rp
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var raw any
		if err := yaml.Unmarshal(body, &raw); err != nil {
			return s.errorDTO(http.StatusBadRequest, "INVALID_YAML_ERROR", "Invalid yaml: "+err.Error())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pipelines[sc][id] == nil {
		return s.errorDTO(http.StatusNotFound, "ENTITY_NOT_FOUND", notFoundMessage(sc, id))
	}
	uuid := s.newExecutionID()
	key := sc.account + "/" + sc.org + "/" + sc.project + "/" + id
	s.runSeq[key]++
	now := s.now().UnixMilli()
	s.executions[uuid] = &execution{scope: sc, pipelineID: id, seq: s.runSeq[key], startTs: now}
	s.effects = append(s.effects, Effect{Kind: "execute", Account: sc.account, Org: sc.org, Project: sc.project,
		ID: id, YAML: bytes.Clone(body), ExecutionID: uuid})
	rp := s.success(map[string]any{
		"planExecution": map[string]any{
			"uuid": uuid, "planId": uuid + "_plan", "status": "RUNNING", "startTs": now, "createdAt": now,
			"metadata": map[string]any{"executionUuid": uuid, "runSequence": s.runSeq[key]},
		},
		"gitDetails": map[string]any{},
	})
	rp.effect = true
	return rp
}

func (s *Server) executionStatus(sc scope, uuid string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.executions[uuid]
	if e == nil || e.scope != sc {
		return s.errorDTO(http.StatusNotFound, "ENTITY_NOT_FOUND",
			"Plan Execution Summary does not exist or has been deleted for planExecutionId: "+uuid)
	}
	status := s.steps[min(e.step, len(s.steps)-1)]
	if e.step < len(s.steps)-1 {
		e.step++
	}
	summary := map[string]any{
		"pipelineIdentifier": e.pipelineID, "planExecutionId": uuid, "runSequence": e.seq,
		"status": status, "startTs": e.startTs,
	}
	if e.step == len(s.steps)-1 && status == s.steps[len(s.steps)-1] {
		summary["endTs"] = s.now().UnixMilli()
	}
	return s.success(map[string]any{"pipelineExecutionSummary": summary})
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
	return s.jsonReply(status, map[string]any{
		"status": "ERROR", "code": code, "message": message, "correlationId": s.correlationID(),
		"detailedMessage": nil,
		"responseMessages": []any{map[string]any{
			"code": code, "level": "ERROR", "message": message, "exception": nil, "failureTypes": []any{},
		}},
		"metadata": nil,
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
