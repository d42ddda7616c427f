package app

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// BlobSHA is git's object id of a file: SHA-1 of "blob <size>\0<content>".
// Comparing it with a tree's entry tells whether a file changed without
// downloading it.
func BlobSHA(content []byte) string {
	h := sha1.New()
	h.Write([]byte("blob " + strconv.Itoa(len(content)) + "\x00"))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// pipelinesSnapshot is the pipelines repository at one commit, as the loop
// needs it: its files (by blob SHA), settings and templates.
type pipelinesSnapshot struct {
	Head  Commit
	Files map[string]string // every file: path → blob SHA
	// Settings and Templates are valid only when Diags is empty.
	Settings  catalog.Settings
	Templates *render.Templates
	Diags     catalog.Diagnostics // problems in the settings file or templates (pipelines repo paths)
	// InputsHash changes when the settings file or a template changes.
	InputsHash string
}

// pipelineFiles returns the pipeline files of the snapshot (path → blob SHA).
func (s pipelinesSnapshot) pipelineFiles() map[string]string {
	out := map[string]string{}
	for p, sha := range s.Files {
		if render.IsPipelinePath(s.Settings, p) {
			out[p] = sha
		}
	}
	return out
}

// readPipelinesRepo reads the pipelines repo at head: one tree listing,
// the settings file and the templates (from the blob cache when known).
func (a *App) readPipelinesRepo(ctx context.Context, head Commit) (pipelinesSnapshot, error) {
	files, err := a.gh.Tree(ctx, a.pipelinesRepo, head.TreeSHA, "")
	if err != nil {
		return pipelinesSnapshot{}, err
	}
	snap := pipelinesSnapshot{Head: head, Files: files, Settings: catalog.DefaultSettings()}

	if sha, ok := files[SettingsPath]; ok {
		blobs, err := a.blobs(ctx, a.pipelinesRepo, []string{sha})
		if err != nil {
			return pipelinesSnapshot{}, err
		}
		settings, diags := catalog.ParseSettings(SettingsPath, blobs[sha])
		if len(diags) > 0 {
			snap.Diags = diags
			snap.InputsHash = inputsHash(files, SettingsPath, "")
			return snap, nil
		}
		snap.Settings = settings
	}

	dir := strings.Trim(snap.Settings.TemplatesDir, "/")
	var templateSHAs []string
	templatePaths := map[string]string{}
	for p, sha := range files {
		if path.Dir(p) == dir && strings.HasSuffix(p, render.TemplateSuffix) {
			templatePaths[p] = sha
			templateSHAs = append(templateSHAs, sha)
		}
	}
	blobs, err := a.blobs(ctx, a.pipelinesRepo, templateSHAs)
	if err != nil {
		return pipelinesSnapshot{}, err
	}
	repoTemplates := make(map[string][]byte, len(templatePaths))
	for p, sha := range templatePaths {
		repoTemplates[p] = blobs[sha]
	}
	snap.Templates, snap.Diags = render.LoadTemplates(repoTemplates)
	snap.InputsHash = inputsHash(files, SettingsPath, dir+"/")
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

// catalogSnapshot is the catalog at one commit of the config repo.
type catalogSnapshot struct {
	Commit  string
	Source  []byte
	Catalog catalog.Catalog
	Diags   catalog.Diagnostics
	Missing bool // the catalog file does not exist at that commit
}

// readCatalog reads and parses the catalog at sha with the pipelines
// repo's settings and templates.
func (a *App) readCatalog(ctx context.Context, sha string, snap pipelinesSnapshot) (catalogSnapshot, error) {
	src, err := a.gh.File(ctx, a.configRepo, sha, a.cfg.ConfigRepo.CatalogPath)
	if errors.Is(err, ErrNotFound) {
		return catalogSnapshot{Commit: sha, Missing: true}, nil
	}
	if err != nil {
		return catalogSnapshot{}, err
	}
	cs := catalogSnapshot{Commit: sha, Source: src}
	cs.Catalog, cs.Diags = catalog.Parse(a.cfg.ConfigRepo.CatalogPath, src, catalog.ParseOptions{
		Settings:   snap.Settings,
		Archetypes: snap.Templates.Archetypes(),
	})
	return cs, nil
}

// currentPipelines returns the content of every pipeline file of the
// snapshot, from the blob cache, downloading only blobs never seen.
func (a *App) currentPipelines(ctx context.Context, snap pipelinesSnapshot) (map[string][]byte, error) {
	files := snap.pipelineFiles()
	shas := make([]string, 0, len(files))
	for _, sha := range files {
		shas = append(shas, sha)
	}
	blobs, err := a.blobs(ctx, a.pipelinesRepo, shas)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(files))
	for p, sha := range files {
		out[p] = blobs[sha]
	}
	return out, nil
}

// blobs returns blob contents by SHA: from the store's content-addressed
// cache, downloading (and caching) only the missing ones. Files the app
// writes are cached when it writes them, so in steady state nothing is
// downloaded.
func (a *App) blobs(ctx context.Context, repo Repo, shas []string) (map[string][]byte, error) {
	if len(shas) == 0 {
		return map[string][]byte{}, nil
	}
	have, err := a.db.GetBlobs(ctx, shas)
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
	got, err := a.gh.Blobs(ctx, repo, missing)
	if err != nil {
		return nil, err
	}
	for sha, b := range got {
		if BlobSHA(b) != sha {
			return nil, fmt.Errorf("blob %s of %s: content does not match its id", sha, repo)
		}
		have[sha] = b
	}
	if err := a.db.PutBlobs(ctx, got); err != nil {
		return nil, fmt.Errorf("writing blob cache: %w", err)
	}
	return have, nil
}

// remember caches the blobs of files the app is about to write.
func (a *App) remember(ctx context.Context, files map[string][]byte) error {
	blobs := map[string][]byte{}
	for _, b := range files {
		if b != nil {
			blobs[BlobSHA(b)] = b
		}
	}
	if err := a.db.PutBlobs(ctx, blobs); err != nil {
		return fmt.Errorf("writing blob cache: %w", err)
	}
	return nil
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
