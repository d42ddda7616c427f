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
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/snapshot"
)

// renderCommand writes the file of every entity the catalog and the
// settings render, all or nothing, and removes the generated files it no
// longer renders: what the app's bot PR would hold.
func (c *cli) renderCommand() command {
	return command{
		name:    "render",
		summary: "Render every Harness entity of the catalog and the settings into a directory",
		help: "As the app refuses to propose it, render refuses a catalog emptied of the services whose files the directory holds (exit 1),\n" +
			"and writes nothing when its deletes cross the settings' mass-delete threshold (exit 3).\n" + handWrittenHelp,
		usage: "--catalog FILE --out DIR [--settings FILE] [--templates DIR] [--schema FILE [--trigger-schema FILE]] [--allow-empty-catalog] [--allow-mass-delete]",
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			var (
				in               inputFlags
				safety           safetyFlags
				catalogPath, out string
			)
			fs.StringVar(&catalogPath, "catalog", "", "service catalog `FILE` (catalog/services.yaml); required")
			fs.StringVar(&out, "out", "", "`DIR` to write the services, pipelines, triggers, environments and infrastructures directories into, e.g. a pipelines repo checkout; required")
			in.register(fs)
			safety.register(fs, "write")
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
				return c.renderInto(out, loaded, snapshot.Catalog{Catalog: cat, Diags: diags}, catalogPath, safety)
			}
		},
	}
}

// renderInto renders head into out as the app's propose step would
// (planner.Gate, then planner.Propose) against the files out holds:
// everything is rendered and checked before anything is written, so an
// invalid service, an emptied catalog or a refused mass delete leaves the
// directory as it was; files written by hand are never replaced or
// removed.
func (c *cli) renderInto(out string, loaded inputs, head snapshot.Catalog, catalogPath string, safety safetyFlags) error {
	current, err := readManaged(out, loaded.settings)
	if err != nil {
		return err
	}
	if err := c.gate(safety, loaded, head, catalogPath, servicesWithFiles(loaded.settings, current)); err != nil {
		return err
	}
	prop := planner.Propose(planner.ProposeInput{
		Pipelines: snapshot.Pipelines{Settings: loaded.settings, Templates: loaded.templates}, Head: head,
		Current: current, Source: render.Source{CatalogPath: catalogPath}, Schemas: loaded.schemas,
	})
	if loaded.schemas == nil {
		c.noteSchemaSkipped("render")
	}
	if prop.Blocked != nil {
		diags := sortedDiagnostics(prop.Blocked.Diags)
		return c.invalid(renderFailed(catalogPath, diags), diags)
	}
	note, err := massDelete(safety, prop.MassDelete, loaded.settings, prop.Plan, "; nothing was written")
	if err != nil {
		fmt.Fprintln(c.stderr, note)
		return err
	}
	removed, err := writePlan(out, prop.Writes)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "rendered %s into %s\n", renderedCounts(prop.Plan), out)
	for _, name := range removed {
		fmt.Fprintf(c.stdout, "removed %s: nothing renders it any more\n", name)
	}
	if note != "" {
		fmt.Fprintln(c.stdout, note)
	}
	return nil
}

// writePlan writes a plan's files into out (a nil content removes the
// file) and returns the files it removed.
func writePlan(out string, writes map[string][]byte) ([]string, error) {
	var removed []string
	for _, p := range slices.Sorted(maps.Keys(writes)) {
		name := filepath.Join(out, filepath.FromSlash(p))
		if writes[p] == nil {
			if err := os.Remove(name); err != nil {
				return removed, fmt.Errorf("removing %s: %w", name, err)
			}
			removed = append(removed, name)
			continue
		}
		if err := writeFileAtomic(name, writes[p]); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// renderedCounts says how many files of each kind a rendering holds.
func renderedCounts(plan render.PipelinePlan) string {
	n := map[render.Kind]int{}
	for _, ch := range plan.Changes {
		if ch.Action != render.ActionDelete {
			n[ch.Kind]++
		}
	}
	parts := []string{
		countOf(n[render.KindService], "service", "services"),
		countOf(n[render.KindPipeline], "pipeline", "pipelines"),
		countOf(n[render.KindTrigger], "trigger", "triggers"),
		countOf(n[render.KindEnvironment], "environment", "environments"),
	}
	return strings.Join(parts, ", ") + " and " + countOf(n[render.KindInfrastructure], "infrastructure definition", "infrastructure definitions")
}

// countOf writes n and the noun in the right number.
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// readManaged reads the entity files of a pipelines repo checkout: every
// file of the settings' entity directories that render.KindOfPath names,
// keyed by its path in the repo. A directory that does not exist holds
// none.
func readManaged(dir string, s catalog.Settings) (map[string][]byte, error) {
	current := map[string][]byte{}
	for _, sub := range []string{s.ServicesDir, s.PipelinesDir, s.TriggersDir, s.EnvironmentsDir, s.InfrastructuresDir} {
		sub = path.Clean(sub)
		entries, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(sub)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, usagef("%v", err)
		}
		for _, e := range entries {
			p := path.Join(sub, e.Name())
			if _, ok := render.KindOfPath(s, p); !ok || !e.Type().IsRegular() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
			if err != nil {
				return nil, usagef("%v", err)
			}
			current[p] = b
		}
	}
	return current, nil
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
