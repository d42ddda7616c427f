package present_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	configHead    = "c0ffee1111111111111111111111111111111111"
	lastGood      = "c0ffee0000000000000000000000000000000000"
	pipelinesHead = "beef000000000000000000000000000000000001"
)

var (
	links = present.Links{Web: "https://github.com"}
	ctx   = present.ProposeContext{Links: links, CatalogPath: "catalog/services.yaml",
		Config: gh.ParseRepo("company/platform-next"), ConfigCommit: configHead,
		Pipelines: gh.ParseRepo("company-harness/harness-pipelines"), PipelinesCommit: pipelinesHead}
	diags = catalog.Diagnostics{
		{File: "catalog/services.yaml", Pos: catalog.Pos{Line: 4, Column: 18}, Service: "payment-service", Field: "services[0].archetype", Message: `unknown archetype "apii" (known: api, job, listener, scheduler)`},
		{File: "catalog/services.yaml", Pos: catalog.Pos{Line: 9, Column: 5}, Message: "duplicate service name \"orders\" (first at line 2)"},
	}
)

// golden compares got with testdata/name, or rewrites it with -update. On
// a mismatch it writes testdata/name.got beside it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./present -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		_ = os.WriteFile(path+".got", []byte(got), 0o644)
		t.Errorf("%s differs (-want +got), wrote %s.got:\n%s", path, path, diff)
	}
}

// report renders a check run as it would appear: conclusion, title,
// annotations, then the summary.
func report(r present.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "conclusion: %s\ntitle: %s\n", or(r.Conclusion, "(in progress)"), r.Title)
	for _, a := range r.Annotations {
		fmt.Fprintf(&b, "annotation: %s:%d:%d %s [%s] %s\n", a.Path, a.StartLine, a.StartColumn, a.Level, a.Title, a.Message)
	}
	b.WriteString("---\n")
	b.WriteString(r.Summary)
	return b.String()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// plan is a fixed plan: one service of each action.
func plan() render.PipelinePlan {
	p := render.PipelinePlan{Changes: []render.Change{
		{Service: "new-svc", Action: render.ActionCreate, Path: "pipelines/new-svc-cd.yaml", Kind: render.KindPipeline, Identifier: "new_svc_cd",
			Fields: []catalog.FieldChange{{Name: "name", New: "new-svc", ShapesPipeline: true}},
			New:    []byte("pipeline:\n  identifier: new_svc_cd\n")},
		{Service: "payment-service", Action: render.ActionUpdate, Path: "pipelines/payment-service-cd.yaml", Kind: render.KindPipeline, Identifier: "payment_service_cd",
			Fields: []catalog.FieldChange{{Name: "regions", Old: "euw1", New: "euw1, euw2", ShapesPipeline: true}, {Name: "profile", Old: "small", New: "large"}},
			Old:    []byte("pipeline:\n  identifier: payment_service_cd\n  stages: [a]\n"), New: []byte("pipeline:\n  identifier: payment_service_cd\n  stages: [a, b]\n")},
		{Service: "reporting", Action: render.ActionUpdate, Path: "pipelines/reporting-cd.yaml", Kind: render.KindPipeline, Identifier: "reporting_cd",
			Old: []byte("pipeline:\n  timeout: 10m\n"), New: []byte("pipeline:\n  timeout: 15m\n")},
		{Service: "legacy", Action: render.ActionDelete, Path: "pipelines/legacy-cd.yaml", Kind: render.KindPipeline, Identifier: "legacy_cd",
			Fields: []catalog.FieldChange{{Name: "name", Old: "legacy", ShapesPipeline: true}},
			Old:    []byte("pipeline:\n  identifier: legacy_cd\n")},
		{Service: "orders", Action: render.ActionConfigOnly, Path: "pipelines/orders-cd.yaml", Kind: render.KindPipeline, Identifier: "orders_cd",
			Fields: []catalog.FieldChange{{Name: "profile", Old: "small", New: "medium"}}},
	}}
	p.Summary = render.Summary{Create: 1, Update: 2, Delete: 1, ConfigOnly: 1, Unchanged: 4}
	return p
}

