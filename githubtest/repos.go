package githubtest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// repo is one repository's state.
type repo struct {
	ID            int64
	Owner         *user
	Name          string
	DefaultBranch string
	CreatedAt     time.Time
	PushedAt      time.Time

	// git is shared by every repository of a fork network, as on GitHub,
	// so that a pull request from a fork can be compared and merged.
	git    *objectStore
	parent *repo             // the repository this one is a fork of
	refs   map[string]string // full ref name -> commit id
	pushed map[string]bool   // commits that have been reachable from a ref

	pulls      map[int]*pull
	nextNumber int
	labels     map[string]*label // by lower-case name
	comments   []*comment
	suites     map[string]*checkSuite // by head sha
}

func (r *repo) fullName() string { return r.Owner.Login + "/" + r.Name }

// CreateRepo creates owner/name with one initial commit on defaultBranch
// holding files (path -> content) and returns that commit's id. No webhook
// is sent: it is setup, not activity. An installation of all of owner's
// repositories, present or future, covers it; one of selected
// repositories does not.
func (s *Server) CreateRepo(owner, name, defaultBranch string, files map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if defaultBranch == "" {
		defaultBranch = "main"
	}
	key := strings.ToLower(owner + "/" + name)
	if _, ok := s.repos[key]; ok {
		panic(fmt.Sprintf("githubtest: repository %s/%s already exists", owner, name))
	}
	now := s.now()
	r := &repo{
		ID: s.newID(), Owner: s.ownerFor(owner), Name: name, DefaultBranch: defaultBranch,
		CreatedAt: now, PushedAt: now,
		git: newObjectStore(), refs: map[string]string{}, pushed: map[string]bool{},
		pulls: map[int]*pull{}, nextNumber: 1, labels: map[string]*label{}, suites: map[string]*checkSuite{},
	}
	flat := map[string]fileEntry{}
	for p, content := range files {
		flat[strings.Trim(p, "/")] = fileEntry{Mode: modeFile, SHA: r.git.putBlob([]byte(content))}
	}
	sig := s.human.signature(now)
	sha := r.git.putCommit(&gitCommit{Tree: r.git.buildTree(flat), Author: sig, Committer: sig, Message: "Initial commit"})
	r.refs["refs/heads/"+defaultBranch] = sha
	r.pushed[sha] = true
	s.repos[key] = r
	return sha
}

// Fork copies repoName's branches into a repository of the same name owned
// by owner (a user, created if needed), as "Fork" on github.com does, and
// returns its full name. The fork shares the original's git objects. No
// webhook is sent: the App is not installed on the fork's owner.
func (s *Server) Fork(repoName, owner string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.mustRepo(repoName)
	key := strings.ToLower(owner + "/" + src.Name)
	if _, ok := s.repos[key]; ok {
		panic(fmt.Sprintf("githubtest: repository %s/%s already exists", owner, src.Name))
	}
	u, ok := s.users[strings.ToLower(owner)]
	if !ok {
		u = s.userFor(owner, "User")
	}
	now := s.now()
	f := &repo{
		ID: s.newID(), Owner: u, Name: src.Name, DefaultBranch: src.DefaultBranch, CreatedAt: now, PushedAt: now,
		git: src.git, parent: src, refs: map[string]string{}, pushed: map[string]bool{},
		pulls: map[int]*pull{}, nextNumber: 1, labels: map[string]*label{}, suites: map[string]*checkSuite{},
	}
	for ref, sha := range src.refs {
		if strings.HasPrefix(ref, "refs/heads/") {
			f.refs[ref] = sha
		}
	}
	for sha := range src.pushed {
		f.pushed[sha] = true
	}
	s.repos[key] = f
	return f.fullName()
}

// networkRepo finds owner's repository in r's fork network: r itself, or a
// fork of r or of the repository r forks.
func (s *Server) networkRepo(r *repo, owner string) *repo {
	for _, o := range s.sortedRepos() {
		if o.git == r.git && strings.EqualFold(o.Owner.Login, owner) {
			return o
		}
	}
	return nil
}

func (s *Server) repoFor(owner, name string) *repo {
	return s.repos[strings.ToLower(owner+"/"+name)]
}

