package web

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// statusRefresh is how often the status page reloads itself.
const statusRefresh = 10 * time.Second

// Bounds of what the status page lists.
const (
	statusRecentDeliveries = 25
	statusAttention        = 20   // failed and retrying operations shown
	statusActiveScan       = 1000 // operations read to count the retrying, held and failed ones
	statusHeldListed       = 50   // held deletes named
	statusDriftEvents      = 25
	statusTextLimit        = 1000 // bytes of an error message shown
	statusDiffLimit        = 4000 // bytes of a drift diff shown
	statusIDLimit          = 36   // bytes of a delivery id shown: a GUID's length
)

// statusCSP forbids scripts, frames and every external resource: the page
// needs none, and it shows text from GitHub, Harness and the catalog.
const statusCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(s.opts.Log.WithContext(r.Context()))
	view, err := s.statusView(r.Context())
	if err != nil {
		s.writeError(w, r, fmt.Errorf("building the status page: %w", err))
		return
	}
	var buf bytes.Buffer
	if err := statusTemplate.Execute(&buf, view); err != nil {
		s.writeError(w, r, fmt.Errorf("rendering the status page: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", statusCSP)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes()) // the client went away: nothing more to do
}

// statusData is everything the status page shows, as display strings, in
// the order the page shows it.
type statusData struct {
	Refresh       int // seconds
	Generated     stamp
	ConfigRepo    link
	PipelinesRepo link
	// Attention is what needs a person: shown first.
	Attention   attentionView
	LastPropose *proposeView
	Reconcile   *reconcileView
	LastError   string
	BotPR       *botPRView // the open bot PR, if any
	LastBotPR   *botPRView // otherwise the most recent one, if any
	Services    []serviceRow
	Drift       []driftRow
	Queue       queueView
	Retrying    []operationRow
	Deliveries  deliveriesView
	Recent      []deliveryRow
}

type link struct{ Text, URL string }

// stamp is a time as the page shows it: how long ago, with the exact UTC
// time in a tooltip and a machine-readable datetime. Zero shows as "—".
type stamp struct{ ISO, Text, Ago string }

type serviceRow struct {
	Service, Archetype, Team, Pipeline, Path string
	State, StateLabel, StateNote             string
	Rendered, Applied                        link // config commit rendered, pipelines commit applied
	LastError                                string
	Updated                                  stamp
}

type botPRView struct {
	Number  int
	URL     string
	State   string
	Head    string
	Updated stamp
}

type proposeView struct {
	At           stamp
	Result, Text string
	PR           link // the bot PR it touched, if any
	Config       link // the config commit rendered
}

type reconcileView struct {
	At                       stamp
	Commit                   link
	Checked, Drifted, Queued int
}

type queueView struct {
	Pending, Running, Retrying, Failed, Held, Done, Superseded int
	OldestPending                                              stamp
}

type deliveriesView struct {
	Pending, Running, Done, Failed int
	OldestPending                  stamp
}

type operationRow struct {
	ID                             int64
	Pipeline, Service, Kind, State string
	Attempts                       int
	LastError                      string
	Updated                        stamp
}

type deliveryRow struct {
	ID, ShortID             string // ShortID is ID cut to statusIDLimit
	Event, Key, Repo, State string
	PR                      link
	Outcome, LastError      string
	Received                stamp
}

// driftRow is one drift event. Repair is "repaired", "queued", "failed"
// or "none" (an operation was already on its way when it was found).
type driftRow struct {
	At                 stamp
	Entity, Identifier string
	Drift, DriftLabel  string
	Commit             link
	Diff               string
	Repair             string
	OperationID        int64
	RepairedAt         stamp
}

