package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a buffer one goroutine writes while another reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWalkthrough starts the demo as a person does (no flags), follows the
// walkthrough it prints by running every command as printed, checks that
// every link of the status page and the pages it names lead somewhere,
// then stops the demo and checks that its temporary directory is gone.
func TestWalkthrough(t *testing.T) {
	t.Parallel() // the demo mostly waits: its retries back off for seconds
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, &stdout, &stderr) }()
	out := waitForOutput(t, &stdout, done, "Press Ctrl-C to stop.")

	steps := parseWalkthrough(t, out)
	if len(steps) != 9 {
		t.Fatalf("%d steps in the walkthrough, want 9:\n%s", len(steps), out)
	}
	for i, s := range steps {
		if !s.run(t) {
			t.Fatalf("step %d (%s) failed: the walkthrough stops there", i+1, s.what)
		}
	}
	checkLinks(t, out)

	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("the demo exited %d after Ctrl-C", code)
	}
	m := regexp.MustCompile(`its files in (\S+) \(removed on exit unless --keep\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the demo does not say where its files are:\n%s", out)
	}
	if _, err := os.Stat(m[1]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s is left after the demo stopped (%v)", m[1], err)
	}
	// The server's logs reach stderr by default, for people, at info.
	if logs := stderr.String(); !strings.Contains(logs, "INF") || strings.Contains(logs, "DBG") || strings.HasPrefix(logs, "{") {
		t.Errorf("stderr does not hold console logs at info level:\n%.2000s", logs)
	}
}

// waitForOutput waits until out holds want, and returns it.
func waitForOutput(t *testing.T, out *syncBuffer, done <-chan int, want string) string {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for !strings.Contains(out.String(), want) {
		select {
		case code := <-done:
			t.Fatalf("the demo exited %d before saying %q:\n%s", code, want, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not say %q in time:\n%s", want, out.String())
		}
	}
	return out.String()
}

// walkStep is a step of the walkthrough, as read from the demo's output.
type walkStep struct {
	what, shows string
	again       bool
	call        curlCall
}

// stepLine is the comment that opens a step.
var stepLine = regexp.MustCompile("^  # (\\d+)\\. (↻ )?(.*?)(?:; it shows `([^`]*)`)?\\.$")

// parseWalkthrough reads the steps of the printed walkthrough: each a
// comment line, then a curl command.
func parseWalkthrough(t *testing.T, out string) []walkStep {
	t.Helper()
	lines := strings.Split(out, "\n")
	var steps []walkStep
	for i, l := range lines {
		m := stepLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if m[1] != fmt.Sprint(len(steps)+1) || i+1 >= len(lines) {
			t.Fatalf("step %s out of order or without a command:\n%s", m[1], out)
		}
		steps = append(steps, walkStep{what: m[3], again: m[2] != "", shows: m[4], call: parseCurl(t, strings.TrimPrefix(lines[i+1], "  "))})
	}
	return steps
}

// run runs the step's command: once, or until its answer shows what the
// step says for one marked ↻. It reports whether the step succeeded.
func (s walkStep) run(t *testing.T) bool {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		status, body, err := s.call.do()
		ok := err == nil && status/100 == 2 && strings.Contains(body, s.shows)
		if ok || !s.again || time.Now().After(deadline) {
			if !ok {
				t.Errorf("%s: %s %s: status %d, error %v; want 2xx showing %q; answer:\n%.3000s", s.what, s.call.method, s.call.url, status, err, s.shows, body)
			}
			return ok
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// curlCall is the HTTP request a curl command makes.
type curlCall struct {
	method, url string
	header      http.Header
	body        []byte
}

// parseCurl reads a curl command, taking only the options the walkthrough
// may use, so that a command the test cannot read fails it.
func parseCurl(t *testing.T, line string) curlCall {
	t.Helper()
	words := shellWords(t, line)
	if len(words) == 0 || words[0] != "curl" {
		t.Fatalf("not a curl command: %s", line)
	}
	c := curlCall{header: http.Header{}}
	for i := 1; i < len(words); i++ {
		w := words[i]
		arg := func() string {
			i++
			if i >= len(words) {
				t.Fatalf("%s without its argument: %s", w, line)
			}
			return words[i]
		}
		switch {
		case w == "-sS":
		case w == "-X":
			c.method = arg()
		case w == "-H":
			k, v, ok := strings.Cut(arg(), ": ")
			if !ok {
				t.Fatalf("header %q is not Name: value", words[i])
			}
			c.header.Add(k, v)
		case w == "-d":
			c.body = []byte(arg())
		case w == "--data-binary":
			name, ok := strings.CutPrefix(arg(), "@")
			b, err := os.ReadFile(name)
			if !ok || err != nil {
				t.Fatalf("--data-binary %s: want @FILE of an existing file (%v)", words[i], err)
			}
			c.body = b
		case strings.HasPrefix(w, "-") || c.url != "":
			t.Fatalf("the test does not read %q in: %s", w, line)
		default:
			c.url = w
		}
	}
	if c.method == "" {
		c.method = "GET"
		if c.body != nil {
			c.method = "POST"
		}
	}
	return c
}

// shellWords splits a command line as a POSIX shell does, for the quoting
// the walkthrough uses: words separated by spaces, single-quoted strings.
// Anything the shell would expand or interpret differently fails the test.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.ContainsRune("\"\\$`&|;<>(){}*?[]~#!", r):
			t.Fatalf("unquoted %q in: %s", r, line)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unterminated quote in: %s", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func (c curlCall) do() (int, string, error) {
	req, err := http.NewRequest(c.method, c.url, bytes.NewReader(c.body))
	if err != nil {
		return 0, "", err
	}
	req.Header = c.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// checkLinks follows every absolute link of the status page, and the pull
// request pages the walkthrough names: each must answer 200, and none may
// lead to github.com, where none of the demo's repositories exist.
func checkLinks(t *testing.T, out string) {
	t.Helper()
	status := regexp.MustCompile(`(?m)^  Status page +(\S+)$`).FindStringSubmatch(out)
	pages := regexp.MustCompile(`(?m)^The same in a browser: the PRs (\S+) and (\S+), `).FindStringSubmatch(out)
	if status == nil || pages == nil {
		t.Fatalf("the demo names no status page or pull request pages:\n%s", out)
	}
	code, page, err := curlCall{method: "GET", url: status[1]}.do()
	if err != nil || code != http.StatusOK {
		t.Fatalf("status page: %d %v", code, err)
	}
	links := pages[1:]
	for _, m := range regexp.MustCompile(`href="(https?://[^"]+)"`).FindAllStringSubmatch(page, -1) {
		links = append(links, strings.ReplaceAll(m[1], "&amp;", "&"))
	}
	if len(links) < 4 {
		t.Errorf("only %d links to follow:\n%s", len(links), page)
	}
	for _, l := range links {
		if strings.Contains(l, "github.com") {
			t.Errorf("a link leads to github.com: %s", l)
			continue
		}
		if code, _, err := (curlCall{method: "GET", url: l}).do(); err != nil || code != http.StatusOK {
			t.Errorf("%s: %d %v", l, code, err)
		}
	}
}
