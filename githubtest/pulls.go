package githubtest

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// pull is one pull request.
type pull struct {
	ID                  int64
	Number              int
	Title               string
	Body                string
	State               string // open, closed
	Draft               bool
	MaintainerCanModify bool
	User                *user
	Head, Base          string // branch names
	// headRepo holds the head branch: the pull request's repository, or a
	// fork of it.
	headRepo         *repo
	HeadSHA, BaseSHA string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	ClosedAt         *time.Time
	MergedAt         *time.Time
	Merged           bool
	MergedBy         *user
	MergeCommitSHA   string
	Labels           []string
	Comments         int

	testKey   string // base+head the test merge was computed for
	mergeable *bool
}

// failure is an API error that both the HTTP handlers and the Go helpers
// report.
type failure struct {
	status int
	body   apiError
}

func (f *failure) Error() string {
	msg := f.body.Message
	for _, e := range f.body.Errors {
		if e.Message != "" {
			msg += ": " + e.Message
		} else {
			msg += fmt.Sprintf(": %s %s %s", e.Resource, e.Field, e.Code)
		}
	}
	return fmt.Sprintf("%d %s", f.status, msg)
}

func newFailure(status int, msg string) *failure {
	return &failure{status: status, body: apiError{Message: msg, DocumentationURL: docsURL, Status: strconv.Itoa(status)}}
}

func newValidation(errs ...fieldError) *failure {
	return &failure{status: http.StatusUnprocessableEntity, body: apiError{Message: "Validation Failed", Errors: errs, DocumentationURL: docsURL, Status: "422"}}
}

func (c *call) failWith(f *failure) { c.writeJSON(f.status, f.body) }

// githubSig is the committer GitHub uses for merges made on its side.
func githubSig(when time.Time) signature {
	return signature{Name: "GitHub", Email: "noreply@github.com", When: when}
}

// refresh brings an open pull request's head and base in line with the
// branches and recomputes its test merge when either moved.
func (s *Server) refresh(r *repo, p *pull) {
	if p.State != "open" {
		return
	}
	if h := p.headRepo.branchHead(p.Head); h != "" {
		p.HeadSHA = h
	}
	if b := r.branchHead(p.Base); b != "" {
		p.BaseSHA = b
	}
	key := p.BaseSHA + p.HeadSHA
	if key == p.testKey {
		return
	}
	p.testKey = key
	merged, conflicts := s.threeWay(r, p.BaseSHA, p.HeadSHA)
	ok := len(conflicts) == 0
	p.mergeable = &ok
	if !ok {
		p.MergeCommitSHA = ""
		return
	}
	p.MergeCommitSHA = r.git.putCommit(&gitCommit{
		Tree: r.git.buildTree(merged), Parents: []string{p.BaseSHA, p.HeadSHA},
		Author: githubSig(s.now()), Committer: githubSig(s.now()),
		Message: fmt.Sprintf("Merge %s into %s", p.HeadSHA, p.BaseSHA),
	})
}

// threeWay merges head into base from their merge base.
func (s *Server) threeWay(r *repo, base, head string) (map[string]fileEntry, []string) {
	mb := r.git.mergeBase(base, head)
	return r.git.mergeTrees(r.flatAt(mb), r.flatAt(base), r.flatAt(head))
}

