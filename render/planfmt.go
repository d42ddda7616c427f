package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// CheckRunTextLimit is GitHub's limit on a check run's output summary and
// text: 65,535 characters each (docs.github.com/en/rest/checks/runs). The
// limit is applied to bytes, which are never fewer than characters.
const CheckRunTextLimit = 65535

// planJSON is the JSON contract of `plan --format json`; other tools read
// it, so its fields change only compatibly:
//
//	{"changes": [{"kind", "identifier", "service", "environment",
//	              "action", "path",
//	              "fields": [{"name", "old", "new", "shapesPipeline"}],
//	              "diff"}],
//	 "summary": {"create", "update", "delete", "configOnly", "unchanged",
//	             "environments": {counts},
//	             "files": {"services", "environments", "infrastructures",
//	                       "pipelines", "triggers": {counts}}}}
//
// where counts are {"create", "update", "delete", "configOnly",
// "unchanged"}; the summary's own counts are services (see Summary).
type planJSON struct {
	Changes []changeJSON `json:"changes"`
	Summary Summary      `json:"summary"`
}

// changeJSON is one Change in the JSON form.
type changeJSON struct {
	Kind        Kind        `json:"kind"`
	Identifier  string      `json:"identifier"`
	Service     string      `json:"service"`
	Environment string      `json:"environment"`
	Action      Action      `json:"action"`
	Path        string      `json:"path"`
	Fields      []fieldJSON `json:"fields"`
	Diff        string      `json:"diff"`
}

// fieldJSON is one catalog.FieldChange in the JSON form.
type fieldJSON struct {
	Name           string `json:"name"`
	Old            string `json:"old"`
	New            string `json:"new"`
	ShapesPipeline bool   `json:"shapesPipeline"`
}

// JSON encodes the plan in its documented JSON form (see planJSON), every
// change included, indented, with a final newline. Fields is [] rather
// than null when empty, and diff is "" when the file does not change.
func (p PipelinePlan) JSON() ([]byte, error) {
	out := planJSON{Changes: make([]changeJSON, 0, len(p.Changes)), Summary: p.Summary}
	for _, c := range p.Changes {
		cj := changeJSON{Kind: c.Kind, Identifier: c.Identifier, Service: c.Service, Environment: c.Environment,
			Action: c.Action, Path: c.Path, Diff: c.Diff(), Fields: make([]fieldJSON, 0, len(c.Fields))}
		for _, f := range c.Fields {
			cj.Fields = append(cj.Fields, fieldJSON{Name: f.Name, Old: f.Old, New: f.New, ShapesPipeline: f.ShapesPipeline})
		}
		out.Changes = append(out.Changes, cj)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// Entities are full of <+expressions>: keep them readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encoding plan: %w", err)
	}
	return buf.Bytes(), nil
}

// Headline is the plan in one line, e.g. "1 service to create, 2 to
// update, 0 to delete, 1 config-only; 1 environment to update; 5 files to
// write, 1 to delete". The part about environments is there only when one
// changes, the part about services only when a service changes, and the
// part about files only when a file does.
func (s Summary) Headline() string {
	files := s.Files.total()
	services := s.services()
	if files.Changed() == 0 && services.ConfigOnly == 0 {
		return "No changes"
	}
	var parts []string
	if services.Changed() > 0 || services.ConfigOnly > 0 {
		parts = append(parts, fmt.Sprintf("%s to create, %d to update, %d to delete, %d config-only",
			countOf(s.Create, "service", "services"), s.Update, s.Delete, s.ConfigOnly))
	}
	if e := s.Environments; e.Changed() > 0 {
		parts = append(parts, phrase("environment", "environments", []int{e.Create, e.Update, e.Delete}, []string{"to create", "to update", "to delete"}))
	}
	if files.Changed() > 0 {
		parts = append(parts, phrase("file", "files", []int{files.Create + files.Update, files.Delete}, []string{"to write", "to delete"}))
	}
	return strings.Join(parts, "; ")
}

