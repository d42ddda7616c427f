package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/internal/sharedfiles"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/templates"
)

// Files of the repository's examples, as the commands' tests use them.
var (
	examplesSettings = filepath.Join("..", "..", "examples", ".pipeline-orchestrator.yml")
	examplesBase     = filepath.Join("..", "..", "examples", "catalog", "services.yaml")
	examplesHead     = filepath.Join("..", "..", "examples", "catalog", "services.next.yaml")
)

// result is what one run of the CLI did.
type result struct {
	code           int
	stdout, stderr string
	// note is the line saying that the Harness schema check was skipped,
	// taken out of stderr by runCLI; "" when it was not printed.
	note string
}

// sharedSchemaEnv is the environment that gives the commands Harness's
// schemas from ../shared/schemas, or an empty one when they are not there.
func sharedSchemaEnv() map[string]string {
	env := map[string]string{}
	if p, ok := sharedfiles.Path("schemas", "harness-pipeline-v0.json"); ok {
		env[envPipelineSchema] = p
		if t, ok := sharedfiles.Path("schemas", "harness-trigger-v0.json"); ok {
			env[envTriggerSchema] = t
		}
	}
	return env
}

// runCLI runs the CLI with args as a user would, in an environment that
// holds nothing but Harness's schemas from ../shared/schemas when they are
// there, and returns its exit code and output. When they are not there,
// the commands that render say on stderr that they skipped the schema
// check; runCLI moves that line into result.note, so that the tests of
// everything else hold either way. TestSchemaNote tests the note itself.
func runCLI(tb testing.TB, args ...string) result {
	tb.Helper()
	r := runCLIEnv(tb, sharedSchemaEnv(), args...)
	var kept []string
	for _, l := range strings.SplitAfter(r.stderr, "\n") {
		if strings.Contains(l, schemaSkippedText) && r.note == "" {
			r.note = l
			continue
		}
		kept = append(kept, l)
	}
	r.stderr = strings.Join(kept, "")
	return r
}

// runCLIEnv runs the CLI with args in the environment env, and returns
// its exit code and output as they are.
func runCLIEnv(tb testing.TB, env map[string]string, args ...string) result {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	c := newCLI(&stdout, &stderr)
	c.lookupEnv = func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	code := c.run(context.Background(), args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// schemaSkippedText is in the line the commands print when they render
// without Harness's schema.
const schemaSkippedText = ": Harness schema check skipped: no schema given (use --schema FILE or " + envPipelineSchema + ")"

// writeFile writes content to dir/name, creating directories, and returns
// the path.
func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// badCatalog has three errors, on lines 2, 8 and 10.
const badCatalog = `services:
  - name: Bad_Name
    archetype: api
    team: payments
    environments: [int]
    regions: [euw1]
  - name: svc-b
    archetype: nosuch
    team: payments
    environments: [int, staging]
    regions: [euw1]
`

// batchCatalog uses an archetype that only a templates directory provides.
const batchCatalog = `services:
  - name: nightly-batch
    archetype: batch
    team: data
    environments: [int, prod]
    regions: [euw1]
`

// batchTemplates writes a templates directory with a "batch" archetype
// (the built-in job templates under another name) and a README, and
// returns the directory.
func batchTemplates(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "templates")
	writeFile(tb, dir, "batch-pipeline-template.yaml", string(templates.Default()["job-pipeline-template.yaml"]))
	writeFile(tb, dir, "batch-service-template.yaml", string(templates.Default()["job-service-template.yaml"]))
	writeFile(tb, dir, "README.md", "# templates\n")
	return dir
}

// brokenAPITemplates writes a templates directory whose api template
// parses but cannot execute, on its line 3.
func brokenAPITemplates(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "templates")
	writeFile(tb, dir, "api-pipeline-template.yaml", "pipeline:\n  name: x\n  identifier: {{ .NoSuchField }}\n")
	return dir
}

// diagnosticLine is the compiler form of an error line.
var diagnosticLine = regexp.MustCompile(`^(.+?):(\d+):(\d+): (.+)$`)

