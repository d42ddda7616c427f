package planner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/snapshot"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// BlockReason is why a run refused to go on. Each one is a safety rule:
// nothing is proposed or applied, and no pipeline is deleted because of it.
type BlockReason string

// Reasons to block.
const (
	// BlockedSettings: the pipelines repo's settings or templates are
	// invalid, so nothing can be rendered.
	BlockedSettings BlockReason = "settings"
	// BlockedCatalogMissing: the catalog file does not exist.
	BlockedCatalogMissing BlockReason = "catalog-missing"
	// BlockedCatalogInvalid: the catalog has problems.
	BlockedCatalogInvalid BlockReason = "catalog-invalid"
	// BlockedCatalogEmptied: the catalog has no service, but the last good
	// one had some: an emptied catalog never turns into deletes.
	BlockedCatalogEmptied BlockReason = "catalog-emptied"
	// BlockedRender: some pipelines cannot be rendered.
	BlockedRender BlockReason = "render"
)

// Blocked says why a run stopped, with what the user needs to fix it.
type Blocked struct {
	Reason BlockReason
	// Diags are the problems, for every reason but the emptied catalog.
	Diags catalog.Diagnostics
	// LastGood is the last valid catalog, for an emptied one.
	LastGood record.LastGoodCatalog
	// Services is how many services the emptied catalog's base had.
	Services int
}

// Gate applies propose's safety rules to what was read before anything is
// rendered: the settings and templates must be valid, and the catalog at
// the config head must exist, be valid, and not be suddenly empty. head is
// ignored when the settings are invalid (it is not read then). nil means
// go on.
func Gate(pipes snapshot.Pipelines, head snapshot.Catalog, lastGood record.LastGoodCatalog) *Blocked {
	switch {
	case len(pipes.Diags) > 0:
		return &Blocked{Reason: BlockedSettings, Diags: pipes.Diags}
	case head.Missing:
		return &Blocked{Reason: BlockedCatalogMissing}
	case len(head.Diags) > 0:
		return &Blocked{Reason: BlockedCatalogInvalid, Diags: head.Diags}
	case len(head.Catalog.Services) == 0 && lastGood.Services > 0:
		return &Blocked{Reason: BlockedCatalogEmptied, LastGood: lastGood, Services: lastGood.Services}
	}
	return nil
}

// ProposeInput is what propose renders from, once Gate let it through.
type ProposeInput struct {
	Pipelines snapshot.Pipelines
	Head      snapshot.Catalog
	// Merged is the catalog of the last merged bot PR, when it is known,
	// valid and not the head: the plan lists the catalog fields changed
	// since. The zero value means unknown (fields are then computed
	// against the head itself: actions stay exact).
	Merged snapshot.Catalog
	// Current is the content of every pipeline file of Pipelines.
	Current map[string][]byte
	Source  render.Source
	// Schemas are Harness's schemas to check the renderings with; nil
	// skips that check.
	Schemas *render.Schemas
}

// Proposal is the rendered plan of a propose run.
type Proposal struct {
	// Blocked is set when some pipelines cannot be rendered; then nothing
	// else is.
	Blocked *Blocked
	Plan    render.PipelinePlan
	// Writes are the files to commit (nil content deletes the file).
	Writes map[string][]byte
	// MassDelete flags a proposal whose deletes need the label.
	MassDelete bool
	// Existing is how many units (services and environments) have files
	// today (render.PipelinePlan.ExistingUnits).
	Existing int
	// LastGood records the head catalog as the last valid one.
	LastGood record.LastGoodCatalog
}

// Propose renders the head catalog against the current pipelines.
func Propose(in ProposeInput) Proposal {
	base := in.Head.Catalog
	if in.Merged.Commit != "" && in.Merged.Valid() {
		base = in.Merged.Catalog
	}
	plan, diags := render.Plan(render.PlanInput{
		Base: base, Head: in.Head.Catalog, Settings: in.Pipelines.Settings, Templates: in.Pipelines.Templates,
		Source: in.Source, Current: in.Current, Schemas: in.Schemas,
	})
	if len(diags) > 0 {
		return Proposal{Blocked: &Blocked{Reason: BlockedRender, Diags: diags}}
	}
	return Proposal{
		Plan:       plan,
		Writes:     plan.Writes(),
		MassDelete: PlanIsMassDelete(in.Pipelines.Settings, plan),
		Existing:   plan.ExistingUnits,
		LastGood:   record.LastGoodCatalog{Commit: in.Head.Commit, Services: len(in.Head.Catalog.Services)},
	}
}