// phrase counts things by what happens to them, leaving out the zeros:
// "2 environments to create, 1 to delete".
func phrase(one, many string, counts []int, what []string) string {
	var parts []string
	for i, n := range counts {
		if n == 0 {
			continue
		}
		if len(parts) == 0 {
			parts = append(parts, countOf(n, one, many)+" "+what[i])
		} else {
			parts = append(parts, strconv.Itoa(n)+" "+what[i])
		}
	}
	return strings.Join(parts, ", ")
}

// Text renders the plan for a terminal: the headline, one paragraph per
// service or environment that is not unchanged (its files and what
// changed in its catalog entry), then the unified diffs.
func (p PipelinePlan) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan: %s (%s unchanged)\n", p.Summary.Headline(), countOf(p.Summary.Unchanged, "service", "services"))
	marks := map[Action]string{ActionCreate: "+", ActionUpdate: "~", ActionDelete: "-", ActionConfigOnly: "="}
	for _, u := range p.units() {
		fmt.Fprintf(&b, "\n%s %-11s %s\n", marks[u.action], u.action, u.key.label())
		for _, c := range u.changes {
			if c.Action != ActionUnchanged && c.Action != ActionConfigOnly {
				fmt.Fprintf(&b, "    %s (%s)\n", c.Path, c.Action)
			}
		}
		for _, line := range u.causes() {
			b.WriteString("    " + line + "\n")
		}
		if u.action == ActionConfigOnly {
			b.WriteString("    no entity changes: takes effect on the next deploy\n")
		}
	}
	for _, c := range p.Changes {
		if d := c.Diff(); d != "" {
			b.WriteString("\n" + withNewline(d))
		}
	}
	return b.String()
}

// label names a unit: the service's name, or "environment <name>".
func (k unitKey) label() string {
	if k.environment {
		return "environment " + k.name
	}
	return k.name
}

// causes says, one line each, why a unit changes: its catalog fields,
// or what else can change it.
func (u planUnit) causes() []string {
	switch {
	case u.key.environment:
		return []string{"settings changed"}
	case catalog.WholeService(u.fields, true):
		return []string{"new service"}
	case catalog.WholeService(u.fields, false):
		return []string{"service removed from the catalog"}
	case len(u.fields) == 0 && u.action == ActionUpdate:
		return []string{"catalog entry unchanged: " + noFieldsReason}
	case len(u.fields) == 0 && u.action == ActionDelete:
		return []string{"not in the catalog"}
	}
	lines := make([]string, 0, len(u.fields))
	for _, f := range u.fields {
		lines = append(lines, fmt.Sprintf("%s: %s -> %s%s", f.Name, orNone(f.Old), orNone(f.New), shapeNote(f)))
	}
	return lines
}

// noFieldsReason explains an update whose catalog entry did not change.
const noFieldsReason = "template, settings or hand edit"

// orNone shows an absent value.
func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// shapeNote marks a config-only field.
func shapeNote(f catalog.FieldChange) string {
	if f.ShapesPipeline {
		return ""
	}
	return " (config-only)"
}

// Markdown renders the plan as the preview check run shows it, within
// limit bytes (CheckRunTextLimit for a check run). The headline, the
// files counted by kind and the table of changed services and
// environments come first; the file diffs follow, each in a collapsed
// block, while they fit. When something does not fit, whole rows and
// whole diffs are left out (never half a code block), and a closing note
// says how many.
func (p PipelinePlan) Markdown(limit int) string {
	m := markdownPlan{title: p.markdownTitle()}
	for _, u := range p.units() {
		m.rows = append(m.rows, u.row())
	}
	for _, c := range p.Changes {
		if c.Action == ActionCreate || c.Action == ActionUpdate || c.Action == ActionDelete {
			m.diffable = append(m.diffable, c)
		}
	}
	if p.Summary.ConfigOnly > 0 {
		m.note = "\nConfig-only changes shape the manifests, not the Harness entities: they take effect on the next deploy.\n"
	}
	return m.render(limit)
}

// markdownTitle is the headline and the table of files by kind.
func (p PipelinePlan) markdownTitle() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", p.Summary.Headline())
	b.WriteString("| Files | create | update | delete | unchanged |\n|---|--:|--:|--:|--:|\n")
	for _, k := range []Kind{KindService, KindPipeline, KindTrigger, KindEnvironment, KindInfrastructure} {
		c := p.Summary.Files.Of(k)
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d |\n", kindPlural(k), c.Create, c.Update, c.Delete, c.Unchanged+c.ConfigOnly)
	}
	return b.String()
}

