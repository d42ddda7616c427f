package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// Environment variables that stand for --schema and --trigger-schema.
const (
	envPipelineSchema = app.EnvPipelineSchema
	envTriggerSchema  = app.EnvTriggerSchema
)

// inputFlags are the flags every offline command shares: where the
// settings, the templates and Harness's schemas come from.
type inputFlags struct {
	settings      string
	templates     string
	schema        string
	triggerSchema string
}

// register declares the flags on fs.
func (f *inputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.settings, "settings", "", "settings `FILE` (a pipelines repo's .pipeline-orchestrator.yml); default: the built-in settings")
	fs.StringVar(&f.templates, "templates", "", "`DIR` of <archetype>"+render.TemplateSuffix+" and <archetype>"+render.ServiceTemplateSuffix+" files (a pipelines repo's templates/); the built-in templates fill what it lacks")
	fs.StringVar(&f.schema, "schema", "", "Harness's pipeline JSON Schema `FILE`, as your account serves it (GET /pipeline/api/yaml-schema?entityType=Pipelines: the answer, or its data), to check the pipelines against; default: $"+envPipelineSchema+"; without one that check is skipped")
	fs.StringVar(&f.triggerSchema, "trigger-schema", "", "Harness's trigger JSON Schema `FILE` (entityType=Triggers), with --schema; default: $"+envTriggerSchema)
}

// fromCheckout fills the inputs not given on the command line from a
// pipelines repo checkout, as the app reads that repo: its settings file
// and its templates directory, where they exist. A flag given wins.
func (f *inputFlags) fromCheckout(dir string) {
	templatesDir := catalog.DefaultSettings().TemplatesDir
	if f.settings == "" {
		if p := filepath.Join(dir, catalog.SettingsPath); isFile(p) {
			f.settings = p
		}
	}
	if f.settings != "" {
		// Errors in the file are load's to report; here it only says
		// where the templates are.
		if src, err := os.ReadFile(f.settings); err == nil {
			if s, diags := catalog.ParseSettings(f.settings, src); len(diags) == 0 {
				templatesDir = s.TemplatesDir
			}
		}
	}
	if f.templates == "" {
		if p := filepath.Join(dir, filepath.FromSlash(templatesDir)); isDir(p) {
			f.templates = p
		}
	}
}

// isFile and isDir report whether p exists and is a regular file or a
// directory.
func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// inputs are the settings and templates a catalog is read and rendered
// with, and Harness's schemas to check the renderings against (nil when
// none was given).
type inputs struct {
	settings  catalog.Settings
	templates *render.Templates
	schemas   *render.Schemas
}

// load reads the settings file and the templates directory. A file that
// cannot be read is a usage error (exit 2); a settings file or template
// that is invalid prints its diagnostics and is an invalidError (exit 1).
func (f *inputFlags) load(c *cli) (inputs, error) {
	in := inputs{settings: catalog.DefaultSettings()}
	var diags catalog.Diagnostics
	if f.settings != "" {
		src, err := os.ReadFile(f.settings)
		if err != nil {
			return inputs{}, usagef("%v", err)
		}
		s, ds := catalog.ParseSettings(f.settings, src)
		diags = append(diags, ds...)
		in.settings = s
	}
	files := map[string][]byte{}
	if f.templates != "" {
		entries, err := os.ReadDir(f.templates)
		if err != nil {
			return inputs{}, usagef("%v", err)
		}
		for _, e := range entries {
			// Like the app, take only the files named like templates:
			// a templates/ directory may hold other things.
			if e.IsDir() || !render.IsTemplateFile(e.Name()) {
				continue
			}
			p := filepath.Join(f.templates, e.Name())
			src, err := os.ReadFile(p)
			if err != nil {
				return inputs{}, usagef("%v", err)
			}
			files[filepath.ToSlash(p)] = src
		}
	}
	t, ds := render.LoadTemplates(files)
	diags = append(diags, ds...)
	in.templates = t
	if len(diags) > 0 {
		return inputs{}, c.invalid(settingsInvalid(diags), diags)
	}
	schemas, err := f.loadSchemas(c)
	if err != nil {
		return inputs{}, err
	}
	in.schemas = schemas
	return in, nil
}

