package web_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/web"
)

// element is an element of the status page: its attributes and its text,
// whitespace collapsed.
type element struct {
	Attr map[string]string
	Text string
}

// pageOf serves the status page of s and returns its elements in
// document order (the page is well-formed XML).
func pageOf(t *testing.T, s *fixedStore, problems ...web.RepoProblem) []element {
	t.Helper()
	rec := httptest.NewRecorder()
	server(s, fixedLoop{}, problems...).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d", rec.Code)
	}
	dec := xml.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.Strict, dec.AutoClose, dec.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var all []element
	var open []int // indexes in all of the elements not closed yet
	var text []*strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the status page is not well-formed: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{"tag": tk.Name.Local}
			for _, a := range tk.Attr {
				attr[a.Name.Local] = a.Value
			}
			all = append(all, element{Attr: attr})
			open, text = append(open, len(all)-1), append(text, &strings.Builder{})
		case xml.EndElement:
			i := open[len(open)-1]
			all[i].Text = strings.Join(strings.Fields(text[len(text)-1].String()), " ")
			open, text = open[:len(open)-1], text[:len(text)-1]
		case xml.CharData:
			for _, b := range text {
				b.Write(tk)
			}
		}
	}
	return all
}

// find returns the elements whose attribute name is value.
func find(page []element, name, value string) []element {
	var out []element
	for _, e := range page {
		if v, ok := e.Attr[name]; ok && v == value {
			out = append(out, e)
		}
	}
	return out
}

// one returns the one element whose id is id, or fails.
func one(t *testing.T, page []element, id string) element {
	t.Helper()
	got := find(page, "id", id)
	if len(got) != 1 {
		t.Fatalf("%d elements #%s, want one", len(got), id)
	}
	return got[0]
}

