package githubtest

import (
	"fmt"
	"sort"
	"strings"
)

// The methods in this file act as the human user (Options.UserLogin) would
// on github.com. They go through the same state transitions as the HTTP
// API, so they send the same webhooks. Repositories are named "owner/name".
// They panic on an unknown repository, pull request or check run, which is
// a mistake in the calling test.

// PullRequest is a snapshot of a pull request.
type PullRequest struct {
	Number         int
	Title          string
	Body           string
	State          string // open, closed
	Draft          bool
	User           string // author login
	Head           string // branch
	HeadRepo       string // "owner/name" of the head branch's repository
	Base           string // branch
	HeadSHA        string
	BaseSHA        string
	Merged         bool
	MergedBy       string
	MergeCommitSHA string
	// Mergeable is nil when unknown (closed pull requests).
	Mergeable *bool
	Labels    []string
}

// CheckRun is a snapshot of a check run with all its annotations.
type CheckRun struct {
	ID          int64
	Name        string
	HeadSHA     string
	ExternalID  string
	DetailsURL  string
	Status      string
	Conclusion  string
	Title       string
	Summary     string
	Text        string
	Annotations []Annotation
	// Actions are the requested action buttons, each with label,
	// description and identifier.
	Actions []map[string]string
}

// Annotation is one check run annotation. Columns are 0 when unset.
type Annotation struct {
	Path        string
	StartLine   int
	EndLine     int
	StartColumn int
	EndColumn   int
	Level       string // notice, warning, failure
	Message     string
	Title       string
	RawDetails  string
}

// Comment is an issue comment on a pull request.
type Comment struct {
	ID   int64
	User string
	Body string
}

// Commit makes one commit on branch that writes each file (path ->
// content) and deletes paths whose value is nil, then pushes it. A missing
// branch is created from the default branch. It returns the commit id.
func (s *Server) Commit(repoName, branch, message string, files map[string]*string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	parent := r.branchHead(branch)
	if parent == "" {
		parent = r.branchHead(r.DefaultBranch)
	}
	flat := r.flatAt(parent)
	for p, content := range files {
		p = strings.Trim(p, "/")
		if content == nil {
			delete(flat, p)
			removePath(flat, p, true)
			continue
		}
		mode := modeFile
		if old, ok := flat[p]; ok {
			mode = old.Mode
		}
		setPath(flat, p, fileEntry{Mode: mode, SHA: r.git.putBlob([]byte(*content))})
	}
	sig := s.human.signature(s.now())
	var parents []string
	if parent != "" {
		parents = []string{parent}
	}
	sha := r.git.putCommit(&gitCommit{Tree: r.git.buildTree(flat), Parents: parents, Author: sig, Committer: sig, Message: message})
	s.setRef(r, "refs/heads/"+branch, sha, s.human)
	return sha
}

// SetBranch points branch at commit sha (force-push), creating the branch
// if needed.
func (s *Server) SetBranch(repoName, branch, sha string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	if _, ok := r.git.commits[sha]; !ok {
		return fmt.Errorf("no commit %s in %s", sha, repoName)
	}
	s.setRef(r, "refs/heads/"+branch, sha, s.human)
	return nil
}

// DeleteBranch deletes a branch; pull requests from or into it are closed.
func (s *Server) DeleteBranch(repoName, branch string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	if r.branchHead(branch) == "" {
		return fmt.Errorf("no branch %s in %s", branch, repoName)
	}
	if branch == r.DefaultBranch {
		return fmt.Errorf("cannot delete the default branch %s", branch)
	}
	s.setRef(r, "refs/heads/"+branch, "", s.human)
	return nil
}

// OpenPR opens a pull request from head into base and returns its number.
// It panics when GitHub would refuse it (for example "No commits between").
func (s *Server) OpenPR(repoName, head, base, title, body string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	p, f := s.openPull(r, s.human, title, body, head, base, false, true)
	if f != nil {
		panic(fmt.Sprintf("githubtest: opening pull request %s -> %s in %s: %v", head, base, repoName, f))
	}
	return p.Number
}

