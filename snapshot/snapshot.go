// Package snapshot reads the two repositories into plain values: the
// pipelines repository at a commit (its files, settings and templates)
// and the catalog at a commit of the config repository. It owns the reads'
// caches: default branch names for a few minutes, and file contents by
// blob SHA in the store, so that in steady state nothing is downloaded
// twice. Every loop step starts here.
package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// branchTTL is how long a default branch name is trusted.
const branchTTL = 5 * time.Minute

// BlobCache keeps file contents by git blob SHA. *store.Blobs implements it.
type BlobCache interface {
	Get(ctx context.Context, shas []string) (map[string][]byte, error)
	Put(ctx context.Context, blobs map[string][]byte) error
}

// Repos names the two repositories and the catalog file.
type Repos struct {
	Config, Pipelines gh.Repo
	CatalogPath       string
}

// Reader reads the repositories. It is safe for concurrent use.
type Reader struct {
	gh    gh.RepoReader
	cache BlobCache
	repos Repos
	now   func() time.Time

	mu       sync.Mutex
	branches map[string]branchEntry
}

type branchEntry struct {
	name    string
	expires time.Time
}

// New returns a Reader; now is the clock of its branch cache.
func New(r gh.RepoReader, cache BlobCache, repos Repos, now func() time.Time) *Reader {
	return &Reader{gh: r, cache: cache, repos: repos, now: now, branches: map[string]branchEntry{}}
}

// Repos returns the repositories the reader reads.
func (r *Reader) Repos() Repos { return r.repos }

// Head returns the default branch of repo and its head commit.
func (r *Reader) Head(ctx context.Context, repo gh.Repo) (string, gh.Commit, error) {
	branch, err := r.defaultBranch(ctx, repo)
	if err != nil {
		return "", gh.Commit{}, err
	}
	c, err := r.gh.Branch(ctx, repo, branch)
	return branch, c, err
}

func (r *Reader) defaultBranch(ctx context.Context, repo gh.Repo) (string, error) {
	key := strings.ToLower(repo.String())
	r.mu.Lock()
	e, ok := r.branches[key]
	r.mu.Unlock()
	if ok && r.now().Before(e.expires) {
		return e.name, nil
	}
	name, err := r.gh.DefaultBranch(ctx, repo)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.branches[key] = branchEntry{name: name, expires: r.now().Add(branchTTL)}
	r.mu.Unlock()
	return name, nil
}

// Pipelines is the pipelines repository at one commit, as the loop needs
// it: its files (by blob SHA), settings and templates.
type Pipelines struct {
	// Branch is the default branch the commit was read from ("" when the
	// commit was not read from a branch head).
	Branch string
	Head   gh.Commit
	Files  map[string]string // every file: path → blob SHA
	// Settings and Templates are valid only when Diags is empty.
	Settings  catalog.Settings
	Templates *render.Templates
	Diags     catalog.Diagnostics // problems in the settings file or templates (pipelines repo paths)
	// InputsHash changes when the settings file or a template changes.
	InputsHash string
}

// EntityFiles returns the entity files of the snapshot (path → blob SHA):
// every file in a directory of the settings that render.KindOfPath
// accepts, whatever its kind (Services, environments, infrastructure
// definitions, pipelines, triggers).
func (p Pipelines) EntityFiles() map[string]string {
	out := map[string]string{}
	for f, sha := range p.Files {
		if _, ok := render.KindOfPath(p.Settings, f); ok {
			out[f] = sha
		}
	}
	return out
}

// SettingsInvalid reports whether the settings file itself is invalid:
// then even the pipelines directory is unknown. (Template problems alone
// do not stop apply, which never renders.)
func (p Pipelines) SettingsInvalid() bool {
	for _, d := range p.Diags {
		if d.File == catalog.SettingsPath {
			return true
		}
	}
	return false
}

// Pipelines reads the pipelines repository at the head of its default
// branch.
func (r *Reader) Pipelines(ctx context.Context) (Pipelines, error) {
	branch, head, err := r.Head(ctx, r.repos.Pipelines)
	if err != nil {
		return Pipelines{}, err
	}
	p, err := r.PipelinesAt(ctx, head)
	p.Branch = branch
	return p, err
}

