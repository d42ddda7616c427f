package githubtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

// validationErrors returns the field errors of a 422 "Validation Failed".
func validationErrors(tb testing.TB, err error) []github.Error {
	tb.Helper()
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 422 || er.Message != "Validation Failed" {
		tb.Fatalf("err = %v, want 422 Validation Failed", err)
	}
	return er.Errors
}

func TestPullRequestTitleAndBodyLimits(t *testing.T) {
	s := newServer(t)
	inst := s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	s.Commit("acme/platform", "feature", "x", map[string]*string{"x": ptr("x\n")})
	c := installationClient(t, s, inst)
	ctx := context.Background()
	create := func(title, body string) (*github.PullRequest, error) {
		pr, _, err := c.PullRequests.Create(ctx, "acme", "platform", &github.NewPullRequest{
			Title: &title, Head: ptr("feature"), Base: ptr("main"), Body: &body,
		})
		return pr, err
	}
	tooLong := func(field, max string) []github.Error {
		return []github.Error{{Resource: "Issue", Code: "custom", Field: field, Message: field + " is too long (maximum is " + max + " characters)"}}
	}

	// The body limit counts characters, not bytes: 65,536 four-byte
	// emoji pass.
	_, err := create("t", strings.Repeat("a", 65537))
	if diff := cmp.Diff(tooLong("body", "65536"), validationErrors(t, err)); diff != "" {
		t.Errorf("body of 65,537 characters (-want +got):\n%s", diff)
	}
	_, err = create(strings.Repeat("t", 257), "b")
	if diff := cmp.Diff(tooLong("title", "256"), validationErrors(t, err)); diff != "" {
		t.Errorf("title of 257 characters (-want +got):\n%s", diff)
	}
	if len(s.PRs("acme/platform")) != 0 {
		t.Fatalf("a refused pull request was created")
	}
	pr, err := create(strings.Repeat("é", 256), strings.Repeat("🌈", 65536))
	if err != nil {
		t.Fatalf("title of 256 and body of 65,536 characters: %v", err)
	}

	// Updates are held to the same limits, and change nothing when refused.
	_, _, err = c.PullRequests.Edit(ctx, "acme", "platform", pr.GetNumber(), &github.PullRequest{Body: ptr(strings.Repeat("a", 65537))})
	if diff := cmp.Diff(tooLong("body", "65536"), validationErrors(t, err)); diff != "" {
		t.Errorf("update with a body of 65,537 characters (-want +got):\n%s", diff)
	}
	if got, _ := s.PR("acme/platform", pr.GetNumber()); got.Body != strings.Repeat("🌈", 65536) {
		t.Errorf("the refused update changed the body")
	}
	if err := s.EditPR("acme/platform", pr.GetNumber(), strings.Repeat("t", 257), "b"); err == nil || !strings.Contains(err.Error(), "title is too long") {
		t.Errorf("EditPR with a long title: %v, want title is too long", err)
	}
}

func TestIssueCommentLimitIsInBytes(t *testing.T) {
	s := newServer(t)
	inst := s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	s.Commit("acme/platform", "feature", "x", map[string]*string{"x": ptr("x\n")})
	n := s.OpenPR("acme/platform", "feature", "main", "t", "")
	c := installationClient(t, s, inst)
	comment := func(body string) error {
		_, _, err := c.Issues.CreateComment(context.Background(), "acme", "platform", n, &github.IssueComment{Body: &body})
		return err
	}
	if err := comment(strings.Repeat("🌈", 65536)); err != nil {
		t.Fatalf("262,144 bytes: %v", err)
	}
	if err := comment(strings.Repeat("a", 262144)); err != nil {
		t.Fatalf("262,144 ASCII characters: %v", err)
	}
	want := []github.Error{{Resource: "IssueComment", Code: "unprocessable", Field: "data", Message: "Body is too long (maximum is 65536 characters)"}}
	if diff := cmp.Diff(want, validationErrors(t, comment(strings.Repeat("🌈", 65536)+"a"))); diff != "" {
		t.Errorf("262,145 bytes (-want +got):\n%s", diff)
	}
	if got := len(s.Comments("acme/platform", n)); got != 2 {
		t.Errorf("comments = %d, want 2", got)
	}
}