// checkDiagnostics checks that stderr is exactly one compiler-form line per
// wanted "PATH:LINE:COL" prefix, in order, then the exit summary counting
// them.
func checkDiagnostics(tb testing.TB, stderr string, want ...string) {
	tb.Helper()
	lines, summary := splitSummary(tb, stderr)
	var got []string
	for _, l := range lines {
		m := diagnosticLine.FindStringSubmatch(l)
		if m == nil {
			tb.Errorf("stderr line %q is not PATH:LINE:COL: message", l)
			continue
		}
		got = append(got, m[1]+":"+m[2]+":"+m[3])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Errorf("error positions (-want +got):\n%s\nstderr:\n%s", diff, stderr)
	}
	if !strings.Contains(summary, ": "+strconv.Itoa(len(want))+" problem(s)") {
		tb.Errorf("exit summary %q does not count %d problem(s)", summary, len(want))
	}
}

// splitSummary splits stderr into its lines before the last, and the last
// one, which must be an exit summary ("pipeline-orchestrator CMD: …").
func splitSummary(tb testing.TB, stderr string) (lines []string, summary string) {
	tb.Helper()
	lines = strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	summary = lines[len(lines)-1]
	if !exitSummary.MatchString(summary) {
		tb.Errorf("the last stderr line %q is not an exit summary\nstderr:\n%s", summary, stderr)
	}
	return lines[:len(lines)-1], summary
}

// exitSummary is the form of the last line of a failed command.
var exitSummary = regexp.MustCompile(`^pipeline-orchestrator [a-z]+: `)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", badCatalog)
	batch := writeFile(t, dir, "batch.yaml", batchCatalog)
	badSettings := writeFile(t, dir, "settings.yml", "harness:\n  org: default\n  projekt: platform\n")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		// wantErrAt are the PATH:LINE:COL of the wanted error lines; nil
		// means stderr must be empty.
		wantErrAt []string
	}{
		{
			name:       "the examples with their settings",
			args:       []string{"validate", "--settings", examplesSettings, examplesBase},
			wantStdout: "ok: 13 services\n",
		},
		{
			name:       "the examples with the built-in settings",
			args:       []string{"validate", examplesHead},
			wantStdout: "ok: 13 services\n",
		},
		{
			name:      "every error, one per line, at its line and column",
			args:      []string{"validate", bad},
			wantCode:  1,
			wantErrAt: []string{bad + ":2:11", bad + ":8:16", bad + ":10:25"},
		},
		{
			name:      "an archetype no template provides",
			args:      []string{"validate", batch},
			wantCode:  1,
			wantErrAt: []string{batch + ":3:16"},
		},
		{
			name:       "an archetype from --templates",
			args:       []string{"validate", "--templates", batchTemplates(t), batch},
			wantStdout: "ok: 1 services\n",
		},
		{
			name:      "an invalid settings file",
			args:      []string{"validate", "--settings", badSettings, examplesBase},
			wantCode:  1,
			wantErrAt: []string{badSettings + ":3:3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			if r.code != tc.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", r.code, tc.wantCode, r.stderr)
			}
			if r.stdout != tc.wantStdout {
				t.Errorf("stdout %q, want %q", r.stdout, tc.wantStdout)
			}
			if tc.wantErrAt == nil {
				if r.stderr != "" {
					t.Errorf("stderr %q, want nothing", r.stderr)
				}
				return
			}
			checkDiagnostics(t, r.stderr, tc.wantErrAt...)
		})
	}
}

// TestValidateRendersToo checks that validate fails on a catalog that
// parses but whose pipelines cannot be rendered, naming the template line.
func TestValidateRendersToo(t *testing.T) {
	tmpl := brokenAPITemplates(t)
	r := runCLI(t, "validate", "--templates", tmpl, examplesBase)
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("exit code %d, stdout %q; want 1 and nothing", r.code, r.stdout)
	}
	path := filepath.ToSlash(filepath.Join(tmpl, "api-pipeline-template.yaml"))
	lines, summary := splitSummary(t, r.stderr)
	for _, l := range lines {
		if !strings.HasPrefix(l, path+":3: service ") {
			t.Errorf("stderr line %q does not name %s:3 and a service", l, path)
		}
	}
	if len(lines) != 4 {
		t.Errorf("%d error lines, want one per api service (4):\n%s", len(lines), r.stderr)
	}
	if want := "pipeline-orchestrator validate: 4 pipeline(s) cannot be rendered"; summary != want {
		t.Errorf("exit summary %q, want %q", summary, want)
	}
}

