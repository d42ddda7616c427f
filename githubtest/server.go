package githubtest

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DeliveryMode selects how webhooks leave the server.
type DeliveryMode int

const (
	// DeliverImmediately sends each webhook from a background goroutine as
	// soon as the state change happens, in order per repository. A failed
	// delivery is recorded and not retried, as on GitHub.
	DeliverImmediately DeliveryMode = iota
	// DeliverManually queues webhooks until Deliver, DeliverAll or
	// Redeliver is called.
	DeliverManually
)

// Options configures a Server. Zero values pick GitHub's defaults.
type Options struct {
	// AppID is the GitHub App's id: the JWT issuer and the
	// X-GitHub-Hook-Installation-Target-ID of deliveries.
	AppID int64
	// AppPublicKey verifies the App's RS256 JWTs. When nil, JWT signatures
	// are not checked (issuer and times still are).
	AppPublicKey *rsa.PublicKey
	// AppSlug names the App; its bot user is "<slug>[bot]".
	AppSlug string
	// WebhookURL receives deliveries. It can be set later with SetWebhookURL.
	WebhookURL string
	// WebhookSecret signs deliveries (X-Hub-Signature-256).
	WebhookSecret string
	// UserToken is a static personal token for the human user. It is
	// accepted as "token <t>" or "Bearer <t>" on every repository.
	UserToken string
	// UserLogin is the human user's login; "octocat" when empty.
	UserLogin string
	// Logf, when set, receives one line per request and per delivery.
	Logf func(format string, args ...any)
	// Now is the clock; time.Now when nil. Token expiry, JWT checks, rate
	// limit windows, commit dates and timestamps all use it. It must be
	// safe for concurrent use. ghinstallation judges token expiry by the
	// real clock, so a clock far from it makes every request re-exchange.
	Now func() time.Time
	// Delivery is the initial delivery mode.
	Delivery DeliveryMode
	// Events lists the webhook events the App subscribes to. Empty means
	// every event. "installation" events are always sent, as on GitHub.
	Events []string
	// RateLimit is the primary rate limit per hour for each installation,
	// the user and the App JWT; 5000 when zero, unlimited when negative.
	RateLimit int
	// RateLimitStatus is the status of the answer once RateLimit is used
	// up: 403 when zero, or 429. GitHub sends either.
	RateLimitStatus int
	// DeliveryTimeout bounds one webhook delivery; 10s (GitHub's) when zero.
	DeliveryTimeout time.Duration
	// WebURL is the base of html_url fields; "https://github.com/" when
	// empty, or the web pages' listener with ServeWeb.
	WebURL string
	// ServeWeb starts a second listener serving minimal web pages for
	// repositories, pull requests and commits (see Server.WebURL), so
	// that links to GitHub's web pages lead somewhere in the demo.
	ServeWeb bool
	// APIURL, when set, is the API base named by the url fields of JSON
	// bodies and webhook payloads ("https://api.github.com/" on GitHub),
	// instead of the server's own URL, so that payloads do not depend on
	// the port the server listens on. Set it only where nothing follows
	// those fields. Link headers, which clients do follow, keep the
	// server's URL.
	APIURL string
	// Permissions are the App's repository permissions, granted to every
	// installation; when nil: checks, contents and pull_requests write,
	// metadata read. Installation tokens are refused (403 "Resource not
	// accessible by integration") on routes their permissions do not
	// cover, and writes under .github/workflows/ need "workflows": "write".
	Permissions map[string]string
}