// TestHeldDeletesSayWhichPRNeedsTheLabel checks what the page tells the
// person who must release held deletes: how many, the exact label, and
// the bot PR to put it on, which is the one whose merge queued them when
// the store knows it, or else the most recent bot PR.
func TestHeldDeletesSayWhichPRNeedsTheLabel(t *testing.T) {
	const pulls = "https://github.com/company-harness/harness-pipelines/pull/"
	for name, tt := range map[string]struct {
		tune      func(*fixedStore)
		pr        string // want #held-pr's href; "" for none
		mergeIt   bool
		mergedVia string // want the PR named as the one that removed them
	}{
		"the merged bot PR is known": {tune: func(*fixedStore) {}, pr: pulls + "41", mergedVia: "with bot PR #41"},
		"a newer bot PR is open, the merged one is known": {
			tune: func(s *fixedStore) { s.open = &record.BotPR{Number: 42, State: record.PROpen} },
			pr:   pulls + "41", mergedVia: "with bot PR #41",
		},
		"the merge is unknown: the last bot PR": {tune: func(s *fixedStore) { s.merged = nil }, pr: pulls + "41"},
		"the merge is unknown: the open bot PR, to merge": {
			tune: func(s *fixedStore) { s.merged, s.open = nil, &record.BotPR{Number: 42, State: record.PROpen} },
			pr:   pulls + "42", mergeIt: true,
		},
		"no bot PR known": {tune: func(s *fixedStore) { s.merged, s.last = nil, nil }},
	} {
		t.Run(name, func(t *testing.T) {
			s := heldStore()
			tt.tune(s)
			page := pageOf(t, s)
			if got := find(page, "tag", "section")[0].Attr["id"]; got != "attention-needed" {
				t.Errorf("the first section is #%s, want #attention-needed", got)
			}
			got := map[string]string{
				"count": one(t, page, "held-count").Text, "kinds": one(t, page, "held-kinds").Text,
				"label": one(t, page, "mass-delete-label").Text,
			}
			want := map[string]string{"count": "13", "kinds": "13 pipelines", "label": gh.MassDeleteLabel}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("held deletes (-want +got):\n%s", diff)
			}
			held := one(t, page, "held-deletes").Text
			if tt.pr == "" {
				if find(page, "id", "held-pr") != nil || !strings.Contains(one(t, page, "held-no-pr").Text, "none is recorded") {
					t.Errorf("with no bot PR known, the page says: %s", held)
				}
				return
			}
			if href := one(t, page, "held-pr").Attr["href"]; href != tt.pr {
				t.Errorf("#held-pr links to %s, want %s", href, tt.pr)
			}
			if strings.Contains(held, "and merge it") != tt.mergeIt {
				t.Errorf("says to merge the PR: %v, want %v: %s", !tt.mergeIt, tt.mergeIt, held)
			}
			if tt.mergedVia != "" && !strings.Contains(held, tt.mergedVia) {
				t.Errorf("does not say %q: %s", tt.mergedVia, held)
			}
			if !strings.Contains(held, "revert the catalog change") {
				t.Errorf("does not say how to keep the pipelines instead: %s", held)
			}
			var states []string
			for _, td := range find(page, "tag", "td") {
				if strings.HasPrefix(td.Attr["class"], "harness-state ") {
					states = append(states, td.Text)
				}
			}
			if diff := cmp.Diff([]string{"delete held", "in sync"}, states); diff != "" {
				t.Errorf("services' Harness states (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHeldDeletesAreCountedByKind checks the count names each kind of
// entity, and that the list of names is bounded.
func TestHeldDeletesAreCountedByKind(t *testing.T) {
	s := heldStore()
	s.queue.Held = 61
	for i := 0; i < 48; i++ {
		kind := "service"
		if i%16 == 0 {
			kind = "infrastructure"
		}
		s.ops = append(s.ops, record.Operation{ID: int64(50 - i), Entity: kind, Identifier: fmt.Sprintf("x%02d", i),
			Kind: record.KindDelete, State: record.OpHeld, Commit: "feed000000000000000000000000000000000041"})
	}
	page := pageOf(t, s)
	if got := one(t, page, "held-kinds").Text; got != "45 services, 13 pipelines and 3 infrastructure definitions" {
		t.Errorf("#held-kinds = %q", got)
	}
	items := find(page, "tag", "li")
	listed := 0
	for _, li := range items {
		if li.Attr["data-operation"] != "" && li.Attr["data-entity"] != "" {
			listed++
		}
	}
	if listed != 50 || !strings.Contains(one(t, page, "held-list").Text, "and 11 more") {
		t.Errorf("%d held deletes named, then %q; want 50 and 11 more", listed, one(t, page, "held-list").Text)
	}
}

// TestFailedOperationsSayWhatToDo checks that a failed operation that
// still stands is listed with its error and the admin request that runs
// it again, that this request is one the admin API serves, and that a
// failure a newer operation of the same entity followed is not listed.
func TestFailedOperationsSayWhatToDo(t *testing.T) {
	page := pageOf(t, busyStore())
	var rows []string
	for _, tr := range find(page, "tag", "tr") {
		if id := tr.Attr["data-operation"]; id != "" && tr.Attr["data-entity"] != "" {
			rows = append(rows, id+" "+tr.Attr["data-entity"]+" "+tr.Attr["data-identifier"])
		}
	}
	if diff := cmp.Diff([]string{"7 pipeline orders_cd"}, rows); diff != "" {
		t.Errorf("failed operations listed (-want +got):\n%s", diff)
	}
	failed := one(t, page, "failed").Text
	const sync = "POST /api/v1/pipelines/orders/sync"
	for _, want := range []string{"harness: INVALID_REQUEST", "pipelines/orders-cd.yaml", sync} {
		if !strings.Contains(failed, want) {
			t.Errorf("the failed operation does not show %q: %s", want, failed)
		}
	}

	// The request the page names, sent as it is written there.
	var named []string
	for _, c := range find(page, "tag", "code") {
		if strings.HasPrefix(c.Text, "POST ") {
			named = append(named, c.Text)
		}
	}
	if len(named) != 1 {
		t.Fatalf("admin requests named: %q, want one", named)
	}
	method, path, _ := strings.Cut(named[0], " ")
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+opsToken)
	rec := httptest.NewRecorder()
	authServer(busyStore(), &bytes.Buffer{}, false).ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		t.Errorf("%s = %d, want 202: the page names a request the admin API does not serve", named[0], rec.Code)
	}
}

// TestFailedDeleteWithoutASyncSaysToDeleteByHand checks the advice for
// an entity the admin sync cannot act on.
func TestFailedDeleteWithoutASyncSaysToDeleteByHand(t *testing.T) {
	s := &fixedStore{ops: []record.Operation{{ID: 5, Entity: "environment", Identifier: "pre", Kind: record.KindDelete,
		State: record.OpFailed, Attempts: 3, LastError: "harness: 409 ENTITY_REFERENCE_EXCEPTION", UpdatedAt: now}}}
	page := pageOf(t, s)
	action := find(page, "class", "action")
	if len(action) != 1 || action[0].Text != "Fix the cause in Harness, then delete it there by hand." {
		t.Errorf("actions = %+v", action)
	}
}

// TestNothingNeedsAPerson checks the one line an idle app shows, and
// that an unreachable repository alone is enough to replace it.
func TestNothingNeedsAPerson(t *testing.T) {
	page := pageOf(t, &fixedStore{})
	if got := one(t, page, "nothing-needed").Text; !strings.HasPrefix(got, "Nothing needs a person") {
		t.Errorf("#nothing-needed = %q", got)
	}
	page = pageOf(t, &fixedStore{}, web.RepoProblem{Repo: "company/platform-next", Problem: "not installed", Fix: "install it"})
	if find(page, "id", "nothing-needed") != nil {
		t.Error("the page says nothing needs a person while a repository cannot be reached")
	}
	if got := find(page, "data-repo", "company/platform-next"); len(got) != 1 || !strings.Contains(got[0].Text, "install it") {
		t.Errorf("unreachable repository shown as %+v", got)
	}
}

// TestDriftHistory checks each drift event says what became of its
// repair, that diffs and the list are bounded, and that a repair that
// failed points to the failed operation.
func TestDriftHistory(t *testing.T) {
	s := driftStore()
	page := pageOf(t, s)
	var got []string
	for _, li := range find(page, "tag", "li") {
		if li.Attr["data-drift"] != "" {
			got = append(got, li.Attr["data-identifier"]+" "+li.Attr["data-drift"]+" "+li.Attr["data-repair"])
		}
	}
	want := []string{"search_api_cd different failed", "checkout_api_cd missing queued",
		"payment_service_cd different repaired", "stray_cd extra none"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("drift history (-want +got):\n%s", diff)
	}
	repairs := find(page, "tag", "span")
	var texts []string
	for _, r := range repairs {
		if strings.HasPrefix(r.Attr["class"], "repair ") {
			texts = append(texts, r.Text)
		}
	}
	wantTexts := []string{"repair failed (operation 14): see Needs a person", "repair queued (operation 13)",
		"repaired 59m ago", "not repaired (an operation was already on its way)"}
	if diff := cmp.Diff(wantTexts, texts); diff != "" {
		t.Errorf("repairs (-want +got):\n%s", diff)
	}

	s.events = nil
	for i := 0; i < 40; i++ {
		s.events = append(s.events, record.DriftEvent{ID: int64(100 - i), At: now.Add(-time.Duration(i) * time.Minute), Entity: "pipeline",
			Identifier: fmt.Sprintf("p%02d_cd", i), Drift: "different", Diff: strings.Repeat("-a\n+b\n", 2000), OperationID: int64(i + 1)})
	}
	page = pageOf(t, s)
	diffs := find(page, "class", "diff")
	if len(diffs) != 25 {
		t.Errorf("%d drift events shown, want the 25 newest", len(diffs))
	}
	if n := len(diffs[0].Text); n > 4100 || !strings.HasSuffix(diffs[0].Text, "…") {
		t.Errorf("a 12000-byte diff is shown as %d bytes, ending %q", n, diffs[0].Text[max(0, n-10):])
	}
}

// TestDeliveryRowsNameThePRAndTheDelivery checks a delivery's PR links to
// the PR in the repository the event came from, and a long delivery id
// is cut with its whole value in the tooltip.
func TestDeliveryRowsNameThePRAndTheDelivery(t *testing.T) {
	long := "internal-reconcile-1796558400000000000-4294967295"
	s := &fixedStore{recent: []store.Delivery{
		{ID: "0a4f1f52-cc79-11e3-9a0e-4c9367dc0958", Event: "pull_request", Action: "closed", Repo: "company-harness/harness-pipelines",
			Key: "botpr", PRNumber: 41, State: store.DeliveryDone},
		{ID: long, Event: "internal", Repo: "company-harness/harness-pipelines", Key: "reconcile", State: store.DeliveryDone},
	}}
	page := pageOf(t, s)
	type row struct{ PR, PRLink, ID, IDTitle string }
	var got []row
	for i, e := range page {
		if e.Attr["class"] == "pr" {
			r := row{PR: e.Text}
			if a := page[i+1]; a.Attr["tag"] == "a" {
				r.PRLink = a.Attr["href"]
			}
			for _, c := range page[i+1:] {
				if c.Attr["tag"] == "code" && c.Attr["title"] != "" {
					r.ID, r.IDTitle = c.Text, c.Attr["title"]
					break
				}
			}
			got = append(got, r)
		}
	}
	want := []row{
		{PR: "#41", PRLink: "https://github.com/company-harness/harness-pipelines/pull/41",
			ID: "0a4f1f52-cc79-11e3-9a0e-4c9367dc0958", IDTitle: "0a4f1f52-cc79-11e3-9a0e-4c9367dc0958"},
		{PR: "—", ID: long[:36] + "…", IDTitle: long},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivery rows (-want +got):\n%s", diff)
	}
}