// kindPlural names the files of kind k in the Markdown table.
func kindPlural(k Kind) string {
	switch k {
	case KindService:
		return "Services"
	case KindInfrastructure:
		return "Infrastructure definitions"
	}
	return strings.ToUpper(string(k[:1])) + string(k[1:]) + "s"
}

// row is the unit's row of the Markdown table.
func (u planUnit) row() string {
	name := "`" + mdCell(u.key.name) + "`"
	if u.key.environment {
		name = "environment " + name
	}
	var files []string
	for _, c := range u.changes {
		if c.Action != ActionUnchanged && c.Action != ActionConfigOnly {
			files = append(files, fmt.Sprintf("`%s` (%s)", mdCell(c.Path), c.Action))
		}
	}
	if len(files) == 0 {
		files = []string{"—"}
	}
	return fmt.Sprintf("| %s | %s | %s | %s |\n", name, actionLabel(u.action), strings.Join(files, "<br>"), u.fieldsCell())
}

// markdownPlan is a plan's Markdown in parts, to fit in a limit.
type markdownPlan struct {
	title    string
	rows     []string
	note     string
	diffable []Change
	diffs    []string // blocks computed so far, in order
}

const (
	mdTableHead = "\n| Service or environment | Action | Files | Changed fields |\n|---|---|---|---|\n"
	mdDiffsHead = "\n#### File diffs\n\n"
)

// block is a change's diff in a collapsed block.
func (m *markdownPlan) block(c Change) string {
	d := c.Diff()
	fence := codeFence(d)
	return fmt.Sprintf("<details><summary><code>%s</code> (%s)</summary>\n\n%sdiff\n%s%s\n\n</details>\n\n",
		html.EscapeString(c.Path), c.Action, fence, withNewline(d), fence)
}

// compose writes the title, keptRows and keptDiffs, and the note of what
// is left out.
func (m *markdownPlan) compose(keptRows, keptDiffs []string) string {
	var b strings.Builder
	b.WriteString(m.title)
	if len(keptRows) > 0 {
		b.WriteString(mdTableHead)
		for _, r := range keptRows {
			b.WriteString(r)
		}
	}
	b.WriteString(m.note)
	if len(keptDiffs) > 0 {
		b.WriteString(mdDiffsHead)
		for _, d := range keptDiffs {
			b.WriteString(d)
		}
	}
	out := b.String()
	if strings.HasSuffix(out, "\n\n") {
		out = out[:len(out)-1] // the blank line after the last diff block
	}
	if cutRows, cutDiffs := len(m.rows)-len(keptRows), len(m.diffable)-len(keptDiffs); cutRows > 0 || cutDiffs > 0 {
		out += cutNote(cutRows, cutDiffs)
	}
	return out
}

// render fits the plan in limit bytes.
func (m *markdownPlan) render(limit int) string {
	// Diffs are computed in order, and only while they can matter: once
	// the page is full, a few more are tried in case a small one still
	// fits, then the rest are counted as left out without computing them.
	fullLen := len(m.compose(m.rows, nil)) + len(mdDiffsHead) // a bound: compose(rows, nil) also holds a cut note
	if len(m.diffable) > 0 {
		fullLen -= len(cutNote(0, len(m.diffable)))
	}
	for len(m.diffs) < len(m.diffable) && fullLen <= limit {
		d := m.block(m.diffable[len(m.diffs)])
		m.diffs = append(m.diffs, d)
		fullLen += len(d)
	}
	if len(m.diffs) == len(m.diffable) {
		if full := m.compose(m.rows, m.diffs); len(full) <= limit {
			return full
		}
	}
	// Something must go. Keep the rows, in order, while they fit with room
	// for the note; then, if every row fits, every diff that still fits,
	// in order, so one large diff does not hide the smaller ones after it.
	budget := limit - len(cutNote(len(m.rows), len(m.diffable))) - len(m.title) - len(m.note)
	keptRows := 0
	for _, r := range m.rows {
		need := len(r)
		if keptRows == 0 {
			need += len(mdTableHead)
		}
		if need > budget {
			break
		}
		budget -= need
		keptRows++
	}
	var keptDiffs []string
	if keptRows == len(m.rows) {
		keptDiffs = m.fitDiffs(budget)
	}
	out := m.compose(m.rows[:keptRows], keptDiffs)
	if len(out) > limit {
		// Only a limit too small for the title and the note gets here:
		// that text holds no code block, so cutting it cannot leave one open.
		out = truncateUTF8(out, limit)
	}
	return out
}

