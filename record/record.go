// Package record defines the values the app remembers between runs: the
// durable Harness operations of the outbox, what it knows of each
// service's pipeline in Harness, the bot pull requests, and small reports.
// The store persists them; the planners compute them. The package is
// pure: plain types, no I/O.
package record

import (
	"strings"
	"time"
)

// OperationKind is the change an operation makes in Harness. The executor
// treats create and update alike, as an idempotent create-or-update; the
// kind records the intent for reports.
type OperationKind string

// Operation kinds.
const (
	KindCreate OperationKind = "create"
	KindUpdate OperationKind = "update"
	KindDelete OperationKind = "delete"
)

// OperationState is where an operation is in the outbox.
type OperationState string

// Operation states. Done, failed and superseded are final.
const (
	OpPending    OperationState = "pending"    // ready from NotBefore on
	OpRunning    OperationState = "running"    // claimed by Worker until LeaseUntil
	OpDone       OperationState = "done"       // took effect (or was already in effect)
	OpFailed     OperationState = "failed"     // permanent error or out of attempts; stays visible
	OpSuperseded OperationState = "superseded" // replaced by a newer operation on the same pipeline (SupersededBy)
	OpHeld       OperationState = "held"       // waits for ReleaseHeld (a delete awaiting the mass-delete label)
)

// Operation is one durable change to one Harness entity.
type Operation struct {
	ID int64
	// Key makes enqueueing idempotent: an operation whose Key is already in
	// the store is not enqueued again. Empty means the default key (see
	// DefaultKey), which makes replaying an apply of the same commit a
	// no-op. A caller that wants the same change run again (a drift
	// repair) gives a Key of its own.
	Key string
	// Entity is the kind of Harness entity changed ("pipeline",
	// "service", "environment", "infrastructure", "trigger",
	// "connector"); empty means a pipeline.
	Entity string
	// Identifier is the entity's Harness identifier.
	Identifier string
	// Parent scopes the identifier where Harness does: the environment of
	// an infrastructure definition, the pipeline of a trigger.
	Parent string
	// After lists the entities (EntityKey) whose open operations enqueued
	// earlier must finish before this one runs: a pipeline waits for its
	// Service, environments and infrastructures; a Service's delete waits
	// for its pipeline's.
	After        []string
	Service      string
	Path         string // file in the pipelines repository
	Kind         OperationKind
	Commit       string // pipelines repository commit the change comes from
	ConfigCommit string // config repository commit behind it, if known
	ContentHash  string
	YAML         []byte // the entity's YAML; for a delete, what names its scope
	Reason       string
	State        OperationState
	Attempts     int // claims so far, this one included
	LastError    string
	Result       string
	NotBefore    time.Time
	LeaseUntil   time.Time
	Worker       string
	SupersededBy int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
	DoneAt       time.Time
}

// HarnessState is how a service's pipeline in Harness compares with the
// pipelines repository.
type HarnessState string

// Harness states of a pipeline.
const (
	HarnessInSync  HarnessState = "in_sync"
	HarnessPending HarnessState = "pending" // an operation is queued or running
	HarnessFailed  HarnessState = "failed"  // the last operation failed
	HarnessDrifted HarnessState = "drifted" // reconcile found Harness differs from the repository
	HarnessDeleted HarnessState = "deleted"
)

// PipelineState is what the app last knew about one service's pipeline.
type PipelineState struct {
	Service            string
	Pipeline           string
	Path               string
	Archetype          string
	Team               string
	LastRenderedCommit string
	LastAppliedCommit  string
	ContentHash        string
	HarnessState       HarnessState // empty is stored as pending
	LastError          string
	UpdatedAt          time.Time // set by the store
}

// BotPRState is the state of a bot pull request on GitHub.
type BotPRState string

// Bot pull request states.
const (
	PROpen   BotPRState = "open"
	PRClosed BotPRState = "closed"
	PRMerged BotPRState = "merged"
)

// BotPR is a pull request the app opened on the pipelines repository.
type BotPR struct {
	Repo          string // owner/name
	Number        int
	State         BotPRState
	HeadSHA       string
	DesiredHash   string   // hash of the desired pipelines/ tree the PR carries
	SourceCommits []string // config and pipelines repository commits it was rendered from
	UpdatedAt     time.Time
}

// LastGoodCatalog is the last catalog found valid.
type LastGoodCatalog struct {
	Commit   string `json:"commit"`
	Services int    `json:"services"`
}

