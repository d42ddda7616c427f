package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// label is a repository label.
type label struct {
	ID          int64
	Name        string
	Color       string
	Description string
}

// comment is an issue comment on a pull request.
type comment struct {
	ID        int64
	Number    int
	User      *user
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (s *Server) labelJSON(r *repo, l *label) map[string]any {
	var desc any
	if l.Description != "" {
		desc = l.Description
	}
	return map[string]any{
		"id":          l.ID,
		"node_id":     fmt.Sprintf("LA_%d", l.ID),
		"url":         s.repoAPIURL(r) + "/labels/" + url.PathEscape(l.Name),
		"name":        l.Name,
		"color":       l.Color,
		"default":     false,
		"description": desc,
	}
}

func (s *Server) labelsJSON(r *repo, names []string) []map[string]any {
	out := []map[string]any{}
	for _, n := range names {
		if l, ok := r.labels[strings.ToLower(n)]; ok {
			out = append(out, s.labelJSON(r, l))
		}
	}
	return out
}

// ensureLabel returns the repository label, creating it with GitHub's
// default color when it does not exist.
func (s *Server) ensureLabel(r *repo, name string) *label {
	if l, ok := r.labels[strings.ToLower(name)]; ok {
		return l
	}
	l := &label{ID: s.newID(), Name: name, Color: "ededed"}
	r.labels[strings.ToLower(name)] = l
	return l
}

func (c *call) issuePull() *pull {
	// Only pull requests exist here, so an issue number is a pull number.
	return c.pull()
}

func (s *Server) issueJSON(r *repo, p *pull) map[string]any {
	j := s.pullJSON(r, p, false)
	out := map[string]any{
		"url":                j["issue_url"],
		"repository_url":     s.repoAPIURL(r),
		"labels_url":         j["issue_url"].(string) + "/labels{/name}",
		"comments_url":       j["comments_url"],
		"html_url":           j["html_url"],
		"id":                 p.ID + 1,
		"node_id":            fmt.Sprintf("I_%d", p.ID),
		"number":             p.Number,
		"title":              p.Title,
		"user":               j["user"],
		"labels":             j["labels"],
		"state":              p.State,
		"locked":             false,
		"assignee":           nil,
		"assignees":          []any{},
		"milestone":          nil,
		"comments":           p.Comments,
		"created_at":         j["created_at"],
		"updated_at":         j["updated_at"],
		"closed_at":          j["closed_at"],
		"author_association": j["author_association"],
		"body":               j["body"],
		"draft":              p.Draft,
		"pull_request": map[string]any{
			"url":       j["url"],
			"html_url":  j["html_url"],
			"diff_url":  j["diff_url"],
			"patch_url": j["patch_url"],
			"merged_at": j["merged_at"],
		},
	}
	if p.State == "closed" {
		if p.Merged {
			out["state_reason"] = "completed"
		} else {
			out["state_reason"] = "not_planned"
		}
	} else {
		out["state_reason"] = nil
	}
	return out
}

func (s *Server) handleGetIssue(c *call) {
	if p := c.issuePull(); p != nil {
		c.writeJSON(http.StatusOK, s.issueJSON(c.repo, p))
	}
}

func (s *Server) handleListIssueLabels(c *call) {
	if p := c.issuePull(); p != nil {
		c.writeJSON(http.StatusOK, paginate(c, s.labelsJSON(c.repo, p.Labels)))
	}
}

// labelNames reads either a bare JSON array of names or {"labels": [...]}.
func (c *call) labelNames() ([]string, bool) {
	var names []string
	if err := json.Unmarshal(c.body, &names); err == nil {
		return names, true
	}
	var obj struct {
		Labels []json.RawMessage `json:"labels"`
	}
	if err := json.Unmarshal(c.body, &obj); err != nil {
		c.fail(http.StatusBadRequest, "Problems parsing JSON")
		return nil, false
	}
	for _, raw := range obj.Labels {
		var name string
		if json.Unmarshal(raw, &name) == nil {
			names = append(names, name)
			continue
		}
		var named struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &named) == nil && named.Name != "" {
			names = append(names, named.Name)
		}
	}
	return names, true
}