// TestUsageErrors checks the exit-2 cases of every offline command: one
// clear line on stderr, nothing on stdout.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	nope := filepath.Join(dir, "nope.yaml")
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"validate: missing file", []string{"validate", nope}, "pipeline-orchestrator validate: open " + nope + ": no such file or directory\n"},
		{"validate: missing settings", []string{"validate", "--settings", nope, examplesBase}, "pipeline-orchestrator validate: open " + nope + ": no such file or directory\n"},
		{"validate: missing templates", []string{"validate", "--templates", filepath.Join(dir, "nodir"), examplesBase}, "pipeline-orchestrator validate: open " + filepath.Join(dir, "nodir") + ": no such file or directory\n"},
		{"validate: unknown flag", []string{"validate", "--strict", examplesBase}, "pipeline-orchestrator validate: flag provided but not defined: -strict (run pipeline-orchestrator validate --help)\n"},
		{"validate: no catalog", []string{"validate"}, "pipeline-orchestrator validate: want one catalog file, got 0 arguments (flags go before the file)\n"},
		{"validate: two catalogs", []string{"validate", examplesBase, examplesHead}, "pipeline-orchestrator validate: want one catalog file, got 2 arguments (flags go before the file)\n"},
		{"render: missing catalog file", []string{"render", "--catalog", nope, "--out", dir}, "pipeline-orchestrator render: open " + nope + ": no such file or directory\n"},
		{"render: no --catalog", []string{"render", "--out", dir}, "pipeline-orchestrator render: --catalog is required\n"},
		{"render: no --out", []string{"render", "--catalog", examplesBase}, "pipeline-orchestrator render: --out is required\n"},
		{"render: unknown flag", []string{"render", "--force"}, "pipeline-orchestrator render: flag provided but not defined: -force (run pipeline-orchestrator render --help)\n"},
		{"render: positional argument", []string{"render", "--out", dir, examplesBase}, "pipeline-orchestrator render: unexpected arguments [\"" + examplesBase + "\"]: the catalog goes in --catalog\n"},
		{"plan: missing head", []string{"plan", "--base", examplesBase, "--head", nope}, "pipeline-orchestrator plan: open " + nope + ": no such file or directory\n"},
		{"plan: missing base", []string{"plan", "--base", nope, "--head", examplesHead}, "pipeline-orchestrator plan: open " + nope + ": no such file or directory\n"},
		{"plan: no --head", []string{"plan", "--base", examplesBase}, "pipeline-orchestrator plan: --base and --head are required\n"},
		{"plan: bad format", []string{"plan", "--base", examplesBase, "--head", examplesHead, "--format", "yaml"}, "pipeline-orchestrator plan: unknown --format \"yaml\": use text, markdown or json\n"},
		{"plan: missing pipelines dir", []string{"plan", "--base", examplesBase, "--head", examplesHead, "--pipelines", filepath.Join(dir, "nodir")}, "pipeline-orchestrator plan: stat " + filepath.Join(dir, "nodir") + ": no such file or directory\n"},
		{"plan: unknown flag", []string{"plan", "-x"}, "pipeline-orchestrator plan: flag provided but not defined: -x (run pipeline-orchestrator plan --help)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			if r.code != 2 {
				t.Errorf("exit code %d, want 2", r.code)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if r.stderr != tc.wantStderr {
				t.Errorf("stderr:\n%q\nwant:\n%q", r.stderr, tc.wantStderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	tests := map[string][]string{
		"validate": {"-settings FILE", "-templates DIR", "-schema FILE", "-trigger-schema FILE", envPipelineSchema, envTriggerSchema,
			"validate [--settings FILE] [--templates DIR] [--schema FILE [--trigger-schema FILE]] CATALOG"},
		"render": {"-catalog FILE", "-out DIR", "-settings FILE", "-templates DIR", "-schema FILE", "-trigger-schema FILE"},
		"plan": {"-base FILE", "-head FILE", "-pipelines DIR", "-format FORMAT", "-settings FILE", "-templates DIR",
			"-schema FILE", "-trigger-schema FILE", "text|markdown|json"},
	}
	for cmd, want := range tests {
		for _, flag := range []string{"--help", "-h"} {
			t.Run(cmd+" "+flag, func(t *testing.T) {
				r := runCLI(t, cmd, flag)
				if r.code != 0 || r.stderr != "" {
					t.Errorf("exit code %d, stderr %q; want 0 and nothing", r.code, r.stderr)
				}
				for _, w := range want {
					if !strings.Contains(r.stdout, w) {
						t.Errorf("help lacks %q:\n%s", w, r.stdout)
					}
				}
			})
		}
	}
}
