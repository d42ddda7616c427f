package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/app/wire"
)

// logFlags are serve's logging flags.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet, defaultFormat string) {
	fs.StringVar(&l.level, "log-level", "", "log level: debug, info, warn or error (default: the config's, or info)")
	fs.StringVar(&l.format, "log-format", defaultFormat, "log format: json or console (default: the config's, or json)")
}

// newLogger builds the process logger; a bad level or format is a usage
// error.
func newLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	log, err := app.NewLogger(w, level, format)
	if err != nil {
		return zerolog.Logger{}, usagef("%v", err)
	}
	return log, nil
}

func (c *cli) serveCommand() command {
	var configPath string
	var logs logFlags
	return command{
		name:    "serve",
		summary: "Run the GitHub App server: webhooks, workers, status page, admin API, metrics",
		usage:   "--config FILE",
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			fs.StringVar(&configPath, "config", "", "configuration file (see config.example.yml); PIPELINE_ORCHESTRATOR_* variables override it")
			logs.register(fs, "")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				if configPath == "" {
					return usagef("--config is required")
				}
				if _, err := os.Stat(configPath); err != nil {
					return usagef("%v", err)
				}
				cfg, err := app.LoadConfig(configPath, os.Environ())
				if err != nil {
					return err
				}
				if logs.level == "" {
					logs.level = cfg.Log.Level
				}
				if logs.format == "" {
					logs.format = cfg.Log.Format
				}
				log, err := newLogger(c.stderr, logs.level, logs.format)
				if err != nil {
					return err
				}
				return serve(ctx, cfg, &log)
			}
		},
	}
}

// serve runs the server until ctx ends (SIGINT, SIGTERM), then shuts down
// gracefully: no new webhooks, work in progress finished or released, the
// store closed.
func serve(ctx context.Context, cfg app.Config, log *zerolog.Logger) error {
	zerolog.DefaultContextLogger = log
	s, err := wire.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info().Str("url", s.URL).Str("config_repo", cfg.ConfigRepo.Repo).
		Str("pipelines_repo", cfg.PipelinesRepo.Repo).Str("version", buildVersion()).Msg("serving")
	<-ctx.Done()
	log.Info().Msg("shutting down")
	if err := s.Stop(); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	log.Info().Msg("stopped")
	return nil
}