// Server is the GitHub stand-in. URL is the API base (with a trailing slash)
// to give go-githubapp as v3_api_url.
type Server struct {
	// URL is the API base URL, for example "http://127.0.0.1:41234/".
	URL string
	// WebURL is the web base, with a trailing slash: Options.WebURL, or
	// with Options.ServeWeb the listener of the web pages (for example
	// "http://127.0.0.1:41235/": WebURL + "acme/platform/pull/1").
	WebURL string

	opts    Options
	ts      *httptest.Server
	web     *httptest.Server // nil unless Options.ServeWeb
	handler http.Handler

	mu            sync.Mutex
	nextID        int64
	users         map[string]*user // by lower-case login
	bot           *user
	human         *user
	installations map[int64]*installation
	repos         map[string]*repo // by lower-case "owner/name"
	tokens        map[string]*token
	rates         map[string]*rateWindow
	calls         map[string]int
	requests      []Request
	faults        Faults
	rng           *rand.Rand
	forced        []forcedFault
	suites        map[int64]*checkSuite
	runs          map[int64]*checkRun

	hooks *hookSender
}

// New starts a Server listening on a loopback port.
func New(opts Options) *Server {
	if opts.UserLogin == "" {
		opts.UserLogin = "octocat"
	}
	if opts.AppSlug == "" {
		opts.AppSlug = "test-app"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 5000
	}
	if opts.RateLimitStatus == 0 {
		opts.RateLimitStatus = http.StatusForbidden
	}
	if opts.DeliveryTimeout == 0 {
		opts.DeliveryTimeout = 10 * time.Second
	}
	if opts.APIURL != "" && !strings.HasSuffix(opts.APIURL, "/") {
		opts.APIURL += "/"
	}
	s := &Server{
		opts:          opts,
		nextID:        1000,
		users:         map[string]*user{},
		installations: map[int64]*installation{},
		repos:         map[string]*repo{},
		tokens:        map[string]*token{},
		rates:         map[string]*rateWindow{},
		calls:         map[string]int{},
		rng:           rand.New(rand.NewSource(1)),
		suites:        map[int64]*checkSuite{},
		runs:          map[int64]*checkRun{},
	}
	// The web pages' listener starts before anything can reach it, and
	// names itself in html_url fields unless told otherwise.
	if opts.ServeWeb {
		s.startWeb()
		if s.opts.WebURL == "" {
			s.opts.WebURL = s.web.URL
		}
	}
	if s.opts.WebURL == "" {
		s.opts.WebURL = "https://github.com/"
	}
	if !strings.HasSuffix(s.opts.WebURL, "/") {
		s.opts.WebURL += "/"
	}
	s.WebURL = s.opts.WebURL
	s.bot = s.userFor(opts.AppSlug+"[bot]", "Bot")
	s.human = s.userFor(opts.UserLogin, "User")
	s.hooks = newHookSender(s)
	s.handler = s.routes()
	s.ts = httptest.NewServer(s.handler)
	s.URL = s.ts.URL + "/"
	return s
}

// Handler returns the API's HTTP handler, for mounting it elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops background deliveries and the listener.
func (s *Server) Close() {
	s.hooks.close()
	s.ts.Close()
	if s.web != nil {
		s.web.Close()
	}
}

// SetWebhookURL changes where deliveries are sent.
func (s *Server) SetWebhookURL(url string) {
	s.hooks.mu.Lock()
	s.hooks.url = url
	s.hooks.mu.Unlock()
}

// apiURL is the API base that url fields in JSON bodies name.
func (s *Server) apiURL() string {
	if s.opts.APIURL != "" {
		return s.opts.APIURL
	}
	return s.URL
}

func (s *Server) now() time.Time { return s.opts.Now().UTC().Truncate(time.Second) }

func (s *Server) newID() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// user is a GitHub account: a person, an organization or the App's bot.
type user struct {
	ID    int64
	Login string
	Type  string // User, Organization, Bot
}

func (u *user) email() string {
	return fmt.Sprintf("%d+%s@users.noreply.github.com", u.ID, u.Login)
}

func (u *user) signature(when time.Time) signature {
	return signature{Name: u.Login, Email: u.email(), When: when}
}

func (s *Server) userFor(login, typ string) *user {
	key := strings.ToLower(login)
	if u, ok := s.users[key]; ok {
		return u
	}
	u := &user{ID: s.newID(), Login: login, Type: typ}
	s.users[key] = u
	return u
}