// statusView reads what the page shows from the store and the app, one
// section at a time; later sections read what earlier ones found.
func (s *Server) statusView(ctx context.Context) (statusData, error) {
	v := viewer{s: s, now: s.opts.Now()}
	configRepo, pipelinesRepo := s.opts.ConfigRepo, s.opts.PipelinesRepo
	d := statusData{
		Refresh:       int(statusRefresh / time.Second),
		Generated:     stampOf(v.now, v.now),
		ConfigRepo:    link{configRepo.String(), s.opts.Links.Repo(configRepo)},
		PipelinesRepo: link{pipelinesRepo.String(), s.opts.Links.Repo(pipelinesRepo)},
		LastError:     cutText(s.opts.Loop.LastError()),
		Attention:     attentionView{Unreachable: s.problems()},
	}
	for _, section := range []func(context.Context, *statusData) error{
		v.services, v.botPR, v.queue, v.held, v.failed, v.runs, v.drift, v.deliveries,
	} {
		if err := section(ctx, &d); err != nil {
			return d, err
		}
	}
	return d, nil
}

// viewer builds the sections of one status page.
type viewer struct {
	s   *Server
	now time.Time
}

func (v viewer) commit(repo gh.Repo, sha string) link {
	if sha == "" {
		return link{}
	}
	return link{gh.ShortSHA(sha), v.s.opts.Links.Commit(repo, sha)}
}

func (v viewer) pull(repo gh.Repo, number int) link {
	if number <= 0 {
		return link{}
	}
	return link{fmt.Sprintf("#%d", number), v.s.opts.Links.Pull(repo, number)}
}

func (v viewer) services(ctx context.Context, d *statusData) error {
	states, err := v.s.opts.Store.ListPipelineStates(ctx)
	if err != nil {
		return err
	}
	for _, st := range states {
		row := serviceRow{
			Service: st.Service, Archetype: st.Archetype, Team: st.Team, Pipeline: st.Pipeline, Path: st.Path,
			State: string(st.HarnessState), StateLabel: harnessStateLabel(st.HarnessState),
			LastError: cutText(st.LastError), Updated: stampOf(v.now, st.UpdatedAt),
			Rendered: v.commit(v.s.opts.ConfigRepo, st.LastRenderedCommit), Applied: v.commit(v.s.opts.PipelinesRepo, st.LastAppliedCommit),
		}
		if st.HarnessState == record.HarnessPending && st.ContentHash == "" && st.LastAppliedCommit == "" {
			row.StateNote = "not in Harness yet: waits for the bot PR to merge"
		}
		d.Services = append(d.Services, row)
	}
	return nil
}