// addLabels attaches labels (creating missing repository labels) and sends
// one "labeled" event per newly attached label.
func (s *Server) addLabels(r *repo, p *pull, actor *user, names []string) {
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		l := s.ensureLabel(r, n)
		if hasLabel(p, l.Name) {
			continue
		}
		p.Labels = append(p.Labels, l.Name)
		p.UpdatedAt = s.now()
		s.emitPull(r, p, "labeled", actor, map[string]any{"label": s.labelJSON(r, l)})
	}
}

// removeLabel detaches a label, reporting whether it was attached.
func (s *Server) removeLabel(r *repo, p *pull, actor *user, name string) bool {
	for i, n := range p.Labels {
		if strings.EqualFold(n, name) {
			p.Labels = append(p.Labels[:i:i], p.Labels[i+1:]...)
			p.UpdatedAt = s.now()
			s.emitPull(r, p, "unlabeled", actor, map[string]any{"label": s.labelJSON(r, r.labels[strings.ToLower(n)])})
			return true
		}
	}
	return false
}

func hasLabel(p *pull, name string) bool {
	for _, n := range p.Labels {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

func (s *Server) handleAddIssueLabels(c *call)     { s.setIssueLabels(c, false) }
func (s *Server) handleReplaceIssueLabels(c *call) { s.setIssueLabels(c, true) }

// setIssueLabels adds the labels of the request to the pull request, and
// with replace removes the ones the request does not name first.
func (s *Server) setIssueLabels(c *call, replace bool) {
	p := c.issuePull()
	if p == nil {
		return
	}
	names, ok := c.labelNames()
	if !ok {
		return
	}
	if replace {
		keep := map[string]bool{}
		for _, n := range names {
			keep[strings.ToLower(n)] = true
		}
		for _, n := range append([]string(nil), p.Labels...) {
			if !keep[strings.ToLower(n)] {
				s.removeLabel(c.repo, p, c.actor(), n)
			}
		}
	}
	s.addLabels(c.repo, p, c.actor(), names)
	c.writeJSON(http.StatusOK, s.labelsJSON(c.repo, p.Labels))
}

func (s *Server) handleClearIssueLabels(c *call) {
	p := c.issuePull()
	if p == nil {
		return
	}
	for _, n := range append([]string(nil), p.Labels...) {
		s.removeLabel(c.repo, p, c.actor(), n)
	}
	c.noContent()
}

func (s *Server) handleRemoveIssueLabel(c *call) {
	p := c.issuePull()
	if p == nil {
		return
	}
	if !s.removeLabel(c.repo, p, c.actor(), c.r.PathValue("name")) {
		c.fail(http.StatusNotFound, "Label does not exist")
		return
	}
	c.writeJSON(http.StatusOK, s.labelsJSON(c.repo, p.Labels))
}

func (s *Server) sortedLabels(r *repo) []*label {
	out := make([]*label, 0, len(r.labels))
	for _, l := range r.labels {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

func (s *Server) handleListRepoLabels(c *call) {
	list := []map[string]any{}
	for _, l := range paginate(c, s.sortedLabels(c.repo)) {
		list = append(list, s.labelJSON(c.repo, l))
	}
	c.writeJSON(http.StatusOK, list)
}

func (s *Server) handleCreateRepoLabel(c *call) {
	var req struct {
		Name        string `json:"name"`
		Color       string `json:"color"`
		Description string `json:"description"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Name == "" {
		c.invalid(fieldError{Resource: "Label", Field: "name", Code: "missing_field"})
		return
	}
	if _, ok := c.repo.labels[strings.ToLower(req.Name)]; ok {
		c.invalid(fieldError{Resource: "Label", Field: "name", Code: "already_exists"})
		return
	}
	color := strings.TrimPrefix(req.Color, "#")
	if color == "" {
		color = "ededed"
	}
	l := &label{ID: s.newID(), Name: req.Name, Color: color, Description: req.Description}
	c.repo.labels[strings.ToLower(req.Name)] = l
	c.writeJSON(http.StatusCreated, s.labelJSON(c.repo, l))
}

func (s *Server) handleGetRepoLabel(c *call) {
	l, ok := c.repo.labels[strings.ToLower(c.r.PathValue("name"))]
	if !ok {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	c.writeJSON(http.StatusOK, s.labelJSON(c.repo, l))
}

func (s *Server) commentJSON(r *repo, cm *comment) map[string]any {
	issueURL := fmt.Sprintf("%s/issues/%d", s.repoAPIURL(r), cm.Number)
	return map[string]any{
		"id":                 cm.ID,
		"node_id":            fmt.Sprintf("IC_%d", cm.ID),
		"url":                fmt.Sprintf("%s/issues/comments/%d", s.repoAPIURL(r), cm.ID),
		"html_url":           fmt.Sprintf("%s/pull/%d#issuecomment-%d", s.repoHTMLURL(r), cm.Number, cm.ID),
		"issue_url":          issueURL,
		"body":               cm.Body,
		"user":               s.userJSON(cm.User),
		"created_at":         isoTime(cm.CreatedAt),
		"updated_at":         isoTime(cm.UpdatedAt),
		"author_association": authorAssociation(r, cm.User),
	}
}

// addComment posts an issue comment and sends issue_comment "created".
func (s *Server) addComment(r *repo, p *pull, actor *user, body string) *comment {
	now := s.now()
	cm := &comment{ID: s.newID(), Number: p.Number, User: actor, Body: body, CreatedAt: now, UpdatedAt: now}
	r.comments = append(r.comments, cm)
	p.Comments++
	s.emitIssueComment(r, p, cm, "created", actor, nil)
	return cm
}

func (s *Server) handleListComments(c *call) {
	p := c.issuePull()
	if p == nil {
		return
	}
	list := []map[string]any{}
	var mine []*comment
	for _, cm := range c.repo.comments {
		if cm.Number == p.Number {
			mine = append(mine, cm)
		}
	}
	for _, cm := range paginate(c, mine) {
		list = append(list, s.commentJSON(c.repo, cm))
	}
	c.writeJSON(http.StatusOK, list)
}

func (s *Server) handleCreateComment(c *call) {
	p := c.issuePull()
	if p == nil {
		return
	}
	body, ok := c.commentBody()
	if !ok {
		return
	}
	cm := s.addComment(c.repo, p, c.actor(), body)
	c.writeJSON(http.StatusCreated, s.commentJSON(c.repo, cm))
}

func (s *Server) handleEditComment(c *call) {
	id, ok := c.pathInt("comment_id")
	if !ok {
		return
	}
	var cm *comment
	for _, x := range c.repo.comments {
		if x.ID == id {
			cm = x
		}
	}
	if cm == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	body, ok := c.commentBody()
	if !ok {
		return
	}
	if body != cm.Body {
		old := cm.Body
		cm.Body = body
		cm.UpdatedAt = s.now()
		s.emitIssueComment(c.repo, c.repo.pulls[cm.Number], cm, "edited", c.actor(),
			map[string]any{"changes": map[string]any{"body": map[string]string{"from": old}}})
	}
	c.writeJSON(http.StatusOK, s.commentJSON(c.repo, cm))
}

// commentBody decodes and checks the body of a comment request, answering
// the request as GitHub does when it is missing or too long.
func (c *call) commentBody() (string, bool) {
	var req struct {
		Body *string `json:"body"`
	}
	if !c.decode(&req) {
		return "", false
	}
	if req.Body == nil || *req.Body == "" {
		c.invalid(fieldError{Resource: "IssueComment", Field: "body", Code: "missing_field"})
		return "", false
	}
	if len(*req.Body) > 65536 {
		c.invalid(fieldError{Resource: "IssueComment", Field: "data", Code: "custom", Message: "Body is too long (maximum is 65536 characters)"})
		return "", false
	}
	return *req.Body, true
}
