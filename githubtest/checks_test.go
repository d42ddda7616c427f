package githubtest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

func annotations(n, firstLine int) []*github.CheckRunAnnotation {
	var out []*github.CheckRunAnnotation
	for i := 0; i < n; i++ {
		line := firstLine + i
		out = append(out, &github.CheckRunAnnotation{
			Path: ptr("catalog/services.yaml"), StartLine: ptr(line), EndLine: ptr(line),
			AnnotationLevel: ptr("failure"), Message: ptr(fmt.Sprintf("problem on line %d", line)),
		})
	}
	return out
}

func TestCheckRunLimits(t *testing.T) {
	s := newServer(t)
	inst := s.AddInstallation("acme")
	head := s.CreateRepo("acme", "platform", "main", map[string]string{"catalog/services.yaml": "services: []\n"})
	c := installationClient(t, s, inst)
	ctx := context.Background()
	create := func(o *github.CheckRunOutput) error {
		_, _, err := c.Checks.CreateCheckRun(ctx, "acme", "platform", github.CreateCheckRunOptions{
			Name: "pipeline-orchestrator/plan", HeadSHA: head, Status: ptr("completed"), Conclusion: ptr("failure"), Output: o,
		})
		return err
	}
	out := func(summary string, anns []*github.CheckRunAnnotation) *github.CheckRunOutput {
		return &github.CheckRunOutput{Title: ptr("Plan"), Summary: ptr(summary), Annotations: anns}
	}
	tests := []struct {
		name   string
		output *github.CheckRunOutput
		want   int
	}{
		{"50 annotations", out("ok", annotations(50, 1)), 0},
		{"51 annotations", out("ok", annotations(51, 1)), 422},
		{"summary of 65535 characters", out(strings.Repeat("a", 65535), nil), 0},
		{"summary of 65536 characters", out(strings.Repeat("a", 65536), nil), 422},
		{"summary of 40000 two-byte characters", out(strings.Repeat("é", 40000), nil), 422},
		{"text of 65536 characters", &github.CheckRunOutput{Title: ptr("t"), Summary: ptr("s"), Text: ptr(strings.Repeat("a", 65536))}, 422},
		{"missing title", &github.CheckRunOutput{Summary: ptr("s")}, 422},
		{"columns across lines", out("ok", []*github.CheckRunAnnotation{{
			Path: ptr("a"), StartLine: ptr(1), EndLine: ptr(2), StartColumn: ptr(1), EndColumn: ptr(3),
			AnnotationLevel: ptr("warning"), Message: ptr("m"),
		}}), 422},
		{"columns on one line", out("ok", []*github.CheckRunAnnotation{{
			Path: ptr("a"), StartLine: ptr(2), EndLine: ptr(2), StartColumn: ptr(1), EndColumn: ptr(3),
			AnnotationLevel: ptr("warning"), Message: ptr("m"),
		}}), 0},
		{"unknown level", out("ok", []*github.CheckRunAnnotation{{
			Path: ptr("a"), StartLine: ptr(1), EndLine: ptr(1), AnnotationLevel: ptr("error"), Message: ptr("m"),
		}}), 422},
		{"missing message", out("ok", []*github.CheckRunAnnotation{{
			Path: ptr("a"), StartLine: ptr(1), EndLine: ptr(1), AnnotationLevel: ptr("notice"),
		}}), 422},
	}
	// GitHub refuses long summaries in two ways: its schema counts
	// characters, its model counts bytes.
	wantMessages := map[string]string{
		"summary of 65536 characters":          "Invalid request.\n\nOnly 65535 characters are allowed; 65536 were supplied.",
		"summary of 40000 two-byte characters": "summary exceeds a maximum bytesize of 65535",
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := create(tc.output)
			got := 0
			if err != nil {
				got = statusOf(t, err)
			}
			if got != tc.want {
				t.Errorf("status = %d, want %d (%v)", got, tc.want, err)
			}
			if want := wantMessages[tc.name]; want != "" {
				er, _ := err.(*github.ErrorResponse)
				msg := er.Message
				if len(er.Errors) > 0 {
					msg = er.Errors[0].Message
				}
				if msg != want {
					t.Errorf("message = %q, want %q", msg, want)
				}
			}
		})
	}

	t.Run("status values", func(t *testing.T) {
		_, _, err := c.Checks.CreateCheckRun(ctx, "acme", "platform", github.CreateCheckRunOptions{Name: "x", HeadSHA: head, Status: ptr("completed")})
		if got := statusOf(t, err); got != 422 {
			t.Errorf("completed without conclusion: %d, want 422", got)
		}
		_, _, err = c.Checks.CreateCheckRun(ctx, "acme", "platform", github.CreateCheckRunOptions{Name: "x", HeadSHA: head, Conclusion: ptr("passed")})
		if got := statusOf(t, err); got != 422 {
			t.Errorf("unknown conclusion: %d, want 422", got)
		}
		_, _, err = c.Checks.CreateCheckRun(ctx, "acme", "platform", github.CreateCheckRunOptions{Name: "x", HeadSHA: strings.Repeat("1", 40)})
		if got := statusOf(t, err); got != 422 {
			t.Errorf("unknown head sha: %d, want 422", got)
		}
	})
	t.Run("users cannot write check runs", func(t *testing.T) {
		_, _, err := userClient(t, s).Checks.CreateCheckRun(ctx, "acme", "platform", github.CreateCheckRunOptions{Name: "x", HeadSHA: head})
		if got := statusOf(t, err); got != http.StatusForbidden {
			t.Errorf("status = %d, want 403", got)
		}
	})
}

