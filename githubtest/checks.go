package githubtest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// checkSuite groups the App's check runs for one head commit.
type checkSuite struct {
	ID         int64
	HeadSHA    string
	HeadBranch string
	Before     string
	After      string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	runs       []*checkRun
	status     string // set when no run exists yet
}

// checkRun is one check run with its accumulated annotations.
type checkRun struct {
	ID          int64
	Name        string
	HeadSHA     string
	ExternalID  string
	DetailsURL  string
	Status      string
	Conclusion  string
	StartedAt   time.Time
	CompletedAt *time.Time
	Title       string
	Summary     string
	Text        string
	HasOutput   bool
	Annotations []Annotation
	Images      []map[string]string
	Actions     []map[string]string
	suite       *checkSuite
	repo        *repo
}

var (
	runStatuses    = map[string]bool{"queued": true, "in_progress": true, "completed": true}
	runConclusions = map[string]bool{"action_required": true, "cancelled": true, "failure": true, "neutral": true, "success": true, "skipped": true, "timed_out": true}
	levels         = map[string]bool{"notice": true, "warning": true, "failure": true}
)

// Checks API limits (https://docs.github.com/rest/checks/runs).
const (
	maxOutputLen      = 65535
	maxAnnotations    = 50
	maxAnnotationText = 64 * 1024
	maxAnnotationName = 255
	maxActions        = 3
)

type annotationRequest struct {
	Path            *string `json:"path"`
	StartLine       *int    `json:"start_line"`
	EndLine         *int    `json:"end_line"`
	StartColumn     *int    `json:"start_column"`
	EndColumn       *int    `json:"end_column"`
	AnnotationLevel *string `json:"annotation_level"`
	Message         *string `json:"message"`
	Title           *string `json:"title"`
	RawDetails      *string `json:"raw_details"`
}

type checkRunRequest struct {
	Name        *string              `json:"name"`
	HeadSHA     *string              `json:"head_sha"`
	DetailsURL  *string              `json:"details_url"`
	ExternalID  *string              `json:"external_id"`
	Status      *string              `json:"status"`
	Conclusion  *string              `json:"conclusion"`
	StartedAt   *string              `json:"started_at"`
	CompletedAt *string              `json:"completed_at"`
	Output      *checkRunOutput      `json:"output"`
	Actions     []map[string]*string `json:"actions"`
}

type checkRunOutput struct {
	Title       *string              `json:"title"`
	Summary     *string              `json:"summary"`
	Text        *string              `json:"text"`
	Annotations []annotationRequest  `json:"annotations"`
	Images      []map[string]*string `json:"images"`
}

func invalidRequest(msg string) *failure {
	return newFailure(http.StatusUnprocessableEntity, "Invalid request.\n\n"+msg)
}

func missing(field string) *failure {
	return invalidRequest(fmt.Sprintf("%q wasn't supplied.", field))
}

// checkText enforces GitHub's two limits on summary and text, both 65,535:
//   - the request schema counts characters (maxLength 65535 in the
//     rest-api-description schema) and answers 422 "Invalid request.\n\nOnly
//     65535 characters are allowed; N were supplied." with no errors array
//     (observed in siddharthkp/bundlesize2#7, reviewdog/action-rubocop#67);
//   - the model counts bytes and answers 422 "Validation Failed" with
//     {resource CheckRun, code custom, field summary, "summary exceeds a
//     maximum bytesize of 65535"} (github/docs#35252, SQLMesh/sqlmesh#1670).
//
// So the byte limit is the one that binds for text that is not ASCII.
func checkText(field, v string) *failure {
	if n := utf8.RuneCountInString(v); n > maxOutputLen {
		return invalidRequest(fmt.Sprintf("Only %d characters are allowed; %d were supplied.", maxOutputLen, n))
	}
	if len(v) > maxOutputLen {
		return newValidation(fieldError{Resource: "CheckRun", Code: "custom", Field: field,
			Message: fmt.Sprintf("%s exceeds a maximum bytesize of %d", field, maxOutputLen)})
	}
	return nil
}