// Request is one API request as the server saw it.
type Request struct {
	Time     time.Time
	Method   string
	Path     string
	RawQuery string
	// Route is the call-count key, "METHOD /route/{pattern}", or
	// "METHOD <path>" for a path no route matches.
	Route string
	// Auth names the caller: "app", "installation:<id>", "user:<login>" or
	// "anonymous".
	Auth   string
	Status int
	// Fault names the injected fault, if any (a Fault value such as
	// "secondary-rate-limit" or "bad-gateway").
	Fault string
	Body  []byte
}

// Calls returns how many requests each route received, keyed
// "METHOD /route/{pattern}" (for example
// "POST /repos/{owner}/{repo}/git/trees").
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// ResetCalls clears the call counts and the request log.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.requests = nil
}

// Requests returns the request log in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// access says which credentials a route accepts.
type access int

const (
	accessApp          access = iota // App JWT
	accessRepo                       // installation token or user token, scoped to {owner}/{repo}
	accessInstallation               // installation token only
	accessAny                        // any valid credential
	accessOpen                       // no credential needed
)

// call is one request in flight, with the caller and resolved repository.
type call struct {
	s    *Server
	w    *recorder
	r    *http.Request
	body []byte
	id   identity
	repo *repo
}

type handlerFunc func(c *call)

func (s *Server) handle(mux *http.ServeMux, pattern string, acc access, h handlerFunc) {
	key := routeKey(pattern)
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, key, acc, h)
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, key string, acc access, h handlerFunc) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	rec := &recorder{header: http.Header{}}
	c := &call{s: s, w: rec, r: r, body: body}
	logEntry := Request{
		Time: s.now(), Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Route: key, Body: body,
	}
	s.calls[key]++
	fault := s.process(c, key, acc, h)
	logEntry.Auth = c.id.String()
	logEntry.Status = rec.status
	logEntry.Fault = fault
	s.requests = append(s.requests, logEntry)
	s.mu.Unlock()

	s.logf("githubtest: %s %s -> %d %s", r.Method, r.URL.RequestURI(), rec.status, fault)
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}

// process runs authentication, rate limiting, fault injection, repository
// resolution and the handler. It reports the injected fault, if any.
func (s *Server) process(c *call, key string, acc access, h handlerFunc) string {
	c.w.header.Set("Content-Type", "application/json; charset=utf-8")
	c.w.header.Set("X-GitHub-Media-Type", "github.v3; format=json")
	c.w.header.Set("X-GitHub-Request-Id", fmt.Sprintf("%X:%X", s.newID(), len(s.requests)))
	id, authErr := s.authenticate(c.r)
	c.id = id
	if !s.countRate(c) {
		return ""
	}
	if authErr != "" && acc != accessOpen {
		c.fail(http.StatusUnauthorized, authErr)
		return ""
	}
	switch acc {
	case accessApp:
		if id.kind != authApp {
			c.fail(http.StatusUnauthorized, "A JSON web token could not be decoded")
			return ""
		}
	case accessRepo:
		if id.kind != authInstallation && id.kind != authUser {
			c.fail(http.StatusUnauthorized, "Bad credentials")
			return ""
		}
	case accessInstallation:
		if id.kind != authInstallation {
			c.fail(http.StatusForbidden, "You must authenticate with an installation access token in order to list repositories for an installation.")
			return ""
		}
	case accessAny:
		if id.kind == authNone {
			c.fail(http.StatusUnauthorized, "Requires authentication")
			return ""
		}
	}
	fault := s.pickFault(key)
	if shape, ok := rateLimitShapes[fault]; ok {
		s.writeRateLimit(c, shape, true)
		return string(fault)
	}
	switch fault {
	case faultBadGateway:
		c.writeBadGateway()
		return string(fault)
	}
	if acc == accessRepo {
		rp := s.repoFor(c.r.PathValue("owner"), c.r.PathValue("repo"))
		if rp == nil || !id.canAccess(rp) {
			c.fail(http.StatusNotFound, "Not Found")
			return string(fault)
		}
		if id.kind == authInstallation && !id.tok.permitted(c.r.Method, key) {
			c.fail(http.StatusForbidden, "Resource not accessible by integration")
			return string(fault)
		}
		c.repo = rp
	}
	h(c)
	if fault == faultBadGatewayAfter {
		// The change happened; only the answer is lost.
		c.w.reset()
		c.writeBadGateway()
	}
	return string(fault)
}