func (s *Server) repoByID(id int64) *repo {
	for _, r := range s.repos {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func (s *Server) sortedRepos() []*repo {
	out := make([]*repo, 0, len(s.repos))
	for _, k := range sortedKeys(s.repos) {
		out = append(out, s.repos[k])
	}
	return out
}

// mustRepo finds a repository named "owner/name" for the Go helpers.
func (s *Server) mustRepo(fullName string) *repo {
	owner, name, _ := strings.Cut(fullName, "/")
	r := s.repoFor(owner, name)
	if r == nil {
		panic(fmt.Sprintf("githubtest: no repository %q", fullName))
	}
	return r
}

func (s *Server) userJSON(u *user) map[string]any {
	if u == nil {
		return nil
	}
	prefix := "users/"
	if u.Type == "Organization" {
		prefix = "orgs/"
	}
	nodePrefix := "U_"
	switch u.Type {
	case "Organization":
		nodePrefix = "O_"
	case "Bot":
		nodePrefix = "BOT_"
	}
	return map[string]any{
		"login":       u.Login,
		"id":          u.ID,
		"node_id":     fmt.Sprintf("%s%d", nodePrefix, u.ID),
		"avatar_url":  fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", u.ID),
		"gravatar_id": "",
		"url":         s.apiURL() + prefix + url.PathEscape(u.Login),
		"html_url":    s.opts.WebURL + u.Login,
		"type":        u.Type,
		"site_admin":  false,
	}
}

func (s *Server) repoAPIURL(r *repo) string  { return s.apiURL() + "repos/" + r.fullName() }
func (s *Server) repoHTMLURL(r *repo) string { return s.opts.WebURL + r.fullName() }

func (s *Server) repoJSON(r *repo) map[string]any {
	return map[string]any{
		"id":                     r.ID,
		"node_id":                fmt.Sprintf("R_%d", r.ID),
		"name":                   r.Name,
		"full_name":              r.fullName(),
		"private":                true,
		"owner":                  s.userJSON(r.Owner),
		"html_url":               s.repoHTMLURL(r),
		"description":            nil,
		"fork":                   r.parent != nil,
		"url":                    s.repoAPIURL(r),
		"pulls_url":              s.repoAPIURL(r) + "/pulls{/number}",
		"git_url":                "git://github.com/" + r.fullName() + ".git",
		"clone_url":              s.repoHTMLURL(r) + ".git",
		"created_at":             isoTime(r.CreatedAt),
		"updated_at":             isoTime(r.PushedAt),
		"pushed_at":              isoTime(r.PushedAt),
		"default_branch":         r.DefaultBranch,
		"visibility":             "private",
		"archived":               false,
		"disabled":               false,
		"open_issues_count":      r.openPullCount(),
		"topics":                 []string{},
		"allow_merge_commit":     true,
		"allow_squash_merge":     true,
		"allow_rebase_merge":     true,
		"delete_branch_on_merge": false,
	}
}

// pushRepoJSON is the repository object of push payloads, which carries
// Unix timestamps and the owner's login as "organization".
func (s *Server) pushRepoJSON(r *repo) map[string]any {
	j := s.repoJSON(r)
	j["created_at"] = r.CreatedAt.Unix()
	j["pushed_at"] = r.PushedAt.Unix()
	j["master_branch"] = r.DefaultBranch
	owner := s.userJSON(r.Owner)
	owner["name"] = r.Owner.Login
	owner["email"] = nil
	j["owner"] = owner
	if r.Owner.Type == "Organization" {
		j["organization"] = r.Owner.Login
	}
	return j
}

func (r *repo) openPullCount() int {
	n := 0
	for _, p := range r.pulls {
		if p.State == "open" {
			n++
		}
	}
	return n
}

var hexRE = regexp.MustCompile(`^[0-9a-f]{4,40}$`)

// resolveCommit turns a branch, tag, full ref or (abbreviated) commit id
// into a commit id, or "".
func (r *repo) resolveCommit(ref string) string {
	if ref == "" {
		return r.refs["refs/heads/"+r.DefaultBranch]
	}
	if _, ok := r.git.commits[ref]; ok {
		return ref
	}
	for _, full := range []string{ref, "refs/heads/" + ref, "refs/tags/" + ref} {
		if sha, ok := r.refs[full]; ok && strings.HasPrefix(full, "refs/") {
			return sha
		}
	}
	if hexRE.MatchString(ref) && len(ref) >= 7 {
		found := ""
		for sha := range r.git.commits {
			if strings.HasPrefix(sha, ref) {
				if found != "" {
					return ""
				}
				found = sha
			}
		}
		return found
	}
	return ""
}

func (r *repo) branchHead(branch string) string { return r.refs["refs/heads/"+branch] }

// refsWithPrefix lists the refs under prefix, sorted.
func (r *repo) refsWithPrefix(prefix string) []string {
	var out []string
	for _, ref := range sortedKeys(r.refs) {
		if strings.HasPrefix(ref, prefix) {
			out = append(out, ref)
		}
	}
	return out
}

func (r *repo) treeOf(commitSHA string) string {
	if c, ok := r.git.commits[commitSHA]; ok {
		return c.Tree
	}
	return emptyTreeSHA
}

func (r *repo) flatAt(commitSHA string) map[string]fileEntry {
	if commitSHA == "" {
		return map[string]fileEntry{}
	}
	return r.git.flatten(r.treeOf(commitSHA))
}

func (s *Server) handleGetRepo(c *call) {
	c.writeJSON(http.StatusOK, s.repoJSON(c.repo))
}

// base64Wrapped encodes data the way the contents API does: base64 in lines
// of 60 characters, each ending in a newline.
func base64Wrapped(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60])
		b.WriteString("\n")
		enc = enc[60:]
	}
	b.WriteString(enc)
	b.WriteString("\n")
	return b.String()
}