func TestCheckRunUpdatesAppendAnnotations(t *testing.T) {
	s := newServer(t)
	inst := s.AddInstallation("acme")
	head := s.CreateRepo("acme", "platform", "main", map[string]string{"catalog/services.yaml": "services: []\n"})
	c := installationClient(t, s, inst)
	ctx := context.Background()
	const name = "pipeline-orchestrator/plan"

	run, _, err := c.Checks.CreateCheckRun(ctx, "acme", "platform", github.CreateCheckRunOptions{
		Name: name, HeadSHA: head, Status: ptr("in_progress"), ExternalID: ptr("delivery-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, batch := range [][]*github.CheckRunAnnotation{annotations(50, 1), annotations(50, 51), annotations(10, 101)} {
		opts := github.UpdateCheckRunOptions{
			Name:   name,
			Output: &github.CheckRunOutput{Title: ptr("3 errors"), Summary: ptr(fmt.Sprintf("batch %d", i)), Annotations: batch},
		}
		if i == 2 {
			opts.Conclusion = ptr("failure")
		}
		if _, _, err := c.Checks.UpdateCheckRun(ctx, "acme", "platform", run.GetID(), opts); err != nil {
			t.Fatal(err)
		}
	}
	// go-github sends "name": "" when Name is unset; that is refused.
	if _, _, err := c.Checks.UpdateCheckRun(ctx, "acme", "platform", run.GetID(), github.UpdateCheckRunOptions{}); statusOf(t, err) != 422 {
		t.Errorf("update with an empty name: %v, want 422", err)
	}

	// A newer run with the same name is a second run on the commit.
	if _, _, err := c.Checks.CreateCheckRun(ctx, "acme", "platform", github.CreateCheckRunOptions{Name: name, HeadSHA: head}); err != nil {
		t.Fatal(err)
	}
	runs := s.CheckRuns("acme/platform", head)
	if len(runs) != 2 || runs[1].Status != "queued" {
		t.Fatalf("CheckRuns = %+v, want the first run and a queued one", runs)
	}
	got := runs[0]
	if got.Status != "completed" || got.Conclusion != "failure" || len(got.Annotations) != 110 || got.Summary != "batch 2" || got.ExternalID != "delivery-1" {
		t.Errorf("run = status %s conclusion %s annotations %d summary %q external id %q", got.Status, got.Conclusion, len(got.Annotations), got.Summary, got.ExternalID)
	}
	if first, last := got.Annotations[0].StartLine, got.Annotations[109].StartLine; first != 1 || last != 110 {
		t.Errorf("annotation lines run from %d to %d, want 1 to 110", first, last)
	}
	if diff := cmp.Diff("problem on line 51", runs[0].Annotations[50].Message); diff != "" {
		t.Errorf("annotation 51 (-want +got):\n%s", diff)
	}
}
