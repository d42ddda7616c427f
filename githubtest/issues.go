package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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

// handleAddIssueLabels adds the labels of the request to the pull request,
// keeping those it has.
func (s *Server) handleAddIssueLabels(c *call) {
	p := c.issuePull()
	if p == nil {
		return
	}
	names, ok := c.labelNames()
	if !ok {
		return
	}
	s.addLabels(c.repo, p, c.actor(), names)
	c.writeJSON(http.StatusOK, s.labelsJSON(c.repo, p.Labels))
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

// maxCommentBytes is the limit of an issue comment's body, in bytes.
const maxCommentBytes = 262144

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
	// Comments are limited to 262,144 bytes of UTF-8, whatever the message
	// says: 65,536 four-byte emoji pass and one byte more is refused
	// (dead-claudia/github-limits#13; objectstack-ai/objectstack#18793
	// bisected the same figure). The error's shape, capital B and field
	// "data" included, is observed in telia-oss/github-pr-resource#259.
	if len(*req.Body) > maxCommentBytes {
		c.invalid(fieldError{Resource: "IssueComment", Field: "data", Code: "unprocessable", Message: "Body is too long (maximum is 65536 characters)"})
		return "", false
	}
	return *req.Body, true
}
