package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// renderCommand writes the pipeline file of every enabled service, all or
// nothing.
func (c *cli) renderCommand() command {
	return command{
		name:    "render",
		summary: "Render the pipeline of every enabled service into a directory",
		usage:   "--catalog FILE --out DIR [--settings FILE] [--templates DIR]",
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
				files, diags := render.All(loaded.templates, cat, loaded.settings, render.Source{CatalogPath: catalogPath})
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
				return nil
			}
		},
	}
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
