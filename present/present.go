// Package present turns the loop's plan values into the text people read:
// check-run titles and summaries, the bot PR's title, body and commit
// message, and comments. It is pure: the same values give the same bytes,
// and every presenter has a golden file under testdata (go test ./present
// -update rewrites them), so a wording change shows up as a diff.
package present

import (
	"fmt"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// Report is a check run's content.
type Report struct {
	// Conclusion is "" while the work is in progress.
	Conclusion  string
	Title       string
	Summary     string
	Annotations []gh.Annotation
}

// Links builds links to GitHub's web pages.
type Links struct {
	// Web is GitHub's web base, e.g. "https://github.com".
	Web string
}

// Repo is the web page of a repository.
func (l Links) Repo(repo gh.Repo) string {
	return strings.TrimRight(l.Web, "/") + "/" + repo.String()
}

// Commit is the web page of a commit.
func (l Links) Commit(repo gh.Repo, sha string) string {
	return l.Repo(repo) + "/commit/" + sha
}

// Pull is the web page of a pull request.
func (l Links) Pull(repo gh.Repo, number int) string {
	return fmt.Sprintf("%s/pull/%d", l.Repo(repo), number)
}

// PullFiles is the "Files changed" tab of a pull request.
func (l Links) PullFiles(repo gh.Repo, number int) string {
	return l.Pull(repo, number) + "/files"
}

// Compare is the page comparing head with base (a branch or a commit).
func (l Links) Compare(repo gh.Repo, base, head string) string {
	return l.Repo(repo) + "/compare/" + base + "..." + head
}

// CommitLink is a markdown link naming repo@short-sha.
func (l Links) CommitLink(repo gh.Repo, sha string) string {
	return fmt.Sprintf("[%s@%s](%s)", repo, gh.ShortSHA(sha), l.Commit(repo, sha))
}

// maxTitle keeps check-run titles short; GitHub shows them on one line.
const maxTitle = 200

// FitTitle cuts a check-run title to one readable line.
func FitTitle(s string) string {
	if len(s) <= maxTitle {
		return s
	}
	return CutUTF8(s, maxTitle-len("…")) + "…"
}

// FitText keeps s within GitHub's 65,535-character limit for check-run
// summaries, cutting at a line boundary with a note saying so.
func FitText(s string) string {
	if len(s) <= render.CheckRunTextLimit {
		return s
	}
	const note = "\n\n> **Cut to fit GitHub's 65,535-character limit for check runs.** The full text is on the status page and in `pipeline-orchestrator plan`.\n"
	cut := CutUTF8(s, render.CheckRunTextLimit-len(note)-8)
	if i := strings.LastIndexByte(cut, '\n'); i > len(cut)/2 {
		cut = cut[:i]
	}
	if strings.Count(cut, "```")%2 == 1 {
		cut += "\n```"
	}
	return cut + note
}

// CutUTF8 cuts s to at most n bytes without splitting a character.
func CutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

// FirstLine is the first line of s, cut to 150 bytes.
func FirstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return CutUTF8(s, 150)
}

// Annotations turns diagnostics about files of the check run's repository
// (inRepo) into annotations on their lines; the others are returned as
// lines for the summary (GitHub can only annotate files of the repository
// the check run is on).
func Annotations(diags catalog.Diagnostics, inRepo func(file string) bool) ([]gh.Annotation, []string) {
	var anns []gh.Annotation
	var other []string
	for _, d := range diags {
		if d.Line < 1 || !inRepo(d.File) {
			other = append(other, d.String())
			continue
		}
		title := "invalid catalog"
		if d.Service != "" {
			title = "service " + d.Service
			if d.Field != "" {
				title += ": " + d.Field
			}
		}
		anns = append(anns, gh.Annotation{
			Path: d.File, StartLine: d.Line, EndLine: d.Line, StartColumn: d.Column, EndColumn: d.Column,
			Level: "failure", Title: title, Message: d.Message,
		})
	}
	return anns, other
}

// DiagnosticList renders diagnostics as a markdown list.
func DiagnosticList(diags catalog.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "- `%s`\n", strings.ReplaceAll(d.String(), "`", "'"))
	}
	return b.String()
}

// cellEscaper keeps a value inside its markdown table cell.
var cellEscaper = strings.NewReplacer("|", "\\|", "\n", " ")

// mdCell escapes a value for a markdown table cell, cut to 500 bytes.
func mdCell(s string) string {
	return cellEscaper.Replace(CutUTF8(s, 500))
}
