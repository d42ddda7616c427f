package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes. Other tools depend on them.
const (
	exitOK      = 0
	exitInvalid = 1 // the input is invalid or refused (an emptied catalog), or the run failed
	exitUsage   = 2 // bad flags, missing files
	// exitMassDelete: the plan crosses the settings' mass-delete threshold
	// (plan printed it, render wrote nothing); --allow-mass-delete accepts
	// it.
	exitMassDelete = 3
)

// usageError is a problem with how the command was called: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// invalidError means the input was read and found invalid, or refused:
// exit 1. Its details were already printed; msg, when set, is the exit
// summary.
type invalidError struct{ msg string }

func (e invalidError) Error() string { return e.msg }

// massDeleteError means the plan crosses the mass-delete threshold: exit
// 3, with msg as the exit summary.
type massDeleteError struct{ msg string }

func (e massDeleteError) Error() string { return e.msg }

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // argument synopsis after the name
	// help, when set, is what --help says after the synopsis.
	help string
	// flags declares the command's flags on fs and returns the function
	// that runs it with the remaining arguments.
	flags func(fs *flag.FlagSet) func(ctx context.Context, args []string) error
}

// cli holds the commands, where they write and the environment they read.
type cli struct {
	stdout, stderr io.Writer
	// lookupEnv reads the environment (os.LookupEnv).
	lookupEnv func(string) (string, bool)
	commands  map[string]command
}

func newCLI(stdout, stderr io.Writer) *cli {
	c := &cli{stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv, commands: map[string]command{}}
	for _, cmd := range []command{
		c.validateCommand(),
		c.renderCommand(),
		c.planCommand(),
		c.serveCommand(),
		c.versionCommand(),
	} {
		c.commands[cmd.name] = cmd
	}
	return c
}

func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		c.printUsage(c.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := c.commands[args[0]]
	if !ok {
		fmt.Fprintf(c.stderr, "pipeline-orchestrator: unknown command %q (run pipeline-orchestrator --help)\n", args[0])
		return exitUsage
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runFn := cmd.flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.printCommandUsage(c.stdout, cmd, fs)
			return exitOK
		}
		fmt.Fprintf(c.stderr, "pipeline-orchestrator %s: %v (run pipeline-orchestrator %s --help)\n", cmd.name, err, cmd.name)
		return exitUsage
	}
	err := runFn(ctx, fs.Args())
	var usage usageError
	var invalid invalidError
	var massDelete massDeleteError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(c.stderr, "pipeline-orchestrator %s: %v\n", cmd.name, err)
		return exitUsage
	case errors.As(err, &invalid):
		if invalid.msg != "" {
			fmt.Fprintf(c.stderr, "pipeline-orchestrator %s: %s\n", cmd.name, invalid.msg)
		}
		return exitInvalid
	case errors.As(err, &massDelete):
		fmt.Fprintf(c.stderr, "pipeline-orchestrator %s: %s\n", cmd.name, massDelete.msg)
		return exitMassDelete
	default:
		fmt.Fprintf(c.stderr, "pipeline-orchestrator %s: %s\n", cmd.name, capLines(err.Error()))
		return exitInvalid
	}
}

func (c *cli) printUsage(w io.Writer) {
	fmt.Fprint(w, "pipeline-orchestrator keeps Harness pipelines in step with a service catalog.\n\nUsage:\n  pipeline-orchestrator <command> [flags]\n\nCommands:\n")
	names := make([]string, 0, len(c.commands))
	for n := range c.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, c.commands[n].summary)
	}
	fmt.Fprint(w, "\nRun pipeline-orchestrator <command> --help for a command's flags.\n")
}

func (c *cli) printCommandUsage(w io.Writer, cmd command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  pipeline-orchestrator %s %s\n", cmd.summary, cmd.name, cmd.usage)
	if cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", cmd.help)
	}
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if b.Len() > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s", b.String())
	}
}