// OpenForkPR opens a pull request into repoName's base branch from head,
// "owner:branch" naming a branch of owner's fork (see Fork), as the fork's
// owner does, and returns its number. It panics when GitHub would refuse.
func (s *Server) OpenForkPR(repoName, head, base, title, body string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	owner, _, ok := strings.Cut(head, ":")
	fork := s.networkRepo(r, owner)
	if !ok || fork == nil {
		panic(fmt.Sprintf("githubtest: %q names no fork of %s", head, repoName))
	}
	p, f := s.openPull(r, fork.Owner, title, body, head, base, false, true)
	if f != nil {
		panic(fmt.Sprintf("githubtest: opening pull request %s -> %s in %s: %v", head, base, repoName, f))
	}
	return p.Number
}

func (s *Server) mustPull(r *repo, number int) *pull {
	p, ok := r.pulls[number]
	if !ok {
		panic(fmt.Sprintf("githubtest: no pull request #%d in %s", number, r.fullName()))
	}
	return p
}

// MergePR merges a pull request with method "merge", "squash" or "rebase"
// and returns the commit now at the head of the base branch.
func (s *Server) MergePR(repoName string, number int, method string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	sha, f := s.mergePull(r, s.mustPull(r, number), s.human, method, "", nil, nil)
	if f != nil {
		return "", f
	}
	return sha, nil
}

// ClosePR closes a pull request without merging it.
func (s *Server) ClosePR(repoName string, number int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	if f := s.closePull(r, s.mustPull(r, number), s.human); f != nil {
		return f
	}
	return nil
}

// ReopenPR reopens a closed, unmerged pull request.
func (s *Server) ReopenPR(repoName string, number int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	if f := s.reopenPull(r, s.mustPull(r, number), s.human); f != nil {
		return f
	}
	return nil
}

// ChangePRBase points an open pull request at another base branch, as
// "Edit" next to its title does on github.com, which sends "edited" with
// changes.base.ref.from and changes.base.sha.from.
func (s *Server) ChangePRBase(repoName string, number int, base string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	if f := s.editPull(r, s.mustPull(r, number), s.human, nil, nil, &base); f != nil {
		return f
	}
	return nil
}

// EditPR changes a pull request's title and body.
func (s *Server) EditPR(repoName string, number int, title, body string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	if f := s.editPull(r, s.mustPull(r, number), s.human, &title, &body, nil); f != nil {
		return f
	}
	return nil
}

// AddLabel attaches a label to a pull request, creating the repository
// label if needed.
func (s *Server) AddLabel(repoName string, number int, label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	s.addLabels(r, s.mustPull(r, number), s.human, []string{label})
}

// RemoveLabel detaches a label from a pull request.
func (s *Server) RemoveLabel(repoName string, number int, label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	s.removeLabel(r, s.mustPull(r, number), s.human, label)
}

// AddComment posts a comment on a pull request as the human user.
func (s *Server) AddComment(repoName string, number int, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	return s.addComment(r, s.mustPull(r, number), s.human, body).ID
}

func (s *Server) snapshotPull(r *repo, p *pull) PullRequest {
	s.refresh(r, p)
	out := PullRequest{
		Number: p.Number, Title: p.Title, Body: p.Body, State: p.State, Draft: p.Draft, User: p.User.Login,
		Head: p.Head, HeadRepo: p.headRepo.fullName(), Base: p.Base, HeadSHA: p.HeadSHA, BaseSHA: p.BaseSHA, Merged: p.Merged,
		MergeCommitSHA: p.MergeCommitSHA, Labels: append([]string(nil), p.Labels...),
	}
	if p.MergedBy != nil {
		out.MergedBy = p.MergedBy.Login
	}
	if p.State == "open" && p.mergeable != nil {
		m := *p.mergeable
		out.Mergeable = &m
	}
	return out
}

// PR returns a pull request.
func (s *Server) PR(repoName string, number int) (PullRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	p, ok := r.pulls[number]
	if !ok {
		return PullRequest{}, false
	}
	return s.snapshotPull(r, p), true
}