func baseName(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// contentJSON describes one entry of the contents API. withContent adds the
// base64 body for files.
func (s *Server) contentJSON(r *repo, commitSHA, ref, p string, e treeEntry, withContent bool) map[string]any {
	typ := "file"
	switch {
	case e.Type == "tree":
		typ = "dir"
	case e.Mode == modeCommit:
		typ = "submodule"
	case e.Mode == modeSymlink:
		typ = "symlink"
	}
	size := 0
	if e.Type == "blob" {
		size = len(r.git.blobs[e.SHA])
	}
	escaped := (&url.URL{Path: p}).EscapedPath()
	selfURL := s.repoAPIURL(r) + "/contents/" + escaped + "?ref=" + url.QueryEscape(ref)
	gitURL := s.repoAPIURL(r) + "/git/blobs/" + e.SHA
	htmlURL := s.repoHTMLURL(r) + "/blob/" + ref + "/" + escaped
	if typ == "dir" {
		gitURL = s.repoAPIURL(r) + "/git/trees/" + e.SHA
		htmlURL = s.repoHTMLURL(r) + "/tree/" + ref + "/" + escaped
	}
	var download any
	if typ == "file" || typ == "symlink" {
		// GitHub serves raw files from another host; nothing here follows it.
		download = "https://raw.githubusercontent.com/" + r.fullName() + "/" + commitSHA + "/" + escaped
	}
	j := map[string]any{
		"type":         typ,
		"size":         size,
		"name":         baseName(p),
		"path":         p,
		"sha":          e.SHA,
		"url":          selfURL,
		"git_url":      gitURL,
		"html_url":     htmlURL,
		"download_url": download,
		"_links":       map[string]any{"self": selfURL, "git": gitURL, "html": htmlURL},
	}
	if withContent && typ == "file" {
		j["content"] = base64Wrapped(r.git.blobs[e.SHA])
		j["encoding"] = "base64"
	}
	return j
}

func (s *Server) handleGetContents(c *call) {
	r := c.repo
	ref := c.r.URL.Query().Get("ref")
	sha := r.resolveCommit(ref)
	if sha == "" {
		c.fail(http.StatusNotFound, "No commit found for the ref "+ref)
		return
	}
	if ref == "" {
		ref = r.DefaultBranch
	}
	p := strings.Trim(c.r.PathValue("path"), "/")
	e, ok := r.git.lookupPath(r.treeOf(sha), p)
	if !ok {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	if e.Type != "tree" {
		if strings.Contains(c.r.Header.Get("Accept"), "application/vnd.github.raw") {
			c.w.header.Set("Content-Type", "text/plain; charset=utf-8")
			c.w.status = http.StatusOK
			c.w.body.Write(r.git.blobs[e.SHA])
			return
		}
		c.writeJSON(http.StatusOK, s.contentJSON(r, sha, ref, p, e, true))
		return
	}
	list := []map[string]any{}
	for _, child := range r.git.trees[e.SHA] {
		cp := child.Name
		if p != "" {
			cp = p + "/" + child.Name
		}
		list = append(list, s.contentJSON(r, sha, ref, cp, child, false))
	}
	c.writeJSON(http.StatusOK, list)
}

// sigJSON is the author/committer object of commit requests.
type sigJSON struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  string `json:"date,omitempty"`
}

func (s *Server) sigFrom(j *sigJSON, fallback signature) signature {
	if j == nil || j.Name == "" {
		return fallback
	}
	sig := signature{Name: j.Name, Email: j.Email, When: fallback.When}
	if j.Date != "" {
		if t, err := time.Parse(time.RFC3339, j.Date); err == nil {
			sig.When = t
		}
	}
	return sig
}

type contentsRequest struct {
	Message   *string  `json:"message"`
	Content   *string  `json:"content"`
	SHA       *string  `json:"sha"`
	Branch    string   `json:"branch"`
	Author    *sigJSON `json:"author"`
	Committer *sigJSON `json:"committer"`
}

// handlePutContents creates or updates one file with one commit on the
// branch, as the contents API does.
func (s *Server) handlePutContents(c *call) {
	r := c.repo
	var req contentsRequest
	if !c.decode(&req) {
		return
	}
	p := strings.Trim(c.r.PathValue("path"), "/")
	branch := req.Branch
	if branch == "" {
		branch = r.DefaultBranch
	}
	head := r.branchHead(branch)
	if head == "" {
		c.fail(http.StatusNotFound, "Branch "+branch+" not found")
		return
	}
	if req.Message == nil {
		c.fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"message\" wasn't supplied.")
		return
	}
	if req.Content == nil {
		c.fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"content\" wasn't supplied.")
		return
	}
	content, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(*req.Content, "\n", ""))
	if err != nil {
		c.fail(http.StatusUnprocessableEntity, "content is not valid Base64")
		return
	}
	if !validPath(p) {
		c.fail(http.StatusUnprocessableEntity, "path contains a malformed path component")
		return
	}
	if f := workflowFailure(c.id, []string{p}); f != nil {
		c.failWith(f)
		return
	}
	flat := r.flatAt(head)
	existing, exists := flat[p]
	switch {
	case exists && req.SHA == nil:
		c.fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"sha\" wasn't supplied.")
		return
	case exists && *req.SHA != existing.SHA:
		c.fail(http.StatusConflict, fmt.Sprintf("%s does not match %s", p, *req.SHA))
		return
	}
	now := s.now()
	author := s.sigFrom(req.Author, c.actor().signature(now))
	committer := s.sigFrom(req.Committer, author)
	if req.Committer == nil && req.Author == nil {
		committer = c.actor().signature(now)
	}
	mode := modeFile
	if exists {
		mode = existing.Mode
	}
	newBlob := fileEntry{Mode: mode, SHA: r.git.putBlob(content)}
	for fp := range flat {
		if strings.HasPrefix(fp, p+"/") {
			delete(flat, fp)
		}
	}
	flat[p] = newBlob
	sha := r.git.putCommit(&gitCommit{
		Tree: r.git.buildTree(flat), Parents: []string{head},
		Author: author, Committer: committer, Message: *req.Message,
	})
	s.setRef(r, "refs/heads/"+branch, sha, c.actor())
	resp := map[string]any{"commit": s.gitCommitJSON(r, sha)}
	resp["content"] = s.contentJSON(r, sha, branch, p, treeEntry{Name: baseName(p), Mode: newBlob.Mode, Type: "blob", SHA: newBlob.SHA}, false)
	status := http.StatusCreated
	if exists {
		status = http.StatusOK
	}
	c.writeJSON(status, resp)
}

// validPath rejects empty, ".", ".." and ".git" path components, as GitHub does.
func validPath(p string) bool {
	if p == "" {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." || strings.EqualFold(part, ".git") {
			return false
		}
	}
	return true
}
