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

	"github.com/rs/zerolog"

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
	once, keep       bool
	dataDir, addr    string
	logLevel, logFmt string
}

func parseFlags(args []string, stderr io.Writer) (options, int, bool) {
	var o options
	fs := flag.NewFlagSet("pipeline-orchestrator-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "pipeline-orchestrator-demo plays the whole loop on this machine: GitHub and Harness stand-ins, the real server,\n"+
			"and the seed's scenarios. Then it keeps everything up and prints a walkthrough to follow with curl, until Ctrl-C.\n\n"+
			"Usage:\n  pipeline-orchestrator-demo [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.BoolVar(&o.once, "once", false, "play the scenarios and exit: 0 only if every scenario ended as expected")
	fs.StringVar(&o.dataDir, "data", "", "directory for the SQLite file and the walkthrough's files, kept on exit (default: a new temporary directory, removed on exit)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory on exit")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "address of the app (status page, webhook, admin API, metrics)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level of the server, on stderr: debug, info, warn or error")
	fs.StringVar(&o.logFmt, "log-format", "console", "log format of the server: console (for people) or json (one object per line)")
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

// dataDir returns the directory the demo keeps its files in, and what to
// do with it on exit: a directory given with --data stays, a temporary one
// is removed unless --keep.
func dataDir(o options) (dir string, cleanup func() error, err error) {
	if o.dataDir != "" {
		return o.dataDir, func() error { return nil }, nil
	}
	dir, err = os.MkdirTemp("", "pipeline-orchestrator-demo-")
	if err != nil {
		return "", nil, err
	}
	if o.keep {
		return dir, func() error { return nil }, nil
	}
	return dir, func() error { return os.RemoveAll(dir) }, nil
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
	dir, cleanup, err := dataDir(o)
	if err != nil {
		fmt.Fprintf(stderr, "pipeline-orchestrator-demo: %v\n", err)
		return exitFailed
	}
	defer func() {
		if err := cleanup(); err != nil {
			fmt.Fprintf(stderr, "pipeline-orchestrator-demo: removing %s: %v\n", dir, err)
		}
	}()
	say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	kept := "kept on exit"
	if o.dataDir == "" && !o.keep {
		kept = "removed on exit unless --keep"
	}
	say("pipeline-orchestrator demo: GitHub and Harness stand-ins on loopback, the real server, its files in %s (%s)", dir, kept)
	env, err := start(ctx, o, dir, &log)
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
	w, err := newWalkthrough(env, dir)
	if err != nil {
		fmt.Fprintf(stderr, "pipeline-orchestrator-demo: preparing the walkthrough: %v\n", err)
		return exitFailed
	}
	printDrive(say, env, dir)
	w.print(say)
	say("")
	say("Press Ctrl-C to stop.")
	<-ctx.Done()
	say("Stopping.")
	return exitOK
}

// start starts the stand-ins and the app, its SQLite file in dir.
func start(ctx context.Context, o options, dir string, log *zerolog.Logger) (*sandbox.Env, error) {
	return sandbox.Start(ctx, sandbox.Options{
		StandInOptions: sandbox.StandInOptions{
			ConfigFiles: map[string]string{sandbox.CatalogPath: examples.Catalog},
			ServeWeb:    true,
			PipelinesFiles: map[string]string{
				catalog.SettingsPath: examples.Settings,
				"README.md":          "# Harness pipelines\n\nRendered by pipeline-orchestrator.\n",
			},
		},
		Dir:    dir,
		Logger: log,
		Tune: func(cfg *app.Config) {
			cfg.Server.Address = o.addr
			cfg.Reconcile.Interval = time.Minute
		},
	})
}

// printDrive says where everything is.
func printDrive(say func(string, ...any), env *sandbox.Env, dir string) {
	cfg := env.App.Config
	private := env.App.PrivateURL
	say("")
	say("The app keeps running. Watch it and drive it as you would GitHub and Harness:")
	say("  Status page     %s/", private)
	say("  Webhook         POST %s (where the GitHub stand-in delivers)", env.App.HookURL())
	say("  Metrics         %s/metrics", private)
	say("  Admin API       curl -sS -H 'Authorization: Bearer %s' %s/api/v1/pipelines", cfg.Server.AdminToken.Value(), private)
	say("  GitHub API      %s  (token: %s)", env.GitHub.URL, env.UserToken)
	say("  GitHub pages    %s%s and %s%s", env.GitHub.WebURL, env.ConfigRepo, env.GitHub.WebURL, env.PipelinesRepo)
	say("  Harness API     %s  (x-api-key: %s, accountIdentifier: %s)", env.Harness.URL, env.Harness.APIKey(), env.Harness.AccountID())
	say("  Files           %s", dir)
	say("")
}
