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
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

const (
	loadDeliveries = 2000
	loadSenders    = 32
	// loadP99 is the target for the webhook's answer time.
	loadP99 = 50 * time.Millisecond
)

// TestLoad sends a burst of signed webhook deliveries, push and
// pull_request events for the configured repositories, from 32 concurrent
// senders as fast as they go, to the server; it measures how fast the
// server answers, then checks that every delivery is in the store.
func TestLoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	w := newWorld(t, worldOptions{Catalog: newCatalog(rng, 20).YAML(), Delivery: githubtest.DeliverManually})
	w.mustSettle(time.Minute, func() { w.GitHub.DeliverAll() })

	// Real events from the GitHub stand-in, as templates: pushes to both
	// default branches, a PR opened and synchronized on the config repo.
	cat := newCatalog(rng, 20)
	w.GitHub.Commit(w.ConfigRepo, mainBranch, "A catalog change", map[string]*string{catalogPath: ptr(cat.YAML())})
	w.GitHub.Commit(w.PipelinesRepo, mainBranch, "A README change", map[string]*string{"README.md": ptr("# pipelines, changed\n")})
	applyCatalogChange(cat, changeAdd, rng)
	w.GitHub.Commit(w.ConfigRepo, "load-pr", "Add a service", map[string]*string{catalogPath: ptr(cat.YAML())})
	w.GitHub.OpenPR(w.ConfigRepo, "load-pr", mainBranch, "Add a service", "")
	applyCatalogChange(cat, changeTeam, rng)
	w.GitHub.Commit(w.ConfigRepo, "load-pr", "Change a team", map[string]*string{catalogPath: ptr(cat.YAML())})
	type event struct {
		name    string
		payload []byte
	}
	var events []event
	for _, d := range w.GitHub.Pending() {
		if d.Event == "push" && strings.Contains(string(d.Payload), `"ref":"refs/heads/main"`) ||
			d.Event == "pull_request" && (d.Action == "opened" || d.Action == "synchronize") {
			events = append(events, event{d.Event, d.Payload})
		}
		w.GitHub.DropPending(d.GUID)
	}
	if len(events) != 4 {
		t.Fatalf("%d template events, want 4 (2 pushes, opened, synchronize)", len(events))
	}

	type result struct {
		took   time.Duration
		status int
		err    error
	}
	results := make([]result, loadDeliveries)
	next := make(chan int, loadDeliveries)
	for i := range loadDeliveries {
		next <- i
	}
	close(next)
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: loadSenders, MaxConnsPerHost: loadSenders},
	}
	hook := w.Server.HookURL()
	secret := []byte(w.WebhookSecret)
	deadline := time.Now().Add(2 * time.Minute)
	start := time.Now()
	var wg sync.WaitGroup
	for range loadSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if time.Now().After(deadline) {
					results[i] = result{err: fmt.Errorf("not sent: the burst took over 2 minutes")}
					continue
				}
				ev := events[i%len(events)]
				mac := hmac.New(sha256.New, secret)
				mac.Write(ev.payload)
				req, err := http.NewRequest(http.MethodPost, hook, bytes.NewReader(ev.payload))
				if err != nil {
					results[i] = result{err: err}
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("User-Agent", "GitHub-Hookshot/load")
				req.Header.Set("X-GitHub-Event", ev.name)
				req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("load-%05d", i))
				req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
				sent := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					results[i] = result{took: time.Since(sent), err: err}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				results[i] = result{took: time.Since(sent), status: resp.StatusCode}
			}
		}()
	}
	wg.Wait()
	burst := time.Since(start)

	var lat []time.Duration
	var errs []string
	for i, r := range results {
		switch {
		case r.err != nil:
			errs = append(errs, fmt.Sprintf("load-%05d: %v", i, r.err))
		case r.status != http.StatusOK:
			errs = append(errs, fmt.Sprintf("load-%05d: status %d", i, r.status))
		default:
			lat = append(lat, r.took)
		}
	}
	slices.Sort(lat)
	quantile := func(q float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(q*float64(len(lat))))]
	}
	p50, p99, maxLat := quantile(0.50), quantile(0.99), quantile(1)

	// Every delivery must be in the store, each once.
	ds, err := w.DB.Deliveries.Recent(context.Background(), 100000)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for _, d := range ds {
		if strings.HasPrefix(d.ID, "load-") {
			stored[d.ID]++
		}
	}
	lost, doubled := 0, 0
	for i := range loadDeliveries {
		switch stored[fmt.Sprintf("load-%05d", i)] {
		case 0:
			lost++
		case 1:
		default:
			doubled++
		}
	}
	t.Logf("burst: %d deliveries from %d senders in %s (%.0f/s)", loadDeliveries, loadSenders, burst.Round(time.Millisecond), float64(loadDeliveries)/burst.Seconds())
	t.Logf("answer time: p50 %s, p99 %s, max %s; errors %d", p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), maxLat.Round(10*time.Microsecond), len(errs))
	t.Logf("store: %d of %d deliveries stored, %d lost, %d stored twice", len(stored), loadDeliveries, lost, doubled)
	t.Logf("RESULT %s: deliveries=%d senders=%d rate=%.0f/s p50=%s p99=%s max=%s errors=%d stored=%d lost=%d",
		t.Name(), loadDeliveries, loadSenders, float64(loadDeliveries)/burst.Seconds(), p50.Round(10*time.Microsecond),
		p99.Round(10*time.Microsecond), maxLat.Round(10*time.Microsecond), len(errs), len(stored), lost)

	if len(errs) > 0 {
		t.Errorf("%d deliveries failed, first: %s", len(errs), errs[0])
	}
	if lost > 0 || doubled > 0 {
		t.Errorf("%d deliveries lost, %d stored twice", lost, doubled)
	}
	if p99 >= loadP99 {
		t.Errorf("p99 answer time %s, target under %s", p99, loadP99)
	}
	w.mustSettle(5*time.Minute, func() { w.GitHub.DeliverAll() })
	if !w.Server.Running() {
		t.Error("the server died under load")
	}
	w.Server.Stop()
}