// validateCheckRun checks a create or update request.
func validateCheckRun(req *checkRunRequest, create bool) *failure {
	if create || req.Name != nil {
		if req.Name == nil {
			return missing("name")
		}
		if *req.Name == "" {
			return newValidation(fieldError{Resource: "CheckRun", Field: "name", Code: "missing_field"})
		}
	}
	if create && (req.HeadSHA == nil || *req.HeadSHA == "") {
		return missing("head_sha")
	}
	if req.Status != nil && !runStatuses[*req.Status] {
		return invalidRequest(fmt.Sprintf("For 'properties/status', %q is not a member of enum.", *req.Status))
	}
	if req.Conclusion != nil && !runConclusions[*req.Conclusion] {
		return invalidRequest(fmt.Sprintf("For 'properties/conclusion', %q is not a member of enum.", *req.Conclusion))
	}
	if req.Status != nil && *req.Status == "completed" && req.Conclusion == nil {
		return newValidation(fieldError{Resource: "CheckRun", Field: "conclusion", Code: "missing_field",
			Message: "conclusion must be specified when status is completed"})
	}
	for _, ts := range []*string{req.StartedAt, req.CompletedAt} {
		if ts != nil {
			if _, err := time.Parse(time.RFC3339, *ts); err != nil {
				return invalidRequest(fmt.Sprintf("%q is not a valid ISO 8601 timestamp.", *ts))
			}
		}
	}
	if len(req.Actions) > maxActions {
		return invalidRequest(fmt.Sprintf("No more than %d actions are allowed; %d were supplied.", maxActions, len(req.Actions)))
	}
	for _, a := range req.Actions {
		for field, max := range map[string]int{"label": 20, "description": 40, "identifier": 20} {
			v := a[field]
			if v == nil {
				return missing(field)
			}
			if utf8.RuneCountInString(*v) > max {
				return newValidation(fieldError{Resource: "CheckRun", Field: "actions." + field, Code: "custom",
					Message: fmt.Sprintf("%s is too long (maximum is %d characters)", field, max)})
			}
		}
	}
	if req.Output == nil {
		return nil
	}
	return validateOutput(req.Output)
}

// validateOutput checks a check run's output: its texts, annotations and
// images.
func validateOutput(o *checkRunOutput) *failure {
	if o.Title == nil {
		return missing("title")
	}
	if o.Summary == nil {
		return missing("summary")
	}
	if f := checkText("summary", *o.Summary); f != nil {
		return f
	}
	if o.Text != nil {
		if f := checkText("text", *o.Text); f != nil {
			return f
		}
	}
	if len(o.Annotations) > maxAnnotations {
		return invalidRequest(fmt.Sprintf("No more than %d annotations are allowed per request; %d were supplied.", maxAnnotations, len(o.Annotations)))
	}
	for _, a := range o.Annotations {
		if f := validateAnnotation(a); f != nil {
			return f
		}
	}
	for _, img := range o.Images {
		if img["alt"] == nil {
			return missing("alt")
		}
		if img["image_url"] == nil {
			return missing("image_url")
		}
	}
	return nil
}