// BotMeta is the machine-readable block hidden in the bot PR body. An
// identical proposal (same Identity) changes nothing: not the branch, not
// the body.
type BotMeta struct {
	Identity      string   `json:"identity"`
	ConfigCommit  string   `json:"config_commit"`
	PipelinesBase string   `json:"pipelines_base"`
	SourceCommits []string `json:"source_commits"`
	Deletes       int      `json:"deletes"`
	MassDelete    bool     `json:"mass_delete"`
}

// metaPrefix starts the hidden block; metaPattern finds it again.
const metaPrefix = "<!-- pipeline-orchestrator:meta "

var metaPattern = regexp.MustCompile(`<!-- pipeline-orchestrator:meta (\{.*?\}) -->`)

// Encode returns the hidden block, an HTML comment GitHub does not show.
func (m BotMeta) Encode() string {
	b, _ := json.Marshal(m) // plain strings, ints and bools: cannot fail
	return metaPrefix + string(b) + " -->"
}

// ParseBotMeta reads the hidden block of a bot PR body: the last one, the
// one the body ends with, so that catalog text quoted above it (a field
// value that looks like the block) cannot stand in for it.
func ParseBotMeta(body string) (BotMeta, bool) {
	all := metaPattern.FindAllStringSubmatch(body, -1)
	if len(all) == 0 {
		return BotMeta{}, false
	}
	var meta BotMeta
	if err := json.Unmarshal([]byte(all[len(all)-1][1]), &meta); err != nil {
		return BotMeta{}, false
	}
	return meta, true
}

