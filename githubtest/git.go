package githubtest

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// zeroSHA is the all-zero object id GitHub uses for "no commit" in push payloads.
const zeroSHA = "0000000000000000000000000000000000000000"

// emptyTreeSHA is the id of git's empty tree.
const emptyTreeSHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// Git file modes as the REST API spells them.
const (
	modeFile    = "100644"
	modeExec    = "100755"
	modeTree    = "040000"
	modeCommit  = "160000"
	modeSymlink = "120000"
)

// BlobSHA returns the git object id of a blob holding content, the value
// `git hash-object` prints and GitHub reports as a file's sha.
func BlobSHA(content string) string {
	return hashObject("blob", []byte(content))
}

func hashObject(kind string, data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00", kind, len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// signature is a git author or committer line.
type signature struct {
	Name  string
	Email string
	When  time.Time
}

func (s signature) encode() string {
	return fmt.Sprintf("%s <%s> %d %s", s.Name, s.Email, s.When.Unix(), s.When.Format("-0700"))
}

// gitCommit is a decoded commit object.
type gitCommit struct {
	Tree      string
	Parents   []string
	Author    signature
	Committer signature
	Message   string
}

func (c *gitCommit) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "tree %s\n", c.Tree)
	for _, p := range c.Parents {
		fmt.Fprintf(&b, "parent %s\n", p)
	}
	fmt.Fprintf(&b, "author %s\n", c.Author.encode())
	fmt.Fprintf(&b, "committer %s\n", c.Committer.encode())
	b.WriteString("\n")
	b.WriteString(c.Message)
	return b.Bytes()
}

// treeEntry is one entry of a tree object. Mode uses the API spelling
// ("040000" for trees).
type treeEntry struct {
	Name string
	Mode string
	Type string
	SHA  string
}

// fileEntry is a leaf of a flattened tree: a blob, a symlink or a submodule.
type fileEntry struct {
	Mode string
	SHA  string
}

// objectStore holds one repository's git objects.
type objectStore struct {
	blobs   map[string][]byte
	trees   map[string][]treeEntry
	commits map[string]*gitCommit
}

func newObjectStore() *objectStore {
	return &objectStore{
		blobs:   map[string][]byte{},
		trees:   map[string][]treeEntry{emptyTreeSHA: nil},
		commits: map[string]*gitCommit{},
	}
}

func (o *objectStore) putBlob(data []byte) string {
	sha := hashObject("blob", data)
	if _, ok := o.blobs[sha]; !ok {
		o.blobs[sha] = append([]byte(nil), data...)
	}
	return sha
}

// gitTreeLess orders tree entries the way git does: by name, with tree names
// compared as if they ended in "/".
func gitTreeLess(a, b treeEntry) bool {
	an, bn := a.Name, b.Name
	if a.Type == "tree" {
		an += "/"
	}
	if b.Type == "tree" {
		bn += "/"
	}
	return an < bn
}

func (o *objectStore) putTree(entries []treeEntry) string {
	sorted := append([]treeEntry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return gitTreeLess(sorted[i], sorted[j]) })
	var b bytes.Buffer
	for _, e := range sorted {
		mode := e.Mode
		if mode == modeTree {
			mode = "40000" // git writes tree modes without the leading zero
		}
		raw, _ := hex.DecodeString(e.SHA)
		fmt.Fprintf(&b, "%s %s\x00", mode, e.Name)
		b.Write(raw)
	}
	sha := hashObject("tree", b.Bytes())
	if _, ok := o.trees[sha]; !ok {
		o.trees[sha] = sorted
	}
	return sha
}

func (o *objectStore) putCommit(c *gitCommit) string {
	sha := hashObject("commit", c.encode())
	if _, ok := o.commits[sha]; !ok {
		cp := *c
		cp.Parents = append([]string(nil), c.Parents...)
		o.commits[sha] = &cp
	}
	return sha
}

