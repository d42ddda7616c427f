// Command pipeline-orchestrator-demo plays the whole loop on this machine:
// in-process stand-ins for GitHub and Harness that speak their real HTTP
// APIs, and the real server wired exactly as `pipeline-orchestrator serve`
// wires it, on loopback with a SQLite file. It narrates the seed's
// scenarios, then keeps the status page up until interrupted. The
// stand-ins are test and demo code: this binary is the only one that links
// them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/examples"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
)

// Exit codes, as the main command's.
const (
	exitOK     = 0
	exitFailed = 1 // a scenario did not end as expected, or the demo could not start
	exitUsage  = 2 // bad flags or arguments
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the demo's flags.
type options struct {
	once             bool
	dataDir, addr    string
	logLevel, logFmt string
}

func parseFlags(args []string, stderr io.Writer) (options, int, bool) {
	var o options
	fs := flag.NewFlagSet("pipeline-orchestrator-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.once, "once", false, "play the scenarios and exit: 0 only if every scenario ended as expected")
	fs.StringVar(&o.dataDir, "data", "", "directory for the SQLite file (default: a new temporary directory)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "address of the app (status page, webhooks, admin API)")
	fs.StringVar(&o.logLevel, "log-level", "error", "log level of the server: debug, info, warn or error")
	fs.StringVar(&o.logFmt, "log-format", "console", "log format of the server: json or console")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, exitOK, false
		}
		return o, exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pipeline-orchestrator-demo: unexpected argument %q\n", fs.Arg(0))
		return o, exitUsage, false
	}
	return o, exitOK, true
}

// run plays the demo and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parseFlags(args, stderr)
	if !ok {
		return code
	}
	log, err := app.NewLogger(stderr, o.logLevel, o.logFmt)
	if err != nil {
		fmt.Fprintf(stderr, "pipeline-orchestrator-demo: %v\n", err)
		return exitUsage
	}
	if o.dataDir == "" {
		if o.dataDir, err = os.MkdirTemp("", "pipeline-orchestrator-demo-"); err != nil {
			fmt.Fprintf(stderr, "pipeline-orchestrator-demo: %v\n", err)
			return exitFailed
		}
	}
	say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	say("pipeline-orchestrator demo: GitHub and Harness stand-ins on loopback, the real server, SQLite in %s", o.dataDir)
	env, err := sandbox.Start(ctx, sandbox.Options{
		StandInOptions: sandbox.StandInOptions{
			ConfigFiles: map[string]string{sandbox.CatalogPath: examples.Catalog},
			ServeWeb:    true,
			PipelinesFiles: map[string]string{
				catalog.SettingsPath: examples.Settings,
				"README.md":          "# Harness pipelines\n\nRendered by pipeline-orchestrator.\n",
			},
		},
		Dir:    o.dataDir,
		Logger: &log,
		Tune: func(cfg *app.Config) {
			cfg.Server.Address = o.addr
			cfg.Reconcile.Interval = time.Minute
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "pipeline-orchestrator-demo: %v\n", err)
		return exitFailed
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
	if o.once {
		if len(failed) > 0 {
			fmt.Fprintf(stderr, "pipeline-orchestrator-demo: scenario(s) failed: %s\n", strings.Join(failed, "; "))
			return exitFailed
		}
		return exitOK
	}
	printDrive(say, env)
	<-ctx.Done()
	say("Stopping.")
	return exitOK
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
	say("  GitHub pages    %s%s", env.GitHub.WebURL, env.PipelinesRepo)
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
