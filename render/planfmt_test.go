package render

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// checkGolden compares got with the golden file at path. With -update
// (the flag of golden_test.go) it rewrites the file; on a mismatch it writes got next to it as <path>.got.
func checkGolden(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("reading golden file: %v (run go test ./render -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		if err := os.WriteFile(path+".got", got, 0o644); err != nil {
			tb.Errorf("writing %s.got: %v", path, err)
		}
		tb.Errorf("%s differs (-want +got); got written to %s.got; run go test ./render -update if the change is right:\n%s", path, path, diff)
		return
	}
	os.Remove(path + ".got")
}

// examplesPlan is the plan of the repository's examples: the README's
// `pipeline-orchestrator plan --base examples/catalog/services.yaml --head
// examples/catalog/services.next.yaml`.
func examplesPlan(tb testing.TB) PipelinePlan {
	tb.Helper()
	read := func(name string) []byte {
		tb.Helper()
		b, err := os.ReadFile(filepath.Join("..", "examples", name))
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	const settingsFile, baseFile, headFile = "examples/.pipeline-orchestrator.yml", "examples/catalog/services.yaml", "examples/catalog/services.next.yaml"
	settings, diags := catalog.ParseSettings(settingsFile, read(".pipeline-orchestrator.yml"))
	if len(diags) > 0 {
		tb.Fatal(diags.Err())
	}
	tmpl := planTemplates(tb)
	opts := catalog.ParseOptions{Settings: settings, Archetypes: tmpl.Archetypes()}
	base, diags := catalog.Parse(baseFile, read("catalog/services.yaml"), opts)
	if len(diags) > 0 {
		tb.Fatal(diags.Err())
	}
	head, diags := catalog.Parse(headFile, read("catalog/services.next.yaml"), opts)
	if len(diags) > 0 {
		tb.Fatal(diags.Err())
	}
	plan, diags := Plan(PlanInput{
		Base: base, Head: head, Settings: settings, Templates: tmpl,
		Source:     Source{CatalogPath: headFile},
		BaseSource: Source{CatalogPath: baseFile},
		Schemas:    testSchemas(tb),
	})
	if len(diags) > 0 {
		tb.Fatal(diags.Err())
	}
	return plan
}

func TestExamplesPlanShowsEveryKindOfChange(t *testing.T) {
	plan := examplesPlan(t)
	want := Summary{
		Create: 1, Update: 1, Delete: 1, ConfigOnly: 1, Unchanged: 9,
		Environments: Counts{Unchanged: 3},
		Files: FileCounts{
			// user-profile's Service and trigger do not change with its
			// regions: config-only files.
			Services:        Counts{Create: 1, Delete: 1, ConfigOnly: 2, Unchanged: 9},
			Pipelines:       Counts{Create: 1, Update: 1, Delete: 1, ConfigOnly: 1, Unchanged: 9},
			Triggers:        Counts{Create: 1, Delete: 1, ConfigOnly: 2, Unchanged: 9},
			Environments:    Counts{Unchanged: 3},
			Infrastructures: Counts{Unchanged: 4},
		},
	}
	if diff := cmp.Diff(want, plan.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

func TestPlanFormatsGolden(t *testing.T) {
	plan := examplesPlan(t)
	js, err := plan.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		got  []byte
	}{
		{"want.md", []byte(plan.Markdown(CheckRunTextLimit))},
		{"want.txt", []byte(plan.Text())},
		{"want.json", js},
	} {
		t.Run(tc.file, func(t *testing.T) {
			checkGolden(t, filepath.Join("testdata", "plan", tc.file), tc.got)
		})
	}
}

// TestPlanJSONContract decodes the JSON form into the documented shape,
// rejecting unknown keys, so a change to the contract fails here.
func TestPlanJSONContract(t *testing.T) {
	plan := examplesPlan(t)
	js, err := plan.JSON()
	if err != nil {
		t.Fatal(err)
	}
	type field struct {
		Name           string `json:"name"`
		Old            string `json:"old"`
		New            string `json:"new"`
		ShapesPipeline bool   `json:"shapesPipeline"`
	}
	var got struct {
		Changes []struct {
			Kind        string   `json:"kind"`
			Identifier  string   `json:"identifier"`
			Service     string   `json:"service"`
			Environment string   `json:"environment"`
			Action      string   `json:"action"`
			Path        string   `json:"path"`
			Fields      *[]field `json:"fields"`
			Diff        *string  `json:"diff"`
		} `json:"changes"`
		Summary struct {
			Create, Update, Delete, ConfigOnly, Unchanged int
			Environments                                  map[string]int            `json:"environments"`
			Files                                         map[string]map[string]int `json:"files"`
		} `json:"summary"`
	}
	dec := json.NewDecoder(strings.NewReader(string(js)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoding the plan's JSON with the documented fields: %v", err)
	}
	if s := got.Summary; s.Create != 1 || s.Update != 1 || s.Delete != 1 || s.ConfigOnly != 1 || s.Unchanged != 9 {
		t.Errorf("summary %+v: want 1 service of each action and 9 unchanged", s)
	}
	counts := map[string]int{"create": 0, "update": 0, "delete": 0, "configOnly": 0, "unchanged": 3}
	if diff := cmp.Diff(counts, got.Summary.Environments); diff != "" {
		t.Errorf("summary.environments (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"environments", "infrastructures", "pipelines", "services", "triggers"}, slices.Sorted(maps.Keys(got.Summary.Files))); diff != "" {
		t.Errorf("summary.files (-want +got):\n%s", diff)
	}
	byPath := map[string]int{}
	for i, c := range got.Changes {
		byPath[c.Path] = i
		if c.Fields == nil || c.Diff == nil || c.Kind == "" || c.Identifier == "" {
			t.Errorf("%s: kind, identifier, fields or diff missing; want [] and \"\" when empty", c.Path)
		}
	}
	cart := got.Changes[byPath["pipelines/cart-service-cd.yaml"]]
	if cart.Action != "config-only" || *cart.Diff != "" || cmp.Diff([]field{{Name: "profile", Old: "medium", New: "large"}}, *cart.Fields) != "" {
		t.Errorf("cart-service: got %+v, want a config-only change of profile medium → large with no diff", cart)
	}
	user := got.Changes[byPath["pipelines/user-profile-cd.yaml"]]
	if user.Action != "update" || user.Kind != "pipeline" || user.Identifier != "user_profile_cd" || !strings.Contains(*user.Diff, "+        identifier: prod_euw2\n") ||
		cmp.Diff([]field{{Name: "regions", Old: "[euw1]", New: "[euw1, euw2]", ShapesPipeline: true}}, *user.Fields) != "" {
		t.Errorf("user-profile: got %+v, want an update adding the prod_euw2 stage", user)
	}
	if env := got.Changes[byPath["infrastructures/prod-euw2.yaml"]]; env.Kind != "infrastructure" || env.Environment != "prod" || env.Service != "" || env.Identifier != "prod_euw2_k8s" {
		t.Errorf("infrastructures/prod-euw2.yaml: got %+v", env)
	}
	if strings.Contains(string(js), `\u003c`) {
		t.Error("the JSON escapes < as \\u003c; pipelines' <+expressions> should stay readable")
	}
}

// fenceRE matches a line that opens or closes a backtick code block.
var fenceRE = regexp.MustCompile("^(`{3,})")

// checkMarkdownBlocks fails when md leaves a code block or a <details>
// block open.
func checkMarkdownBlocks(tb testing.TB, md string) {
	tb.Helper()
	open := ""
	for _, line := range strings.Split(md, "\n") {
		m := fenceRE.FindString(line)
		switch {
		case open == "" && m != "":
			open = m
		case open != "" && len(m) >= len(open) && strings.TrimSpace(line) == m:
			open = ""
		}
	}
	if open != "" {
		tb.Errorf("a code block fenced with %s is never closed:\n%s", open, md)
	}
	if o, c := strings.Count(md, "<details>"), strings.Count(md, "</details>"); o != c {
		tb.Errorf("%d <details> for %d </details>:\n%s", o, c, md)
	}
}

// cutNoteRE reads the counts out of Markdown's closing note.
var cutNoteRE = regexp.MustCompile(`Cut to fit GitHub's (65,535)-character limit for check runs:\*\* (?:(\d+) changed (?:service or environment|services and environments))?(?: and )?(?:(\d+) file diffs?)? (?:is|are) not shown`)

func TestMarkdownCutsSafely(t *testing.T) {
	plan := examplesPlan(t)
	full := plan.Markdown(CheckRunTextLimit)
	totalRows, totalDiffs := strings.Count(full, "\n| `"), strings.Count(full, "<details>")
	if totalRows != 4 || totalDiffs != 7 {
		t.Fatalf("the uncut plan shows %d rows and %d diffs, want 4 and 7", totalRows, totalDiffs)
	}
	if strings.Contains(full, "Cut to fit") {
		t.Errorf("the uncut plan has a cut note:\n%s", full)
	}
	checkMarkdownBlocks(t, full)

	for _, limit := range []int{len(full) - 1, 20000, 12000, 9000, 2000, 1400, 1000} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			md := plan.Markdown(limit)
			if len(md) > limit {
				t.Errorf("length %d > limit %d", len(md), limit)
			}
			if !utf8.ValidString(md) || !strings.HasSuffix(md, ".\n") {
				t.Errorf("not valid UTF-8, or not ending with a whole line:\n%s", md)
			}
			checkMarkdownBlocks(t, md)
			if !strings.HasPrefix(md, "### "+plan.Summary.Headline()+"\n") {
				t.Errorf("the headline is not first:\n%s", md)
			}
			m := cutNoteRE.FindStringSubmatch(md)
			if m == nil {
				t.Fatalf("no note on what was cut:\n%s", md)
			}
			shownRows, shownDiffs := strings.Count(md, "\n| `"), strings.Count(md, "<details>")
			cutRows, cutDiffs := strconv.Itoa(totalRows-shownRows), strconv.Itoa(totalDiffs-shownDiffs)
			if cutRows == "0" {
				cutRows = ""
			}
			if cutDiffs == "0" {
				cutDiffs = ""
			}
			if got, want := m[2]+" rows, "+m[3]+" diffs", cutRows+" rows, "+cutDiffs+" diffs"; got != want {
				t.Errorf("the note says %s left out; %s were", got, want)
			}
		})
	}

	// Below the size of the headline and the note, the text is cut, but
	// never beyond the limit or inside a character.
	for _, limit := range []int{0, 1, 5, 50, 300, 600} {
		md := plan.Markdown(limit)
		if len(md) > limit || !utf8.ValidString(md) {
			t.Errorf("Markdown(%d): %d bytes, valid UTF-8 %t", limit, len(md), utf8.ValidString(md))
		}
	}
}

// TestMarkdownFencesHoldBackticks checks that a diff holding a code fence
// cannot close the block it is shown in.
func TestMarkdownFencesHoldBackticks(t *testing.T) {
	change := Change{Service: "x", Action: ActionUpdate, Path: "pipelines/x-cd.yaml",
		Old: []byte("script: echo old\n"), New: []byte("script: |\n  ```\n  ````\n")}
	diff := change.Diff()
	if !strings.Contains(diff, "+  ````\n") {
		t.Fatalf("the diff does not hold the fence:\n%s", diff)
	}
	plan := PipelinePlan{Changes: []Change{change}, Summary: Summary{Update: 1}}
	md := plan.Markdown(CheckRunTextLimit)
	checkMarkdownBlocks(t, md)
	if !strings.Contains(md, "`````diff\n"+diff+"`````\n") {
		t.Errorf("the diff is not shown whole in a five-backtick block:\n%s", md)
	}
}

func TestMarkdownTableCells(t *testing.T) {
	plan := PipelinePlan{
		Changes: []Change{{
			Service: "x", Action: ActionConfigOnly, Path: "pipelines/x-cd.yaml",
			Fields: []catalog.FieldChange{{Name: "<b>note</b>", Old: "a|b", New: "`c`"}},
		}},
		Summary: Summary{ConfigOnly: 1},
	}
	md := plan.Markdown(CheckRunTextLimit)
	want := "| `x` | ⚙️ config-only | — | &lt;b&gt;note&lt;/b&gt;: `a\\|b` → `'c'` |\n"
	if !strings.Contains(md, want) {
		t.Errorf("Markdown lacks the row\n%s\ngot:\n%s", want, md)
	}
	if !strings.Contains(md, "take effect on the next deploy") {
		t.Errorf("Markdown does not say when a config-only change takes effect:\n%s", md)
	}
}

func TestHeadline(t *testing.T) {
	tests := []struct {
		s    Summary
		want string
	}{
		{Summary{}, "No changes"},
		{Summary{Unchanged: 12, Environments: Counts{Unchanged: 3}}, "No changes"},
		{Summary{ConfigOnly: 1, Unchanged: 3}, "0 services to create, 0 to update, 0 to delete, 1 config-only"},
		{Summary{Create: 1, Update: 2, Delete: 3, ConfigOnly: 4, Files: FileCounts{Services: Counts{Create: 1, Delete: 3}, Pipelines: Counts{Create: 1, Update: 2, Delete: 3}}},
			"1 service to create, 2 to update, 3 to delete, 4 config-only; 4 files to write, 6 to delete"},
		{Summary{Create: 2, Environments: Counts{Create: 1, Delete: 2}, Files: FileCounts{Environments: Counts{Create: 1, Delete: 2}, Triggers: Counts{Create: 2}}},
			"2 services to create, 0 to update, 0 to delete, 0 config-only; 1 environment to create, 2 to delete; 3 files to write, 2 to delete"},
		{Summary{Unchanged: 5, Environments: Counts{Update: 2}, Files: FileCounts{Infrastructures: Counts{Update: 2}}}, "2 environments to update; 2 files to write"},
	}
	for _, tc := range tests {
		if got := tc.s.Headline(); got != tc.want {
			t.Errorf("%+v.Headline() = %q, want %q", tc.s, got, tc.want)
		}
	}
}
