package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/app/sandbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/examples"
)

func (c *cli) demoCommand() command {
	var once bool
	var dataDir, addr string
	var logs logFlags
	return command{
		name:    "demo",
		summary: "Play the whole loop on this machine against in-process GitHub and Harness stand-ins",
		usage:   "[--once] [--data DIR] [--addr HOST:PORT]",
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			fs.BoolVar(&once, "once", false, "play the scenarios and exit: 0 only if every scenario ended as expected")
			fs.StringVar(&dataDir, "data", "", "directory for the SQLite file (default: a new temporary directory)")
			fs.StringVar(&addr, "addr", "127.0.0.1:0", "address of the app (status page, webhooks, admin API)")
			logs.register(fs, "console")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				if logs.level == "" {
					logs.level = "error"
				}
				log, err := newLogger(c.stderr, logs.level, logs.format)
				if err != nil {
					return err
				}
				if dataDir == "" {
					if dataDir, err = os.MkdirTemp("", "pipeline-orchestrator-demo-"); err != nil {
						return err
					}
				}
				say := func(format string, args ...any) { fmt.Fprintf(c.stdout, format+"\n", args...) }
				say("pipeline-orchestrator demo: GitHub and Harness stand-ins on loopback, the real server, SQLite in %s", dataDir)
				env, err := sandbox.Start(ctx, sandbox.Options{
					StandInOptions: sandbox.StandInOptions{
						ConfigFiles: map[string]string{sandbox.CatalogPath: examples.Catalog},
						PipelinesFiles: map[string]string{
							app.SettingsPath: examples.Settings,
							"README.md":      "# Harness pipelines\n\nRendered by pipeline-orchestrator.\n",
						},
					},
					Dir:    dataDir,
					Logger: &log,
					Tune: func(cfg *app.Config) {
						cfg.Server.Address = addr
						cfg.Reconcile.Interval = time.Minute
					},
				})
				if err != nil {
					return err
				}
				defer env.Close()
				say("Config repo %s (catalog of %d services) and pipelines repo %s, the App installed on both orgs.",
					env.ConfigRepo, strings.Count(examples.Catalog, "\n  - name: "), env.PipelinesRepo)

				failed := sandbox.NewDemo(env, examples.Catalog, say).Play(ctx)
				say("")
				if len(failed) > 0 {
					say("✗ %d scenario(s) did not end as expected: %s", len(failed), strings.Join(failed, "; "))
				} else {
					say("✓ Every scenario ended as expected.")
				}
				if once {
					if len(failed) > 0 {
						return invalidError{fmt.Sprintf("scenario(s) failed: %s", strings.Join(failed, "; "))}
					}
					return nil
				}
				printDrive(say, env)
				<-ctx.Done()
				say("Stopping.")
				return nil
			}
		},
	}
}

// printDrive tells the user how to drive the stand-ins themselves.
func printDrive(say func(string, ...any), env *sandbox.Env) {
	cfg := env.App.Config
	gh := strings.TrimSuffix(env.GitHub.URL, "/")
	say("")
	say("The app keeps running. Watch it and drive it as you would GitHub and Harness:")
	say("  Status page     %s/", env.App.URL)
	say("  Metrics         %s/metrics", env.App.URL)
	say("  Admin API       curl -H 'Authorization: Bearer %s' %s/api/v1/pipelines", cfg.Server.AdminToken.Value(), env.App.URL)
	say("  GitHub API      %s  (token: %s)", gh, env.UserToken)
	say("  Harness API     %s  (x-api-key: %s, accountIdentifier: %s)", env.Harness.URL, env.Harness.APIKey(), env.Harness.AccountID())
	say("")
	say("For example, onboard a service by committing to a branch and opening a PR:")
	say(`  C=$(curl -s -H 'Authorization: token %s' %s/repos/%s/contents/%s | python3 -c 'import json,sys;d=json.load(sys.stdin);print(d["sha"])')`,
		env.UserToken, gh, env.ConfigRepo, sandbox.CatalogPath)
	say(`  curl -s -X POST -H 'Authorization: token %s' %s/repos/%s/git/refs -d "{\"ref\":\"refs/heads/try\",\"sha\":\"$(curl -s -H 'Authorization: token %s' %s/repos/%s/git/ref/heads/main | python3 -c 'import json,sys;print(json.load(sys.stdin)["object"]["sha"])')\"}"`,
		env.UserToken, gh, env.ConfigRepo, env.UserToken, gh, env.ConfigRepo)
	say(`  curl -s -X PUT -H 'Authorization: token %s' %s/repos/%s/contents/%s -d "{\"message\":\"try\",\"branch\":\"try\",\"sha\":\"$C\",\"content\":\"$(base64 -w0 my-services.yaml)\"}"`,
		env.UserToken, gh, env.ConfigRepo, sandbox.CatalogPath)
	say(`  curl -s -X POST -H 'Authorization: token %s' %s/repos/%s/pulls -d '{"title":"Try","head":"try","base":"main"}'`,
		env.UserToken, gh, env.ConfigRepo)
	say(`  curl -s -X PUT -H 'Authorization: token %s' %s/repos/%s/pulls/NUMBER/merge`, env.UserToken, gh, env.ConfigRepo)
	say(`  curl -s -H 'x-api-key: %s' -X POST '%s/pipeline/api/pipelines/list?accountIdentifier=%s&orgIdentifier=default&projectIdentifier=platform' -d '{"filterType":"PipelineSetup"}'`,
		env.Harness.APIKey(), env.Harness.URL, env.Harness.AccountID())
	say("")
	say("Press Ctrl-C to stop.")
}
