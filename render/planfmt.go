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
//	{"changes": [{"service", "action", "path",
//	              "fields": [{"name", "old", "new", "shapesPipeline"}],
//	              "diff"}],
//	 "summary": {"create", "update", "delete", "configOnly", "unchanged"}}
type planJSON struct {
	Changes []changeJSON `json:"changes"`
	Summary Summary      `json:"summary"`
}

// changeJSON is one Change in the JSON form.
type changeJSON struct {
	Service string      `json:"service"`
	Action  Action      `json:"action"`
	Path    string      `json:"path"`
	Fields  []fieldJSON `json:"fields"`
	Diff    string      `json:"diff"`
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
		cj := changeJSON{Service: c.Service, Action: c.Action, Path: c.Path, Diff: c.Diff(), Fields: make([]fieldJSON, 0, len(c.Fields))}
		for _, f := range c.Fields {
			cj.Fields = append(cj.Fields, fieldJSON{Name: f.Name, Old: f.Old, New: f.New, ShapesPipeline: f.ShapesPipeline})
		}
		out.Changes = append(out.Changes, cj)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// Pipelines are full of <+expressions>: keep them readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encoding plan: %w", err)
	}
	return buf.Bytes(), nil
}

// Headline is the plan in one line, e.g. "1 to create, 2 to update, 0 to
// delete, 1 config-only".
func (s Summary) Headline() string {
	if s.Changed() == 0 && s.ConfigOnly == 0 {
		return "No pipeline changes"
	}
	return fmt.Sprintf("%d to create, %d to update, %d to delete, %d config-only", s.Create, s.Update, s.Delete, s.ConfigOnly)
}

// Text renders the plan for a terminal: the headline, one paragraph per
// service that is not unchanged (what changed in its catalog entry), then
// the unified diffs.
func (p PipelinePlan) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan: %s (%d unchanged)\n", p.Summary.Headline(), p.Summary.Unchanged)
	marks := map[Action]string{ActionCreate: "+", ActionUpdate: "~", ActionDelete: "-", ActionConfigOnly: "="}
	for _, c := range p.Changes {
		if c.Action == ActionUnchanged {
			continue
		}
		fmt.Fprintf(&b, "\n%s %-11s %s  %s\n", marks[c.Action], c.Action, c.Service, c.Path)
		switch {
		case wholeService(c.Fields, true):
			b.WriteString("    new service\n")
		case wholeService(c.Fields, false):
			b.WriteString("    service removed from the catalog\n")
		case len(c.Fields) == 0 && c.Action == ActionUpdate:
			b.WriteString("    catalog entry unchanged: " + noFieldsReason + "\n")
		case len(c.Fields) == 0 && c.Action == ActionDelete:
			b.WriteString("    not in the catalog\n")
		default:
			for _, f := range c.Fields {
				fmt.Fprintf(&b, "    %s: %s -> %s%s\n", f.Name, orNone(f.Old), orNone(f.New), shapeNote(f))
			}
		}
		if c.Action == ActionConfigOnly {
			b.WriteString("    no pipeline change: takes effect on the next deploy\n")
		}
	}
	for _, c := range p.Changes {
		if d := c.Diff(); d != "" {
			b.WriteString("\n" + withNewline(d))
		}
	}
	return b.String()
}

// noFieldsReason explains an update whose catalog entry did not change.
const noFieldsReason = "template, settings or hand edit"