// fitDiffs returns the diff blocks that fit in budget, in order.
func (m *markdownPlan) fitDiffs(budget int) []string {
	const triesWhenFull = 20 // diffs tried after one did not fit
	var kept []string
	misses := 0
	for i := 0; i < len(m.diffable) && misses < triesWhenFull; i++ {
		if i == len(m.diffs) {
			m.diffs = append(m.diffs, m.block(m.diffable[i]))
		}
		d := m.diffs[i]
		need := len(d)
		if len(kept) == 0 {
			need += len(mdDiffsHead)
		}
		if need > budget {
			misses++
			continue
		}
		budget -= need
		kept = append(kept, d)
	}
	return kept
}

// cutNote says what Markdown left out: rows of the table and diffs.
func cutNote(rows, diffs int) string {
	var parts []string
	if rows > 0 {
		parts = append(parts, countOf(rows, "changed service or environment", "changed services and environments"))
	}
	if diffs > 0 {
		parts = append(parts, countOf(diffs, "file diff", "file diffs"))
	}
	verb := "is"
	if len(parts) > 1 || rows > 1 || diffs > 1 {
		verb = "are"
	}
	return fmt.Sprintf("\n> **Cut to fit GitHub's 65,535-character limit for check runs:** %s %s not shown. Run `pipeline-orchestrator plan` locally for the full plan.\n",
		strings.Join(parts, " and "), verb)
}

// countOf writes n and the noun in the right number: "1 row", "2 rows".
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// codeFence returns a backtick fence longer than any run of backticks in s,
// so no content can close the code block early.
func codeFence(s string) string {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// withNewline returns s ending with a newline.
func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// actionLabel is an action as the Markdown table shows it.
func actionLabel(a Action) string {
	switch a {
	case ActionCreate:
		return "🆕 create"
	case ActionUpdate:
		return "✏️ update"
	case ActionDelete:
		return "🗑️ delete"
	case ActionConfigOnly:
		return "⚙️ config-only"
	}
	return string(a)
}

// fieldsCell is the "Changed fields" cell of a unit.
func (u planUnit) fieldsCell() string {
	switch {
	case u.key.environment:
		return "settings"
	case catalog.WholeService(u.fields, true):
		return "new service"
	case catalog.WholeService(u.fields, false):
		return "service removed"
	case len(u.fields) == 0 && u.action == ActionUpdate:
		return "catalog entry unchanged (" + noFieldsReason + ")"
	case len(u.fields) == 0 && u.action == ActionDelete:
		return "not in the catalog"
	}
	parts := make([]string, 0, len(u.fields))
	for _, f := range u.fields {
		parts = append(parts, fmt.Sprintf("%s: `%s` → `%s`", html.EscapeString(mdCell(f.Name)), mdCell(orNone(f.Old)), mdCell(orNone(f.New))))
	}
	return strings.Join(parts, "<br>")
}

// mdCellLen is the most characters of a value a table cell shows.
const mdCellLen = 200

// mdCellReplacer keeps text inside one table cell and one code span.
var mdCellReplacer = strings.NewReplacer("|", "\\|", "\n", " ", "\r", " ", "`", "'")

// mdCell keeps a value inside one table cell and one code span, and cuts
// it to mdCellLen characters.
func mdCell(s string) string {
	s = mdCellReplacer.Replace(s)
	if utf8.RuneCountInString(s) > mdCellLen {
		s = string([]rune(s)[:mdCellLen]) + "…"
	}
	return s
}
