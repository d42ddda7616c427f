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

// TestStatusPageInABrowser plays the demo's scenarios, then opens the
// status page in headless chromium and checks what a user sees there.
func TestStatusPageInABrowser(t *testing.T) {
	browser := chromium(t)
	ctx := context.Background()
	env := playedDemo(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900), // a laptop screen
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	bctx, cancelTimeout := context.WithTimeout(bctx, 60*time.Second)
	defer cancelTimeout()

	if err := chromedp.Do(bctx, chromedp.Navigate(env.App.URL+"/"), chromedp.WaitVisible("#services")); err != nil {
		t.Fatalf("opening the status page: %v", err)
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int]("document.querySelectorAll("+strconv.Quote(sel)+").length"))
		if err != nil {
			t.Fatalf("counting %s: %v", sel, err)
		}
		return n
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	services := text("#services")
	rows := count("#services tr[data-service]")
	searchState := text(`#services tr[data-service="search-api"] .harness-state`)
	searchTeam := text(`#services tr[data-service="search-api"] .team`)
	queueDone, queueFailed := text("#queue-done"), text("#queue-failed")
	deliveryRows := count("#recent-deliveries tr[data-delivery]")
	noBotPR, lastBotPR := text("#no-bot-pr"), text("#last-bot-pr")
	screenshot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	artifacts := filepath.Join(os.TempDir(), "pipeline-orchestrator-test-artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err == nil {
		shot := filepath.Join(artifacts, "status-page.png")
		if err := os.WriteFile(shot, screenshot, 0o644); err == nil {
			t.Logf("screenshot: %s", shot)
		}
	}

	if !strings.Contains(title, "pipeline-orchestrator") {
		t.Errorf("title = %q", title)
	}
	// 12 services of the example catalog, search-api onboarded during the
	// outage, and loyalty-api onboarded then retired.
	if rows < 13 {
		t.Errorf("%d service rows, want at least 13", rows)
	}
	for _, s := range []string{"payment-service", "checkout-api", "search-api"} {
		if !strings.Contains(services, s) {
			t.Errorf("services table lacks %s", s)
		}
	}
	if searchState != "in sync" || searchTeam != "loyalty" {
		t.Errorf("search-api row: state %q team %q, want in sync / loyalty", searchState, searchTeam)
	}
	if queueDone == "" || queueDone == "0" || queueFailed != "0" {
		t.Errorf("queue: done %q failed %q", queueDone, queueFailed)
	}
	if deliveryRows == 0 {
		t.Error("no recent deliveries shown")
	}
	if noBotPR == "" || !strings.Contains(lastBotPR, "#") {
		t.Errorf("bot PR area: %q / %q, want no open PR and the last one named", noBotPR, lastBotPR)
	}
	if len(screenshot) < 1000 {
		t.Errorf("screenshot is %d bytes", len(screenshot))
	}
}
