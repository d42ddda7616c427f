package reliability_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/app/wire"
)

// envChild names the configuration file of a child process. When it is set,
// the test binary is the server, not the tests.
const envChild = "PIPELINE_ORCHESTRATOR_RELIABILITY_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(envChild); path != "" {
		os.Exit(runChild(path))
	}
	os.Exit(m.Run())
}

// childConfig is what the parent hands a child. app.Config redacts its
// secrets when encoded, so they travel beside it.
type childConfig struct {
	Config        app.Config
	PrivateKey    string
	WebhookSecret string
	HarnessAPIKey string
	AdminToken    string
	// LogPath receives the server's logs (appended, one JSON object a line).
	LogPath string
}

// runChild is the child process: the app wired as `serve` wires it. It
// prints its base URL on stdout, serves until its stdin closes, then stops
// gracefully. A SIGKILL stops it anywhere.
func runChild(path string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "reliability child:", err)
		return 2
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fail(err)
	}
	var cc childConfig
	if err := json.Unmarshal(raw, &cc); err != nil {
		return fail(err)
	}
	cfg := cc.Config
	cfg.GitHub.PrivateKey = app.Secret(cc.PrivateKey)
	cfg.GitHub.WebhookSecret = app.Secret(cc.WebhookSecret)
	cfg.Harness.APIKey = app.Secret(cc.HarnessAPIKey)
	cfg.Server.AdminToken = app.Secret(cc.AdminToken)
	if err := cfg.Validate(); err != nil {
		return fail(err)
	}
	logFile, err := os.OpenFile(cc.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fail(err)
	}
	defer logFile.Close()
	level := zerolog.InfoLevel
	if l, err := zerolog.ParseLevel(os.Getenv("RELIABILITY_LOG_LEVEL")); err == nil && l != zerolog.NoLevel {
		level = l
	}
	log := zerolog.New(logFile).Level(level).With().Timestamp().Int("pid", os.Getpid()).Logger()
	zerolog.DefaultContextLogger = &log

	s, err := wire.Start(context.Background(), cfg, &log)
	if err != nil {
		return fail(err)
	}
	fmt.Println(s.URL)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it, or dies
	if err := s.Stop(); err != nil {
		return fail(err)
	}
	return 0
}

// server is the app running in a child process, restarted on the same data
// directory after each kill.
type server struct {
	tb      testing.TB
	cfgPath string
	logPath string
	errPath string

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan error
	// URL is the running child's base URL ("" while none runs).
	URL string
	// Lives counts the children started.
	Lives int
}

// newServer writes cfg for the children; secrets are passed beside it.
func newServer(tb testing.TB, dir string, cfg app.Config) *server {
	tb.Helper()
	s := &server{
		tb:      tb,
		cfgPath: filepath.Join(dir, "child-config.json"),
		logPath: filepath.Join(dir, "server.log"),
		errPath: filepath.Join(dir, "server.stderr"),
	}
	if keep := os.Getenv("RELIABILITY_LOG_DIR"); keep != "" {
		// Keep the server's logs after the test, for reading.
		s.logPath = filepath.Join(keep, strings.ReplaceAll(tb.Name(), "/", "_")+".log")
		_ = os.Remove(s.logPath)
	}
	b, err := json.Marshal(childConfig{
		Config: cfg, PrivateKey: cfg.GitHub.PrivateKey.Value(), WebhookSecret: cfg.GitHub.WebhookSecret.Value(),
		HarnessAPIKey: cfg.Harness.APIKey.Value(), AdminToken: cfg.Server.AdminToken.Value(), LogPath: s.logPath,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(s.cfgPath, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if s.cmd != nil {
			s.Kill()
		}
	})
	return s
}

// Start starts a child and waits for its URL.
func (s *server) Start() {
	s.tb.Helper()
	if s.cmd != nil {
		s.tb.Fatal("a server is already running")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+s.cfgPath)
	stderr, err := os.OpenFile(s.errPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		s.tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.tb.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	exited := make(chan error, 1)
	select {
	case url := <-lines:
		if !strings.HasPrefix(url, "http://") {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			s.tb.Fatalf("server did not start (%q):\n%s", url, s.Stderr())
		}
		s.URL = url
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		s.tb.Fatalf("server did not print its URL within 30s:\n%s", s.Stderr())
	}
	go func() { exited <- cmd.Wait() }()
	s.cmd, s.stdin, s.exited = cmd, stdin, exited
	s.Lives++
}

// Running reports whether a child runs; a child that died by itself is a
// failure of the test.
func (s *server) Running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case err := <-s.exited:
		s.tb.Errorf("the server exited by itself: %v\n%s", err, s.Stderr())
		s.cmd, s.URL = nil, ""
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL to the child and waits for it to die.
func (s *server) Kill() {
	s.tb.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	err := <-s.exited
	var exit *exec.ExitError
	if err == nil || !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		s.tb.Errorf("the server was not killed by SIGKILL but ended with %v\n%s", err, s.Stderr())
	}
	s.cmd, s.URL = nil, ""
}

// Stop closes the child's stdin, so it shuts down gracefully, and waits.
func (s *server) Stop() {
	s.tb.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.stdin.Close()
	select {
	case err := <-s.exited:
		if err != nil {
			s.tb.Errorf("graceful stop: %v\n%s", err, s.Stderr())
		}
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.tb.Errorf("the server did not stop within a minute\n%s", s.Stderr())
	}
	s.cmd, s.URL = nil, ""
}

// HookURL is the running child's webhook endpoint.
func (s *server) HookURL() string { return s.URL + "/api/github/hook" }

// Stderr returns what the children wrote on stderr.
func (s *server) Stderr() string {
	b, _ := os.ReadFile(s.errPath)
	return string(b)
}

// LogTail returns the last n lines of the server log.
func (s *server) LogTail(n int) string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// PeakRSS returns the running child's peak resident memory, as Linux
// reports it (VmHWM), or "" where it cannot be read.
func (s *server) PeakRSS() string {
	if s.cmd == nil {
		return ""
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
