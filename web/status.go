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
	statusActiveScan       = 1000 // pending and running operations read to count the retrying ones
	statusTextLimit        = 1000 // bytes of an error message shown
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

// statusData is everything the status page shows, as display strings.
type statusData struct {
	Refresh       int // seconds
	Generated     stamp
	ConfigRepo    link
	PipelinesRepo link
	LastError     string
	// Unreachable are the repositories the App cannot reach: shown first.
	Unreachable []RepoProblem
	Services    []serviceRow
	BotPR       *botPRView // the open bot PR, if any
	LastBotPR   *botPRView // otherwise the most recent one, if any
	Queue       queueView
	Deliveries  deliveriesView
	Attention   []operationRow
	Recent      []deliveryRow
	Drift       *driftView
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
	ID, Event, Key, Repo, State string
	Outcome, LastError          string
	Received                    stamp
}

type driftView struct {
	At                       stamp
	Commit                   link
	Checked, Drifted, Queued int
	Items                    []driftItem
}

type driftItem struct{ Kind, Pipeline, Label string }

// statusView reads what the page shows from the store and the app, one
// section at a time.
func (s *Server) statusView(ctx context.Context) (statusData, error) {
	v := viewer{s: s, now: s.opts.Now()}
	configRepo, pipelinesRepo := s.opts.ConfigRepo, s.opts.PipelinesRepo
	d := statusData{
		Refresh:       int(statusRefresh / time.Second),
		Generated:     stampOf(v.now, v.now),
		ConfigRepo:    link{configRepo.String(), s.opts.Links.Repo(configRepo)},
		PipelinesRepo: link{pipelinesRepo.String(), s.opts.Links.Repo(pipelinesRepo)},
		LastError:     cutText(s.opts.Loop.LastError()),
		Unreachable:   s.problems(),
	}
	for _, section := range []func(context.Context, *statusData) error{v.services, v.botPR, v.queue, v.deliveries, v.drift} {
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
	failed, err := v.s.opts.Store.ListOperations(ctx, store.OperationFilter{States: []record.OperationState{record.OpFailed}, Limit: statusAttention})
	if err != nil {
		return err
	}
	attention := failed
	for _, op := range active {
		if op.LastError != "" {
			d.Queue.Retrying++
			attention = append(attention, op)
		}
	}
	sort.Slice(attention, func(i, j int) bool { return attention[i].ID > attention[j].ID })
	for _, op := range attention[:min(len(attention), statusAttention)] {
		state := string(op.State)
		if op.State != record.OpFailed {
			state = "retrying"
		}
		d.Attention = append(d.Attention, operationRow{ID: op.ID, Pipeline: op.Identifier, Service: op.Service,
			Kind: string(op.Kind), State: state, Attempts: op.Attempts, LastError: cutText(op.LastError),
			Updated: stampOf(v.now, op.UpdatedAt)})
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
		d.Recent = append(d.Recent, deliveryRow{ID: dl.ID, Event: event, Key: dl.Key, Repo: repo, State: string(dl.State),
			Outcome: cutText(dl.Outcome), LastError: cutText(dl.LastError), Received: stampOf(v.now, dl.ReceivedAt)})
	}
	return nil
}

func (v viewer) drift(ctx context.Context, d *statusData) error {
	rep, ok, err := v.s.opts.Store.LastDrift(ctx)
	if err != nil || !ok {
		return err
	}
	dv := &driftView{At: stampOf(v.now, rep.At), Checked: rep.Checked, Drifted: rep.Drifted(), Queued: rep.Queued,
		Commit: v.commit(v.s.opts.PipelinesRepo, rep.Commit)}
	for _, l := range []struct {
		kind, label string
		ids         []string
	}{
		{"missing", "missing in Harness: re-created", rep.Missing},
		{"different", "different in Harness: updated", rep.Different},
		{"extra", "managed by the app but no longer in Git: deleted", rep.Extra},
		{"skipped", "drifted, already being repaired", rep.Skipped},
	} {
		for _, id := range l.ids {
			dv.Items = append(dv.Items, driftItem{Kind: l.kind, Pipeline: id, Label: l.label})
		}
	}
	d.Drift = dv
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

func cutText(s string) string {
	if len(s) <= statusTextLimit {
		return s
	}
	return present.CutUTF8(s, statusTextLimit) + "…"
}

// statusTemplate is the page. It is well-formed XML as well as HTML, so
// tests can read it with encoding/xml. Stable hooks:
//
//	#last-error (.empty when there is none)
//	#bot-pr (link to the open bot PR) or #no-bot-pr (with #last-bot-pr)
//	table#services > tr[data-service][data-harness-state] >
//	    td.service .archetype .team .pipeline .rendered-commit .applied-commit
//	    .harness-state ("in sync", "pending", "failed", "drifted", "deleted") .last-error
//	    .updated; or #no-services
//	section#queue: #queue-pending #queue-running #queue-retrying #queue-failed
//	    #queue-held #queue-done #queue-superseded #queue-oldest;
//	    table#attention > tr[data-operation][data-state] or #no-attention
//	section#deliveries: #deliveries-pending #deliveries-running #deliveries-done
//	    #deliveries-failed #deliveries-oldest;
//	    table#recent-deliveries > tr[data-delivery][data-state] >
//	    td.event .key .repo .state .outcome .received; or #no-deliveries
//	section#drift: #drift-summary, ul#drift-items > li[data-drift][data-pipeline]; or #no-drift
//
//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Parse(strings.TrimSpace(statusHTML)))
