// Command pipeline-orchestrator keeps Harness CD pipelines in step with a
// service catalog: a GitHub App server (serve), offline tools (validate,
// render, plan) and a self-contained demonstration (demo).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newCLI(os.Stdout, os.Stderr).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