func (v viewer) botPR(ctx context.Context, d *statusData) error {
	repo := v.s.opts.PipelinesRepo
	prView := func(pr record.BotPR) *botPRView {
		return &botPRView{Number: pr.Number, URL: v.s.opts.Links.Pull(repo, pr.Number),
			State: string(pr.State), Head: gh.ShortSHA(pr.HeadSHA), Updated: stampOf(v.now, pr.UpdatedAt)}
	}
	pr, err := v.s.opts.Store.OpenBotPR(ctx, repo.String())
	if err == nil {
		d.BotPR = prView(pr)
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	last, err := v.s.opts.Store.ListBotPRs(ctx, repo.String(), 1)
	if err != nil {
		return err
	}
	if len(last) > 0 {
		d.LastBotPR = prView(last[0])
	}
	return nil
}

// queue counts the operations and lists those being retried; failed and
// held ones are the attention section's.
func (v viewer) queue(ctx context.Context, d *statusData) error {
	qs, err := v.s.opts.Store.QueueStats(ctx)
	if err != nil {
		return err
	}
	d.Queue = queueView{Pending: qs.Pending, Running: qs.Running, Failed: qs.Failed, Held: qs.Held,
		Done: qs.Done, Superseded: qs.Superseded, OldestPending: stampOf(v.now, qs.OldestPending)}
	active, err := v.s.opts.Store.ListOperations(ctx, store.OperationFilter{
		States: []record.OperationState{record.OpPending, record.OpRunning}, Limit: statusActiveScan})
	if err != nil {
		return err
	}
	for _, op := range active {
		if op.LastError == "" {
			continue
		}
		d.Queue.Retrying++
		if len(d.Retrying) < statusAttention {
			d.Retrying = append(d.Retrying, operationRow{ID: op.ID, Pipeline: op.Identifier, Service: op.Service,
				Kind: string(op.Kind), State: "retrying", Attempts: op.Attempts, LastError: cutText(op.LastError),
				Updated: stampOf(v.now, op.UpdatedAt)})
		}
	}
	return nil
}

// runs reads the last propose and reconcile runs.
func (v viewer) runs(ctx context.Context, d *statusData) error {
	prop, ok, err := v.s.opts.Store.LastPropose(ctx)
	if err != nil {
		return err
	}
	if ok {
		d.LastPropose = &proposeView{At: stampOf(v.now, prop.At), Result: prop.Result, Text: cutText(prop.Text),
			PR: v.pull(v.s.opts.PipelinesRepo, prop.BotPR), Config: v.commit(v.s.opts.ConfigRepo, prop.ConfigCommit)}
	}
	rep, ok, err := v.s.opts.Store.LastDrift(ctx)
	if err != nil || !ok {
		return err
	}
	d.Reconcile = &reconcileView{At: stampOf(v.now, rep.At), Checked: rep.Checked, Drifted: rep.Drifted(), Queued: rep.Queued,
		Commit: v.commit(v.s.opts.PipelinesRepo, rep.Commit)}
	return nil
}

// driftLabels say what each kind of drift means.
var driftLabels = map[string]string{
	"missing":   "missing in Harness",
	"different": "changed in Harness",
	"extra":     "in Harness, no longer in Git",
	"unmanaged": "in Harness without the managed_by tag: left alone",
}

// drift lists the recent drift events and what became of their repairs.
func (v viewer) drift(ctx context.Context, d *statusData) error {
	events, err := v.s.opts.Store.ListDrift(ctx, statusDriftEvents)
	if err != nil {
		return err
	}
	failed := map[int64]bool{}
	for _, f := range d.Attention.Failed {
		failed[f.ID] = true
	}
	for _, e := range events {
		row := driftRow{At: stampOf(v.now, e.At), Entity: entityKind(e.Entity), Identifier: e.Identifier,
			Drift: e.Drift, DriftLabel: driftLabels[e.Drift], Commit: v.commit(v.s.opts.PipelinesRepo, e.Commit),
			Diff: cutTo(e.Diff, statusDiffLimit), OperationID: e.OperationID, RepairedAt: stampOf(v.now, e.RepairedAt)}
		if row.DriftLabel == "" {
			row.DriftLabel = e.Drift
		}
		switch {
		case e.OperationID == 0:
			row.Repair = "none"
		case !e.RepairedAt.IsZero():
			row.Repair = "repaired"
		case failed[e.OperationID]:
			row.Repair = "failed"
		default:
			row.Repair = "queued"
		}
		d.Drift = append(d.Drift, row)
	}
	return nil
}

func (v viewer) deliveries(ctx context.Context, d *statusData) error {
	ds, err := v.s.opts.Store.DeliveryStats(ctx)
	if err != nil {
		return err
	}
	d.Deliveries = deliveriesView{Pending: ds.Pending, Running: ds.Running, Done: ds.Done, Failed: ds.Failed,
		OldestPending: stampOf(v.now, ds.OldestPending)}
	recent, err := v.s.opts.Store.RecentDeliveries(ctx, statusRecentDeliveries)
	if err != nil {
		return err
	}
	for _, dl := range recent {
		event := dl.Event
		if dl.Action != "" {
			event += " · " + dl.Action
		}
		repo := work.DecodeData(dl.Data).Repo // where the event came from; dl.Repo is the lane it runs in
		if repo == "" {
			repo = dl.Repo
		}
		id := cutText(dl.ID)
		d.Recent = append(d.Recent, deliveryRow{ID: id, ShortID: cutTo(id, statusIDLimit), Event: event, Key: dl.Key,
			Repo: repo, State: string(dl.State), PR: v.pull(gh.ParseRepo(repo), dl.PRNumber),
			Outcome: cutText(dl.Outcome), LastError: cutText(dl.LastError), Received: stampOf(v.now, dl.ReceivedAt)})
	}
	return nil
}

// harnessStateLabel is how the page names a Harness state.
func harnessStateLabel(s record.HarnessState) string {
	if s == record.HarnessInSync {
		return "in sync"
	}
	if s == "" {
		return string(record.HarnessPending)
	}
	return string(s)
}

// entityKind is the kind of an operation's or a drift event's entity;
// an empty kind is a pipeline.
func entityKind(kind string) string {
	if kind == "" {
		return record.EntityPipeline
	}
	return kind
}

func stampOf(now, t time.Time) stamp {
	if t.IsZero() {
		return stamp{}
	}
	return stamp{ISO: t.UTC().Format(time.RFC3339), Text: t.UTC().Format("2006-01-02 15:04:05 UTC"), Ago: ago(now.Sub(t))}
}

// ago says how long d is, roughly, as people read it on a status page.
func ago(d time.Duration) string {
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm ago", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
	}
}