func TestProposeReports(t *testing.T) {
	pr := gh.PullRequest{Number: 42, HTMLURL: "https://github.com/company-harness/harness-pipelines/pull/42"}
	var b strings.Builder
	for _, r := range []struct {
		name string
		rep  present.Report
	}{
		{"proposed", present.Proposed(pr, plan(), "opened")},
		{"up to date", present.Proposed(pr, plan(), "is up to date")},
		{"no change", present.NoChange(render.PipelinePlan{Summary: render.Summary{ConfigOnly: 2}}, ctx, 0)},
		{"no change, bot PR closed", present.NoChange(render.PipelinePlan{}, ctx, 41)},
		{"not reopened", present.NotReopened(pr)},
	} {
		fmt.Fprintf(&b, "## %s\n%s\n\n", r.name, report(r.rep))
	}
	fmt.Fprintf(&b, "## closing comment\n%s\n", present.ClosingComment(render.PipelinePlan{}, ctx))
	golden(t, "propose.md", b.String())
}

func TestBlocked(t *testing.T) {
	var b strings.Builder
	for _, blocked := range []planner.Blocked{
		{Reason: planner.BlockedSettings, Diags: catalog.Diagnostics{{File: ".pipeline-orchestrator.yml", Pos: catalog.Pos{Line: 3, Column: 1}, Field: "environments", Message: "unknown key \"enviroments\""}}},
		{Reason: planner.BlockedCatalogMissing},
		{Reason: planner.BlockedCatalogInvalid, Diags: diags},
		{Reason: planner.BlockedCatalogEmptied, LastGood: record.LastGoodCatalog{Commit: lastGood, Services: 12}, Services: 12},
		{Reason: planner.BlockedRender, Diags: catalog.Diagnostics{{File: "templates/api-pipeline-template.yaml", Pos: catalog.Pos{Line: 12}, Service: "payment-service", Message: "map has no entry for key \"Nope\""}}},
	} {
		fmt.Fprintf(&b, "## %s\n%s\n\n", blocked.Reason, report(present.Blocked(blocked, ctx)))
	}
	golden(t, "blocked.md", b.String())
}

func TestPreviews(t *testing.T) {
	c := present.PreviewContext{Links: links, CatalogPath: "catalog/services.yaml", Pipelines: ctx.Pipelines, PipelinesCommit: pipelinesHead,
		Config: ctx.Config, ConfigCommit: configHead, Settings: catalog.DefaultSettings(),
		InRepo: func(f string) bool { return f == "catalog/services.yaml" }}
	previews := []planner.Preview{
		{Verdict: planner.VerdictSettingsInvalid, Diags: diags[:1]},
		{Verdict: planner.VerdictCatalogMissing},
		{Verdict: planner.VerdictCatalogInvalid, Diags: diags},
		{Verdict: planner.VerdictNoChange},
		{Verdict: planner.VerdictCatalogEmptied, BaseServices: 12},
		{Verdict: planner.VerdictRenderFailed, Diags: diags[:1]},
		{Verdict: planner.VerdictPlanned, Plan: plan(), MassDelete: true, Existing: 4},
		{Verdict: planner.VerdictPlanned, Plan: func() render.PipelinePlan { p := plan(); p.SchemaSkipped = true; return p }()},
		{Verdict: planner.VerdictPlanned, Plan: plan(), Behind: 3, MergeBase: lastGood},
		{Verdict: planner.VerdictPlanned, Plan: plan(), Behind: 1, MergeBase: lastGood, BothSides: []string{"orders", "payment-service"}},
	}
	for _, template := range []bool{false, true} {
		var b strings.Builder
		c.Template = template
		for _, p := range previews {
			fmt.Fprintf(&b, "## %s\n%s\n\n", p.Verdict, report(present.PreviewReport(p, c)))
		}
		name := "preview-catalog.md"
		if template {
			name = "preview-template.md"
		}
		golden(t, name, b.String())
	}
}