// loadSchemas reads and compiles Harness's schemas from --schema and
// --trigger-schema, or the environment variables that stand for them. It
// returns nil when no pipeline schema is given. A file that cannot be read
// is a usage error; one that is not a schema is an error (exit 1).
func (f *inputFlags) loadSchemas(c *cli) (*render.Schemas, error) {
	pipelinePath, triggerPath := f.schema, f.triggerSchema
	if pipelinePath == "" {
		pipelinePath, _ = c.lookupEnv(envPipelineSchema)
	}
	if triggerPath == "" {
		triggerPath, _ = c.lookupEnv(envTriggerSchema)
	}
	if pipelinePath == "" {
		if triggerPath != "" {
			return nil, usagef("a trigger schema needs the pipeline schema too (--schema FILE or %s)", envPipelineSchema)
		}
		return nil, nil
	}
	pipelineJSON, err := readSchema(pipelinePath)
	if err != nil {
		return nil, err
	}
	var triggerJSON []byte
	if triggerPath != "" {
		if triggerJSON, err = readSchema(triggerPath); err != nil {
			return nil, err
		}
	}
	s, err := render.CompileSchemas(pipelineJSON, triggerJSON)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pipelinePath, err)
	}
	return s, nil
}

// readSchema reads a schema file: the JSON Schema itself, or Harness's
// whole answer ({"status": "SUCCESS", "data": <schema>, ...}) as saved
// from the API.
func readSchema(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if json.Unmarshal(b, &env) == nil && env.Status == "SUCCESS" && len(env.Data) > 0 && env.Data[0] == '{' {
		return env.Data, nil
	}
	return b, nil
}

// noteSchemaSkipped tells the user, in one line on stderr, that cmd
// rendered without Harness's schema, and how to check against it.
func (c *cli) noteSchemaSkipped(cmd string) {
	fmt.Fprintf(c.stderr, "pipeline-orchestrator %s: Harness schema check skipped: no schema given (use --schema FILE or %s)\n", cmd, envPipelineSchema)
}

// parseCatalog reads and parses the catalog file at path. A file that
// cannot be read is a usage error; an invalid catalog prints its
// diagnostics and returns them.
func (in inputs) parseCatalog(path string) (catalog.Catalog, catalog.Diagnostics, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return catalog.Catalog{}, nil, usagef("%v", err)
	}
	cat, diags := catalog.Parse(path, src, catalog.ParseOptions{Settings: in.settings, Archetypes: in.templates.Archetypes()})
	return cat, diags, nil
}

// validateCommand checks a catalog: it parses with the settings and the
// templates' archetypes, and every entity renders and passes its checks.
func (c *cli) validateCommand() command {
	return command{
		name:    "validate",
		summary: "Check a service catalog: every service parses and its entities render",
		usage:   "[--settings FILE] [--templates DIR] [--schema FILE [--trigger-schema FILE]] CATALOG",
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			var in inputFlags
			in.register(fs)
			return func(_ context.Context, args []string) error {
				if len(args) != 1 {
					return usagef("want one catalog file, got %d arguments (flags go before the file)", len(args))
				}
				loaded, err := in.load(c)
				if err != nil {
					return err
				}
				cat, diags, err := loaded.parseCatalog(args[0])
				if err != nil {
					return err
				}
				if len(diags) > 0 {
					return c.invalid(catalogInvalid(args[0], diags), sortedDiagnostics(diags))
				}
				// A catalog is only as valid as its entities: render them
				// too, as the preview check does.
				if loaded.schemas == nil {
					c.noteSchemaSkipped("validate")
				}
				_, diags = render.All(loaded.templates, cat, render.Options{
					Settings: loaded.settings, Source: render.Source{CatalogPath: args[0]}, Schemas: loaded.schemas,
				})
				if len(diags) > 0 {
					diags = sortedDiagnostics(diags)
					return c.invalid(renderFailed(args[0], diags), diags)
				}
				fmt.Fprintf(c.stdout, "ok: %d services\n", len(cat.Services))
				return nil
			}
		},
	}
}

// sortedDiagnostics orders diagnostics by file, line and column, keeping
// the order of those at the same place.
func sortedDiagnostics(diags catalog.Diagnostics) catalog.Diagnostics {
	out := append(catalog.Diagnostics(nil), diags...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return out
}
