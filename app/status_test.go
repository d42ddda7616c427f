package app_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/loop"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// pageNode is an element (or, with an empty Tag, a run of text) of the
// status page. The page is well-formed XML, so encoding/xml reads it.
type pageNode struct {
	Tag   string
	Attr  map[string]string
	Kids  []*pageNode
	Chars string
}

// Text is the element's text, whitespace collapsed.
func (n *pageNode) Text() string {
	var b strings.Builder
	var walk func(*pageNode)
	walk = func(n *pageNode) {
		b.WriteString(n.Chars)
		for _, k := range n.Kids {
			walk(k)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// HasClass reports whether the element's class attribute lists c.
func (n *pageNode) HasClass(c string) bool {
	for _, f := range strings.Fields(n.Attr["class"]) {
		if f == c {
			return true
		}
	}
	return false
}

// All returns the elements below n (n excluded) that match, in document order.
func (n *pageNode) All(match func(*pageNode) bool) []*pageNode {
	var out []*pageNode
	for _, k := range n.Kids {
		if k.Tag != "" && match(k) {
			out = append(out, k)
		}
		out = append(out, k.All(match)...)
	}
	return out
}

// First returns the first element below n that matches, or nil.
func (n *pageNode) First(match func(*pageNode) bool) *pageNode {
	if all := n.All(match); len(all) > 0 {
		return all[0]
	}
	return nil
}

func byID(id string) func(*pageNode) bool {
	return func(n *pageNode) bool { return n.Attr["id"] == id }
}

func byAttr(name, value string) func(*pageNode) bool {
	return func(n *pageNode) bool { v, ok := n.Attr[name]; return ok && v == value }
}

func byClass(tag, class string) func(*pageNode) bool {
	return func(n *pageNode) bool { return n.Tag == tag && n.HasClass(class) }
}

func parsePage(tb testing.TB, body []byte) *pageNode {
	tb.Helper()
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	root := &pageNode{Tag: "#document"}
	stack := []*pageNode{root}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("the status page is not well-formed: %v\n%s", err, body)
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			n := &pageNode{Tag: t.Name.Local, Attr: map[string]string{}}
			for _, a := range t.Attr {
				name := a.Name.Local
				if a.Name.Space != "" {
					name = a.Name.Space + ":" + name
				}
				n.Attr[name] = a.Value
			}
			top.Kids = append(top.Kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 1 || t.Name.Local != top.Tag {
				tb.Fatalf("the status page closes <%s> while <%s> is open\n%s", t.Name.Local, top.Tag, body)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.Kids = append(top.Kids, &pageNode{Chars: string(t)})
		}
	}
	if len(stack) != 1 {
		tb.Fatalf("the status page leaves <%s> open", stack[len(stack)-1].Tag)
	}
	return root
}

// statusPage fetches and parses the status page; it also returns the raw
// HTML.
func statusPage(tb testing.TB, h http.Handler) (*pageNode, string) {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET / = %d\n%s", rec.Code, rec.Body)
	}
	for header, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-store",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	} {
		if got := rec.Header().Get(header); got != want {
			tb.Errorf("GET / %s = %q, want %q", header, got, want)
		}
	}
	return parsePage(tb, rec.Body.Bytes()), rec.Body.String()
}

// textOf returns the text of the element with the given id; "<absent>"
// when there is none.
func textOf(page *pageNode, id string) string {
	if n := page.First(byID(id)); n != nil {
		return n.Text()
	}
	return "<absent>"
}

// serviceFacts is what the page shows of one service.
type serviceFacts struct {
	Archetype, Team, Pipeline     string
	Rendered, RenderedURL         string
	Applied, AppliedURL           string
	HarnessState, StateAttr, Errs string
	StateNote                     string
}

func serviceOn(tb testing.TB, page *pageNode, service string) serviceFacts {
	tb.Helper()
	row := page.First(func(n *pageNode) bool { return n.Tag == "tr" && n.Attr["data-service"] == service })
	if row == nil {
		tb.Fatalf("no row for service %q on the status page", service)
	}
	cell := func(class string) *pageNode {
		c := row.First(byClass("td", class))
		if c == nil {
			tb.Fatalf("row %q has no td.%s", service, class)
		}
		return c
	}
	href := func(class string) string {
		if a := cell(class).First(func(n *pageNode) bool { return n.Tag == "a" }); a != nil {
			return a.Attr["href"]
		}
		return ""
	}
	return serviceFacts{
		Archetype: cell("archetype").Text(), Team: cell("team").Text(), Pipeline: cell("pipeline").Text(),
		Rendered: cell("rendered-commit").Text(), RenderedURL: href("rendered-commit"),
		Applied: cell("applied-commit").Text(), AppliedURL: href("applied-commit"),
		HarnessState: cell("harness-state").Text(), StateAttr: row.Attr["data-harness-state"], Errs: cell("last-error").Text(),
		StateNote: cell("harness-state").Attr["title"],
	}
}

func countsOn(page *pageNode, ids ...string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		out[id] = textOf(page, id)
	}
	return out
}