func TestHarnessReports(t *testing.T) {
	op := func(id int64, pipeline string, kind record.OperationKind, state record.OperationState, attempts int, lastErr, result string) record.Operation {
		return record.Operation{ID: id, Identifier: pipeline, Kind: kind, State: state, Attempts: attempts, LastError: lastErr, Result: result, SupersededBy: 9}
	}
	var b strings.Builder
	for _, c := range []struct {
		name       string
		ops        []record.Operation
		unreadable string
	}{
		{"applying, one retrying", []record.Operation{
			op(1, "a_cd", record.KindCreate, record.OpDone, 1, "", "created"),
			op(2, "b_cd", record.KindUpdate, record.OpPending, 2, "harness: 503 Service Unavailable\nbody", ""),
		}, ""},
		{"a failure", []record.Operation{
			op(1, "a_cd", record.KindCreate, record.OpDone, 1, "", "created"),
			op(3, "c_cd", record.KindUpdate, record.OpFailed, 10, "INVALID_REQUEST: stage | identifier", ""),
		}, ""},
		{"deletes held", []record.Operation{
			op(1, "a_cd", record.KindDelete, record.OpHeld, 0, "", ""),
			op(2, "b_cd", record.KindUpdate, record.OpSuperseded, 1, "", ""),
		}, ""},
		{"done", []record.Operation{op(1, "a_cd", record.KindCreate, record.OpDone, 1, "", "unchanged")}, ""},
		{"unreadable files", nil, "`pipelines/notes-cd.yaml`: the file has no pipeline.identifier"},
	} {
		fmt.Fprintf(&b, "## %s\n%s\n\n", c.name, report(present.HarnessReport(c.ops, c.unreadable)))
	}
	fmt.Fprintf(&b, "## applying\n%s\n\n## apply blocked\n%s\n", report(present.Applying(3)), report(present.ApplyBlocked(diags[:1])))
	golden(t, "harness.md", b.String())
}

func TestDriftReports(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	none := record.DriftReport{At: at, Commit: pipelinesHead, Checked: 12}
	drift := record.DriftReport{At: at, Commit: pipelinesHead, Checked: 12, Missing: []string{"a_cd"}, Different: []string{"b_cd", "c_cd"},
		Extra: []string{"stray_cd"}, Skipped: []string{"c_cd"}, Queued: 3}
	unmanaged := record.DriftReport{Checked: 10, Unmanaged: []string{"service payments"}}
	golden(t, "drift.md", "## none\n"+report(present.DriftCheck(none))+"\n\n## drift\n"+report(present.DriftCheck(drift))+
		"\n\n## someone else's entity\n"+report(present.DriftCheck(unmanaged))+"\n")
}

func TestFitTextCutsAtALineAndClosesCodeBlocks(t *testing.T) {
	long := "```diff\n" + strings.Repeat("+ a line of a diff that goes on\n", 4000)
	got := present.FitText(long)
	if len(got) > render.CheckRunTextLimit {
		t.Fatalf("FitText kept %d bytes, over GitHub's %d", len(got), render.CheckRunTextLimit)
	}
	if strings.Count(got, "```")%2 != 0 {
		t.Error("the cut leaves a code block open")
	}
	if !strings.Contains(got, "Cut to fit GitHub's 65,535-character limit") {
		t.Error("the cut is not said")
	}
	if short := "fits"; present.FitText(short) != short {
		t.Error("a short text is changed")
	}
	if got := present.FitTitle(strings.Repeat("é", 150)); len(got) > 200 || !strings.HasSuffix(got, "…") {
		t.Errorf("FitTitle = %d bytes %q…", len(got), got[:10])
	}
}
