//go:build reliability

package reliability_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// TestBadInput sends what GitHub never sends, or what a careless or
// hostile catalog author might: each gets a clear answer, nothing is
// stored that should not be, Harness is left as it was (every kind of
// entity), the server stays up, and afterwards a normal change still flows
// end to end.
func TestBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	cat := newCatalog(rng, 5)
	w := newWorld(t, worldOptions{Catalog: cat.YAML()})
	w.converge(time.Minute, nil)
	harnessBefore := w.harnessEntities("default", "platform")
	var outcomes []string

	t.Run("webhooks", func(t *testing.T) { outcomes = append(outcomes, badWebhooks(t, w)...) })
	t.Run("hostile catalog values", func(t *testing.T) { outcomes = append(outcomes, hostileCatalog(t, w, cat)) })
	t.Run("50,000 services", func(t *testing.T) { outcomes = append(outcomes, hugeCatalog(t, w)) })
	t.Run("a normal change afterwards", func(t *testing.T) {
		if diff := harnessChanges(harnessBefore, w.harnessEntities("default", "platform")); diff != "" {
			t.Errorf("the bad input changed Harness (-before +after):\n%s", diff)
		}
		applyCatalogChange(cat, changeAdd, rng)
		n, head := w.catalogPR("normal", cat.YAML())
		w.mustSettle(time.Minute, nil)
		if plan, ok := w.latestCheck(w.ConfigRepo, head, gh.CheckPlan); !ok || plan.Conclusion != "success" {
			t.Errorf("plan of a normal change = %s %q", plan.Conclusion, plan.Title)
		}
		w.mergePR(w.ConfigRepo, n)
		if merged := w.converge(time.Minute, nil); merged != 1 {
			t.Errorf("%d bot PRs merged, want 1", merged)
		}
		conv := w.checkConvergence()
		if !conv.ok() {
			t.Errorf("not converged: lost %v, extra %v, stale %v, repo %v", conv.Lost, conv.Extra, conv.Stale, conv.RepoDiff)
		}
		outcomes = append(outcomes, fmt.Sprintf("a normal change afterwards: converged=%v, %d entities (%s)", conv.ok(), conv.Desired, conv.kinds()))
	})
	for _, o := range outcomes {
		t.Log(o)
	}
	t.Logf("RESULT %s: cases=%d server_alive=%v failed=%v", t.Name(), len(outcomes), w.Server.Running(), t.Failed())
}

// harnessChanges describes how Harness's entities differ between two
// looks (harnessEntities): "" when they are the same.
func harnessChanges(before, after map[string][]byte) string {
	changed := map[string]string{}
	for k, b := range before {
		if a, ok := after[k]; ok && !bytes.Equal(a, b) {
			changed[k] = "changed"
		}
	}
	return cmp.Diff(slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after))) + cmp.Diff(map[string]string{}, changed)
}

// badWebhooks posts webhooks GitHub never sends; each must get its status
// and store nothing.
func badWebhooks(t *testing.T, w *world) []string {
	push := []byte(`{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"1111111111111111111111111111111111111111",` +
		`"repository":{"full_name":"` + w.ConfigRepo + `","default_branch":"main"},"installation":{"id":1},"sender":{"login":"octocat"}}`)
	other := bytes.Replace(push, []byte(w.ConfigRepo), []byte("someone/else"), 1)
	big := bytes.Repeat([]byte(" "), 26<<20) // over GitHub's 25 MB cap
	copy(big, push)
	var outcomes []string
	for _, tc := range []struct {
		name    string
		event   string
		body    []byte
		sign    func([]byte) string
		chunked bool // no Content-Length: the body is cut while read
		want    int
	}{
		{"invalid signature", "push", push, func([]byte) string { return "sha256=" + strings.Repeat("00", 32) }, false, http.StatusUnauthorized},
		{"missing signature", "push", push, func([]byte) string { return "" }, false, http.StatusUnauthorized},
		{"signature of another body", "push", push, func([]byte) string { return w.sign(other) }, false, http.StatusUnauthorized},
		{"body over 25 MB", "push", big, w.sign, false, http.StatusRequestEntityTooLarge},
		{"body over 25 MB, chunked", "push", big, w.sign, true, http.StatusRequestEntityTooLarge},
		{"malformed JSON", "push", []byte(`{"ref": "refs/heads/main", `), w.sign, false, http.StatusBadRequest},
		{"JSON of the wrong shape", "push", []byte(`{"ref": 42, "repository": "x"}`), w.sign, false, http.StatusBadRequest},
		{"unknown event", "sponsorship", []byte(`{"action":"created"}`), w.sign, false, http.StatusAccepted},
		{"unconfigured repository", "push", other, w.sign, false, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "bad-" + strings.ReplaceAll(tc.name, " ", "-")
			status, took := w.post(t, tc.event, id, tc.body, tc.sign(tc.body), tc.chunked)
			if status != tc.want {
				t.Errorf("status %d, want %d", status, tc.want)
			}
			if w.stored(t, id) {
				t.Errorf("delivery %s was stored", id)
			}
			outcomes = append(outcomes, fmt.Sprintf("%s: %d in %s", tc.name, status, took.Round(time.Millisecond)))
		})
	}
	return outcomes
}

