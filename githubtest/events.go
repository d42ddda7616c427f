package githubtest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// maxPushCommits and maxPushFiles are the webhook caps for push payloads.
const (
	maxPushCommits = 2048
	maxPushFiles   = 3000
)

// setRef moves, creates (old absent) or deletes (sha "") a ref and does
// what GitHub does after a push: a push event, a check suite "requested"
// for a new branch head, "synchronize" on pull requests from the branch,
// and closing pull requests whose head or base branch was deleted.
func (s *Server) setRef(r *repo, ref, sha string, actor *user) {
	old := r.refs[ref]
	if old == sha {
		return
	}
	if sha == "" {
		delete(r.refs, ref)
	} else {
		r.refs[ref] = sha
	}
	now := s.now()
	r.PushedAt = now

	var commits []string
	switch {
	case sha == "":
	case old == "":
		var others []string
		for k, v := range r.refs {
			if k != ref {
				others = append(others, v)
			}
		}
		sort.Strings(others)
		commits = r.git.commitsBetween(others, sha)
	default:
		commits = r.git.commitsBetween([]string{old}, sha)
	}
	if len(commits) > maxPushCommits {
		commits = commits[len(commits)-maxPushCommits:]
	}
	forced := old != "" && sha != "" && !r.git.isAncestor(old, sha)
	list := []map[string]any{}
	var head any
	for _, c := range commits {
		distinct := !r.pushed[c]
		r.pushed[c] = true
		list = append(list, s.pushCommitJSON(r, c, distinct))
	}
	if sha != "" {
		if len(list) > 0 && list[len(list)-1]["id"] == sha {
			head = list[len(list)-1]
		} else {
			head = s.pushCommitJSON(r, sha, false)
		}
	}
	before, after := old, sha
	if before == "" {
		before = zeroSHA
	}
	if after == "" {
		after = zeroSHA
	}
	short := func(x string) string { return x[:12] }
	compare := fmt.Sprintf("%s/compare/%s...%s", s.repoHTMLURL(r), short(before), short(after))
	if old == "" {
		compare = fmt.Sprintf("%s/compare/%s", s.repoHTMLURL(r), strings.TrimPrefix(strings.TrimPrefix(ref, "refs/heads/"), "refs/tags/"))
	}
	s.emit(r, "push", "", actor, map[string]any{
		"ref":         ref,
		"before":      before,
		"after":       after,
		"repository":  s.pushRepoJSON(r),
		"pusher":      map[string]any{"name": actor.Login, "email": actor.email()},
		"created":     old == "",
		"deleted":     sha == "",
		"forced":      forced,
		"base_ref":    nil,
		"compare":     compare,
		"commits":     list,
		"head_commit": head,
	})

	branch, isBranch := strings.CutPrefix(ref, "refs/heads/")
	if !isBranch {
		return
	}
	if sha != "" {
		if cs, created := s.suiteFor(r, sha, branch); created {
			if old != "" {
				cs.Before = old
			} else {
				cs.Before = zeroSHA
			}
			s.emitCheckSuite(r, cs, "requested", actor)
		}
	}
	s.updatePulls(r, branch, old, sha, actor)
}

// updatePulls does what a branch move or deletion does to the open pull
// requests from that branch (in r's repository or another one of its fork
// network: "synchronize", or closing on deletion) and into it (closing on
// deletion).
func (s *Server) updatePulls(r *repo, branch, old, sha string, actor *user) {
	now := s.now()
	for _, base := range s.sortedRepos() {
		if base != r && base.git != r.git {
			continue
		}
		for _, p := range base.sortedPulls() {
			if p.State != "open" {
				continue
			}
			fromBranch := p.headRepo == r && p.Head == branch
			switch {
			case fromBranch && sha == "":
				s.closePull(base, p, actor)
			case fromBranch:
				s.refresh(base, p)
				p.UpdatedAt = now
				s.emitPull(base, p, "synchronize", actor, map[string]any{"before": old, "after": sha})
			case base == r && p.Base == branch && sha == "":
				s.closePull(base, p, actor)
			}
		}
	}
}

