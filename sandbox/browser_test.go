package sandbox_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestStatusPageInABrowser plays the demo's scenarios, then opens the
// status page in headless chromium and checks what a user sees there.
func TestStatusPageInABrowser(t *testing.T) {
	t.Parallel() // the demo mostly waits: its retries back off for seconds
	browser := chromium(t)
	env := playedDemo(t)
	b := openTab(t, browser)
	b.open(env.App.URL+"/", "#services")

	title, err := chromedp.Run(b.ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	services := b.text("#services")
	rows := b.count("#services tr[data-service]")
	searchState := b.text(`#services tr[data-service="search-api"] .harness-state`)
	searchTeam := b.text(`#services tr[data-service="search-api"] .team`)
	queueDone, queueFailed := b.text("#queue-done"), b.text("#queue-failed")
	deliveryRows := b.count("#recent-deliveries tr[data-delivery]")
	noBotPR, lastBotPR := b.text("#no-bot-pr"), b.text("#last-bot-pr")
	nothingNeeded := b.text("#nothing-needed")
	deliveryPRs := b.count("#recent-deliveries td.pr a[href]")
	screenshot := b.screenshot("status-page.png")

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
	if deliveryRows == 0 || deliveryPRs == 0 {
		t.Errorf("%d recent deliveries shown, %d with a PR link; want some of each", deliveryRows, deliveryPRs)
	}
	if !strings.HasPrefix(nothingNeeded, "Nothing needs a person") {
		t.Errorf("#nothing-needed = %q after a demo that ends well", nothingNeeded)
	}
	if noBotPR == "" || !strings.Contains(lastBotPR, "#") {
		t.Errorf("bot PR area: %q / %q, want no open PR and the last one named", noBotPR, lastBotPR)
	}
	if screenshot < 1000 {
		t.Errorf("screenshot is %d bytes", screenshot)
	}
}