// objectType reports "blob", "tree", "commit" or "" for an unknown id.
func (o *objectStore) objectType(sha string) string {
	if _, ok := o.blobs[sha]; ok {
		return "blob"
	}
	if _, ok := o.trees[sha]; ok {
		return "tree"
	}
	if _, ok := o.commits[sha]; ok {
		return "commit"
	}
	return ""
}

// flatten returns every leaf under the tree, keyed by slash-separated path.
func (o *objectStore) flatten(treeSHA string) map[string]fileEntry {
	out := map[string]fileEntry{}
	o.flattenInto(treeSHA, "", out)
	return out
}

func (o *objectStore) flattenInto(treeSHA, prefix string, out map[string]fileEntry) {
	for _, e := range o.trees[treeSHA] {
		p := prefix + e.Name
		if e.Type == "tree" {
			o.flattenInto(e.SHA, p+"/", out)
			continue
		}
		out[p] = fileEntry{Mode: e.Mode, SHA: e.SHA}
	}
}

// buildTree writes the trees for a flat file map and returns the root id.
func (o *objectStore) buildTree(files map[string]fileEntry) string {
	type dir struct {
		files map[string]fileEntry
		dirs  map[string]*dir
	}
	newDir := func() *dir { return &dir{files: map[string]fileEntry{}, dirs: map[string]*dir{}} }
	root := newDir()
	for p, f := range files {
		parts := strings.Split(p, "/")
		d := root
		for _, name := range parts[:len(parts)-1] {
			sub, ok := d.dirs[name]
			if !ok {
				sub = newDir()
				d.dirs[name] = sub
			}
			d = sub
		}
		d.files[parts[len(parts)-1]] = f
	}
	var write func(d *dir) string
	write = func(d *dir) string {
		entries := make([]treeEntry, 0, len(d.files)+len(d.dirs))
		for name, f := range d.files {
			typ := "blob"
			if f.Mode == modeCommit {
				typ = "commit"
			}
			entries = append(entries, treeEntry{Name: name, Mode: f.Mode, Type: typ, SHA: f.SHA})
		}
		for name, sub := range d.dirs {
			entries = append(entries, treeEntry{Name: name, Mode: modeTree, Type: "tree", SHA: write(sub)})
		}
		return o.putTree(entries)
	}
	return write(root)
}

// lookupPath finds the entry at path inside a tree. The root itself is
// returned as a tree entry for the empty path.
func (o *objectStore) lookupPath(treeSHA, path string) (treeEntry, bool) {
	path = strings.Trim(path, "/")
	if path == "" {
		return treeEntry{Mode: modeTree, Type: "tree", SHA: treeSHA}, true
	}
	cur := treeSHA
	parts := strings.Split(path, "/")
	for i, name := range parts {
		var found *treeEntry
		for _, e := range o.trees[cur] {
			if e.Name == name {
				e := e
				found = &e
				break
			}
		}
		if found == nil {
			return treeEntry{}, false
		}
		if i == len(parts)-1 {
			return *found, true
		}
		if found.Type != "tree" {
			return treeEntry{}, false
		}
		cur = found.SHA
	}
	return treeEntry{}, false
}

// ancestors returns every commit reachable from sha, sha included.
func (o *objectStore) ancestors(sha string) map[string]bool {
	seen := map[string]bool{}
	stack := []string{sha}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s == "" || seen[s] {
			continue
		}
		c, ok := o.commits[s]
		if !ok {
			continue
		}
		seen[s] = true
		stack = append(stack, c.Parents...)
	}
	return seen
}

// isAncestor reports whether anc is reachable from sha.
func (o *objectStore) isAncestor(anc, sha string) bool {
	return o.ancestors(sha)[anc]
}