func cutText(s string) string { return cutTo(s, statusTextLimit) }

// cutTo cuts s to at most n bytes, on a character boundary, and marks
// the cut with an ellipsis.
func cutTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return present.CutUTF8(s, n) + "…"
}

// plural names n things of one kind: "1 pipeline", "13 pipelines".
func plural(n int, kind string) string {
	if kind == "infrastructure" {
		kind = "infrastructure definition"
	}
	if n == 1 {
		return "1 " + kind
	}
	return fmt.Sprintf("%d %ss", n, kind)
}

// countKinds says how many of each kind, most first: "12 pipelines and 1
// service".
func countKinds(counts map[string]int) string {
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if counts[kinds[i]] != counts[kinds[j]] {
			return counts[kinds[i]] > counts[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = plural(counts[k], k)
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// statusTemplate is the page. It is well-formed XML as well as HTML, so
// tests can read it with encoding/xml. Stable hooks:
//
//	section#attention-needed: #nothing-needed when nothing needs a person;
//	    otherwise, in this order:
//	    #held-deletes (#held-count, #held-kinds, code#mass-delete-label,
//	        a#held-pr (or #held-no-pr), #held-commit,
//	        ul#held-list > li[data-operation][data-entity][data-identifier]);
//	    table#failed > tr[data-operation][data-state=failed][data-entity][data-identifier] >
//	        td.entity .kind .attempts .last-error .updated .action;
//	    ul#unreachable > li[data-repo] (.fix)
//	section#runs: #last-propose (a#last-propose-pr) or #no-propose;
//	    #drift-summary or #no-drift; #last-error (.empty when there is none)
//	#bot-pr (link to the open bot PR) or #no-bot-pr (with #last-bot-pr)
//	table#services > tr[data-service][data-harness-state] >
//	    td.service .archetype .team .pipeline .rendered-commit .applied-commit
//	    .harness-state ("in sync", "pending", "failed", "drifted", "deleted") .last-error
//	    .updated; or #no-services
//	section#drift: ul#drift-history > li[data-drift][data-entity][data-identifier][data-repair]
//	    (data-repair: repaired, queued, failed or none) > .repair, details > pre.diff;
//	    or #no-drift-history
//	section#queue: #queue-pending #queue-running #queue-retrying #queue-failed
//	    #queue-held #queue-done #queue-superseded #queue-oldest;
//	    table#retrying > tr[data-operation] or #no-retrying
//	section#deliveries: #deliveries-pending #deliveries-running #deliveries-done
//	    #deliveries-failed #deliveries-oldest;
//	    table#recent-deliveries > tr[data-delivery][data-state] >
//	    td.event .key .repo .pr .delivery-id .state .outcome .received; or #no-deliveries
//
//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Parse(strings.TrimSpace(statusHTML)))
