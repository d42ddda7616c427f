package githubtest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// payloadURLs runs a small scenario and returns the url fields of its first
// push payload, plus every payload it queued.
func payloadURLs(tb testing.TB, mutate func(*githubtest.Options)) (*githubtest.Server, map[string]string, [][]byte) {
	tb.Helper()
	s := newServer(tb, func(o *githubtest.Options) {
		o.Delivery = githubtest.DeliverManually
		mutate(o)
	})
	s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", map[string]string{"a.txt": "a\n"})
	s.Commit("acme/platform", "feature", "change a", map[string]*string{"a.txt": ptr("b\n")})
	s.OpenPR("acme/platform", "feature", "main", "Change a", "")
	var payloads [][]byte
	for _, d := range s.Deliveries() {
		payloads = append(payloads, d.Payload)
	}
	var push struct {
		Repository struct {
			URL      string `json:"url"`
			PullsURL string `json:"pulls_url"`
			Owner    struct {
				URL string `json:"url"`
			} `json:"owner"`
		} `json:"repository"`
		Organization struct {
			URL string `json:"url"`
		} `json:"organization"`
		Sender struct {
			URL string `json:"url"`
		} `json:"sender"`
	}
	if err := json.Unmarshal(payloads[0], &push); err != nil {
		tb.Fatal(err)
	}
	return s, map[string]string{
		"repository":       push.Repository.URL,
		"repository pulls": push.Repository.PullsURL,
		"owner":            push.Repository.Owner.URL,
		"organization":     push.Organization.URL,
		"sender":           push.Sender.URL,
	}, payloads
}

func TestAPIURLNamesTheAPIInPayloads(t *testing.T) {
	urls := func(base string) map[string]string {
		return map[string]string{
			"repository":       base + "repos/acme/platform",
			"repository pulls": base + "repos/acme/platform/pulls{/number}",
			"owner":            base + "orgs/acme",
			"organization":     base + "orgs/acme",
			"sender":           base + "users/octocat",
		}
	}

	s, got, _ := payloadURLs(t, func(*githubtest.Options) {})
	if diff := cmp.Diff(urls(s.URL), got); diff != "" {
		t.Errorf("default: url fields (-want +got):\n%s", diff)
	}

	_, got, payloads := payloadURLs(t, func(o *githubtest.Options) { o.APIURL = "https://api.example.test" })
	if diff := cmp.Diff(urls("https://api.example.test/"), got); diff != "" {
		t.Errorf("with APIURL: url fields (-want +got):\n%s", diff)
	}
	for i, p := range payloads {
		if strings.Contains(string(p), "127.0.0.1") {
			t.Errorf("payload %d names the listener: %s", i, p)
		}
	}
}

// TestPayloadsAreReproducible pins what a capture of payloads relies on:
// with a fixed clock and APIURL, two servers driven the same way send the
// same bytes.
func TestPayloadsAreReproducible(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	fixed := func(o *githubtest.Options) {
		o.APIURL = "https://api.example.test/"
		o.Now = func() time.Time { return at }
	}
	_, _, first := payloadURLs(t, fixed)
	_, _, second := payloadURLs(t, fixed)
	if len(first) == 0 {
		t.Fatal("no payloads")
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("payloads differ between two runs (-first +second):\n%s", diff)
	}
}