var queueIDs = []string{"queue-pending", "queue-running", "queue-retrying", "queue-failed", "queue-held", "queue-done",
	"queue-superseded", "deliveries-pending", "deliveries-running", "deliveries-done", "deliveries-failed"}

// unusedGitHub stands for GitHub where nothing may call it: the status
// page reads only the store, so any call panics the test.
type unusedGitHub struct{ gh.GitHub }

// idleApp is an app over a new store that has never run: the state just
// after the first deploy, before the first delivery.
func idleApp(t *testing.T) *app.App {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.ConfigRepo.Repo = "company/platform-next"
	cfg.PipelinesRepo.Repo = "company-harness/harness-pipelines"
	cfg.Store.Path = filepath.Join(t.TempDir(), "pipeline-orchestrator.db")
	db, err := store.Open(context.Background(), cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a, err := app.New(cfg, app.Deps{
		GitHub:  unusedGitHub{},
		Harness: func(org, project string) loop.Harness { return nil },
		Store:   db,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestStatusPageEmptyStates(t *testing.T) {
	t.Parallel()
	h := idleApp(t).Handler()
	page, _ := statusPage(t, h)

	refresh := page.First(byAttr("http-equiv", "refresh"))
	if refresh == nil || refresh.Tag != "meta" || refresh.Attr["content"] != "10" {
		t.Errorf("no <meta http-equiv=refresh content=10>: %+v", refresh)
	}
	want := map[string]string{
		"last-error":        "No error: the last run succeeded (or none has run yet).",
		"no-bot-pr":         "No open bot PR: the pipelines repo matches the catalog, or nothing was proposed yet.",
		"bot-pr":            "<absent>",
		"last-bot-pr":       "<absent>",
		"no-services":       "No services yet. They appear once a catalog change is proposed to the pipelines repo.",
		"services":          "<absent>",
		"queue-oldest":      "No operation waiting.",
		"nothing-needed":    "Nothing needs a person: no delete is held, no operation failed, and no repository is reported unreachable.",
		"held-deletes":      "<absent>",
		"failed":            "<absent>",
		"no-retrying":       "No operation is being retried.",
		"retrying":          "<absent>",
		"no-propose":        "No propose run recorded yet.",
		"deliveries-oldest": "No delivery waiting.",
		"no-deliveries":     "No deliveries yet.",
		"recent-deliveries": "<absent>",
		"no-drift":          "No reconcile run yet.",
		"drift-summary":     "<absent>",
		"config-repo":       "company/platform-next",
		"pipelines-repo":    "company-harness/harness-pipelines",
	}
	for _, id := range queueIDs {
		want[id] = "0"
	}
	got := map[string]string{}
	for id := range want {
		got[id] = textOf(page, id)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("empty status page (-want +got):\n%s", diff)
	}
	if href := page.First(byID("pipelines-repo")).Attr["href"]; href != "https://github.com/company-harness/harness-pipelines" {
		t.Errorf("pipelines repo link = %q", href)
	}
	if !page.First(byID("last-error")).HasClass("empty") {
		t.Error("#last-error without an error is not marked .empty")
	}

	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/nothing-here", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.status)
		}
	}
}

func TestStatusPageFollowsTheLoop(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	pr, _ := w.catalogPR("onboard-payment", oneService)
	configMerge := w.merge(w.ConfigRepo, pr)
	bot, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR after the catalog merge")
	}

	// Proposed: the bot PR is open, Harness has nothing yet.
	page, _ := statusPage(t, w.App.App.Handler())
	want := serviceFacts{
		Archetype: "api", Team: "payments", Pipeline: "payment_service_cd",
		Rendered: configMerge[:7], RenderedURL: "https://github.com/company/platform-next/commit/" + configMerge,
		Applied: "—", HarnessState: "pending", StateAttr: "pending",
		StateNote: "not in Harness yet: waits for the bot PR to merge",
	}
	if diff := cmp.Diff(want, serviceOn(t, page, "payment-service")); diff != "" {
		t.Errorf("proposed service (-want +got):\n%s", diff)
	}
	link := page.First(byID("bot-pr"))
	if link == nil {
		t.Fatal("no #bot-pr link while the bot PR is open")
	}
	wantLink := map[string]string{"text": "#" + strconv.Itoa(bot.Number),
		"href": "https://github.com/company-harness/harness-pipelines/pull/" + strconv.Itoa(bot.Number)}
	if diff := cmp.Diff(wantLink, map[string]string{"text": link.Text(), "href": link.Attr["href"]}); diff != "" {
		t.Errorf("#bot-pr (-want +got):\n%s", diff)
	}
	deliveries := page.All(func(n *pageNode) bool { return n.Tag == "tr" && n.Attr["data-delivery"] != "" })
	if len(deliveries) == 0 {
		t.Fatal("no recent deliveries listed after a PR and a merge")
	}
	var proposed bool
	for _, row := range deliveries {
		key := row.First(byClass("td", "key")).Text()
		repo := row.First(byClass("td", "repo")).Text()
		outcome := row.First(byClass("td", "outcome")).Text()
		if key == "propose" && repo == w.ConfigRepo && row.Attr["data-state"] == "done" && strings.HasPrefix(outcome, "bot PR #") {
			proposed = true
		}
	}
	if !proposed {
		t.Errorf("no done propose delivery with its outcome among %d rows:\n%s", len(deliveries), page.First(byID("recent-deliveries")).Text())
	}

	// Applied: the bot PR is merged, Harness holds the pipeline.
	if got := textOf(page, "last-propose"); !strings.Contains(got, "bot PR #"+strconv.Itoa(bot.Number)+" opened") {
		t.Errorf("#last-propose = %q, want the bot PR it opened", got)
	}
	if pr := page.First(byID("last-propose-pr")); pr == nil || pr.Attr["href"] != wantLink["href"] {
		t.Errorf("#last-propose-pr does not link the bot PR")
	}

	pipelinesMerge := w.merge(w.PipelinesRepo, bot.Number)
	page, _ = statusPage(t, w.App.App.Handler())
	want.Applied, want.AppliedURL = pipelinesMerge[:7], "https://github.com/company-harness/harness-pipelines/commit/"+pipelinesMerge
	want.HarnessState, want.StateAttr, want.StateNote = "in sync", "in_sync", ""
	if diff := cmp.Diff(want, serviceOn(t, page, "payment-service")); diff != "" {
		t.Errorf("applied service (-want +got):\n%s", diff)
	}
	if page.First(byID("bot-pr")) != nil {
		t.Error("#bot-pr still shown after the bot PR merged")
	}
	if last := page.First(byID("last-bot-pr")); last == nil || last.Text() != "#"+strconv.Itoa(bot.Number) ||
		!strings.Contains(textOf(page, "no-bot-pr"), "was merged") {
		t.Errorf("#no-bot-pr = %q, want it to name the merged #%d", textOf(page, "no-bot-pr"), bot.Number)
	}
	counts := countsOn(page, "queue-pending", "queue-running", "queue-failed", "queue-done", "deliveries-pending", "deliveries-failed")
	// Done: the GitHub connector and the 7 environment entities onboarded
	// first, then the service's Service, pipeline and trigger.
	wantCounts := map[string]string{"queue-pending": "0", "queue-running": "0", "queue-failed": "0", "queue-done": "11",
		"deliveries-pending": "0", "deliveries-failed": "0"}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("counts after apply (-want +got):\n%s", diff)
	}

	// Drift: the pipeline is deleted behind the app's back, and reconcile
	// (asked for through the admin API) repairs it.
	w.Harness.DeletePipeline("default", "platform", "payment_service_cd")
	adminOf(w).do(http.MethodPost, "/api/v1/reconcile", http.StatusAccepted)
	w.settle()
	page, _ = statusPage(t, w.App.App.Handler())
	// Checked: the service's 3 entities, the settings' 7 and the GitHub
	// connector; the trigger went with its pipeline.
	if got := textOf(page, "drift-summary"); !strings.Contains(got, "checked 11, drifted 2, repairs queued 2") ||
		!strings.Contains(got, pipelinesMerge[:7]) {
		t.Errorf("#drift-summary = %q", got)
	}
	items := page.All(func(n *pageNode) bool { return n.Tag == "li" && n.Attr["data-drift"] != "" })
	var gotItems []string
	for _, li := range items {
		gotItems = append(gotItems, li.Attr["data-drift"]+" "+li.Attr["data-entity"]+" "+li.Attr["data-identifier"]+" "+li.Attr["data-repair"])
	}
	if diff := cmp.Diff([]string{"missing trigger payment_service_cd_new_image repaired", "missing pipeline payment_service_cd repaired"}, gotItems); diff != "" { // newest first
		t.Errorf("drift items (-want +got):\n%s", diff)
	}
}