// Identity hashes the desired pipelines tree together with the current
// one: the same desired state proposed over the same base is the same
// proposal.
func Identity(current map[string]string, writes map[string][]byte) string {
	desired := make(map[string]string, len(current))
	for p, sha := range current {
		desired[p] = sha
	}
	for p, b := range writes {
		if b == nil {
			delete(desired, p)
		} else {
			desired[p] = gh.BlobSHA(b)
		}
	}
	h := sha256.New()
	for _, m := range []map[string]string{current, desired} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%s %s\n", k, m[k])
		}
		h.Write([]byte("--\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// OpenPRBlobs returns the blob SHAs of the open bot PR's files that the
// proposal would rewrite with other content: KeepOpenPRHeaders needs them.
func OpenPRBlobs(writes map[string][]byte, prFiles map[string]string) []string {
	var shas []string
	for p, content := range writes {
		if sha, ok := prFiles[p]; ok && content != nil && sha != gh.BlobSHA(content) {
			shas = append(shas, sha)
		}
	}
	sort.Strings(shas)
	return shas
}

// KeepOpenPRHeaders replaces, in writes, each file whose body equals the
// open bot PR's version by that version, so its header (naming the commit
// that last changed it) stays put and an identical proposal stays
// identical. prFiles is the PR's tree, blobs the contents OpenPRBlobs
// asked for.
func KeepOpenPRHeaders(writes map[string][]byte, prFiles map[string]string, blobs map[string][]byte) {
	for p, content := range writes {
		if prev, ok := blobs[prFiles[p]]; ok && content != nil && bytes.Equal(render.Body(prev), render.Body(content)) {
			writes[p] = prev
		}
	}
}

// PRAction is what propose does to the bot PR.
type PRAction string

// Actions on the bot PR.
const (
	// PRNone: nothing to change and no bot PR open.
	PRNone PRAction = "none"
	// PRClose: nothing left to change; the open bot PR is closed as
	// superseded.
	PRClose PRAction = "close"
	// PRUnchanged: the open bot PR already proposes exactly this.
	PRUnchanged PRAction = "unchanged"
	// PRNotReopened: the same change was proposed and closed without
	// merging; it is not proposed again until the desired state changes.
	PRNotReopened PRAction = "not-reopened"
	// PRCommit: commit the writes on the bot branch and open or update
	// the bot PR.
	PRCommit PRAction = "commit"
)

// BotPRInput is what decides the bot PR's fate.
type BotPRInput struct {
	Proposal Proposal
	// EntityFiles are the current entity files (path → blob SHA).
	EntityFiles map[string]string
	// Open is the open bot PR, if any; Last the most recent bot PR when
	// none is open (nil when unknown or none).
	Open, Last *gh.PullRequest
	// ConfigHead and PipelinesHead are the commits rendered from.
	ConfigHead, PipelinesHead string
	ConfigRepo, PipelinesRepo gh.Repo
}

// BotPRPlan is the decision about the bot PR.
type BotPRPlan struct {
	Action PRAction
	// Meta is the proposal's hidden block (for PRCommit and PRUnchanged).
	Meta BotMeta
}

// PlanBotPR decides what to do with the bot PR. Writes must already have
// the open PR's headers kept (KeepOpenPRHeaders).
func PlanBotPR(in BotPRInput) BotPRPlan {
	p := in.Proposal
	if len(p.Writes) == 0 {
		if in.Open != nil {
			return BotPRPlan{Action: PRClose}
		}
		return BotPRPlan{Action: PRNone}
	}
	meta := BotMeta{
		Identity: Identity(in.EntityFiles, p.Writes), ConfigCommit: in.ConfigHead, PipelinesBase: in.PipelinesHead,
		SourceCommits: []string{in.ConfigRepo.String() + "@" + in.ConfigHead, in.PipelinesRepo.String() + "@" + in.PipelinesHead},
		Deletes:       p.Plan.DeletedUnits(), MassDelete: p.MassDelete,
	}
	if in.Open != nil {
		if old, ok := ParseBotMeta(in.Open.Body); ok && old.Identity == meta.Identity {
			return BotPRPlan{Action: PRUnchanged, Meta: meta}
		}
	} else if in.Last != nil && !in.Last.Merged && in.Last.State == "closed" {
		if old, ok := ParseBotMeta(in.Last.Body); ok && old.Identity == meta.Identity {
			return BotPRPlan{Action: PRNotReopened, Meta: meta}
		}
	}
	return BotPRPlan{Action: PRCommit, Meta: meta}
}

// CheckTarget is a commit that gets a check run.
type CheckTarget struct {
	Repo gh.Repo
	SHA  string
	// Annotate: the run carries the catalog's annotations (they point at
	// lines of the head's catalog, so only the config head gets them).
	Annotate bool
}

// SyncTargetsInput is what decides where a propose run reports.
type SyncTargetsInput struct {
	Triggers                  []work.Trigger
	ConfigRepo, PipelinesRepo gh.Repo
	ConfigHead                string
	// Changed: the run changed something (or found something wrong).
	Changed bool
	// Success: the run's conclusion is success.
	Success bool
}

// SyncTargets lists the commits that get propose's sync check run: those
// of config-repo events that asked for the run, and the config head it
// rendered; a run nobody asked for by a catalog push (a restart's
// catch-up, a pipelines-repo push) reports on the config head only when it
// changed or found something, so restarts do not pile up check runs; a
// pipelines-repo commit behind the run gets one only when it failed.
func SyncTargets(in SyncTargetsInput) []CheckTarget {
	type key struct {
		repo string
		sha  string
	}
	seen := map[key]bool{}
	var out []CheckTarget
	add := func(repo gh.Repo, sha string) {
		k := key{repo.String(), sha}
		if sha == "" || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, CheckTarget{Repo: repo, SHA: sha, Annotate: repo == in.ConfigRepo && sha == in.ConfigHead})
	}
	fromConfig := false
	for _, t := range in.Triggers {
		if in.ConfigRepo.Is(t.Repo) {
			fromConfig = true
		}
	}
	if in.Changed || fromConfig {
		add(in.ConfigRepo, in.ConfigHead)
	}
	for _, t := range in.Triggers {
		if in.ConfigRepo.Is(t.Repo) {
			add(in.ConfigRepo, t.SHA)
		} else if !in.Success {
			add(in.PipelinesRepo, t.SHA)
		}
	}
	return out
}
