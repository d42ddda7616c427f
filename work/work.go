// Package work names the kinds of work a delivery asks for, the events
// behind a run, and the typed outcome every run reports. Handlers record
// kinds; workers dispatch on them; the loop's steps return outcomes that
// the workers, the metrics and the status page read without parsing text.
package work

import (
	"encoding/json"
	"strings"
)

// Kind is a kind of work. A delivery's work key is a kind, or
// kind:subject (a preview names its commit).
type Kind string

// Kinds of work.
const (
	// Preview re-plans a PR's head commit and posts the plan check run.
	Preview Kind = "preview"
	// Propose renders the desired pipelines and updates the bot PR.
	Propose Kind = "propose"
	// Apply converges Harness to the pipelines repo's default branch.
	Apply Kind = "apply"
	// Reconcile compares Harness with Git and repairs drift.
	Reconcile Kind = "reconcile"
	// BotPR records what happened to the bot PR (closed, merged).
	BotPR Kind = "botpr"
)

// Key is the work key of kind about subject: deliveries with the same key
// coalesce into one run. An empty subject gives the kind alone.
func Key(kind Kind, subject string) string {
	if subject == "" {
		return string(kind)
	}
	return string(kind) + ":" + subject
}

// KindOf returns the kind of a work key.
func KindOf(key string) Kind {
	kind, _, _ := strings.Cut(key, ":")
	return Kind(kind)
}

// Trigger is one event behind a propose or apply run.
type Trigger struct {
	Repo string // repository the event came from ("owner/name")
	SHA  string
	PR   int // the pull request the event is about, if any (a label added to a merged bot PR)
}

// Result says how a run ended, in the terms its readers act on.
type Result string

// Results.
const (
	// Changed: the run wrote something (a check run with a plan, a commit,
	// a PR, operations queued).
	Changed Result = "changed"
	// Unchanged: everything already matched; nothing was written beyond
	// reports.
	Unchanged Result = "unchanged"
	// Invalid: the input (a catalog, settings or templates at a commit)
	// is invalid; the user was told where.
	Invalid Result = "invalid"
	// Blocked: a safety rule or broken shared input stopped the run (an
	// emptied catalog, invalid settings on the default branch); nothing
	// was changed, and the app's last error says why until a run
	// succeeds.
	Blocked Result = "blocked"
)

// Outcome is what a run reports: its result and one line for people (the
// delivery's outcome on the status page and in the log).
type Outcome struct {
	Result Result
	Text   string
}

// Rejected reports whether the run refused its input (invalid or
// blocked).
func (o Outcome) Rejected() bool { return o.Result == Invalid || o.Result == Blocked }

// String is the outcome's text.
func (o Outcome) String() string { return o.Text }

// Then appends a follow-up run's outcome (an apply that proposed again):
// the text joins both; the result is the more serious of the two.
func (o Outcome) Then(next Outcome) Outcome {
	r := o.Result
	if rank[next.Result] > rank[r] {
		r = next.Result
	}
	return Outcome{Result: r, Text: o.Text + "; " + next.Text}
}

var rank = map[Result]int{Unchanged: 0, Changed: 1, Invalid: 2, Blocked: 3}

// Data is what a recorded delivery keeps beyond the store's columns.
type Data struct {
	Repo   string `json:"repo"` // repository the event came from ("owner/name")
	Sender string `json:"sender,omitempty"`
}

// Encode returns d as stored with a delivery.
func (d Data) Encode() []byte {
	b, _ := json.Marshal(d) // two strings: cannot fail
	return b
}

// DecodeData reads what Encode stored; an older or empty record just lacks
// the detail.
func DecodeData(b []byte) Data {
	var d Data
	_ = json.Unmarshal(b, &d)
	return d
}