func (c *call) writeBadGateway() {
	c.w.header.Set("Content-Type", "text/html")
	c.w.status = http.StatusBadGateway
	c.w.body.WriteString("<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n")
}

// recorder buffers a handler's response so that a fault can replace it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) reset() {
	ct := r.header.Get("Content-Type")
	r.body.Reset()
	r.status = 0
	r.header.Set("Content-Type", ct)
}

func (c *call) writeJSON(status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		c.w.status = http.StatusInternalServerError
		c.w.body.WriteString(`{"message":"Server Error"}`)
		return
	}
	c.w.status = status
	c.w.body.Reset()
	c.w.body.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func (c *call) noContent() {
	c.w.header.Del("Content-Type")
	c.w.status = http.StatusNoContent
	c.w.body.Reset()
}

const docsURL = "https://docs.github.com/rest"

// apiError is GitHub's error body.
type apiError struct {
	Message          string       `json:"message"`
	Errors           []fieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url"`
	Status           string       `json:"status"`
}

// fieldError is one entry of a 422's errors array.
type fieldError struct {
	Resource string `json:"resource"`
	Code     string `json:"code"`
	Field    string `json:"field,omitempty"`
	Message  string `json:"message,omitempty"`
}

func (c *call) fail(status int, message string) {
	c.writeJSON(status, apiError{Message: message, DocumentationURL: docsURL, Status: strconv.Itoa(status)})
}

// invalid answers 422 "Validation Failed" with field errors, GitHub's shape
// for model validation errors.
func (c *call) invalid(errs ...fieldError) {
	c.writeJSON(http.StatusUnprocessableEntity, apiError{
		Message: "Validation Failed", Errors: errs, DocumentationURL: docsURL, Status: "422",
	})
}