// PipelinesAt reads the pipelines repository at head: one tree listing,
// the settings file and the templates (from the blob cache when known).
func (r *Reader) PipelinesAt(ctx context.Context, head gh.Commit) (Pipelines, error) {
	repo := r.repos.Pipelines
	files, err := r.gh.Tree(ctx, repo, head.TreeSHA, "")
	if err != nil {
		return Pipelines{}, err
	}
	snap := Pipelines{Head: head, Files: files, Settings: catalog.DefaultSettings()}

	if sha, ok := files[catalog.SettingsPath]; ok {
		blobs, err := r.Blobs(ctx, repo, []string{sha})
		if err != nil {
			return Pipelines{}, err
		}
		settings, diags := catalog.ParseSettings(catalog.SettingsPath, blobs[sha])
		if len(diags) > 0 {
			snap.Diags = diags
			snap.InputsHash = inputsHash(files, catalog.SettingsPath, "")
			return snap, nil
		}
		snap.Settings = settings
	}

	dir := strings.Trim(snap.Settings.TemplatesDir, "/")
	var templateSHAs []string
	templatePaths := map[string]string{}
	for p, sha := range files {
		if path.Dir(p) == dir && render.IsTemplateFile(p) {
			templatePaths[p] = sha
			templateSHAs = append(templateSHAs, sha)
		}
	}
	blobs, err := r.Blobs(ctx, repo, templateSHAs)
	if err != nil {
		return Pipelines{}, err
	}
	repoTemplates := make(map[string][]byte, len(templatePaths))
	for p, sha := range templatePaths {
		repoTemplates[p] = blobs[sha]
	}
	snap.Templates, snap.Diags = render.LoadTemplates(repoTemplates)
	snap.InputsHash = inputsHash(files, catalog.SettingsPath, dir+"/")
	return snap, nil
}

// inputsHash hashes the blob SHAs of the settings file and the templates.
func inputsHash(files map[string]string, settingsPath, templatesPrefix string) string {
	var keys []string
	for p := range files {
		if p == settingsPath || (templatesPrefix != "/" && templatesPrefix != "" && strings.HasPrefix(p, templatesPrefix)) {
			keys = append(keys, p)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s %s\n", k, files[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Catalog is the catalog at one commit of the config repository.
type Catalog struct {
	Commit  string
	Source  []byte
	Catalog catalog.Catalog
	Diags   catalog.Diagnostics
	Missing bool // the catalog file does not exist at that commit
}

// Valid reports whether the catalog exists and has no problem.
func (c Catalog) Valid() bool { return !c.Missing && len(c.Diags) == 0 }

// Catalog reads and parses the catalog at sha with the settings and
// templates of p.
func (r *Reader) Catalog(ctx context.Context, sha string, p Pipelines) (Catalog, error) {
	src, err := r.gh.File(ctx, r.repos.Config, sha, r.repos.CatalogPath)
	if errors.Is(err, gh.ErrNotFound) {
		return Catalog{Commit: sha, Missing: true}, nil
	}
	if err != nil {
		return Catalog{}, err
	}
	c := Catalog{Commit: sha, Source: src}
	c.Catalog, c.Diags = catalog.Parse(r.repos.CatalogPath, src, catalog.ParseOptions{
		Settings:   p.Settings,
		Archetypes: p.Templates.Archetypes(),
	})
	return c, nil
}

// EntityContents returns the content of every entity file of p
// (EntityFiles), from the blob cache, downloading only blobs never seen.
func (r *Reader) EntityContents(ctx context.Context, p Pipelines) (map[string][]byte, error) {
	files := p.EntityFiles()
	shas := make([]string, 0, len(files))
	for _, sha := range files {
		shas = append(shas, sha)
	}
	blobs, err := r.Blobs(ctx, r.repos.Pipelines, shas)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(files))
	for f, sha := range files {
		out[f] = blobs[sha]
	}
	return out, nil
}

// Blobs returns blob contents by SHA: from the content-addressed cache,
// downloading (and caching) only the missing ones. Files the app writes
// are cached when it writes them (Remember), so in steady state nothing is
// downloaded.
func (r *Reader) Blobs(ctx context.Context, repo gh.Repo, shas []string) (map[string][]byte, error) {
	if len(shas) == 0 {
		return map[string][]byte{}, nil
	}
	have, err := r.cache.Get(ctx, shas)
	if err != nil {
		return nil, fmt.Errorf("reading blob cache: %w", err)
	}
	var missing []string
	for _, sha := range shas {
		if _, ok := have[sha]; !ok {
			missing = append(missing, sha)
		}
	}
	if len(missing) == 0 {
		return have, nil
	}
	got, err := r.gh.Blobs(ctx, repo, missing)
	if err != nil {
		return nil, err
	}
	for sha, b := range got {
		if gh.BlobSHA(b) != sha {
			return nil, fmt.Errorf("blob %s of %s: content does not match its id", sha, repo)
		}
		have[sha] = b
	}
	if err := r.cache.Put(ctx, got); err != nil {
		return nil, fmt.Errorf("writing blob cache: %w", err)
	}
	return have, nil
}

// Remember caches the contents of files about to be written.
func (r *Reader) Remember(ctx context.Context, files map[string][]byte) error {
	blobs := map[string][]byte{}
	for _, b := range files {
		if b != nil {
			blobs[gh.BlobSHA(b)] = b
		}
	}
	if err := r.cache.Put(ctx, blobs); err != nil {
		return fmt.Errorf("writing blob cache: %w", err)
	}
	return nil
}