func (s *Server) pullJSON(r *repo, p *pull, full bool) map[string]any {
	s.refresh(r, p)
	api := s.repoAPIURL(r)
	html := fmt.Sprintf("%s/pull/%d", s.repoHTMLURL(r), p.Number)
	issueURL := fmt.Sprintf("%s/issues/%d", api, p.Number)
	prURL := fmt.Sprintf("%s/pulls/%d", api, p.Number)
	branch := func(in *repo, ref, sha string) map[string]any {
		return map[string]any{
			"label": in.Owner.Login + ":" + ref,
			"ref":   ref,
			"sha":   sha,
			"user":  s.userJSON(in.Owner),
			"repo":  s.repoJSON(in),
		}
	}
	var body any
	if p.Body != "" {
		body = p.Body
	}
	var mergeSHA any
	if p.MergeCommitSHA != "" {
		mergeSHA = p.MergeCommitSHA
	}
	j := map[string]any{
		"url":                 prURL,
		"id":                  p.ID,
		"node_id":             fmt.Sprintf("PR_%d", p.ID),
		"html_url":            html,
		"diff_url":            html + ".diff",
		"patch_url":           html + ".patch",
		"issue_url":           issueURL,
		"commits_url":         prURL + "/commits",
		"review_comments_url": prURL + "/comments",
		"review_comment_url":  api + "/pulls/comments{/number}",
		"comments_url":        issueURL + "/comments",
		"statuses_url":        api + "/statuses/" + p.HeadSHA,
		"number":              p.Number,
		"state":               p.State,
		"locked":              false,
		"title":               p.Title,
		"user":                s.userJSON(p.User),
		"body":                body,
		"created_at":          isoTime(p.CreatedAt),
		"updated_at":          isoTime(p.UpdatedAt),
		"closed_at":           isoTimePtr(p.ClosedAt),
		"merged_at":           isoTimePtr(p.MergedAt),
		"merge_commit_sha":    mergeSHA,
		"assignee":            nil,
		"assignees":           []any{},
		"requested_reviewers": []any{},
		"requested_teams":     []any{},
		"labels":              s.labelsJSON(r, p.Labels),
		"milestone":           nil,
		"draft":               p.Draft,
		"head":                branch(p.headRepo, p.Head, p.HeadSHA),
		"base":                branch(r, p.Base, p.BaseSHA),
		"_links": map[string]any{
			"self":     map[string]string{"href": prURL},
			"html":     map[string]string{"href": html},
			"issue":    map[string]string{"href": issueURL},
			"comments": map[string]string{"href": issueURL + "/comments"},
			"commits":  map[string]string{"href": prURL + "/commits"},
			"statuses": map[string]string{"href": api + "/statuses/" + p.HeadSHA},
		},
		"author_association": authorAssociation(r, p.User),
		"auto_merge":         nil,
		"active_lock_reason": nil,
	}
	if !full {
		return j
	}
	j["merged"] = p.Merged
	if p.State == "open" && p.mergeable != nil {
		j["mergeable"] = *p.mergeable
		j["rebaseable"] = *p.mergeable
		if *p.mergeable {
			j["mergeable_state"] = "clean"
		} else {
			j["mergeable_state"] = "dirty"
		}
	} else {
		j["mergeable"] = nil
		j["rebaseable"] = nil
		j["mergeable_state"] = "unknown"
	}
	j["merged_by"] = s.userJSON(p.MergedBy)
	j["comments"] = p.Comments
	j["review_comments"] = 0
	j["maintainer_can_modify"] = p.MaintainerCanModify
	commits := r.git.commitsBetween([]string{p.BaseSHA}, p.HeadSHA)
	if p.Merged {
		commits = r.git.commitsBetween([]string{r.git.mergeBase(p.BaseSHA, p.HeadSHA)}, p.HeadSHA)
	}
	files, adds, dels := s.filesJSON(r, r.flatAt(r.git.mergeBase(p.BaseSHA, p.HeadSHA)), r.flatAt(p.HeadSHA), p.HeadSHA, 1<<30)
	j["commits"] = len(commits)
	j["additions"] = adds
	j["deletions"] = dels
	j["changed_files"] = len(files)
	return j
}

func authorAssociation(r *repo, u *user) string {
	switch {
	case u == r.Owner:
		return "OWNER"
	case u.Type == "Bot":
		return "NONE"
	}
	return "MEMBER"
}

