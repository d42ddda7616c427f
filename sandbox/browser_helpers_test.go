package sandbox_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserRequired is set by CI, which installs chromium: there the test
// fails instead of skipping when no browser can be found.
const browserRequired = "PIPELINE_ORCHESTRATOR_BROWSER_TEST"

// screenshotsDir names the directory the browser tests save their
// full-page screenshots to; without it they go to the test's temporary
// directory, which is removed after the test.
const screenshotsDir = "PIPELINE_ORCHESTRATOR_SCREENSHOTS"

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(browserRequired) == "required" {
		t.Fatal("no chromium found, and " + browserRequired + "=required")
	}
	t.Skip("no chromium on this machine (CI installs Debian's chromium and requires this test)")
	return ""
}

// tab is one headless chromium tab; its methods fail the test on error.
// Their selectors are CSS selectors: a plain string would be a DOM search,
// which also matches the page's text, its style sheet included.
type tab struct {
	t     *testing.T
	ctx   context.Context
	shots string // where screenshots go
}

// openTab starts headless chromium at execPath (see chromium) with a
// laptop's window, for at most a minute; it stops with the test.
func openTab(t *testing.T, execPath string) tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900), // a laptop screen
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(cancelTimeout)
	shots := os.Getenv(screenshotsDir)
	if shots == "" {
		shots = t.TempDir()
	}
	return tab{t: t, ctx: ctx, shots: shots}
}

// open loads url and waits until sel is visible.
func (b tab) open(url, sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("opening %s: %v", url, err)
	}
}

// text is the visible text of the first element sel matches; it waits
// for one to exist.
func (b tab) text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("reading %s: %v", sel, err)
	}
	return strings.TrimSpace(v)
}

// attr is the attribute name of the first element sel matches.
func (b tab) attr(sel, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		b.t.Fatalf("reading %s's %s: %v", sel, name, err)
	}
	return v.Value
}

// count is how many elements sel matches, without waiting.
func (b tab) count(sel string) int {
	b.t.Helper()
	return b.eval("document.querySelectorAll(" + strconv.Quote(sel) + ").length")
}

// eval evaluates a JavaScript expression whose value is a number. The
// page's policy forbids its own scripts; the browser's tooling is not
// bound by it.
func (b tab) eval(expr string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return n
}

// click clicks the first element sel matches.
func (b tab) click(sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("clicking %s: %v", sel, err)
	}
}

// screenshot saves the whole page as name (a .png) in the screenshots
// directory ($PIPELINE_ORCHESTRATOR_SCREENSHOTS, or the test's temporary
// directory), logs where, and returns its size in bytes.
func (b tab) screenshot(name string) int {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("taking the screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(b.shots, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return len(png)
}
