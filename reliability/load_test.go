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
// server answers and checks that every delivery is in the store. Then the
// app must still converge: the bot PR merged, Harness holds every entity
// of every kind the final catalog renders, with no effect done twice.
func TestLoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	w := newWorld(t, worldOptions{Catalog: newCatalog(rng, 20).YAML(), Delivery: githubtest.DeliverManually})
	deliverAll := func() { w.GitHub.DeliverAll() }
	w.mustSettle(time.Minute, deliverAll)

	events := loadEvents(t, w, rng)
	start := time.Now()
	results := sendBurst(w, events)
	burst := time.Since(start)
	lat, errs := answerTimes(results)
	quantile := func(q float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(q*float64(len(lat))))]
	}
	p50, p99, maxLat := quantile(0.50), quantile(0.99), quantile(1)
	stored, lost, doubled := w.storedLoad(t)
	t.Logf("burst: %d deliveries from %d senders in %s (%.0f/s)", loadDeliveries, loadSenders, burst.Round(time.Millisecond), float64(loadDeliveries)/burst.Seconds())
	t.Logf("answer time: p50 %s, p99 %s, max %s; errors %d", p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), maxLat.Round(10*time.Microsecond), len(errs))
	t.Logf("store: %d of %d deliveries stored, %d lost, %d stored twice", stored, loadDeliveries, lost, doubled)
	if len(errs) > 0 {
		t.Errorf("%d deliveries failed, first: %s", len(errs), errs[0])
	}
	if lost > 0 || doubled > 0 {
		t.Errorf("%d deliveries lost, %d stored twice", lost, doubled)
	}
	if p99 >= loadP99 {
		t.Errorf("p99 answer time %s, target under %s", p99, loadP99)
	}

	// Afterwards the app works through the burst and still converges.
	w.converge(5*time.Minute, deliverAll)
	conv := w.checkConvergence()
	effects := auditEffects(w.Harness.Effects())
	t.Logf("after the burst: %d entities desired (%s); lost %d, extra %d, stale %d; %d effects, duplicated %d",
		conv.Desired, conv.kinds(), len(conv.Lost), len(conv.Extra), len(conv.Stale), effects.Effects, len(effects.Duplicates))
	t.Logf("RESULT %s: deliveries=%d senders=%d rate=%.0f/s p50=%s p99=%s max=%s errors=%d stored=%d lost=%d entities=%d entities_lost=%d duplicated_effects=%d converged=%v",
		t.Name(), loadDeliveries, loadSenders, float64(loadDeliveries)/burst.Seconds(), p50.Round(10*time.Microsecond),
		p99.Round(10*time.Microsecond), maxLat.Round(10*time.Microsecond), len(errs), stored, lost,
		conv.Desired, len(conv.Lost), len(effects.Duplicates), conv.ok())
	if !conv.ok() {
		t.Errorf("not converged after the burst:\nlost %v\nextra %v\nstale %v\nrepo %v", conv.Lost, conv.Extra, conv.Stale, conv.RepoDiff)
	}
	if len(effects.Duplicates) > 0 {
		t.Errorf("effects done twice:\n%s", strings.Join(effects.Duplicates, "\n"))
	}
	if !w.Server.Running() {
		t.Error("the server died under load")
	}
	w.Server.Stop()
}

// loadEvent is a webhook the burst sends again and again.
type loadEvent struct {
	name    string
	payload []byte
}

// loadEvents makes real events in the GitHub stand-in, to be used as
// templates: pushes to both default branches, a PR opened and synchronized
// on the config repo. They are taken out of GitHub's queue.
func loadEvents(t *testing.T, w *world, rng *rand.Rand) []loadEvent {
	cat := newCatalog(rng, 20)
	w.GitHub.Commit(w.ConfigRepo, mainBranch, "A catalog change", map[string]*string{catalogPath: ptr(cat.YAML())})
	w.GitHub.Commit(w.PipelinesRepo, mainBranch, "A README change", map[string]*string{"README.md": ptr("# pipelines, changed\n")})
	applyCatalogChange(cat, changeAdd, rng)
	w.GitHub.Commit(w.ConfigRepo, "load-pr", "Add a service", map[string]*string{catalogPath: ptr(cat.YAML())})
	w.GitHub.OpenPR(w.ConfigRepo, "load-pr", mainBranch, "Add a service", "")
	applyCatalogChange(cat, changeTeam, rng)
	w.GitHub.Commit(w.ConfigRepo, "load-pr", "Change a team", map[string]*string{catalogPath: ptr(cat.YAML())})
	var events []loadEvent
	for _, d := range w.GitHub.Pending() {
		if d.Event == "push" && strings.Contains(string(d.Payload), `"ref":"refs/heads/main"`) ||
			d.Event == "pull_request" && (d.Action == "opened" || d.Action == "synchronize") {
			events = append(events, loadEvent{d.Event, d.Payload})
		}
		w.GitHub.DropPending(d.GUID)
	}
	if len(events) != 4 {
		t.Fatalf("%d template events, want 4 (2 pushes, opened, synchronize)", len(events))
	}
	return events
}

// loadResult is one delivery's answer.
type loadResult struct {
	took   time.Duration
	status int
	err    error
}

// sendBurst sends loadDeliveries signed deliveries of events, in turn,
// from loadSenders concurrent senders, each with a unique delivery id
// ("load-00042").
func sendBurst(w *world, events []loadEvent) []loadResult {
	results := make([]loadResult, loadDeliveries)
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
	var wg sync.WaitGroup
	for range loadSenders {
		wg.Go(func() {
			for i := range next {
				if time.Now().After(deadline) {
					results[i] = loadResult{err: fmt.Errorf("not sent: the burst took over 2 minutes")}
					continue
				}
				results[i] = sendOne(client, hook, secret, events[i%len(events)], fmt.Sprintf("load-%05d", i))
			}
		})
	}
	wg.Wait()
	return results
}

// sendOne posts one signed delivery and times the answer.
func sendOne(client *http.Client, hook string, secret []byte, ev loadEvent, id string) loadResult {
	mac := hmac.New(sha256.New, secret)
	mac.Write(ev.payload)
	req, err := http.NewRequest(http.MethodPost, hook, bytes.NewReader(ev.payload))
	if err != nil {
		return loadResult{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/load")
	req.Header.Set("X-GitHub-Event", ev.name)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	sent := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return loadResult{took: time.Since(sent), err: err}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return loadResult{took: time.Since(sent), status: resp.StatusCode}
}

// answerTimes returns the answer times of the deliveries answered 200,
// sorted, and describes the others.
func answerTimes(results []loadResult) ([]time.Duration, []string) {
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
	return lat, errs
}

// storedLoad counts the burst's deliveries in the store: stored, missing,
// and stored more than once.
func (w *world) storedLoad(t *testing.T) (stored, lost, doubled int) {
	ds, err := w.DB.Deliveries.Recent(context.Background(), 100000)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, d := range ds {
		if strings.HasPrefix(d.ID, "load-") {
			ids[d.ID]++
		}
	}
	for i := range loadDeliveries {
		switch ids[fmt.Sprintf("load-%05d", i)] {
		case 0:
			lost++
		case 1:
		default:
			doubled++
		}
	}
	return len(ids), lost, doubled
}
