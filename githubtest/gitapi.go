package githubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

func (s *Server) handleGetBlob(c *call) {
	r := c.repo
	sha := c.r.PathValue("sha")
	data, ok := r.git.blobs[sha]
	if !ok {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	// The raw media type returns the content itself
	// (docs.github.com/en/rest/git/blobs#get-a-blob, "Custom media types").
	if accept := c.r.Header.Get("Accept"); strings.Contains(accept, "application/vnd.github.raw") || strings.Contains(accept, "application/vnd.github.v3.raw") {
		c.w.header.Set("Content-Type", "application/vnd.github.raw")
		c.w.status = http.StatusOK
		c.w.body.Reset()
		c.w.body.Write(data)
		return
	}
	c.writeJSON(http.StatusOK, map[string]any{
		"sha":      sha,
		"node_id":  "B_" + sha[:12],
		"size":     len(data),
		"url":      s.repoAPIURL(r) + "/git/blobs/" + sha,
		"content":  base64Wrapped(data),
		"encoding": "base64",
	})
}

func (s *Server) treeEntryJSON(r *repo, p string, e treeEntry) map[string]any {
	j := map[string]any{"path": p, "mode": e.Mode, "type": e.Type, "sha": e.SHA}
	switch e.Type {
	case "blob":
		j["size"] = len(r.git.blobs[e.SHA])
		j["url"] = s.repoAPIURL(r) + "/git/blobs/" + e.SHA
	case "tree":
		j["url"] = s.repoAPIURL(r) + "/git/trees/" + e.SHA
	}
	return j
}

// maxTreeEntries is GitHub's cap for recursive tree listings.
const maxTreeEntries = 100000

func (s *Server) treeJSON(r *repo, sha string, recursive bool) map[string]any {
	entries := []map[string]any{}
	truncated := false
	var walk func(treeSHA, prefix string)
	walk = func(treeSHA, prefix string) {
		for _, e := range r.git.trees[treeSHA] {
			if len(entries) >= maxTreeEntries {
				truncated = true
				return
			}
			p := prefix + e.Name
			entries = append(entries, s.treeEntryJSON(r, p, e))
			if recursive && e.Type == "tree" {
				walk(e.SHA, p+"/")
			}
		}
	}
	walk(sha, "")
	return map[string]any{
		"sha":       sha,
		"url":       s.repoAPIURL(r) + "/git/trees/" + sha,
		"tree":      entries,
		"truncated": truncated,
	}
}

func (s *Server) handleGetTree(c *call) {
	r := c.repo
	ref := c.r.PathValue("sha")
	sha := ref
	if _, ok := r.git.trees[sha]; !ok {
		commit := r.resolveCommit(ref)
		if commit == "" {
			c.fail(http.StatusNotFound, "Not Found")
			return
		}
		sha = r.treeOf(commit)
	}
	// Any value of "recursive" turns recursion on, as GitHub documents.
	_, recursive := c.r.URL.Query()["recursive"]
	c.writeJSON(http.StatusOK, s.treeJSON(r, sha, recursive))
}

var validModes = map[string]string{
	modeFile: "blob", modeExec: "blob", modeSymlink: "blob", modeTree: "tree", modeCommit: "commit",
}

func (s *Server) handleCreateTree(c *call) {
	r := c.repo
	var req struct {
		BaseTree string                       `json:"base_tree"`
		Tree     []map[string]json.RawMessage `json:"tree"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Tree == nil {
		c.fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"tree\" wasn't supplied.")
		return
	}
	flat := map[string]fileEntry{}
	if req.BaseTree != "" {
		base := req.BaseTree
		if _, ok := r.git.trees[base]; !ok {
			if commit, ok := r.git.commits[base]; ok {
				base = commit.Tree
			} else {
				c.fail(http.StatusUnprocessableEntity, "Invalid tree info")
				return
			}
		}
		flat = r.git.flatten(base)
	}
	badState := func() { c.fail(http.StatusUnprocessableEntity, "GitRPC::BadObjectState") }
	for _, raw := range req.Tree {
		var path, mode, typ string
		_ = json.Unmarshal(raw["path"], &path)
		_ = json.Unmarshal(raw["mode"], &mode)
		_ = json.Unmarshal(raw["type"], &typ)
		shaRaw, hasSHA := raw["sha"]
		contentRaw, hasContent := raw["content"]
		shaNull := hasSHA && bytes.Equal(bytes.TrimSpace(shaRaw), []byte("null"))
		if hasContent && bytes.Equal(bytes.TrimSpace(contentRaw), []byte("null")) {
			hasContent = false
		}
		if (hasSHA && !shaNull && hasContent) || (!hasSHA && !hasContent) {
			c.fail(http.StatusUnprocessableEntity, "Must supply either tree.sha or tree.content. Request will be rejected if both are present.")
			return
		}
		if !validPath(path) {
			c.fail(http.StatusUnprocessableEntity, "tree.path contains a malformed path component")
			return
		}
		wantType, ok := validModes[mode]
		if !ok {
			c.fail(http.StatusUnprocessableEntity, "Invalid tree info")
			return
		}
		if typ == "" {
			typ = wantType
		}
		if typ != wantType {
			c.fail(http.StatusUnprocessableEntity, "Invalid tree info")
			return
		}
		if shaNull {
			if !removePath(flat, path, typ == "tree") {
				badState()
				return
			}
			continue
		}
		if hasContent {
			var content string
			if err := json.Unmarshal(contentRaw, &content); err != nil || typ != "blob" {
				c.fail(http.StatusUnprocessableEntity, "Invalid tree info")
				return
			}
			setPath(flat, path, fileEntry{Mode: mode, SHA: r.git.putBlob([]byte(content))})
			continue
		}
		var sha string
		if err := json.Unmarshal(shaRaw, &sha); err != nil {
			c.fail(http.StatusUnprocessableEntity, "Invalid tree info")
			return
		}
		switch typ {
		case "blob":
			if _, ok := r.git.blobs[sha]; !ok {
				badState()
				return
			}
			setPath(flat, path, fileEntry{Mode: mode, SHA: sha})
		case "tree":
			if _, ok := r.git.trees[sha]; !ok {
				badState()
				return
			}
			removePath(flat, path, true)
			removePath(flat, path, false)
			for sub, f := range r.git.flatten(sha) {
				setPath(flat, path+"/"+sub, f)
			}
		case "commit":
			setPath(flat, path, fileEntry{Mode: modeCommit, SHA: sha})
		}
	}
	sha := r.git.buildTree(flat)
	c.writeJSON(http.StatusCreated, s.treeJSON(r, sha, false))
}

// removePath deletes a file, or with dir every file under a directory. It
// reports whether anything was there.
func removePath(flat map[string]fileEntry, p string, dir bool) bool {
	if !dir {
		if _, ok := flat[p]; !ok {
			return false
		}
		delete(flat, p)
		return true
	}
	found := false
	for fp := range flat {
		if strings.HasPrefix(fp, p+"/") {
			delete(flat, fp)
			found = true
		}
	}
	return found
}

// setPath writes a file, replacing a directory at that path or files at
// its parent paths.
func setPath(flat map[string]fileEntry, p string, f fileEntry) {
	removePath(flat, p, true)
	for dir := parentDir(p); dir != ""; dir = parentDir(dir) {
		delete(flat, dir)
	}
	flat[p] = f
}

func sigOut(sig signature) map[string]any {
	return map[string]any{"name": sig.Name, "email": sig.Email, "date": isoTime(sig.When)}
}

// gitCommitJSON is the Git Data API commit object.
func (s *Server) gitCommitJSON(r *repo, sha string) map[string]any {
	c := r.git.commits[sha]
	parents := []map[string]any{}
	for _, p := range c.Parents {
		parents = append(parents, map[string]any{
			"sha": p, "url": s.repoAPIURL(r) + "/git/commits/" + p, "html_url": s.repoHTMLURL(r) + "/commit/" + p,
		})
	}
	return map[string]any{
		"sha":       sha,
		"node_id":   "C_" + sha[:16],
		"url":       s.repoAPIURL(r) + "/git/commits/" + sha,
		"html_url":  s.repoHTMLURL(r) + "/commit/" + sha,
		"author":    sigOut(c.Author),
		"committer": sigOut(c.Committer),
		"tree":      map[string]any{"sha": c.Tree, "url": s.repoAPIURL(r) + "/git/trees/" + c.Tree},
		"message":   c.Message,
		"parents":   parents,
		"verification": map[string]any{
			"verified": false, "reason": "unsigned", "signature": nil, "payload": nil,
		},
	}
}

// userByEmail finds the account a commit signature belongs to.
func (s *Server) userByEmail(email string) *user {
	for _, u := range s.users {
		if u.email() == email {
			return u
		}
	}
	return nil
}

// repoCommitJSON is the commits API object, as the compare API lists it.
func (s *Server) repoCommitJSON(r *repo, sha string) map[string]any {
	c := r.git.commits[sha]
	inner := s.gitCommitJSON(r, sha)
	delete(inner, "sha")
	delete(inner, "node_id")
	delete(inner, "html_url")
	delete(inner, "parents")
	inner["comment_count"] = 0
	parents := []map[string]any{}
	for _, p := range c.Parents {
		parents = append(parents, map[string]any{
			"sha": p, "url": s.repoAPIURL(r) + "/commits/" + p, "html_url": s.repoHTMLURL(r) + "/commit/" + p,
		})
	}
	j := map[string]any{
		"sha":          sha,
		"node_id":      "C_" + sha[:16],
		"commit":       inner,
		"url":          s.repoAPIURL(r) + "/commits/" + sha,
		"html_url":     s.repoHTMLURL(r) + "/commit/" + sha,
		"comments_url": s.repoAPIURL(r) + "/commits/" + sha + "/comments",
		"author":       s.userJSON(s.userByEmail(c.Author.Email)),
		"committer":    s.userJSON(s.userByEmail(c.Committer.Email)),
		"parents":      parents,
	}
	return j
}

// filesJSON lists changed files as the commits, compare and pulls APIs do,
// with at most limit entries, and the total line counts.
func (s *Server) filesJSON(r *repo, from, to map[string]fileEntry, headSHA string, limit int) ([]map[string]any, int, int) {
	files := []map[string]any{}
	totalAdd, totalDel := 0, 0
	for _, ch := range diffTrees(from, to) {
		oldText, newText := "", ""
		if ch.Old.SHA != "" {
			oldText = string(r.git.blobs[ch.Old.SHA])
		}
		if ch.New.SHA != "" {
			newText = string(r.git.blobs[ch.New.SHA])
		}
		adds, dels := 0, 0
		if utf8.ValidString(oldText) && utf8.ValidString(newText) {
			adds, dels = lineStats(oldText, newText)
		}
		totalAdd += adds
		totalDel += dels
		if len(files) >= limit {
			continue
		}
		sha := ch.New.SHA
		if ch.Status == "removed" {
			sha = ch.Old.SHA
		}
		ref := headSHA
		j := map[string]any{
			"sha":          sha,
			"filename":     ch.Path,
			"status":       ch.Status,
			"additions":    adds,
			"deletions":    dels,
			"changes":      adds + dels,
			"blob_url":     s.repoHTMLURL(r) + "/blob/" + ref + "/" + ch.Path,
			"raw_url":      s.repoHTMLURL(r) + "/raw/" + ref + "/" + ch.Path,
			"contents_url": s.repoAPIURL(r) + "/contents/" + ch.Path + "?ref=" + ref,
		}
		if ch.PreviousPath != "" {
			j["previous_filename"] = ch.PreviousPath
		}
		files = append(files, j)
	}
	return files, totalAdd, totalDel
}

func (s *Server) handleGetGitCommit(c *call) {
	r := c.repo
	sha := c.r.PathValue("sha")
	if _, ok := r.git.commits[sha]; !ok {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	c.writeJSON(http.StatusOK, s.gitCommitJSON(r, sha))
}

func (s *Server) handleCreateGitCommit(c *call) {
	r := c.repo
	var req struct {
		Message   *string  `json:"message"`
		Tree      string   `json:"tree"`
		Parents   []string `json:"parents"`
		Author    *sigJSON `json:"author"`
		Committer *sigJSON `json:"committer"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Message == nil {
		c.fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"message\" wasn't supplied.")
		return
	}
	if req.Tree == "" {
		c.fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"tree\" wasn't supplied.")
		return
	}
	if _, ok := r.git.trees[req.Tree]; !ok {
		c.fail(http.StatusUnprocessableEntity, "Tree SHA does not exist")
		return
	}
	for _, p := range req.Parents {
		if _, ok := r.git.commits[p]; !ok {
			c.fail(http.StatusUnprocessableEntity, "Parent SHA does not exist or is not a commit object")
			return
		}
	}
	now := s.now()
	author := s.sigFrom(req.Author, c.actor().signature(now))
	committer := author
	if req.Committer != nil {
		committer = s.sigFrom(req.Committer, author)
	} else if req.Author == nil {
		committer = c.actor().signature(now)
	}
	sha := r.git.putCommit(&gitCommit{
		Tree: req.Tree, Parents: req.Parents, Author: author, Committer: committer, Message: *req.Message,
	})
	c.writeJSON(http.StatusCreated, s.gitCommitJSON(r, sha))
}

