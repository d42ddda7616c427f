package app

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// NewLogger builds a process logger writing to w: level is debug, info,
// warn or error; format is json (one object per line) or console (for
// people). Every line carries a timestamp; secrets never reach it (they
// are Secret values).
func NewLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" || lvl == zerolog.NoLevel {
		return zerolog.Logger{}, fmt.Errorf("invalid log level %q (debug, info, warn, error)", level)
	}
	// Every event is one Write; the lock keeps events whole on writers
	// that are not safe for concurrent use (a buffer, in tests).
	sw := zerolog.SyncWriter(w)
	switch format {
	case "json":
		w = sw
	case "console":
		w = zerolog.ConsoleWriter{Out: sw, TimeFormat: "15:04:05.000", NoColor: !colorTerminal(w)}
	default:
		return zerolog.Logger{}, fmt.Errorf("invalid log format %q (json, console)", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// Timestamps with nanoseconds, set once, before any logger writes:
// zerolog reads the format from a package variable.
func init() { zerolog.TimeFieldFormat = time.RFC3339Nano }

// colorTerminal reports whether w is a terminal that may show colours: a
// file, such as redirected output, gets none, nor does a terminal when
// NO_COLOR is set (no-color.org).
func colorTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