// pushCommitJSON is one commit of a push payload, with its file lists
// against the first parent.
func (s *Server) pushCommitJSON(r *repo, sha string, distinct bool) map[string]any {
	c := r.git.commits[sha]
	parent := ""
	if len(c.Parents) > 0 {
		parent = c.Parents[0]
	}
	added, removed, modified := []string{}, []string{}, []string{}
	for _, ch := range diffTrees(r.flatAt(parent), r.flatAt(sha)) {
		switch ch.Status {
		case "added":
			added = append(added, ch.Path)
		case "removed":
			removed = append(removed, ch.Path)
		case "modified":
			modified = append(modified, ch.Path)
		case "renamed":
			removed = append(removed, ch.PreviousPath)
			added = append(added, ch.Path)
		}
	}
	capList := func(l []string) []string {
		sort.Strings(l)
		if len(l) > maxPushFiles {
			return l[:maxPushFiles]
		}
		return l
	}
	person := func(sig signature) map[string]any {
		p := map[string]any{"name": sig.Name, "email": sig.Email}
		if u := s.userByEmail(sig.Email); u != nil {
			p["username"] = u.Login
		}
		return p
	}
	return map[string]any{
		"id":        sha,
		"tree_id":   c.Tree,
		"distinct":  distinct,
		"message":   c.Message,
		"timestamp": c.Committer.When.Format(time.RFC3339),
		"url":       s.repoHTMLURL(r) + "/commit/" + sha,
		"author":    person(c.Author),
		"committer": person(c.Committer),
		"added":     capList(added),
		"removed":   capList(removed),
		"modified":  capList(modified),
	}
}

func (s *Server) orgJSON(u *user) map[string]any {
	return map[string]any{
		"login":       u.Login,
		"id":          u.ID,
		"node_id":     fmt.Sprintf("O_%d", u.ID),
		"url":         s.apiURL() + "orgs/" + u.Login,
		"repos_url":   s.apiURL() + "orgs/" + u.Login + "/repos",
		"hooks_url":   s.apiURL() + "orgs/" + u.Login + "/hooks",
		"issues_url":  s.apiURL() + "orgs/" + u.Login + "/issues",
		"members_url": s.apiURL() + "orgs/" + u.Login + "/members{/member}",
		"avatar_url":  fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", u.ID),
		"description": nil,
	}
}

// emit records a webhook for repository r from actor. Nothing is sent when
// the App's installation does not cover the repository, as on GitHub.
func (s *Server) emit(r *repo, event, action string, actor *user, payload map[string]any) {
	inst := s.installationFor(r.Owner)
	if inst == nil || !inst.covers(r) {
		return
	}
	if action != "" {
		payload["action"] = action
	}
	if _, ok := payload["repository"]; !ok {
		payload["repository"] = s.repoJSON(r)
	}
	if r.Owner.Type == "Organization" {
		payload["organization"] = s.orgJSON(r.Owner)
	}
	payload["sender"] = s.userJSON(actor)
	payload["installation"] = map[string]any{"id": inst.ID, "node_id": fmt.Sprintf("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u%d", inst.ID)}
	body, err := json.Marshal(payload)
	if err != nil {
		panic(fmt.Sprintf("githubtest: encoding %s payload: %v", event, err))
	}
	s.hooks.enqueue(&delivery{
		GUID: newGUID(), Event: event, Action: action, Repo: r.fullName(), RepoID: r.ID,
		InstallationID: inst.ID, Payload: body, Created: s.now(),
	})
}

func (s *Server) emitPull(r *repo, p *pull, action string, actor *user, extra map[string]any) {
	payload := map[string]any{
		"number":       p.Number,
		"pull_request": s.pullJSON(r, p, true),
	}
	for k, v := range extra {
		payload[k] = v
	}
	s.emit(r, "pull_request", action, actor, payload)
}

func (s *Server) emitCheckSuite(r *repo, cs *checkSuite, action string, actor *user) {
	s.emit(r, "check_suite", action, actor, map[string]any{"check_suite": s.suiteJSON(r, cs)})
}

func (s *Server) emitCheckRun(r *repo, run *checkRun, action string, actor *user, extra map[string]any) {
	payload := map[string]any{"check_run": s.checkRunJSON(r, run, true)}
	for k, v := range extra {
		payload[k] = v
	}
	s.emit(r, "check_run", action, actor, payload)
}

func (s *Server) emitIssueComment(r *repo, p *pull, cm *comment, action string, actor *user, extra map[string]any) {
	payload := map[string]any{
		"issue":   s.issueJSON(r, p),
		"comment": s.commentJSON(r, cm),
	}
	for k, v := range extra {
		payload[k] = v
	}
	s.emit(r, "issue_comment", action, actor, payload)
}