// mergeBase returns the best common ancestor of a and b (the one reachable
// from no other common ancestor), or "" when they share no history.
func (o *objectStore) mergeBase(a, b string) string {
	aa := o.ancestors(a)
	bb := o.ancestors(b)
	var common []string
	for s := range aa {
		if bb[s] {
			common = append(common, s)
		}
	}
	if len(common) == 0 {
		return ""
	}
	sort.Strings(common) // deterministic choice among equals
	// Drop every common ancestor that is an ancestor of another one: the
	// common set is closed under ancestry, so those are exactly the
	// ancestors of the common commits' parents (one shared walk).
	dominated := map[string]bool{}
	var stack []string
	for _, c := range common {
		stack = append(stack, o.commits[c].Parents...)
	}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if dominated[s] {
			continue
		}
		dominated[s] = true
		if c, ok := o.commits[s]; ok {
			stack = append(stack, c.Parents...)
		}
	}
	best := ""
	for _, c := range common {
		if dominated[c] {
			continue
		}
		if best == "" || o.commits[c].Committer.When.After(o.commits[best].Committer.When) {
			best = c
		}
	}
	return best
}

// commitsBetween lists commits reachable from head but not from any of
// excluded, parents before children (oldest first).
func (o *objectStore) commitsBetween(excluded []string, head string) []string {
	ex := map[string]bool{}
	for _, e := range excluded {
		for s := range o.ancestors(e) {
			ex[s] = true
		}
	}
	var out []string
	visited := map[string]bool{}
	var visit func(s string)
	visit = func(s string) {
		if s == "" || visited[s] || ex[s] {
			return
		}
		c, ok := o.commits[s]
		if !ok {
			return
		}
		visited[s] = true
		for _, p := range c.Parents {
			visit(p)
		}
		out = append(out, s)
	}
	visit(head)
	return out
}

// fileChange is one path's change between two flattened trees.
type fileChange struct {
	Path         string
	PreviousPath string
	Status       string // added, removed, modified, renamed
	Old, New     fileEntry
}

