package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// Check-run conclusions and statuses (docs.github.com/en/rest/checks/runs).
const (
	statusInProgress = "in_progress"
	statusCompleted  = "completed"

	conclusionSuccess        = "success"
	conclusionFailure        = "failure"
	conclusionNeutral        = "neutral"
	conclusionActionRequired = "action_required"
)

// maxTitle keeps check-run titles short; GitHub shows them on one line.
const maxTitle = 200

// check is one check run the app keeps up to date.
type check struct {
	Repo Repo
	ID   int64
	Name string
	SHA  string
}

// State keys of check runs: checkKeyPrefix + work key + check + repo + SHA
// holds the id of a check run being worked on; harnessChecksKeyPrefix + a
// pipelines commit holds that commit's harness check runs.
const (
	checkKeyPrefix         = "check:"
	harnessChecksKeyPrefix = "harness-checks:"
)

// startCheck creates an in-progress check run, or finds the one this same
// piece of work created on an earlier attempt (key), so a retried run
// does not leave a stale in-progress run behind.
func (a *App) startCheck(ctx context.Context, repo Repo, name, sha, key, title string) (check, error) {
	kvKey := checkKeyPrefix + key + ":" + name + ":" + repo.String() + ":" + sha
	if v, err := a.db.GetState(ctx, kvKey); err == nil {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			return check{Repo: repo, ID: id, Name: name, SHA: sha}, nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return check{}, err
	}
	id, err := a.gh.CreateCheckRun(ctx, repo, CheckRun{
		Name: name, HeadSHA: sha, Status: statusInProgress, DetailsURL: a.detailsURL(),
		Title: title, Summary: title + "…",
	})
	if err != nil {
		return check{}, err
	}
	if err := a.db.SetState(ctx, kvKey, strconv.FormatInt(id, 10)); err != nil {
		return check{}, err
	}
	return check{Repo: repo, ID: id, Name: name, SHA: sha}, nil
}

// finish completes a check run.
func (a *App) finish(ctx context.Context, c check, conclusion, title, summary string, annotations []Annotation) error {
	return a.gh.UpdateCheckRun(ctx, c.Repo, c.ID, CheckRun{
		Name: c.Name, Status: statusCompleted, Conclusion: conclusion, DetailsURL: a.detailsURL(),
		Title: fitTitle(title), Summary: fitText(summary), Annotations: annotations,
	})
}

// postCheck creates a completed check run in one call.
func (a *App) postCheck(ctx context.Context, repo Repo, name, sha, conclusion, title, summary string, annotations []Annotation) error {
	_, err := a.gh.CreateCheckRun(ctx, repo, CheckRun{
		Name: name, HeadSHA: sha, Status: statusCompleted, Conclusion: conclusion, DetailsURL: a.detailsURL(),
		Title: fitTitle(title), Summary: fitText(summary), Annotations: annotations,
	})
	return err
}

func (a *App) detailsURL() string {
	if a.cfg.Server.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(a.cfg.Server.PublicURL, "/") + "/"
}

func fitTitle(s string) string {
	if len(s) <= maxTitle {
		return s
	}
	return cutUTF8(s, maxTitle-1) + "…"
}

// fitText keeps s within GitHub's 65,535-character limit for check-run
// summaries, cutting at a line boundary with a note saying so.
func fitText(s string) string {
	if len(s) <= render.CheckRunTextLimit {
		return s
	}
	const note = "\n\n> **Cut to fit GitHub's 65,535-character limit for check runs.** The full text is on the status page and in `pipeline-orchestrator plan`.\n"
	cut := cutUTF8(s, render.CheckRunTextLimit-len(note)-8)
	if i := strings.LastIndexByte(cut, '\n'); i > len(cut)/2 {
		cut = cut[:i]
	}
	if strings.Count(cut, "```")%2 == 1 {
		cut += "\n```"
	}
	return cut + note
}

// cutUTF8 cuts s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

// annotations turns diagnostics about files of repo into annotations;
// the others are returned as lines for the summary (GitHub can only
// annotate files of the repository the check run is on).
func annotations(diags catalog.Diagnostics, inRepo func(file string) bool) ([]Annotation, []string) {
	var anns []Annotation
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
		anns = append(anns, Annotation{
			Path: d.File, StartLine: d.Line, EndLine: d.Line, StartColumn: d.Column, EndColumn: d.Column,
			Level: "failure", Title: title, Message: d.Message,
		})
	}
	return anns, other
}

// diagnosticList renders diagnostics as a markdown list.
func diagnosticList(diags catalog.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "- `%s`\n", strings.ReplaceAll(d.String(), "`", "'"))
	}
	return b.String()
}

// harnessChecks is where the harness check runs of one pipelines commit
// are, so the reporter can update them as operations finish.
type harnessChecks []check

func (a *App) saveHarnessChecks(ctx context.Context, commit string, cs harnessChecks) error {
	b, _ := json.Marshal(cs)
	return a.db.SetState(ctx, harnessChecksKeyPrefix+commit, string(b))
}

func (a *App) loadHarnessChecks(ctx context.Context, commit string) (harnessChecks, error) {
	v, err := a.db.GetState(ctx, harnessChecksKeyPrefix+commit)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cs harnessChecks
	if err := json.Unmarshal([]byte(v), &cs); err != nil {
		return nil, fmt.Errorf("decoding harness check runs of %s: %w", shortSHA(commit), err)
	}
	return cs, nil
}

// branchCache remembers default branch names for a few minutes.
type branchCache struct {
	mu      sync.Mutex
	entries map[string]branchEntry
}

type branchEntry struct {
	name    string
	expires time.Time
}

func (a *App) defaultBranch(ctx context.Context, repo Repo) (string, error) {
	a.branches.mu.Lock()
	e, ok := a.branches.entries[repo.String()]
	a.branches.mu.Unlock()
	if ok && a.now().Before(e.expires) {
		return e.name, nil
	}
	name, err := a.gh.DefaultBranch(ctx, repo)
	if err != nil {
		return "", err
	}
	a.branches.mu.Lock()
	if a.branches.entries == nil {
		a.branches.entries = map[string]branchEntry{}
	}
	a.branches.entries[repo.String()] = branchEntry{name: name, expires: a.now().Add(5 * time.Minute)}
	a.branches.mu.Unlock()
	return name, nil
}

// head returns the head commit of repo's default branch.
func (a *App) head(ctx context.Context, repo Repo) (string, Commit, error) {
	branch, err := a.defaultBranch(ctx, repo)
	if err != nil {
		return "", Commit{}, err
	}
	c, err := a.gh.Branch(ctx, repo, branch)
	return branch, c, err
}

func (a *App) commitURL(repo Repo, sha string) string {
	return strings.TrimRight(a.cfg.GitHub.WebURL, "/") + "/" + repo.String() + "/commit/" + sha
}

func (a *App) commitLink(repo Repo, sha string) string {
	return fmt.Sprintf("[%s@%s](%s)", repo, shortSHA(sha), a.commitURL(repo, sha))
}