// PRs returns every pull request of a repository, by number.
func (s *Server) PRs(repoName string) []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	var out []PullRequest
	for _, p := range r.sortedPulls() {
		out = append(out, s.snapshotPull(r, p))
	}
	return out
}

// File returns a file's content at ref (branch, tag or commit id).
func (s *Server) File(repoName, ref, path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	sha := r.resolveCommit(ref)
	if sha == "" {
		return "", false
	}
	e, ok := r.git.lookupPath(r.treeOf(sha), path)
	if !ok || e.Type != "blob" {
		return "", false
	}
	return string(r.git.blobs[e.SHA]), true
}

// Tree returns every file (path -> content) at ref, or nil when the ref
// does not exist.
func (s *Server) Tree(repoName, ref string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	sha := r.resolveCommit(ref)
	if sha == "" {
		return nil
	}
	out := map[string]string{}
	for p, f := range r.flatAt(sha) {
		out[p] = string(r.git.blobs[f.SHA])
	}
	return out
}

// Head returns the commit at the head of branch, or "".
func (s *Server) Head(repoName, branch string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustRepo(repoName).branchHead(branch)
}

// CommitInfo describes one commit.
type CommitInfo struct {
	SHA     string
	Tree    string
	Parents []string
	Message string
	Author  string // name
}

// CommitOf returns a commit's tree, parents and message.
func (s *Server) CommitOf(repoName, sha string) (CommitInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	c, ok := r.git.commits[sha]
	if !ok {
		return CommitInfo{}, false
	}
	return CommitInfo{SHA: sha, Tree: c.Tree, Parents: append([]string(nil), c.Parents...), Message: c.Message, Author: c.Author.Name}, true
}

// CheckRuns returns the check runs on commit sha, oldest first.
func (s *Server) CheckRuns(repoName, sha string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	var out []CheckRun
	for _, run := range r.runsFor(sha) {
		out = append(out, CheckRun{
			ID: run.ID, Name: run.Name, HeadSHA: run.HeadSHA, ExternalID: run.ExternalID, DetailsURL: run.DetailsURL,
			Status: run.Status, Conclusion: run.Conclusion, Title: run.Title, Summary: run.Summary, Text: run.Text,
			Annotations: append([]Annotation(nil), run.Annotations...), Actions: append([]map[string]string(nil), run.Actions...),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Comments returns a pull request's comments, oldest first.
func (s *Server) Comments(repoName string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	var out []Comment
	for _, cm := range r.comments {
		if cm.Number == number {
			out = append(out, Comment{ID: cm.ID, User: cm.User.Login, Body: cm.Body})
		}
	}
	return out
}

// Labels returns the labels on a pull request.
func (s *Server) Labels(repoName string, number int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	return append([]string(nil), s.mustPull(r, number).Labels...)
}

// RerequestCheckRun sends check_run "rerequested" for a run, as when a user
// clicks "Re-run".
func (s *Server) RerequestCheckRun(repoName string, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	s.emitCheckRun(r, s.runByID(r, id), "rerequested", s.human, nil)
}

// RequestCheckRunAction sends check_run "requested_action" for one of a
// run's action buttons.
func (s *Server) RequestCheckRunAction(repoName string, id int64, identifier string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	s.emitCheckRun(r, s.runByID(r, id), "requested_action", s.human,
		map[string]any{"requested_action": map[string]string{"identifier": identifier}})
}

// RerequestCheckSuite sends check_suite "rerequested" for the App's suite
// on commit sha (creating the suite if the commit has none).
func (s *Server) RerequestCheckSuite(repoName, sha string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	if _, ok := r.git.commits[sha]; !ok {
		return fmt.Errorf("no commit %s in %s", sha, repoName)
	}
	cs, _ := s.suiteFor(r, sha, r.branchFor(sha))
	s.emitCheckSuite(r, cs, "rerequested", s.human)
	return nil
}