// diffTrees compares two flat trees. Exact renames (same blob removed at one
// path and added at another) are reported as renamed, as GitHub does.
func diffTrees(from, to map[string]fileEntry) []fileChange {
	var changes []fileChange
	var added, removed []string
	for p, n := range to {
		o, ok := from[p]
		switch {
		case !ok:
			added = append(added, p)
		case o != n:
			changes = append(changes, fileChange{Path: p, Status: "modified", Old: o, New: n})
		}
	}
	for p := range from {
		if _, ok := to[p]; !ok {
			removed = append(removed, p)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	usedRemoved := map[string]bool{}
	for _, p := range added {
		n := to[p]
		renamedFrom := ""
		for _, r := range removed {
			if !usedRemoved[r] && from[r].SHA == n.SHA {
				renamedFrom = r
				break
			}
		}
		if renamedFrom != "" {
			usedRemoved[renamedFrom] = true
			changes = append(changes, fileChange{Path: p, PreviousPath: renamedFrom, Status: "renamed", Old: from[renamedFrom], New: n})
			continue
		}
		changes = append(changes, fileChange{Path: p, Status: "added", New: n})
	}
	for _, p := range removed {
		if !usedRemoved[p] {
			changes = append(changes, fileChange{Path: p, Status: "removed", Old: from[p]})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes
}

// mergeTrees performs a three-way merge of flat trees. Paths changed on both
// sides are merged line by line; it reports the paths that conflict.
func (o *objectStore) mergeTrees(base, ours, theirs map[string]fileEntry) (map[string]fileEntry, []string) {
	out := map[string]fileEntry{}
	var conflicts []string
	paths := map[string]bool{}
	for _, m := range []map[string]fileEntry{base, ours, theirs} {
		for p := range m {
			paths[p] = true
		}
	}
	for p := range paths {
		b, inB := base[p]
		x, inX := ours[p]
		y, inY := theirs[p]
		switch {
		case inX == inY && x == y:
			if inX {
				out[p] = x
			}
		case inB == inX && b == x:
			if inY {
				out[p] = y
			}
		case inB == inY && b == y:
			if inX {
				out[p] = x
			}
		case inX && inY && x.Mode == y.Mode && x.Mode != modeCommit:
			baseLines := []string(nil)
			if inB {
				baseLines = splitLines(string(o.blobs[b.SHA]))
			}
			merged, ok := merge3(baseLines, splitLines(string(o.blobs[x.SHA])), splitLines(string(o.blobs[y.SHA])))
			if !ok {
				conflicts = append(conflicts, p)
				continue
			}
			out[p] = fileEntry{Mode: x.Mode, SHA: o.putBlob([]byte(strings.Join(merged, "")))}
		default:
			conflicts = append(conflicts, p)
		}
	}
	// A file on one side where the other side has a directory is a conflict.
	for p := range out {
		for dir := parentDir(p); dir != ""; dir = parentDir(dir) {
			if _, ok := out[dir]; ok {
				conflicts = append(conflicts, dir)
			}
		}
	}
	sort.Strings(conflicts)
	return out, conflicts
}

func parentDir(p string) string {
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// splitLines splits s after each newline, keeping the newlines, so that
// joining the result gives s back.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// lcsMatch returns, for each line of a, the index of the matching line in b
// of a longest common subsequence, or -1. Common prefix and suffix are
// matched directly; the middle uses dynamic programming when it is small
// enough and is otherwise left unmatched (which only makes merges more
// conservative and diff counts larger).
func lcsMatch(a, b []string) []int {
	m := make([]int, len(a))
	for i := range m {
		m[i] = -1
	}
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		m[pre] = pre
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		m[len(a)-1-suf] = len(b) - 1 - suf
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	n, k := len(ma), len(mb)
	if n == 0 || k == 0 || n*k > 4_000_000 {
		return m
	}
	// dp[i][j] = LCS length of ma[i:] and mb[j:].
	w := k + 1
	dp := make([]int32, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := k - 1; j >= 0; j-- {
			if ma[i] == mb[j] {
				dp[i*w+j] = dp[(i+1)*w+j+1] + 1
			} else if dp[(i+1)*w+j] >= dp[i*w+j+1] {
				dp[i*w+j] = dp[(i+1)*w+j]
			} else {
				dp[i*w+j] = dp[i*w+j+1]
			}
		}
	}
	for i, j := 0, 0; i < n && j < k; {
		switch {
		case ma[i] == mb[j]:
			m[pre+i] = pre + j
			i++
			j++
		case dp[(i+1)*w+j] >= dp[i*w+j+1]:
			i++
		default:
			j++
		}
	}
	return m
}

// lineStats counts added and deleted lines between two texts.
func lineStats(old, new string) (additions, deletions int) {
	a, b := splitLines(old), splitLines(new)
	m := lcsMatch(a, b)
	common := 0
	for _, j := range m {
		if j >= 0 {
			common++
		}
	}
	return len(b) - common, len(a) - common
}

// merge3 is a line-based three-way merge (diff3). It returns false when both
// sides changed the same region differently.
func merge3(base, ours, theirs []string) ([]string, bool) {
	mo := lcsMatch(base, ours)
	mt := lcsMatch(base, theirs)
	var out []string
	i, j, k := 0, 0, 0
	for {
		if i < len(base) && mo[i] == j && mt[i] == k {
			out = append(out, base[i])
			i, j, k = i+1, j+1, k+1
			continue
		}
		// Next base line matched on both sides: the end of this unstable chunk.
		ni, nj, nk := len(base), len(ours), len(theirs)
		for x := i; x < len(base); x++ {
			if mo[x] >= j && mt[x] >= k {
				ni, nj, nk = x, mo[x], mt[x]
				break
			}
		}
		b, x, y := base[i:ni], ours[j:nj], theirs[k:nk]
		switch {
		case equalLines(x, y):
			out = append(out, x...)
		case equalLines(b, x):
			out = append(out, y...)
		case equalLines(b, y):
			out = append(out, x...)
		default:
			return nil, false
		}
		if ni == len(base) && nj == len(ours) && nk == len(theirs) {
			return out, true
		}
		i, j, k = ni, nj, nk
	}
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