// hostileCatalog opens a catalog PR with hostile values: the plan check
// run must fail with an annotation on each offending line, and no bot PR
// open.
func hostileCatalog(t *testing.T, w *world, cat *catalogModel) string {
	hostile := []struct{ field, value string }{
		{"name", "../x"},
		{"team", `"payments\n    archetype: job"`},
		{"team", `'a: b'`},
		{"archetype", "../../etc/passwd"},
		{"archetype", "api/../../x"},
		{"name", `"evil\"; rm -rf /"`},
	}
	var b strings.Builder
	b.WriteString(cat.YAML())
	var lines []int
	for i, h := range hostile {
		fields := map[string]string{"name": fmt.Sprintf("hostile-%d", i), "archetype": "api", "team": "payments"}
		fields[h.field] = h.value
		first := strings.Count(b.String(), "\n") + 1
		fmt.Fprintf(&b, "  - name: %s\n    archetype: %s\n    team: %s\n    environments: [int-stable]\n    regions: [euw1]\n",
			fields["name"], fields["archetype"], fields["team"])
		lines = append(lines, first+map[string]int{"name": 0, "archetype": 1, "team": 2}[h.field])
	}
	_, head := w.catalogPR("hostile", b.String())
	w.mustSettle(time.Minute, nil)
	plan, ok := w.latestCheck(w.ConfigRepo, head, gh.CheckPlan)
	if !ok || plan.Conclusion != "failure" {
		t.Fatalf("plan check run = %v %s %q, want a failure", ok, plan.Conclusion, plan.Title)
	}
	annotated := map[int]string{}
	for _, a := range plan.Annotations {
		if a.Path == catalogPath && a.Message != "" {
			annotated[a.StartLine] += a.Message + " "
		}
	}
	for i, h := range hostile {
		if msg, ok := annotated[lines[i]]; !ok {
			t.Errorf("no annotation on line %d (%s: %s); annotations: %v", lines[i], h.field, h.value, annotated)
		} else {
			t.Logf("line %d, %s %s: %s", lines[i], h.field, h.value, strings.TrimSpace(msg))
		}
	}
	if _, ok := w.openBotPR(); ok {
		t.Error("a hostile catalog PR opened a bot PR")
	}
	return fmt.Sprintf("hostile catalog: %s %q with %d annotations", plan.Conclusion, plan.Title, len(plan.Annotations))
}

// hugeCatalog opens a catalog PR of 50,000 services: the plan must come
// within 10 minutes while /healthz keeps answering and the server lives.
func hugeCatalog(t *testing.T, w *world) string {
	const n = 50000
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: bulk-%05d\n    archetype: %s\n    team: team-%d\n    environments: [int-stable, pre-stable, prod]\n    regions: [euw1, euw2]\n    profile: medium\n",
			i, modelArchetypes[i%len(modelArchetypes)], i%50)
	}
	t.Logf("catalog: %d services, %.1f MB", n, float64(b.Len())/(1<<20))
	stopProbing := probeHealth(w.Server.URL + "/healthz") // the server must keep answering
	start := time.Now()
	_, head := w.catalogPR("bulk", b.String())
	const bound = 10 * time.Minute
	var plan githubtest.CheckRun
	for {
		if c, ok := w.latestCheck(w.ConfigRepo, head, gh.CheckPlan); ok && c.Status == "completed" {
			plan = c
			break
		}
		if time.Since(start) > bound {
			break
		}
		if !w.Server.Running() {
			t.Fatal("the server died")
		}
		time.Sleep(500 * time.Millisecond)
	}
	took := time.Since(start)
	probes, worst, probeErrs := stopProbing()
	t.Logf("plan check run after %s: %s %q (summary %d characters)", took.Round(time.Second), plan.Conclusion, plan.Title, len(plan.Summary))
	rss := w.Server.PeakRSS()
	t.Logf("/healthz: %d probes, slowest %s, %d failed; server peak memory %s", probes, worst.Round(time.Millisecond), len(probeErrs), rss)
	if plan.Conclusion == "" {
		t.Errorf("no plan within %s", bound)
	}
	if len(probeErrs) > 0 {
		t.Errorf("/healthz failed %d times while planning, first: %s", len(probeErrs), probeErrs[0])
	}
	if !w.Server.Running() {
		t.Fatal("the server died")
	}
	w.mustSettle(bound, nil)
	return fmt.Sprintf("50,000 services: %s %q after %s; /healthz %d probes, slowest %s, %d failed; peak memory %s",
		plan.Conclusion, plan.Title, took.Round(time.Second), probes, worst.Round(time.Millisecond), len(probeErrs), rss)
}

// probeHealth gets url every 200 ms until the function it returns is
// called; that one returns the number of answers, the slowest, and the
// failures.
func probeHealth(url string) func() (int, time.Duration, []string) {
	stop := make(chan struct{})
	var probes int
	var worst time.Duration
	var errs []string
	var probing sync.WaitGroup
	probing.Go(func() {
		client := &http.Client{Timeout: 10 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			start := time.Now()
			resp, err := client.Get(url)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs = append(errs, resp.Status)
			}
			probes++
			worst = max(worst, time.Since(start))
		}
	})
	return func() (int, time.Duration, []string) {
		close(stop)
		probing.Wait()
		return probes, worst, errs
	}
}

// sign signs body as GitHub does.
func (w *world) sign(body []byte) string {
	mac := hmac.New(sha256.New, []byte(w.WebhookSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends one webhook request and returns the status and answer time.
func (w *world) post(tb testing.TB, event, id string, body []byte, signature string, chunked bool) (int, time.Duration) {
	tb.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // hides the length: sent chunked
	}
	req, err := http.NewRequest(http.MethodPost, w.Server.HookURL(), r)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		tb.Fatalf("posting %s: %v", id, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// stored reports whether a delivery with this id is in the store.
func (w *world) stored(tb testing.TB, id string) bool {
	tb.Helper()
	ds, err := w.DB.Deliveries.Recent(context.Background(), 100000)
	if err != nil {
		tb.Fatal(err)
	}
	for _, d := range ds {
		if d.ID == id {
			return true
		}
	}
	return false
}