func (r *repo) sortedPulls() []*pull {
	out := make([]*pull, 0, len(r.pulls))
	for _, p := range r.pulls {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

func (s *Server) handleListPulls(c *call) {
	r := c.repo
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	// head is "owner:branch", the owner of the repository holding the
	// branch: a fork's pull requests do not match the repository's own
	// owner (docs.github.com/en/rest/pulls/pulls#list-pull-requests).
	head := q.Get("head")
	headOwner := ""
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		headOwner, head = owner, branch
	}
	base := q.Get("base")
	var out []*pull
	for _, p := range r.sortedPulls() {
		s.refresh(r, p)
		if state != "all" && p.State != state {
			continue
		}
		if head != "" && p.Head != head {
			continue
		}
		if headOwner != "" && !strings.EqualFold(headOwner, p.headRepo.Owner.Login) {
			continue
		}
		if base != "" && p.Base != base {
			continue
		}
		out = append(out, p)
	}
	sortKey := q.Get("sort")
	desc := q.Get("direction") != "asc"
	if q.Get("direction") == "" && sortKey != "" && sortKey != "created" && sortKey != "updated" {
		desc = false
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if sortKey == "updated" {
			if !a.UpdatedAt.Equal(b.UpdatedAt) {
				return a.UpdatedAt.Before(b.UpdatedAt) != desc
			}
		}
		return (a.Number < b.Number) != desc
	})
	list := []map[string]any{}
	for _, p := range paginate(c, out) {
		list = append(list, s.pullJSON(r, p, false))
	}
	c.writeJSON(http.StatusOK, list)
}

func (c *call) pull() *pull {
	n, err := strconv.Atoi(c.r.PathValue("number"))
	if err != nil {
		c.fail(http.StatusNotFound, "Not Found")
		return nil
	}
	p, ok := c.repo.pulls[n]
	if !ok {
		c.fail(http.StatusNotFound, "Not Found")
		return nil
	}
	return p
}

func (s *Server) handleGetPull(c *call) {
	if p := c.pull(); p != nil {
		c.writeJSON(http.StatusOK, s.pullJSON(c.repo, p, true))
	}
}

// GitHub keeps a pull request's title and body on its issue, and limits
// both; the limits are not in the REST reference, they are observed.
const (
	// maxPullBody is counted in Unicode code points: 65,536 emoji pass,
	// one character more is refused, ASCII or not
	// (dead-claudia/github-limits#13). The refusal is a 422 whose error
	// names resource "Issue", code "custom", field "body" and says "body is
	// too long (maximum is 65536 characters)" (renovatebot/renovate#2032,
	// denoland/bump-workspaces#34, googleapis/google-cloud-go#9278).
	maxPullBody = 65536
	// maxPullTitle is 256 characters: "title is too long (maximum is 256
	// characters)" (dead-claudia/github-limits README;
	// OpenDigitalProductFactory/opendigitalproductfactory#856).
	maxPullTitle = 256
)

// pullTextFailure refuses a title or body over GitHub's limits; docs is
// the documentation_url of the route.
func pullTextFailure(title, body *string, docs string) *failure {
	tooLong := func(field string, max int) *failure {
		f := newValidation(fieldError{Resource: "Issue", Code: "custom", Field: field,
			Message: fmt.Sprintf("%s is too long (maximum is %d characters)", field, max)})
		f.body.DocumentationURL = docs
		return f
	}
	if title != nil && utf8.RuneCountInString(*title) > maxPullTitle {
		return tooLong("title", maxPullTitle)
	}
	if body != nil && utf8.RuneCountInString(*body) > maxPullBody {
		return tooLong("body", maxPullBody)
	}
	return nil
}

const (
	docsCreatePull = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
	docsUpdatePull = "https://docs.github.com/rest/pulls/pulls#update-a-pull-request"
)