// validateAnnotation checks one annotation of a check run's output.
func validateAnnotation(a annotationRequest) *failure {
	switch {
	case a.Path == nil:
		return missing("path")
	case a.StartLine == nil:
		return missing("start_line")
	case a.EndLine == nil:
		return missing("end_line")
	case a.AnnotationLevel == nil:
		return missing("annotation_level")
	case a.Message == nil:
		return missing("message")
	}
	if !levels[*a.AnnotationLevel] {
		return invalidRequest(fmt.Sprintf("For 'properties/annotation_level', %q is not a member of enum.", *a.AnnotationLevel))
	}
	if *a.StartLine < 1 || *a.EndLine < *a.StartLine {
		return newValidation(fieldError{Resource: "CheckRun", Field: "annotations", Code: "custom",
			Message: "start_line must be at least 1 and end_line must not be before start_line"})
	}
	if (a.StartColumn != nil || a.EndColumn != nil) && *a.StartLine != *a.EndLine {
		return newValidation(fieldError{Resource: "CheckRun", Field: "annotations", Code: "custom",
			Message: "start_column and end_column may only be used when start_line and end_line are the same"})
	}
	if len(*a.Message) > maxAnnotationText || (a.RawDetails != nil && len(*a.RawDetails) > maxAnnotationText) {
		return newValidation(fieldError{Resource: "CheckRun", Field: "annotations", Code: "custom",
			Message: fmt.Sprintf("message and raw_details may be at most %d bytes", maxAnnotationText)})
	}
	if a.Title != nil && utf8.RuneCountInString(*a.Title) > maxAnnotationName {
		return newValidation(fieldError{Resource: "CheckRun", Field: "annotations", Code: "custom",
			Message: fmt.Sprintf("title is too long (maximum is %d characters)", maxAnnotationName)})
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// apply copies a validated request onto the run, appending annotations.
func (s *Server) applyCheckRun(run *checkRun, req *checkRunRequest) {
	if req.Name != nil {
		run.Name = *req.Name
	}
	if req.DetailsURL != nil {
		run.DetailsURL = *req.DetailsURL
	}
	if req.ExternalID != nil {
		run.ExternalID = *req.ExternalID
	}
	if req.StartedAt != nil {
		t, _ := time.Parse(time.RFC3339, *req.StartedAt)
		run.StartedAt = t.UTC()
	}
	if req.Status != nil {
		run.Status = *req.Status
	}
	if req.Conclusion != nil {
		run.Conclusion = *req.Conclusion
		run.Status = "completed"
	}
	if run.Status == "completed" && run.CompletedAt == nil {
		t := s.now()
		if req.CompletedAt != nil {
			t, _ = time.Parse(time.RFC3339, *req.CompletedAt)
			t = t.UTC()
		}
		run.CompletedAt = &t
	}
	if o := req.Output; o != nil {
		run.HasOutput = true
		run.Title = *o.Title
		run.Summary = *o.Summary
		if o.Text != nil {
			run.Text = *o.Text
		}
		for _, a := range o.Annotations {
			run.Annotations = append(run.Annotations, Annotation{
				Path: *a.Path, StartLine: *a.StartLine, EndLine: *a.EndLine,
				StartColumn: derefInt(a.StartColumn), EndColumn: derefInt(a.EndColumn),
				Level: *a.AnnotationLevel, Message: *a.Message, Title: deref(a.Title), RawDetails: deref(a.RawDetails),
			})
		}
		for _, img := range o.Images {
			m := map[string]string{}
			for k, v := range img {
				if v != nil {
					m[k] = *v
				}
			}
			run.Images = append(run.Images, m)
		}
	}
	if req.Actions != nil {
		run.Actions = nil
		for _, a := range req.Actions {
			run.Actions = append(run.Actions, map[string]string{
				"label": *a["label"], "description": *a["description"], "identifier": *a["identifier"],
			})
		}
	}
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// suiteFor returns the App's check suite for a commit, creating it (without
// an event) when needed.
func (s *Server) suiteFor(r *repo, sha, branch string) (*checkSuite, bool) {
	if cs, ok := r.suites[sha]; ok {
		return cs, false
	}
	now := s.now()
	cs := &checkSuite{ID: s.newID(), HeadSHA: sha, HeadBranch: branch, After: sha, CreatedAt: now, UpdatedAt: now, status: "queued"}
	r.suites[sha] = cs
	s.suites[cs.ID] = cs
	return cs, true
}

func (cs *checkSuite) statusAndConclusion() (string, string) {
	if len(cs.runs) == 0 {
		return cs.status, ""
	}
	allDone, anyStarted := true, false
	for _, run := range cs.runs {
		if run.Status != "completed" {
			allDone = false
		}
		if run.Status != "queued" {
			anyStarted = true
		}
	}
	if !allDone {
		if anyStarted {
			return "in_progress", ""
		}
		return "queued", ""
	}
	// The most severe conclusion wins.
	order := []string{"action_required", "cancelled", "timed_out", "failure", "neutral", "success", "skipped"}
	best := len(order)
	for _, run := range cs.runs {
		for i, c := range order {
			if run.Conclusion == c && i < best {
				best = i
			}
		}
	}
	if best == len(order) {
		return "completed", "success"
	}
	return "completed", order[best]
}

func (s *Server) prRefsJSON(r *repo, sha string) []map[string]any {
	out := []map[string]any{}
	mini := map[string]any{"id": r.ID, "url": s.repoAPIURL(r), "name": r.Name}
	for _, p := range r.sortedPulls() {
		s.refresh(r, p)
		// Pull requests from forks are left out: GitHub matches a suite
		// to the pull requests whose head branch is in the suite's
		// repository (docs.github.com/en/webhooks/webhook-events-and-payloads#check_suite).
		if p.State != "open" || p.HeadSHA != sha || p.headRepo != r {
			continue
		}
		out = append(out, map[string]any{
			"url":    fmt.Sprintf("%s/pulls/%d", s.repoAPIURL(r), p.Number),
			"id":     p.ID,
			"number": p.Number,
			"head":   map[string]any{"ref": p.Head, "sha": p.HeadSHA, "repo": mini},
			"base":   map[string]any{"ref": p.Base, "sha": p.BaseSHA, "repo": mini},
		})
	}
	return out
}

func (s *Server) suiteJSON(r *repo, cs *checkSuite) map[string]any {
	status, conclusion := cs.statusAndConclusion()
	var concl any
	if conclusion != "" {
		concl = conclusion
	}
	var before any
	if cs.Before != "" {
		before = cs.Before
	}
	j := map[string]any{
		"id":                      cs.ID,
		"node_id":                 fmt.Sprintf("CS_%d", cs.ID),
		"head_branch":             cs.HeadBranch,
		"head_sha":                cs.HeadSHA,
		"status":                  status,
		"conclusion":              concl,
		"url":                     fmt.Sprintf("%s/check-suites/%d", s.repoAPIURL(r), cs.ID),
		"before":                  before,
		"after":                   cs.After,
		"pull_requests":           s.prRefsJSON(r, cs.HeadSHA),
		"app":                     s.appJSON(),
		"created_at":              isoTime(cs.CreatedAt),
		"updated_at":              isoTime(cs.UpdatedAt),
		"latest_check_runs_count": len(cs.runs),
		"check_runs_url":          fmt.Sprintf("%s/check-suites/%d/check-runs", s.repoAPIURL(r), cs.ID),
		"rerequestable":           true,
		"runs_rerequestable":      true,
	}
	if c, ok := r.git.commits[cs.HeadSHA]; ok {
		j["head_commit"] = map[string]any{
			"id":        cs.HeadSHA,
			"tree_id":   c.Tree,
			"message":   c.Message,
			"timestamp": c.Committer.When.Format(time.RFC3339),
			"author":    map[string]string{"name": c.Author.Name, "email": c.Author.Email},
			"committer": map[string]string{"name": c.Committer.Name, "email": c.Committer.Email},
		}
	}
	return j
}

func (s *Server) checkRunJSON(r *repo, run *checkRun, fullSuite bool) map[string]any {
	var concl any
	if run.Conclusion != "" {
		concl = run.Conclusion
	}
	nullable := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	url := fmt.Sprintf("%s/check-runs/%d", s.repoAPIURL(r), run.ID)
	output := map[string]any{
		"title":             nullable(run.Title),
		"summary":           nullable(run.Summary),
		"text":              nullable(run.Text),
		"annotations_count": len(run.Annotations),
		"annotations_url":   url + "/annotations",
	}
	suite := map[string]any{"id": run.suite.ID}
	if fullSuite {
		suite = s.suiteJSON(r, run.suite)
	}
	return map[string]any{
		"id":            run.ID,
		"node_id":       fmt.Sprintf("CR_%d", run.ID),
		"head_sha":      run.HeadSHA,
		"external_id":   run.ExternalID,
		"url":           url,
		"html_url":      fmt.Sprintf("%s/runs/%d", s.repoHTMLURL(r), run.ID),
		"details_url":   nullable(run.DetailsURL),
		"status":        run.Status,
		"conclusion":    concl,
		"started_at":    isoTime(run.StartedAt),
		"completed_at":  isoTimePtr(run.CompletedAt),
		"output":        output,
		"name":          run.Name,
		"check_suite":   suite,
		"app":           s.appJSON(),
		"pull_requests": s.prRefsJSON(r, run.HeadSHA),
	}
}

func (s *Server) handleCreateCheckRun(c *call) {
	if c.id.kind != authInstallation {
		c.fail(http.StatusForbidden, "You must authenticate via a GitHub App.")
		return
	}
	r := c.repo
	var req checkRunRequest
	if !c.decode(&req) {
		return
	}
	if f := validateCheckRun(&req, true); f != nil {
		c.failWith(f)
		return
	}
	sha := *req.HeadSHA
	if _, ok := r.git.commits[sha]; !ok {
		c.failWith(newValidation(fieldError{Resource: "CheckRun", Field: "head_sha", Code: "invalid", Message: "No commit found for SHA: " + sha}))
		return
	}
	run := &checkRun{ID: s.newID(), HeadSHA: sha, Status: "queued", StartedAt: s.now(), repo: r}
	run.suite, _ = s.suiteFor(r, sha, r.branchFor(sha))
	s.applyCheckRun(run, &req)
	run.suite.runs = append(run.suite.runs, run)
	run.suite.UpdatedAt = s.now()
	s.runs[run.ID] = run
	s.emitCheckRun(r, run, "created", c.actor(), nil)
	if run.Status == "completed" {
		s.emitCheckRun(r, run, "completed", c.actor(), nil)
		s.maybeCompleteSuite(r, run.suite, c.actor())
	}
	c.writeJSON(http.StatusCreated, s.checkRunJSON(r, run, false))
}

// branchFor names a branch whose head is sha, preferring the default branch.
func (r *repo) branchFor(sha string) string {
	if r.branchHead(r.DefaultBranch) == sha {
		return r.DefaultBranch
	}
	for _, ref := range r.refsWithPrefix("refs/heads/") {
		if r.refs[ref] == sha {
			return ref[len("refs/heads/"):]
		}
	}
	return ""
}

func (s *Server) handleUpdateCheckRun(c *call) {
	if c.id.kind != authInstallation {
		c.fail(http.StatusForbidden, "You must authenticate via a GitHub App.")
		return
	}
	run := c.checkRun()
	if run == nil {
		return
	}
	var req checkRunRequest
	if !c.decode(&req) {
		return
	}
	req.HeadSHA = nil
	if f := validateCheckRun(&req, false); f != nil {
		c.failWith(f)
		return
	}
	wasDone := run.Status == "completed"
	s.applyCheckRun(run, &req)
	run.suite.UpdatedAt = s.now()
	if run.Status == "completed" && !wasDone {
		s.emitCheckRun(c.repo, run, "completed", c.actor(), nil)
		s.maybeCompleteSuite(c.repo, run.suite, c.actor())
	}
	c.writeJSON(http.StatusOK, s.checkRunJSON(c.repo, run, false))
}

// maybeCompleteSuite sends check_suite "completed" once every run is done.
func (s *Server) maybeCompleteSuite(r *repo, cs *checkSuite, actor *user) {
	if status, _ := cs.statusAndConclusion(); status == "completed" {
		s.emitCheckSuite(r, cs, "completed", actor)
	}
}

func (r *repo) runsFor(sha string) []*checkRun {
	cs, ok := r.suites[sha]
	if !ok {
		return nil
	}
	return cs.runs
}

// runByID finds a check run for the Go helpers.
func (s *Server) runByID(r *repo, id int64) *checkRun {
	run, ok := s.runs[id]
	if !ok || run.repo != r {
		panic("githubtest: no check run " + strconv.FormatInt(id, 10) + " in " + r.fullName())
	}
	return run
}

func (c *call) checkRun() *checkRun {
	id, ok := c.pathInt("id")
	if !ok {
		return nil
	}
	run, found := c.s.runs[id]
	if !found || run.repo != c.repo {
		c.fail(http.StatusNotFound, "Not Found")
		return nil
	}
	return run
}

// handleListCheckRuns answers GET /repos/{owner}/{repo}/commits/{ref}/
// check-runs ("List check runs for a Git reference",
// docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference):
// the runs on the commit ref names, optionally only those named
// check_name. More lenient than GitHub: every run is listed, not only the
// latest of each name (filter=latest, GitHub's default), in the order
// they were created, on one page.
func (s *Server) handleListCheckRuns(c *call) {
	r := c.repo
	sha, ok := c.refCommit()
	if !ok {
		return
	}
	name := c.r.URL.Query().Get("check_name")
	runs := []map[string]any{}
	for _, run := range r.runsFor(sha) {
		if name == "" || run.Name == name {
			runs = append(runs, s.checkRunJSON(r, run, false))
		}
	}
	c.writeJSON(http.StatusOK, map[string]any{"total_count": len(runs), "check_runs": runs})
}