// wholeService reports whether fields describe a whole service that was
// added (added true) or removed: every field, the name among them, only
// on that side.
func wholeService(fields []catalog.FieldChange, added bool) bool {
	named := false
	for _, f := range fields {
		if (added && f.Old != "") || (!added && f.New != "") {
			return false
		}
		named = named || f.Name == catalog.FieldName
	}
	return named
}

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
// limit bytes (CheckRunTextLimit for a check run). The headline and the
// table of changed services come first; the pipeline diffs follow, each
// in a collapsed block, while they fit. When something does not fit, whole
// rows and whole diffs are left out (never half a code block), and a
// closing note says how many.
func (p PipelinePlan) Markdown(limit int) string {
	var title strings.Builder
	fmt.Fprintf(&title, "### %s\n\n", p.Summary.Headline())
	fmt.Fprintf(&title, "%d to create · %d to update · %d to delete · %d config-only · %d unchanged\n",
		p.Summary.Create, p.Summary.Update, p.Summary.Delete, p.Summary.ConfigOnly, p.Summary.Unchanged)
	var rows []string
	for _, c := range p.Changes {
		if c.Action == ActionUnchanged {
			continue
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | `%s` | %s |\n", mdCell(c.Service), actionLabel(c.Action), mdCell(c.Path), fieldsCell(c)))
	}
	// Diffs are computed in order, and only while they can matter: once
	// the page is full, a few more are tried in case a small one still
	// fits, then the rest are counted as left out without computing them.
	var diffable []Change
	for _, c := range p.Changes {
		if c.Action == ActionCreate || c.Action == ActionUpdate || c.Action == ActionDelete {
			diffable = append(diffable, c)
		}
	}
	block := func(c Change) string {
		d := c.Diff()
		fence := codeFence(d)
		return fmt.Sprintf("<details><summary><code>%s</code> (%s)</summary>\n\n%sdiff\n%s%s\n\n</details>\n\n",
			html.EscapeString(c.Path), c.Action, fence, withNewline(d), fence)
	}
	note := ""
	if p.Summary.ConfigOnly > 0 {
		note = "\nConfig-only changes shape the manifests, not the pipelines: they take effect on the next deploy.\n"
	}
	const (
		tableHead = "\n| Service | Action | Pipeline file | Changed fields |\n|---|---|---|---|\n"
		diffsHead = "\n#### Pipeline diffs\n\n"
	)

	compose := func(keptRows, keptDiffs []string) string {
		var b strings.Builder
		b.WriteString(title.String())
		if len(keptRows) > 0 {
			b.WriteString(tableHead)
			for _, r := range keptRows {
				b.WriteString(r)
			}
		}
		b.WriteString(note)
		if len(keptDiffs) > 0 {
			b.WriteString(diffsHead)
			for _, d := range keptDiffs {
				b.WriteString(d)
			}
		}
		out := b.String()
		if strings.HasSuffix(out, "\n\n") {
			out = out[:len(out)-1] // the blank line after the last diff block
		}
		if cutRows, cutDiffs := len(rows)-len(keptRows), len(diffable)-len(keptDiffs); cutRows > 0 || cutDiffs > 0 {
			out += cutNote(cutRows, cutDiffs)
		}
		return out
	}
	var diffs []string                                  // blocks computed so far, in order
	fullLen := len(compose(rows, nil)) + len(diffsHead) // a bound: compose(rows, nil) also holds a cut note
	if len(diffable) > 0 {
		fullLen -= len(cutNote(0, len(diffable)))
	}
	for len(diffs) < len(diffable) && fullLen <= limit {
		d := block(diffable[len(diffs)])
		diffs = append(diffs, d)
		fullLen += len(d)
	}
	if len(diffs) == len(diffable) {
		if full := compose(rows, diffs); len(full) <= limit {
			return full
		}
	}

	// Something must go. Keep the rows, in order, while they fit with room
	// for the note; then, if every row fits, every diff that still fits,
	// in order, so one large diff does not hide the smaller ones after it.
	budget := limit - len(cutNote(len(rows), len(diffable))) - len(title.String()) - len(note)
	keptRows := 0
	for _, r := range rows {
		need := len(r)
		if keptRows == 0 {
			need += len(tableHead)
		}
		if need > budget {
			break
		}
		budget -= need
		keptRows++
	}
	var keptDiffs []string
	if keptRows == len(rows) {
		const triesWhenFull = 20 // diffs tried after one did not fit
		misses := 0
		for i := 0; i < len(diffable) && misses < triesWhenFull; i++ {
			if i == len(diffs) {
				diffs = append(diffs, block(diffable[i]))
			}
			d := diffs[i]
			need := len(d)
			if len(keptDiffs) == 0 {
				need += len(diffsHead)
			}
			if need > budget {
				misses++
				continue
			}
			budget -= need
			keptDiffs = append(keptDiffs, d)
		}
	}
	out := compose(rows[:keptRows], keptDiffs)
	if len(out) > limit {
		// Only a limit too small for the headline and the note gets here:
		// that text holds no code block, so cutting it cannot leave one open.
		out = truncateUTF8(out, limit)
	}
	return out
}

// cutNote says what Markdown left out: rows of the table and diffs.
func cutNote(rows, diffs int) string {
	var parts []string
	if rows > 0 {
		parts = append(parts, countOf(rows, "changed service", "changed services"))
	}
	if diffs > 0 {
		parts = append(parts, countOf(diffs, "pipeline diff", "pipeline diffs"))
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

// fieldsCell is the "Changed fields" cell of a change.
func fieldsCell(c Change) string {
	switch {
	case wholeService(c.Fields, true):
		return "new service"
	case wholeService(c.Fields, false):
		return "service removed"
	case len(c.Fields) == 0 && c.Action == ActionUpdate:
		return "catalog entry unchanged (" + noFieldsReason + ")"
	case len(c.Fields) == 0 && c.Action == ActionDelete:
		return "not in the catalog"
	}
	parts := make([]string, 0, len(c.Fields))
	for _, f := range c.Fields {
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