// openPull creates a pull request, validating it as GitHub does.
func (s *Server) openPull(r *repo, actor *user, title, body, head, base string, draft, mcm bool) (*pull, *failure) {
	if f := pullTextFailure(&title, &body, docsCreatePull); f != nil {
		return nil, f
	}
	switch {
	case title == "":
		return nil, newValidation(fieldError{Resource: "PullRequest", Field: "title", Code: "missing_field"})
	case head == "":
		return nil, newValidation(fieldError{Resource: "PullRequest", Field: "head", Code: "missing_field"})
	case base == "":
		return nil, newValidation(fieldError{Resource: "PullRequest", Field: "base", Code: "missing_field"})
	}
	// head is "branch" or "owner:branch", where owner's repository is r
	// or a fork of it (docs.github.com/en/rest/pulls/pulls#create-a-pull-request).
	headBranch, headRepo := head, r
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		headBranch, headRepo = branch, s.networkRepo(r, owner)
		if headRepo == nil {
			return nil, newValidation(fieldError{Resource: "PullRequest", Field: "head", Code: "invalid"})
		}
	}
	baseSHA := r.branchHead(base)
	if baseSHA == "" {
		return nil, newValidation(fieldError{Resource: "PullRequest", Field: "base", Code: "invalid"})
	}
	headSHA := headRepo.branchHead(headBranch)
	if headSHA == "" {
		return nil, newValidation(fieldError{Resource: "PullRequest", Field: "head", Code: "invalid"})
	}
	for _, p := range r.pulls {
		if p.State == "open" && p.headRepo == headRepo && p.Head == headBranch && p.Base == base {
			return nil, newValidation(fieldError{Resource: "PullRequest", Code: "custom",
				Message: fmt.Sprintf("A pull request already exists for %s:%s.", headRepo.Owner.Login, headBranch)})
		}
	}
	if r.git.mergeBase(baseSHA, headSHA) == "" {
		return nil, newValidation(fieldError{Resource: "PullRequest", Code: "custom",
			Message: fmt.Sprintf("The %s branch has no history in common with %s", base, headBranch)})
	}
	if len(r.git.commitsBetween([]string{baseSHA}, headSHA)) == 0 {
		return nil, newValidation(fieldError{Resource: "PullRequest", Code: "custom",
			Message: fmt.Sprintf("No commits between %s and %s", base, headBranch)})
	}
	now := s.now()
	p := &pull{
		ID: s.newID(), Number: r.nextNumber, Title: title, Body: body, State: "open",
		Draft: draft, MaintainerCanModify: mcm, User: actor, Head: headBranch, Base: base, headRepo: headRepo,
		HeadSHA: headSHA, BaseSHA: baseSHA, CreatedAt: now, UpdatedAt: now,
	}
	r.nextNumber++
	r.pulls[p.Number] = p
	s.refresh(r, p)
	s.emitPull(r, p, "opened", actor, nil)
	return p, nil
}

func (s *Server) handleCreatePull(c *call) {
	var req struct {
		Title               string `json:"title"`
		Head                string `json:"head"`
		Base                string `json:"base"`
		Body                string `json:"body"`
		Draft               bool   `json:"draft"`
		MaintainerCanModify *bool  `json:"maintainer_can_modify"`
	}
	if !c.decode(&req) {
		return
	}
	mcm := req.MaintainerCanModify == nil || *req.MaintainerCanModify
	p, f := s.openPull(c.repo, c.actor(), req.Title, req.Body, req.Head, req.Base, req.Draft, mcm)
	if f != nil {
		c.failWith(f)
		return
	}
	c.w.header.Set("Location", fmt.Sprintf("%s/pulls/%d", s.repoAPIURL(c.repo), p.Number))
	c.writeJSON(http.StatusCreated, s.pullJSON(c.repo, p, true))
}

func (s *Server) closePull(r *repo, p *pull, actor *user) *failure {
	if p.State != "open" {
		return nil
	}
	s.refresh(r, p)
	now := s.now()
	p.State = "closed"
	p.ClosedAt = &now
	p.UpdatedAt = now
	s.emitPull(r, p, "closed", actor, nil)
	return nil
}

func (s *Server) reopenPull(r *repo, p *pull, actor *user) *failure {
	if p.State == "open" {
		return nil
	}
	if p.Merged {
		return newValidation(fieldError{Resource: "PullRequest", Field: "state", Code: "custom",
			Message: "state cannot be changed. The pull request has already been merged."})
	}
	if p.headRepo.branchHead(p.Head) == "" || r.branchHead(p.Base) == "" {
		return newValidation(fieldError{Resource: "PullRequest", Field: "state", Code: "custom",
			Message: fmt.Sprintf("state cannot be changed. The %s branch has been deleted.", p.Head)})
	}
	for _, o := range r.pulls {
		if o != p && o.State == "open" && o.headRepo == p.headRepo && o.Head == p.Head && o.Base == p.Base {
			return newValidation(fieldError{Resource: "PullRequest", Field: "state", Code: "custom",
				Message: fmt.Sprintf("state cannot be changed. There is already an open pull request from %s to %s.", p.Head, p.Base)})
		}
	}
	p.State = "open"
	p.ClosedAt = nil
	p.UpdatedAt = s.now()
	p.testKey = ""
	s.refresh(r, p)
	s.emitPull(r, p, "reopened", actor, nil)
	return nil
}

