package main

import (
	"context"
	"flag"
	"os"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// Output formats of the plan command.
const (
	formatText     = "text"
	formatMarkdown = "markdown"
	formatJSON     = "json"
)

// planCommand shows what going from one catalog to another does to the
// rendered entities, in the forms the app uses (text, check-run Markdown,
// JSON).
func (c *cli) planCommand() command {
	return command{
		name:    "plan",
		summary: "Show what a catalog change does to the rendered Harness entities",
		usage:   "--base FILE --head FILE [--settings FILE] [--templates DIR] [--schema FILE [--trigger-schema FILE]] [--pipelines DIR] [--format text|markdown|json]",
		flags: func(flags *flag.FlagSet) func(context.Context, []string) error {
			var (
				in                   inputFlags
				base, head, pipes, f string
			)
			flags.StringVar(&base, "base", "", "catalog `FILE` before the change (e.g. the default branch's); required")
			flags.StringVar(&head, "head", "", "catalog `FILE` after the change (e.g. the pull request's); required")
			flags.StringVar(&pipes, "pipelines", "", "`DIR`: a checkout of the pipelines repo whose entity files (services, pipelines, triggers, environments, infrastructures) are the current state, and whose settings file and templates are used unless --settings or --templates is given; default: the rendering of --base")
			flags.StringVar(&f, "format", formatText, "output `FORMAT`: text (for a terminal), markdown (the preview check run's text) or json")
			in.register(flags)
			return func(_ context.Context, args []string) error {
				switch {
				case len(args) > 0:
					return usagef("unexpected arguments %q: the catalogs go in --base and --head", args)
				case base == "" || head == "":
					return usagef("--base and --head are required")
				case f != formatText && f != formatMarkdown && f != formatJSON:
					return usagef("unknown --format %q: use text, markdown or json", f)
				}
				if pipes != "" {
					in.fromCheckout(pipes)
				}
				loaded, err := in.load(c)
				if err != nil {
					return err
				}
				baseCat, baseDiags, err := loaded.parseCatalog(base)
				if err != nil {
					return err
				}
				headCat, headDiags, err := loaded.parseCatalog(head)
				if err != nil {
					return err
				}
				if diags := append(baseDiags, headDiags...); len(diags) > 0 {
					return c.invalid(diags)
				}
				var current map[string][]byte
				if pipes != "" {
					if _, err := os.Stat(pipes); err != nil {
						return usagef("%v", err)
					}
					if current, err = readManaged(pipes, loaded.settings); err != nil {
						return err
					}
				}
				plan, diags := render.Plan(render.PlanInput{
					Base:       baseCat,
					Head:       headCat,
					Settings:   loaded.settings,
					Templates:  loaded.templates,
					Source:     render.Source{CatalogPath: head},
					BaseSource: render.Source{CatalogPath: base},
					Current:    current,
					Schemas:    loaded.schemas,
				})
				if plan.SchemaSkipped {
					c.noteSchemaSkipped("plan")
				}
				if len(diags) > 0 {
					return c.invalid(sortedDiagnostics(diags))
				}
				var out []byte
				switch f {
				case formatJSON:
					if out, err = plan.JSON(); err != nil {
						return err
					}
				case formatMarkdown:
					out = []byte(plan.Markdown(render.CheckRunTextLimit))
				default:
					out = []byte(plan.Text())
				}
				_, err = c.stdout.Write(out)
				return err
			}
		},
	}
}
