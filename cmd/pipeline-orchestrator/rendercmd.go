package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// renderCommand writes the pipeline file of every enabled service, all or
// nothing, and removes the files of services it no longer renders.
func (c *cli) renderCommand() command {
	return command{
		name:    "render",
		summary: "Render the pipeline of every enabled service into a directory",
		usage:   "--catalog FILE --out DIR [--settings FILE] [--templates DIR] [--schema FILE [--trigger-schema FILE]]",
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			var (
				in               inputFlags
				catalogPath, out string
			)
			fs.StringVar(&catalogPath, "catalog", "", "service catalog `FILE` (catalog/services.yaml); required")
			fs.StringVar(&out, "out", "", "`DIR` to write <pipelines dir>/<service>-cd.yaml into, e.g. a pipelines repo checkout; required")
			in.register(fs)
			return func(_ context.Context, args []string) error {
				switch {
				case len(args) > 0:
					return usagef("unexpected arguments %q: the catalog goes in --catalog", args)
				case catalogPath == "":
					return usagef("--catalog is required")
				case out == "":
					return usagef("--out is required")
				}
				loaded, err := in.load(c)
				if err != nil {
					return err
				}
				cat, diags, err := loaded.parseCatalog(catalogPath)
				if err != nil {
					return err
				}
				if len(diags) > 0 {
					return c.invalid(diags)
				}
				// Render everything before writing anything: an invalid
				// service leaves the directory as it was.
				if loaded.schemas == nil {
					c.noteSchemaSkipped("render")
				}
				files, diags := render.All(loaded.templates, cat, render.Options{
					Settings: loaded.settings, Source: render.Source{CatalogPath: catalogPath}, Schemas: loaded.schemas,
				})
				if len(diags) > 0 {
					return c.invalid(sortedDiagnostics(diags))
				}
				for _, p := range slices.Sorted(maps.Keys(files)) {
					if err := writeFileAtomic(filepath.Join(out, filepath.FromSlash(p)), files[p]); err != nil {
						return err
					}
				}
				dir := filepath.Join(out, filepath.FromSlash(loaded.settings.PipelinesDir))
				fmt.Fprintf(c.stdout, "rendered %d pipelines into %s\n", len(files), dir)
				removed, err := removeStale(out, loaded.settings, files)
				for _, p := range removed {
					fmt.Fprintf(c.stdout, "removed %s: no enabled service renders it any more\n", filepath.Join(out, filepath.FromSlash(p)))
				}
				return err
			}
		},
	}
}

// removeStale deletes the pipeline files under out that an earlier render
// wrote and this one did not (a service removed or disabled since), so the
// directory ends as the app would propose it. Files without the generated
// header are left alone, whatever their name. It returns the slash paths
// it removed, in order.
func removeStale(out string, s catalog.Settings, files map[string][]byte) ([]string, error) {
	dir := filepath.Join(out, filepath.FromSlash(s.PipelinesDir))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // nothing rendered and nothing there before
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var removed []string
	for _, e := range entries {
		p := path.Join(s.PipelinesDir, e.Name())
		if _, rendered := files[p]; rendered || !e.Type().IsRegular() || !render.IsPipelinePath(s, p) {
			continue
		}
		name := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(name)
		if err != nil {
			return removed, fmt.Errorf("reading %s: %w", name, err)
		}
		if !render.IsGenerated(b) {
			continue
		}
		if err := os.Remove(name); err != nil {
			return removed, fmt.Errorf("removing %s: %w", name, err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}

// writeFileAtomic writes data to name through a temporary file in the
// same directory and a rename, so a reader never sees half a file.
func writeFileAtomic(name string, data []byte) (err error) {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
