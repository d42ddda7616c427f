package githubtest

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// token is an installation access token.
type token struct {
	value   string
	inst    *installation
	expires time.Time
	repoIDs map[int64]bool // nil: every repository of the installation
	perms   map[string]string
}

// defaultPermissions are the App's repository permissions when
// Options.Permissions is nil: those of the recommended manifest.
var defaultPermissions = map[string]string{
	"checks":        "write",
	"contents":      "write",
	"metadata":      "read",
	"pull_requests": "write",
}

// permissions returns the App's granted permissions.
func (s *Server) permissions() map[string]string {
	if s.opts.Permissions != nil {
		return s.opts.Permissions
	}
	return defaultPermissions
}

type authKind int

const (
	authNone authKind = iota
	authApp
	authInstallation
	authUser
)

// identity is the authenticated caller of a request.
type identity struct {
	kind authKind
	inst *installation
	tok  *token
	user *user // the acting user: the bot for installation tokens
}

func (id identity) String() string {
	switch id.kind {
	case authApp:
		return "app"
	case authInstallation:
		return fmt.Sprintf("installation:%d", id.inst.ID)
	case authUser:
		return "user:" + id.user.Login
	}
	return "anonymous"
}

// rateKey names the rate limit window: installation tokens share their
// installation's limit.
func (id identity) rateKey() string { return id.String() }

func (id identity) rateSubject() string {
	switch id.kind {
	case authInstallation:
		return fmt.Sprintf("installation ID %d", id.inst.ID)
	case authUser:
		return fmt.Sprintf("user ID %d", id.user.ID)
	case authApp:
		return "integration"
	}
	return "anonymous requests"
}

func (id identity) canAccess(r *repo) bool {
	switch id.kind {
	case authUser:
		return true
	case authInstallation:
		// A token reaches the repositories its installation covers, and of
		// those only the ones it was scoped to when it was created. Others
		// answer 404 rather than 403, so that a token does not learn that a
		// repository exists (docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api,
		// "404 Not Found for an existing resource").
		if !id.inst.covers(r) {
			return false
		}
		return id.tok.repoIDs == nil || id.tok.repoIDs[r.ID]
	}
	return false
}

// authenticate reads the Authorization header. It returns GitHub's 401
// message when credentials are missing or wrong.
func (s *Server) authenticate(r *http.Request) (identity, string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return identity{}, "Requires authentication"
	}
	scheme, cred, ok := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	scheme = strings.ToLower(scheme)
	if !ok || cred == "" || (scheme != "token" && scheme != "bearer") {
		return identity{}, "Bad credentials"
	}
	if s.opts.UserToken != "" && cred == s.opts.UserToken {
		return identity{kind: authUser, user: s.human}, ""
	}
	if tok, ok := s.tokens[cred]; ok {
		// Uninstalling the App revokes its installation's tokens.
		if !s.now().Before(tok.expires) || s.installations[tok.inst.ID] != tok.inst {
			return identity{}, "Bad credentials"
		}
		return identity{kind: authInstallation, inst: tok.inst, tok: tok, user: s.bot}, ""
	}
	if scheme == "bearer" && strings.Count(cred, ".") == 2 {
		if msg := s.verifyJWT(cred); msg != "" {
			return identity{}, msg
		}
		return identity{kind: authApp, user: s.bot}, ""
	}
	return identity{}, "Bad credentials"
}

// verifyJWT checks an App JWT the way GitHub does: RS256, issuer = App id,
// exp in the future but at most 10 minutes ahead, iat not in the future.
func (s *Server) verifyJWT(raw string) string {
	var claims jwt.RegisteredClaims
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	var err error
	if s.opts.AppPublicKey == nil {
		_, _, err = parser.ParseUnverified(raw, &claims)
	} else {
		_, err = parser.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.opts.AppPublicKey, nil })
	}
	if err != nil {
		return "A JSON web token could not be decoded"
	}
	if s.opts.AppID != 0 && claims.Issuer != strconv.FormatInt(s.opts.AppID, 10) {
		return "Integration not found"
	}
	now := s.now()
	if claims.ExpiresAt == nil || !claims.ExpiresAt.After(now) {
		return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	}
	if claims.ExpiresAt.Sub(now) > 10*time.Minute+30*time.Second {
		return "'Expiration time' claim ('exp') is too far in the future"
	}
	if claims.IssuedAt == nil || claims.IssuedAt.After(now.Add(time.Minute)) {
		return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	}
	return ""
}