func (s *Server) refJSON(r *repo, ref string) map[string]any {
	sha := r.refs[ref]
	return map[string]any{
		"ref":     ref,
		"node_id": "REF_" + strings.ReplaceAll(ref, "/", "_"),
		"url":     s.repoAPIURL(r) + "/git/" + ref,
		"object": map[string]any{
			"sha":  sha,
			"type": "commit",
			"url":  s.repoAPIURL(r) + "/git/commits/" + sha,
		},
	}
}

// fullRef turns "heads/x" or "refs/heads/x" into "refs/heads/x".
func fullRef(ref string) string {
	ref = strings.Trim(ref, "/")
	if strings.HasPrefix(ref, "refs/") {
		return ref
	}
	return "refs/" + ref
}

func (s *Server) handleGetRef(c *call) {
	r := c.repo
	ref := fullRef(c.r.PathValue("ref"))
	if _, ok := r.refs[ref]; !ok {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	c.writeJSON(http.StatusOK, s.refJSON(r, ref))
}

// validRefName applies git's main ref-name rules.
func validRefName(ref string) bool {
	if !strings.HasPrefix(ref, "refs/") || strings.Count(ref, "/") < 2 {
		return false
	}
	if strings.Contains(ref, "..") || strings.Contains(ref, "//") || strings.HasSuffix(ref, "/") ||
		strings.HasSuffix(ref, ".lock") || strings.HasSuffix(ref, ".") || strings.Contains(ref, "@{") {
		return false
	}
	for _, ch := range ref {
		if ch <= ' ' || ch == 0x7f || strings.ContainsRune("~^:?*[\\", ch) {
			return false
		}
	}
	return true
}

func (s *Server) handleCreateRef(c *call) {
	r := c.repo
	var req struct {
		Ref *string `json:"ref"`
		SHA *string `json:"sha"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Ref == nil || req.SHA == nil {
		c.fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"ref\" and \"sha\" are required.")
		return
	}
	ref := *req.Ref
	if !validRefName(ref) {
		c.fail(http.StatusUnprocessableEntity, "Reference name is not valid")
		return
	}
	if _, ok := r.refs[ref]; ok {
		c.fail(http.StatusUnprocessableEntity, "Reference already exists")
		return
	}
	s.moveRef(c, ref, *req.SHA, http.StatusCreated, nil)
}

func (s *Server) handleUpdateRef(c *call) {
	r := c.repo
	var req struct {
		SHA   *string `json:"sha"`
		Force bool    `json:"force"`
	}
	if !c.decode(&req) {
		return
	}
	ref := fullRef(c.r.PathValue("ref"))
	old, ok := r.refs[ref]
	if !ok {
		c.fail(http.StatusUnprocessableEntity, "Reference does not exist")
		return
	}
	if req.SHA == nil {
		c.fail(http.StatusUnprocessableEntity, "Invalid request.\n\n\"sha\" wasn't supplied.")
		return
	}
	s.moveRef(c, ref, *req.SHA, http.StatusOK, func() bool {
		if !req.Force && !r.git.isAncestor(old, *req.SHA) {
			c.fail(http.StatusUnprocessableEntity, "Update is not a fast forward")
			return false
		}
		return true
	})
}

// moveRef points ref at sha after GitHub's checks (the commit exists,
// check passes if given, workflow files need the permission) and answers
// with the ref and status.
func (s *Server) moveRef(c *call, ref, sha string, status int, check func() bool) {
	r := c.repo
	if _, ok := r.git.commits[sha]; !ok {
		c.fail(http.StatusUnprocessableEntity, "Object does not exist")
		return
	}
	if check != nil && !check() {
		return
	}
	if f := workflowFailure(c.id, r.pushedPaths(ref, sha)); f != nil {
		c.failWith(f)
		return
	}
	s.setRef(r, ref, sha, c.actor())
	c.writeJSON(status, s.refJSON(r, ref))
}

// resolveCompareSide accepts "ref" or "owner:ref" for the repository's own owner.
func (r *repo) resolveCompareSide(side string) string {
	if owner, ref, ok := strings.Cut(side, ":"); ok {
		if !strings.EqualFold(owner, r.Owner.Login) {
			return ""
		}
		side = ref
	}
	return r.resolveCommit(side)
}

// Limits of the compare API (docs.github.com/en/rest/commits/commits#compare-two-commits):
// without pagination at most 250 commits; files appear on the first page
// only, at most 300 for the whole comparison.
const (
	maxCompareCommits = 250
	maxCompareFiles   = 300
)

// handleCompare compares two commits as "git log BASE..HEAD" does, oldest
// commit first, with the merge base, the status (ahead, behind, diverged
// or identical), ahead_by, behind_by and the files changed from the merge
// base to head. Either side is a branch, tag, commit SHA or "owner:ref".
func (s *Server) handleCompare(c *call) {
	r := c.repo
	basehead := c.r.PathValue("basehead")
	baseRef, headRef, ok := strings.Cut(basehead, "...")
	if !ok {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	base, head := r.resolveCompareSide(baseRef), r.resolveCompareSide(headRef)
	if base == "" || head == "" {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	mb := r.git.mergeBase(base, head)
	if mb == "" {
		c.fail(http.StatusNotFound, fmt.Sprintf("No common ancestor between %s and %s.", baseRef, headRef))
		return
	}
	ahead := r.git.commitsBetween([]string{base}, head)
	behind := r.git.commitsBetween([]string{head}, base)
	status := "diverged"
	switch {
	case len(ahead) == 0 && len(behind) == 0:
		status = "identical"
	case len(behind) == 0:
		status = "ahead"
	case len(ahead) == 0:
		status = "behind"
	}
	q := c.r.URL.Query()
	paged := q.Has("page") || q.Has("per_page")
	listed := ahead
	switch {
	case paged:
		listed = paginate(c, ahead)
	case len(listed) > maxCompareCommits:
		listed = listed[:maxCompareCommits]
	}
	commits := []map[string]any{}
	for _, sha := range listed {
		commits = append(commits, s.repoCommitJSON(r, sha))
	}
	web := s.repoHTMLURL(r) + "/compare/" + baseRef + "..." + headRef
	resp := map[string]any{
		"url":               s.repoAPIURL(r) + "/compare/" + basehead,
		"html_url":          web,
		"permalink_url":     s.repoHTMLURL(r) + "/compare/" + r.Owner.Login + ":" + base[:7] + "..." + r.Owner.Login + ":" + head[:7],
		"diff_url":          web + ".diff",
		"patch_url":         web + ".patch",
		"base_commit":       s.repoCommitJSON(r, base),
		"merge_base_commit": s.repoCommitJSON(r, mb),
		"status":            status,
		"ahead_by":          len(ahead),
		"behind_by":         len(behind),
		"total_commits":     len(ahead),
		"commits":           commits,
	}
	if page, _ := strconv.Atoi(q.Get("page")); page <= 1 {
		resp["files"], _, _ = s.filesJSON(r, r.flatAt(mb), r.flatAt(head), head, maxCompareFiles)
	}
	c.writeJSON(http.StatusOK, resp)
}

// refCommit resolves the {ref} path value (a SHA, branch or tag) to a
// commit of the call's repository; where it names none it answers 422 "No
// commit found for SHA", as GitHub does, and returns false.
func (c *call) refCommit() (string, bool) {
	ref := c.r.PathValue("ref")
	sha := c.repo.resolveCommit(ref)
	if sha == "" {
		c.invalid(fieldError{Resource: "Commit", Code: "custom", Message: "No commit found for SHA: " + ref})
		return "", false
	}
	return sha, true
}

// handleGetCommit answers GET /repos/{owner}/{repo}/commits/{ref}
// (docs.github.com/en/rest/commits/commits#get-a-commit): the commit a SHA,
// branch or tag names, or 422 "No commit found for SHA".
func (s *Server) handleGetCommit(c *call) {
	r := c.repo
	sha, ok := c.refCommit()
	if !ok {
		return
	}
	c.writeJSON(http.StatusOK, s.repoCommitJSON(r, sha))
}