// decode parses the JSON body into v, answering 400 "Problems parsing JSON"
// on failure.
func (c *call) decode(v any) bool {
	body := c.body
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		c.fail(http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

// pathInt parses a numeric path value, answering 404 when it is not one.
func (c *call) pathInt(name string) (int64, bool) {
	n, err := strconv.ParseInt(c.r.PathValue(name), 10, 64)
	if err != nil {
		c.fail(http.StatusNotFound, "Not Found")
		return 0, false
	}
	return n, true
}

// actor is the user acting through this request.
func (c *call) actor() *user { return c.id.user }

// paginate applies GitHub's page/per_page parameters and sets the Link
// header. Defaults: 30 per page, at most 100.
func paginate[T any](c *call, items []T) []T {
	q := c.r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	if per > 100 {
		per = 100
	}
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	last := (len(items) + per - 1) / per
	if last == 0 {
		last = 1
	}
	link := func(p int, rel string) string {
		u := *c.r.URL
		qq := u.Query()
		qq.Set("page", strconv.Itoa(p))
		qq.Set("per_page", strconv.Itoa(per))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf("<%s%s>; rel=%q", strings.TrimSuffix(c.s.URL, "/"), u.RequestURI(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		c.w.header.Set("Link", strings.Join(links, ", "))
	}
	start := (page - 1) * per
	if start >= len(items) {
		return []T{}
	}
	end := start + per
	if end > len(items) {
		end = len(items)
	}
	return items[start:end]
}

// rateWindow is one identity's primary rate limit window.
type rateWindow struct {
	limit int
	used  int
	reset time.Time
}

// countRate charges one request to the caller's window and sets the
// x-ratelimit-* headers. It answers Options.RateLimitStatus (403 by
// default) and returns false when the window is used up.
func (s *Server) countRate(c *call) bool {
	w := s.rateFor(c.id)
	if w == nil {
		return true
	}
	exhausted := w.used >= w.limit
	if !exhausted {
		w.used++
	}
	s.setRateHeaders(c, w)
	if exhausted {
		s.writeRateLimit(c, rateLimitShape{status: s.opts.RateLimitStatus, primary: true}, false)
		return false
	}
	return true
}

func (s *Server) rateFor(id identity) *rateWindow {
	if s.opts.RateLimit < 0 {
		return nil
	}
	key := id.rateKey()
	now := s.now()
	w, ok := s.rates[key]
	if !ok || !now.Before(w.reset) {
		limit := s.opts.RateLimit
		if id.kind == authNone {
			limit = 60
		}
		w = &rateWindow{limit: limit, reset: now.Add(time.Hour)}
		s.rates[key] = w
	}
	return w
}

func (s *Server) setRateHeaders(c *call, w *rateWindow) {
	h := c.w.header
	h.Set("X-RateLimit-Limit", strconv.Itoa(w.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(w.limit-w.used))
	h.Set("X-RateLimit-Used", strconv.Itoa(w.used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(w.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// SetRateLimitRemaining sets how many requests the identity named like
// Request.Auth ("installation:<id>", "user:<login>", "app") has left in its
// current window, to exercise primary rate limit handling.
func (s *Server) SetRateLimitRemaining(auth string, remaining int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var id identity
	switch {
	case auth == "app":
		id.kind = authApp
	case strings.HasPrefix(auth, "installation:"):
		n, _ := strconv.ParseInt(strings.TrimPrefix(auth, "installation:"), 10, 64)
		id.kind = authInstallation
		id.inst = s.installations[n]
		if id.inst == nil {
			panic(fmt.Sprintf("githubtest: no installation %d", n))
		}
	case strings.HasPrefix(auth, "user:"):
		id.kind = authUser
		id.user = s.human
	default:
		panic(fmt.Sprintf("githubtest: unknown identity %q", auth))
	}
	w := s.rateFor(id)
	if w == nil {
		return
	}
	w.used = w.limit - remaining
	if w.used < 0 {
		w.used = 0
	}
}

// route is one entry of the API's routing table.
type route struct {
	pattern string // "METHOD /path/{name}", a Calls key once "...}" is dropped
	access  access
	handler handlerFunc
}

// repoPath is the path prefix of repository routes.
const repoPath = "/repos/{owner}/{repo}"

// contract lists the routes the app's GitHub client calls: ghapi through
// go-github, go-githubapp's installation lookups and ghinstallation's token
// exchange. They are the contract with the real API: each answers with
// GitHub's path, JSON shape, status codes and limits, and ghapi's tests
// check that it calls nothing else. A route is added here when ghapi starts
// calling it, and removed when nothing calls it any more; ghapi's TestMain
// fails otherwise.
func (s *Server) contract() []route {
	const repo = repoPath
	return []route{
		// Apps and installations (App JWT, except the repository listing).
		{"GET /app", accessApp, s.handleGetApp},
		{"POST /app/installations/{installation_id}/access_tokens", accessApp, s.handleCreateToken},
		{"GET " + repo + "/installation", accessApp, s.handleRepoInstallation},
		{"GET /orgs/{org}/installation", accessApp, s.handleOwnerInstallation},
		{"GET /users/{username}/installation", accessApp, s.handleOwnerInstallation},
		{"GET /installation/repositories", accessInstallation, s.handleInstallationRepos},
		{"GET /app/hook/deliveries", accessApp, s.handleListHookDeliveries},
		{"POST /app/hook/deliveries/{delivery_id}/attempts", accessApp, s.handleRedeliverHookDelivery},

		// Reading a repository.
		{"GET " + repo, accessRepo, s.handleGetRepo},
		{"GET " + repo + "/contents/{path...}", accessRepo, s.handleGetContents},
		{"GET " + repo + "/git/ref/{ref...}", accessRepo, s.handleGetRef},
		{"GET " + repo + "/git/commits/{sha}", accessRepo, s.handleGetGitCommit},
		{"GET " + repo + "/git/trees/{sha...}", accessRepo, s.handleGetTree},
		{"GET " + repo + "/git/blobs/{sha}", accessRepo, s.handleGetBlob},
		{"GET " + repo + "/compare/{basehead...}", accessRepo, s.handleCompare},

		// Writing one commit and moving a branch (Git Data API).
		{"POST " + repo + "/git/trees", accessRepo, s.handleCreateTree},
		{"POST " + repo + "/git/commits", accessRepo, s.handleCreateGitCommit},
		{"POST " + repo + "/git/refs", accessRepo, s.handleCreateRef},
		{"PATCH " + repo + "/git/refs/{ref...}", accessRepo, s.handleUpdateRef},

		// The bot pull request.
		{"GET " + repo + "/pulls", accessRepo, s.handleListPulls},
		{"POST " + repo + "/pulls", accessRepo, s.handleCreatePull},
		{"GET " + repo + "/pulls/{number}", accessRepo, s.handleGetPull},
		{"PATCH " + repo + "/pulls/{number}", accessRepo, s.handleEditPull},
		{"POST " + repo + "/issues/{number}/labels", accessRepo, s.handleAddIssueLabels},
		{"POST " + repo + "/issues/{number}/comments", accessRepo, s.handleCreateComment},

		// Check runs.
		{"POST " + repo + "/check-runs", accessRepo, s.handleCreateCheckRun},
		{"PATCH " + repo + "/check-runs/{id}", accessRepo, s.handleUpdateCheckRun},
	}
}

// helpers lists routes the app does not call, kept because tests and the
// demo act through them as a person would. They follow GitHub too; ghapi's
// tests check that the app does not call them.
func (s *Server) helpers() []route {
	return []route{
		// One commit per file, as a person editing on github.com does.
		{"PUT " + repoPath + "/contents/{path...}", accessRepo, s.handlePutContents},
		// The merge button; the demo tells its user to merge this way.
		{"PUT " + repoPath + "/pulls/{number}/merge", accessRepo, s.handleMergePull},
		// What Harness's GitHub connector reads besides the contents: the
		// commit a branch is at (the Harness stand-in fetches manifests
		// as Harness does, through the App's installation).
		{"GET " + repoPath + "/commits/{ref}", accessRepo, s.handleGetCommit},
		// What a person reads a commit's checks with; the demo's
		// walkthrough shows the plan check run this way.
		{"GET " + repoPath + "/commits/{ref}/check-runs", accessRepo, s.handleListCheckRuns},
	}
}

// routeKey is the Calls key of a route pattern.
func routeKey(pattern string) string { return strings.ReplaceAll(pattern, "...}", "}") }

// ContractRoutes lists the Calls keys of the routes that are the contract
// with the real API (see Server.contract), sorted.
func ContractRoutes() []string {
	var out []string
	for _, r := range (&Server{}).contract() {
		out = append(out, routeKey(r.pattern))
	}
	sort.Strings(out)
	return out
}

// routes builds the API's routing table. A path no route matches answers
// 404 "Not Found" as GitHub does, and is still logged and counted.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, r := range append(s.contract(), s.helpers()...) {
		s.handle(mux, r.pattern, r.access, r.handler)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, r.Method+" "+r.URL.Path, accessOpen, func(c *call) { c.fail(http.StatusNotFound, "Not Found") })
	})
	return mux
}

// sortBy sorts items by an integer key.
func sortBy[T any](items []T, key func(T) int64) {
	sort.Slice(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