func randomToken(prefix string, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return prefix + string(b)
}

// InstallationToken mints an installation token directly, as the token
// endpoint would, for tools that drive the API as the App.
func (s *Server) InstallationToken(installationID int64) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.installations[installationID]
	if !ok {
		return "", fmt.Errorf("installation %d not found", installationID)
	}
	tok := &token{value: randomToken("ghs_", 36), inst: inst, expires: s.now().Add(time.Hour), perms: s.permissions()}
	s.tokens[tok.value] = tok
	return tok.value, nil
}

func (s *Server) ownerFor(login string) *user {
	if u, ok := s.users[strings.ToLower(login)]; ok {
		return u
	}
	return s.userFor(login, "Organization")
}

func (s *Server) subscribedEvents() []string {
	if len(s.opts.Events) > 0 {
		return s.opts.Events
	}
	return []string{"check_run", "check_suite", "issue_comment", "pull_request", "push"}
}

func (s *Server) appJSON() map[string]any {
	owner := s.userJSON(s.bot)
	return map[string]any{
		"id":           s.opts.AppID,
		"slug":         s.opts.AppSlug,
		"node_id":      fmt.Sprintf("A_%d", s.opts.AppID),
		"owner":        owner,
		"name":         s.opts.AppSlug,
		"description":  "",
		"external_url": s.opts.WebURL + "apps/" + s.opts.AppSlug,
		"html_url":     s.opts.WebURL + "apps/" + s.opts.AppSlug,
		"created_at":   "2024-01-01T00:00:00Z",
		"updated_at":   "2024-01-01T00:00:00Z",
		"permissions":  s.permissions(),
		"events":       s.subscribedEvents(),
	}
}

func (s *Server) handleGetApp(c *call) {
	app := s.appJSON()
	app["installations_count"] = len(s.installations)
	c.writeJSON(http.StatusOK, app)
}

