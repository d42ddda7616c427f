package present

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// GitHub's limits on a pull request's title and body, in characters as
// GitHub counts them: Unicode code points, whatever their length in UTF-8
// (65,536 four-byte emoji pass as a body, one character more is refused
// with 422 "body is too long (maximum is 65536 characters)"). They are
// observed, not documented; githubtest enforces them the same way.
const (
	PRBodyLimit  = 65536
	PRTitleLimit = 256
	// BotPRBodyBudget is what the bot PR body is fitted in: GitHub's limit
	// less a margin of 5,536 characters, so that the body still fits if
	// GitHub ever counts more than code points (line ends stored as CRLF
	// add one character a line, and the body has fewer than 1,000 lines;
	// UTF-16 counts two per emoji, and it has a handful).
	BotPRBodyBudget = 60000
)

// Runes is the length of s as GitHub counts a PR's title and body.
func Runes(s string) int { return utf8.RuneCountInString(s) }

// CommitMessage is the message of the bot branch's commit: the source
// commit, the headline, and the files of each kind it writes or removes.
func CommitMessage(plan render.PipelinePlan, c ProposeContext) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Sync pipelines with %s@%s\n\n%s\n", c.Config, gh.ShortSHA(c.ConfigCommit), plan.Summary.Headline())
	for _, k := range kinds {
		if n := plan.Summary.Files.Of(k); n.Changed() > 0 {
			fmt.Fprintf(&b, "\n%s: %d to create, %d to update, %d to delete", kindTitle(k), n.Create, n.Update, n.Delete)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// BotPRTitle is the bot PR's title, within GitHub's 256 characters.
func BotPRTitle(plan render.PipelinePlan) string {
	return cutRunes("Sync pipelines: "+plan.Summary.Headline(), PRTitleLimit)
}

// BotPR is what the bot PR body is made of.
type BotPR struct {
	Plan     render.PipelinePlan
	Meta     planner.BotMeta
	Settings catalog.Settings
	// Existing is how many services and environments have files today.
	Existing int
	// Number is the bot PR's number when it is already open, 0 when the
	// body is for a PR yet to be opened: the body then links to the
	// comparison of the bot branch instead of the PR's files.
	Number int
}

// BotPRBody describes the proposal within BotPRBodyBudget characters,
// whatever its size. First what a reviewer must see: the mass-delete
// warning, the source commits, the files of each kind created, updated and
// deleted in Harness on merge, and the services and environments counted
// by what caused their change. Then one row per service (its Service,
// pipeline and trigger) and per environment (its infrastructure
// definitions) that changes, those that delete something first: deletes
// are listed by name only when their rows do not all fit, and the other
// rows are left out before any delete is. A closing line counts what is
// left out and points to the PR's files. The hidden block read back by the
// next propose run (planner.ParseBotMeta) always ends the body, whole.
func BotPRBody(p BotPR, c ProposeContext) string {
	return botPRBody(p, c, BotPRBodyBudget)
}

// botPRBody is BotPRBody within budget characters.
func botPRBody(p BotPR, c ProposeContext, budget int) string {
	units := unitsOf(p.Plan)
	var deletes, others []*prUnit
	for _, u := range units {
		if u.deleted > 0 {
			deletes = append(deletes, u)
		} else {
			others = append(others, u)
		}
	}
	head, tail := p.head(c, units), p.tail(c)
	cut := cutLine(len(units), len(deletes), p.filesLink(c))
	f := fitter{left: budget - Runes(head) - Runes(tail) - Runes(cut)}
	var b strings.Builder
	b.WriteString(head)
	held := p.Meta.MassDelete
	shownDeletes, shownOthers := f.deletes(&b, deletes, held), 0
	if shownDeletes == len(deletes) {
		shownOthers = f.rows(&b, "\n#### Creates and updates\n\n", others, held)
	}
	if shown := shownDeletes + shownOthers; shown < len(units) {
		b.WriteString(cutLine(len(units)-shown, len(deletes)-shownDeletes, p.filesLink(c)))
	}
	if f.left < 0 {
		// Only settings or repository names of thousands of characters
		// get here: cut the text, never the hidden block.
		return cutRunes(b.String(), budget-Runes(tail)-1) + "\n" + tail
	}
	return b.String() + tail
}

// head is the body up to the rows: the mass-delete warning, the
// introduction, the source commits and the summaries.
func (p BotPR) head(c ProposeContext, units []*prUnit) string {
	var b strings.Builder
	if p.Meta.MassDelete {
		s := p.Settings.MassDelete
		fmt.Fprintf(&b, "> ⚠️ **Mass delete:** this PR deletes entities of %d of %d services and environments (threshold: more than %d, or more than %d%%). "+
			"After merge, creates and updates reach Harness at once; **the deletes wait for the label `%s`** on this PR.\n\n",
			p.Meta.Deletes, p.Existing, s.MaxCount, s.MaxPercent, gh.MassDeleteLabel)
	}
	b.WriteString("This PR is maintained by pipeline-orchestrator. It renders the Harness entities of the service catalog and the settings ")
	b.WriteString("(Services, pipelines, triggers, environments and infrastructure definitions); ")
	b.WriteString("it is updated in place while the catalog changes, and closed when nothing is left to change.\n\n")
	fmt.Fprintf(&b, "**Source:** catalog %s · templates and settings %s\n\n",
		c.Links.CommitLink(c.Config, c.ConfigCommit), c.Links.CommitLink(c.Pipelines, c.PipelinesCommit))
	fmt.Fprintf(&b, "### %s\n\n", p.Plan.Summary.Headline())
	b.WriteString("| Entities in Harness | create | update | delete |\n|---|--:|--:|--:|\n")
	for _, k := range kinds {
		n := p.Plan.Summary.Files.Of(k)
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", kindTitle(k), n.Create, n.Update, n.Delete)
	}
	var byCause [causes][2]int
	for _, u := range units {
		why, _ := u.cause()
		if u.environment {
			byCause[why][1]++
		} else {
			byCause[why][0]++
		}
	}
	b.WriteString("\n| Caused by | services | environments |\n|---|--:|--:|\n")
	for why, n := range byCause {
		fmt.Fprintf(&b, "| %s | %d | %d |\n", causeLabels[why], n[0], n[1])
	}
	return b.String()
}

// tail is the body after the rows: what merging does, and the hidden
// block.
func (p BotPR) tail(c ProposeContext) string {
	var b strings.Builder
	if p.Plan.Summary.ConfigOnly > 0 {
		fmt.Fprintf(&b, "\n%d service(s) changed only config-only fields; their entities do not change (the config takes effect on the next deploy).\n", p.Plan.Summary.ConfigOnly)
	}
	fmt.Fprintf(&b, "\nHarness org `%s`, project `%s`. Operations are retried until Harness confirms them; results appear as the `%s` check run on the merge commit and on %s.\n",
		mdCell(p.Settings.Org), mdCell(p.Settings.Project), gh.CheckHarness, c.Links.CommitLink(c.Config, c.ConfigCommit))
	fmt.Fprintf(&b, "\n%s\n", p.Meta.Encode())
	return b.String()
}

// filesLink is the page with every file of the PR: its "Files changed"
// tab once it has a number, the comparison of the bot branch before.
func (p BotPR) filesLink(c ProposeContext) string {
	if p.Number > 0 {
		return c.Links.PullFiles(c.Pipelines, p.Number)
	}
	return c.Links.Compare(c.Pipelines, c.PipelinesCommit, gh.SyncBranch)
}

// cutLine says how many services and environments the body leaves out,
// how many of those have deletes, and where to see them all.
func cutLine(left, deletes int, filesLink string) string {
	what := strconv.Itoa(left) + " more services and environments are"
	if left == 1 {
		what = "1 more service or environment is"
	}
	withDeletes := ""
	if deletes > 0 {
		withDeletes = fmt.Sprintf(" (%d of them with deletes)", deletes)
	}
	return fmt.Sprintf("\n> **%s not listed here**%s, to keep this description within GitHub's limit of 65,536 characters. "+
		"Every file is in the **Files changed** tab of this PR ([all changes](%s)).\n", what, withDeletes, filesLink)
}

// fitter counts the characters the rows may still take.
type fitter struct{ left int }

// take reports whether s fits, and counts it if it does.
func (f *fitter) take(s string) bool {
	n := Runes(s)
	if n > f.left {
		return false
	}
	f.left -= n
	return true
}

// deletes writes the units with deletes: as rows when all of them fit,
// else by name, as many as fit. It returns how many it wrote.
func (f *fitter) deletes(b *strings.Builder, units []*prUnit, held bool) int {
	if len(units) == 0 {
		return 0
	}
	const heading = "\n#### Deletes\n\n"
	var rows strings.Builder
	n := Runes(heading + rowsHead)
	for _, u := range units {
		row := u.row(held)
		if n += Runes(row); n > f.left {
			break
		}
		rows.WriteString(row)
	}
	if n <= f.left {
		f.left -= n
		b.WriteString(heading + rowsHead + rows.String())
		return len(units)
	}
	intro := heading + "Too many to show in full: the services and environments that lose entities in Harness, by name.\n\n"
	if !f.take(intro) {
		return 0
	}
	b.WriteString(intro)
	for i, u := range units {
		if !f.take(u.item()) {
			return i
		}
		b.WriteString(u.item())
	}
	return len(units)
}

// rows writes the heading and the rows of units, in order, while they
// fit. It returns how many it wrote.
func (f *fitter) rows(b *strings.Builder, heading string, units []*prUnit, held bool) int {
	for i, u := range units {
		row := u.row(held)
		if i == 0 {
			row = heading + rowsHead + row
		}
		if !f.take(row) {
			return i
		}
		b.WriteString(row)
	}
	return len(units)
}

// rowsHead starts a table of services and environments.
const rowsHead = "| Service or environment | Change | Files | Caused by | On merge, in Harness |\n|---|---|---|---|---|\n"

// cutRunes cuts s to at most n characters, ending it with "…" when cut.
func cutRunes(s string, n int) string {
	if Runes(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}