func TestStatusPageShowsFailedWorkAndTheLastError(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	// GitHub answers 502 to everything: the propose run of a catalog push
	// fails until the delivery runs out of attempts.
	w.GitHub.SetFaults(githubtest.Faults{BadGateway: 1})
	push := w.GitHub.Commit(w.ConfigRepo, "main", "Onboard payment-service", map[string]*string{catalogPath: ptrTo(oneService)})
	w.settle()
	w.GitHub.SetFaults(githubtest.Faults{})

	page, _ := statusPage(t, w.App.App.Handler())
	lastErr := page.First(byID("last-error"))
	if lastErr == nil || !lastErr.HasClass("error") || !strings.HasPrefix(lastErr.Text(), "20") || !strings.Contains(lastErr.Text(), "propose: ") {
		t.Errorf("#last-error = %q, want the time and the propose run's error", textOf(page, "last-error"))
	}
	if got := textOf(page, "deliveries-failed"); got != "1" {
		t.Errorf("#deliveries-failed = %q, want 1", got)
	}
	var failed []string
	for _, row := range page.All(byAttr("data-state", "failed")) {
		if row.Tag != "tr" || row.Attr["data-delivery"] == "" {
			continue
		}
		outcome := row.First(byClass("td", "outcome"))
		if outcome == nil || !outcome.HasClass("failed") || outcome.Text() == "" {
			t.Errorf("failed delivery %s shows no error: %+v", row.Attr["data-delivery"], outcome)
		}
		failed = append(failed, row.First(byClass("td", "key")).Text()+" "+row.First(byClass("td", "repo")).Text())
	}
	if diff := cmp.Diff([]string{"propose " + w.ConfigRepo}, failed); diff != "" {
		t.Errorf("failed deliveries listed for the push %s (-want +got):\n%s", push[:7], diff)
	}
}