func (s *Server) handleCreateToken(c *call) {
	id, ok := c.pathInt("installation_id")
	if !ok {
		return
	}
	inst, found := s.installations[id]
	if !found {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	var req struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if !c.decode(&req) {
		return
	}
	tok := &token{value: randomToken("ghs_", 36), inst: inst, expires: s.now().Add(time.Hour), perms: s.permissions()}
	var repos []*repo
	if len(req.Repositories) > 0 || len(req.RepositoryIDs) > 0 {
		tok.repoIDs = map[int64]bool{}
		for _, name := range req.Repositories {
			r := s.repoFor(inst.Account.Login, name)
			if r == nil || !inst.covers(r) {
				c.writeJSON(http.StatusUnprocessableEntity, apiError{Message: "There is at least one repository that does not exist or is not accessible to the parent installation.", DocumentationURL: docsURL, Status: "422"})
				return
			}
			tok.repoIDs[r.ID] = true
			repos = append(repos, r)
		}
		for _, rid := range req.RepositoryIDs {
			r := s.repoByID(rid)
			if r == nil || !inst.covers(r) {
				c.writeJSON(http.StatusUnprocessableEntity, apiError{Message: "There is at least one repository that does not exist or is not accessible to the parent installation.", DocumentationURL: docsURL, Status: "422"})
				return
			}
			tok.repoIDs[r.ID] = true
			repos = append(repos, r)
		}
	}
	if len(req.Permissions) > 0 {
		perms := map[string]string{}
		for k, v := range req.Permissions {
			granted, ok := s.permissions()[k]
			if !ok || (v == "write" && granted != "write") {
				c.writeJSON(http.StatusUnprocessableEntity, apiError{Message: "The permissions requested are not granted to this installation.", DocumentationURL: docsURL, Status: "422"})
				return
			}
			perms[k] = v
		}
		perms["metadata"] = "read"
		tok.perms = perms
	}
	s.tokens[tok.value] = tok
	resp := map[string]any{
		"token":                tok.value,
		"expires_at":           isoTime(tok.expires),
		"permissions":          tok.perms,
		"repository_selection": inst.selection(),
	}
	if tok.repoIDs != nil {
		resp["repository_selection"] = "selected"
		var list []map[string]any
		for _, r := range repos {
			list = append(list, s.repoJSON(r))
		}
		resp["repositories"] = list
	}
	c.writeJSON(http.StatusCreated, resp)
}

func (s *Server) handleRepoInstallation(c *call) {
	r := s.repoFor(c.r.PathValue("owner"), c.r.PathValue("repo"))
	if r == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	// GitHub answers 404 both when the App is not installed on the owner
	// and when the repository is outside the installation's selected
	// repositories (observed: fabro-sh/fabro#797, 3SVS/simsa#432).
	inst := s.installationFor(r.Owner)
	if inst == nil || !inst.covers(r) {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	c.writeJSON(http.StatusOK, s.installationJSON(inst))
}

func (s *Server) handleOwnerInstallation(c *call) {
	login := c.r.PathValue("org")
	wantOrg := login != ""
	if !wantOrg {
		login = c.r.PathValue("username")
	}
	u, ok := s.users[strings.ToLower(login)]
	if !ok || (wantOrg && u.Type != "Organization") || (!wantOrg && u.Type == "Organization") {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	inst := s.installationFor(u)
	if inst == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	c.writeJSON(http.StatusOK, s.installationJSON(inst))
}

func (s *Server) handleInstallationRepos(c *call) {
	var repos []*repo
	for _, r := range s.sortedRepos() {
		if c.id.canAccess(r) {
			repos = append(repos, r)
		}
	}
	selection := c.id.inst.selection()
	if c.id.tok.repoIDs != nil {
		selection = "selected"
	}
	list := []map[string]any{}
	for _, r := range paginate(c, repos) {
		list = append(list, s.repoJSON(r))
	}
	c.writeJSON(http.StatusOK, map[string]any{
		"total_count":          len(repos),
		"repository_selection": selection,
		"repositories":         list,
	})
}

// permissionFor names the permission a repository route needs.
func permissionFor(route string) string {
	switch {
	case strings.Contains(route, "/check-runs") || strings.Contains(route, "/check-suites"):
		return "checks"
	case strings.Contains(route, "/pulls"):
		return "pull_requests"
	case strings.Contains(route, "/issues") || strings.Contains(route, "/labels"):
		return "issues"
	case strings.Contains(route, "/contents/") || strings.Contains(route, "/git/") || strings.Contains(route, "/compare/"):
		return "contents"
	}
	return "metadata"
}

// permitted reports whether an installation token may call route. Issue
// endpoints also accept pull_requests permission, as GitHub does for pull
// requests.
func (t *token) permitted(method, route string) bool {
	need := "read"
	if method != http.MethodGet && method != http.MethodHead {
		need = "write"
	}
	ok := func(perm string) bool {
		have := t.perms[perm]
		return have == "write" || (need == "read" && have == "read")
	}
	perm := permissionFor(route)
	if perm == "issues" && ok("pull_requests") {
		return true
	}
	return ok(perm)
}

// workflowDir holds GitHub Actions workflows; an App needs the workflows
// permission to change files there.
const workflowDir = ".github/workflows/"

// workflowFailure refuses an installation-token write that changes a
// workflow file without the workflows permission. GitHub's message is
// documented; its status code for API writes is not, 422 is used.
func workflowFailure(id identity, changed []string) *failure {
	if id.kind != authInstallation || id.tok.perms["workflows"] == "write" {
		return nil
	}
	for _, p := range changed {
		if strings.HasPrefix(p, workflowDir) {
			return newFailure(http.StatusUnprocessableEntity,
				fmt.Sprintf("refusing to allow a GitHub App to create or update workflow `%s` without `workflows` permission", p))
		}
	}
	return nil
}

// pushedPaths lists the paths changed by the commits a ref update to sha
// would push.
func (r *repo) pushedPaths(ref, sha string) []string {
	var exclude []string
	if old, ok := r.refs[ref]; ok {
		exclude = []string{old}
	} else {
		for _, v := range r.refs {
			exclude = append(exclude, v)
		}
	}
	var out []string
	for _, c := range r.git.commitsBetween(exclude, sha) {
		parent := ""
		if ps := r.git.commits[c].Parents; len(ps) > 0 {
			parent = ps[0]
		}
		for _, ch := range diffTrees(r.flatAt(parent), r.flatAt(c)) {
			out = append(out, ch.Path)
			if ch.PreviousPath != "" {
				out = append(out, ch.PreviousPath)
			}
		}
	}
	return out
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func isoTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return isoTime(*t)
}