// editPull changes title, body and base (nil leaves a field alone) and
// sends one "edited" event listing what changed.
func (s *Server) editPull(r *repo, p *pull, actor *user, title, body, base *string) *failure {
	if f := pullTextFailure(title, body, docsUpdatePull); f != nil {
		return f
	}
	changes := map[string]any{}
	if base != nil && *base != p.Base {
		if p.State != "open" {
			return newValidation(fieldError{Resource: "PullRequest", Field: "base", Code: "invalid"})
		}
		if r.branchHead(*base) == "" {
			return newValidation(fieldError{Resource: "PullRequest", Field: "base", Code: "invalid"})
		}
		for _, o := range r.pulls {
			if o != p && o.State == "open" && o.headRepo == p.headRepo && o.Head == p.Head && o.Base == *base {
				return newValidation(fieldError{Resource: "PullRequest", Code: "custom",
					Message: fmt.Sprintf("A pull request already exists for base branch '%s' and head branch '%s'", *base, p.Head)})
			}
		}
		changes["base"] = map[string]any{"ref": map[string]string{"from": p.Base}, "sha": map[string]string{"from": p.BaseSHA}}
		p.Base = *base
		s.refresh(r, p)
	}
	if title != nil && *title != p.Title {
		changes["title"] = map[string]string{"from": p.Title}
		p.Title = *title
	}
	if body != nil && *body != p.Body {
		changes["body"] = map[string]string{"from": p.Body}
		p.Body = *body
	}
	if len(changes) == 0 {
		return nil
	}
	p.UpdatedAt = s.now()
	s.emitPull(r, p, "edited", actor, map[string]any{"changes": changes})
	return nil
}

func (s *Server) handleEditPull(c *call) {
	p := c.pull()
	if p == nil {
		return
	}
	var req struct {
		Title               *string `json:"title"`
		Body                *string `json:"body"`
		State               *string `json:"state"`
		Base                *string `json:"base"`
		MaintainerCanModify *bool   `json:"maintainer_can_modify"`
	}
	if !c.decode(&req) {
		return
	}
	if req.State != nil && *req.State != "open" && *req.State != "closed" {
		c.failWith(newValidation(fieldError{Resource: "PullRequest", Field: "state", Code: "invalid"}))
		return
	}
	if f := s.editPull(c.repo, p, c.actor(), req.Title, req.Body, req.Base); f != nil {
		c.failWith(f)
		return
	}
	if req.MaintainerCanModify != nil {
		p.MaintainerCanModify = *req.MaintainerCanModify
	}
	if req.State != nil {
		var f *failure
		if *req.State == "closed" {
			f = s.closePull(c.repo, p, c.actor())
		} else {
			f = s.reopenPull(c.repo, p, c.actor())
		}
		if f != nil {
			c.failWith(f)
			return
		}
	}
	c.writeJSON(http.StatusOK, s.pullJSON(c.repo, p, true))
}

