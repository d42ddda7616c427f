package githubtest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

func get(tb testing.TB, url string) (int, string) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWebPages(t *testing.T) {
	s := newServer(t, func(o *githubtest.Options) { o.ServeWeb = true })
	if s.WebURL == "https://github.com/" || s.WebURL == s.URL || !strings.HasSuffix(s.WebURL, "/") {
		t.Fatalf("WebURL = %q, want its own listener", s.WebURL)
	}
	s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	sha := s.Commit("acme/platform", "feature", "Add <billing>\n\nFor the invoices.", map[string]*string{"billing.yaml": ptr("b\n")})
	n := s.OpenPR("acme/platform", "feature", "main", "Add billing", "Adds **billing**.")
	pr, _ := s.PR("acme/platform", n)

	tests := []struct {
		path   string
		status int
		want   []string
	}{
		{"acme/platform", 200, []string{"Default branch: main", "#1 Add billing (Open)"}},
		{"acme/platform/pull/1", 200, []string{"<title>Add billing · Pull Request #1 · acme/platform</title>", `<p id="state">Open</p>`, "Adds **billing**.", "octocat wants to merge acme:feature into acme:main"}},
		{"acme/platform/commit/" + sha, 200, []string{"Add &lt;billing&gt;", "For the invoices.", "added billing.yaml"}},
		{"acme/platform/commit/" + sha[:7], 200, []string{"Commit " + sha}},
		{"acme/platform/pull/2", 404, nil},
		{"acme/nope/pull/1", 404, nil},
		{"acme/platform/commit/0000000", 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			status, body := get(t, s.WebURL+tc.path)
			if status != tc.status {
				t.Fatalf("status = %d, want %d", status, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
		})
	}
	// The API's html_url fields lead to the pages.
	got, _, err := userClient(t, s).PullRequests.Get(context.Background(), "acme", "platform", n)
	if err != nil || got.GetHTMLURL() != s.WebURL+"acme/platform/pull/1" {
		t.Errorf("html_url = %q (%v), want %q", got.GetHTMLURL(), err, s.WebURL+"acme/platform/pull/1")
	}
	s.ResetCalls()
	if _, err := s.MergePR("acme/platform", n, "merge"); err != nil {
		t.Fatal(err)
	}
	status, body := get(t, s.WebURL+"acme/platform/pull/1")
	if status != 200 || !strings.Contains(body, `<p id="state">Merged</p>`) || pr.HeadSHA != sha {
		t.Errorf("merged PR page: %d\n%s", status, body)
	}
	// They are not API routes.
	if calls := s.Calls(); len(calls) != 0 {
		t.Errorf("web pages counted as API calls: %v", calls)
	}
}

func TestNoWebPagesByDefault(t *testing.T) {
	s := newServer(t)
	if s.WebURL != "https://github.com/" {
		t.Errorf("WebURL = %q, want GitHub's", s.WebURL)
	}
}