// DriftReport is what one reconcile run found.
type DriftReport struct {
	At        time.Time `json:"at"`
	Commit    string    `json:"commit"`
	Checked   int       `json:"checked"`
	Missing   []string  `json:"missing"`   // in Git, not in Harness: re-created
	Different []string  `json:"different"` // in both, Harness differs: updated
	Extra     []string  `json:"extra"`     // managed by the app in Harness, not in Git: deleted
	Queued    int       `json:"queued"`
	Skipped   []string  `json:"skipped"` // drifted but an operation is already on its way
	// Unmanaged are in Git, and in Harness without the managed tag: a
	// person's entities the app never changes; they are not counted as
	// drift.
	Unmanaged []string `json:"unmanaged,omitempty"`
}

// DriftUnmanaged is the DriftEvent.Drift of an entity Git has that
// Harness holds without the managed tag (DriftReport.Unmanaged).
const DriftUnmanaged = "unmanaged"

// Drifted is the number of pipelines that differ.
func (r DriftReport) Drifted() int { return len(r.Missing) + len(r.Different) + len(r.Extra) }

// ProposeReport is what the last propose run did, for the status page.
type ProposeReport struct {
	At time.Time `json:"at"`
	// Result is the run's work.Result: "changed", "unchanged", "invalid"
	// or "blocked".
	Result string `json:"result"`
	// Text is the run's outcome for people, e.g. "bot PR #42 opened".
	Text string `json:"text"`
	// BotPR is the bot PR the run opened, updated or closed; 0 when it
	// touched none.
	BotPR int `json:"botPR,omitempty"`
	// ConfigCommit is the config repository commit rendered.
	ConfigCommit string `json:"configCommit,omitempty"`
}

// CheckRunRef is a check run the app keeps up to date.
type CheckRunRef struct {
	Repo RepoRef
	ID   int64
	Name string
	SHA  string
}

// RepoRef names a repository in persisted state.
type RepoRef struct {
	Owner string
	Name  string
}

// DefaultKey is the stable key of an operation that has none:
// "<entity>|<kind>|<commit>|<content hash>", where a pipeline's entity is
// its identifier alone (the form keys had before other kinds existed) and
// any other's is EntityKey. Replaying an apply of the same commit is then
// a no-op.
func DefaultKey(o Operation) string {
	entity := o.Identifier
	if o.Entity != "" && o.Entity != EntityPipeline {
		entity = EntityKey(o.Entity, o.Identifier)
	}
	return strings.Join([]string{entity, string(o.Kind), o.Commit, o.ContentHash}, "|")
}

// EntityPipeline is the entity kind of pipelines, the default.
const EntityPipeline = "pipeline"

// EntityKey names an entity in operations' After lists: "kind/identifier".
func EntityKey(kind, identifier string) string {
	if kind == "" {
		kind = EntityPipeline
	}
	return kind + "/" + identifier
}

// EntityKey is the operation's entity as EntityKey names it.
func (o Operation) EntityKey() string { return EntityKey(o.Entity, o.Identifier) }

// EntityState is an entity file the app applied (or is applying) to
// Harness: what apply compares the pipelines repo with.
type EntityState struct {
	Path       string // file in the pipelines repository
	Kind       string // as Operation.Entity
	Identifier string
	Parent     string // as Operation.Parent
	Service    string // the catalog service it belongs to; "" for environments and infrastructures
	// ContentHash is the git blob SHA of the file applied.
	ContentHash        string
	LastRenderedCommit string // config commit named by the file's header
	UpdatedAt          time.Time
}

// ConnectorState is the cross-org GitHub connector as apply last enqueued
// it: what the next apply compares the desired connector with.
type ConnectorState struct {
	Org        string `json:"org"`
	Project    string `json:"project"`
	Identifier string `json:"identifier"`
	// Hash is the content hash of the connector's document.
	Hash string `json:"hash"`
	// InstallationID is the GitHub App installation it authenticates as.
	InstallationID int64 `json:"installationId"`
}

// DriftEvent is one entity reconcile found different in Harness from Git.
type DriftEvent struct {
	ID         int64
	At         time.Time
	Commit     string // the pipelines commit compared with
	Entity     string // kind, as Operation.Entity
	Identifier string
	// Drift is "missing" (in Git, not in Harness), "different" (changed
	// in Harness), "extra" (managed by the app, no longer in Git) or
	// DriftUnmanaged (in Git, and in Harness without the managed tag).
	Drift string
	// Diff shows Git's version against Harness's, cut to a few lines; ""
	// when one side is missing.
	Diff string
	// OperationID is the repair queued, 0 when none was (one was already
	// on its way); RepairedAt is when it finished.
	OperationID int64
	RepairedAt  time.Time
}