// mergePull merges a pull request with the given method, producing the
// commits GitHub would, and moves the base branch.
func (s *Server) mergePull(r *repo, p *pull, actor *user, method, sha string, title, message *string) (string, *failure) {
	s.refresh(r, p)
	if method == "" {
		method = "merge"
	}
	if method != "merge" && method != "squash" && method != "rebase" {
		return "", newValidation(fieldError{Resource: "PullRequest", Field: "merge_method", Code: "invalid",
			Message: "merge_method must be one of merge, squash, rebase"})
	}
	if p.State != "open" {
		return "", newFailure(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
	}
	if sha != "" && sha != p.HeadSHA {
		return "", newFailure(http.StatusConflict, "Head branch was modified. Review and try the merge again.")
	}
	baseSHA := r.branchHead(p.Base)
	merged, conflicts := s.threeWay(r, baseSHA, p.HeadSHA)
	if len(conflicts) > 0 {
		return "", newFailure(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
	}
	now := s.now()
	commits := r.git.commitsBetween([]string{baseSHA}, p.HeadSHA)
	text := func(defTitle, defMessage string) string {
		t, m := defTitle, defMessage
		if title != nil && *title != "" {
			t = *title
		}
		if message != nil {
			m = *message
		}
		if m == "" {
			return t
		}
		return t + "\n\n" + m
	}
	var newHead string
	switch method {
	case "merge":
		newHead = r.git.putCommit(&gitCommit{
			Tree: r.git.buildTree(merged), Parents: []string{baseSHA, p.HeadSHA},
			Author: actor.signature(now), Committer: githubSig(now),
			Message: text(fmt.Sprintf("Merge pull request #%d from %s/%s", p.Number, p.headRepo.Owner.Login, p.Head), p.Title),
		})
	case "squash":
		var lines []string
		for _, c := range commits {
			lines = append(lines, "* "+strings.TrimSpace(r.git.commits[c].Message))
		}
		newHead = r.git.putCommit(&gitCommit{
			Tree: r.git.buildTree(merged), Parents: []string{baseSHA},
			Author: p.User.signature(now), Committer: githubSig(now),
			Message: text(fmt.Sprintf("%s (#%d)", p.Title, p.Number), strings.Join(lines, "\n\n")),
		})
	case "rebase":
		tip := baseSHA
		for _, csha := range commits {
			orig := r.git.commits[csha]
			parent := ""
			if len(orig.Parents) > 0 {
				parent = orig.Parents[0]
			}
			tree, conflicts := r.git.mergeTrees(r.flatAt(parent), r.flatAt(tip), r.flatAt(csha))
			if len(conflicts) > 0 {
				return "", newFailure(http.StatusMethodNotAllowed, "This branch can't be rebased")
			}
			tip = r.git.putCommit(&gitCommit{
				Tree: r.git.buildTree(tree), Parents: []string{tip},
				Author: orig.Author, Committer: githubSig(now), Message: orig.Message,
			})
		}
		newHead = tip
	}
	s.setRef(r, "refs/heads/"+p.Base, newHead, actor)
	p.State = "closed"
	p.Merged = true
	p.MergedAt = &now
	p.ClosedAt = &now
	p.UpdatedAt = now
	p.MergedBy = actor
	p.MergeCommitSHA = newHead
	p.BaseSHA = baseSHA
	s.emitPull(r, p, "closed", actor, nil)
	return newHead, nil
}

// handleMergePull merges a pull request as a person does with the merge
// button, through the API (docs.github.com/en/rest/pulls/pulls#merge-a-pull-request).
func (s *Server) handleMergePull(c *call) {
	p := c.pull()
	if p == nil {
		return
	}
	var req struct {
		CommitTitle   *string `json:"commit_title"`
		CommitMessage *string `json:"commit_message"`
		SHA           string  `json:"sha"`
		MergeMethod   string  `json:"merge_method"`
	}
	if !c.decode(&req) {
		return
	}
	r := c.repo
	s.refresh(r, p)
	var changed []string
	for _, ch := range diffTrees(r.flatAt(r.git.mergeBase(r.branchHead(p.Base), p.HeadSHA)), r.flatAt(p.HeadSHA)) {
		changed = append(changed, ch.Path, ch.PreviousPath)
	}
	if f := workflowFailure(c.id, changed); f != nil {
		c.failWith(f)
		return
	}
	sha, f := s.mergePull(c.repo, p, c.actor(), req.MergeMethod, req.SHA, req.CommitTitle, req.CommitMessage)
	if f != nil {
		c.failWith(f)
		return
	}
	c.writeJSON(http.StatusOK, map[string]any{"sha": sha, "merged": true, "message": "Pull Request successfully merged"})
}