func TestStatusPageEscapesHostileText(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	ctx := context.Background()
	const (
		service   = `evil"><script>alert(1)</script>`
		team      = `<b onmouseover="alert(2)">team</b>`
		lastError = `<script>alert("pwned")</script> & <img src=x onerror=alert(3)>`
		delivery  = `<script>alert(4)</script>`
		key       = `<iframe src="javascript:alert(5)">`
	)
	if err := w.App.DB.Pipelines.Upsert(ctx, store.PipelineState{
		Service: service, Pipeline: "evil_cd", Team: team, Archetype: "api", HarnessState: store.HarnessFailed,
		LastError: lastError, LastRenderedCommit: `"><script>alert(6)</script>`,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.App.DB.Deliveries.Record(ctx, store.Delivery{ID: delivery, Event: "push", Action: "<u>opened</u>",
		Repo: w.ConfigRepo, Key: key}); err != nil {
		t.Fatal(err)
	}
	w.settle()

	page, raw := statusPage(t, w.App.App.Handler())
	for _, tag := range []string{"<script", "<img", "<iframe", "<b ", "<u>"} {
		if strings.Contains(raw, tag) {
			t.Errorf("the status page contains %q unescaped", tag)
		}
	}
	got := serviceOn(t, page, service)
	if got.Team != team || got.Errs != strings.Join(strings.Fields(lastError), " ") || got.HarnessState != "failed" {
		t.Errorf("hostile service shown as %+v", got)
	}
	row := page.First(byAttr("data-delivery", delivery))
	if row == nil {
		t.Fatalf("no row for the hostile delivery")
	}
	if k := row.First(byClass("td", "key")).Text(); k != key {
		t.Errorf("delivery key shown as %q, want %q", k, key)
	}
	if e := row.First(byClass("td", "event")).Text(); e != "push · <u>opened</u>" {
		t.Errorf("delivery event shown as %q", e)
	}
}

func ptrTo(s string) *string { return &s }
