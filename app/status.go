package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// The status page (GET /): one server-rendered HTML page, no script and no
// external asset, that reloads itself every statusRefresh. Its elements
// carry stable ids, classes and data attributes, listed in statusTemplate,
// so that people and browser tests can find them.

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

// statusRoutes mounts the status page on "/" exactly; other paths stay 404.
func (a *App) statusRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", a.statusPage)
}

func (a *App) statusPage(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(a.log.WithContext(r.Context()))
	view, err := a.statusView(r.Context())
	if err != nil {
		a.writeError(w, r, fmt.Errorf("building the status page: %w", err))
		return
	}
	var buf bytes.Buffer
	if err := statusTemplate.Execute(&buf, view); err != nil {
		a.writeError(w, r, fmt.Errorf("rendering the status page: %w", err))
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
	Services      []serviceRow
	BotPR         *botPRView // the open bot PR, if any
	LastBotPR     *botPRView // otherwise the most recent one, if any
	Queue         queueView
	Deliveries    deliveriesView
	Attention     []operationRow
	Recent        []deliveryRow
	Drift         *driftView
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

// statusView reads what the page shows from the store and the app.
func (a *App) statusView(ctx context.Context) (statusData, error) {
	now := a.now()
	web := strings.TrimRight(a.cfg.GitHub.WebURL, "/")
	d := statusData{
		Refresh:       int(statusRefresh / time.Second),
		Generated:     stampOf(now, now),
		ConfigRepo:    link{a.configRepo.String(), web + "/" + a.configRepo.String()},
		PipelinesRepo: link{a.pipelinesRepo.String(), web + "/" + a.pipelinesRepo.String()},
		LastError:     cutText(a.LastError()),
	}

	states, err := a.db.ListPipelineStates(ctx)
	if err != nil {
		return d, err
	}
	for _, st := range states {
		row := serviceRow{
			Service: st.Service, Archetype: st.Archetype, Team: st.Team, Pipeline: st.Pipeline, Path: st.Path,
			State: string(st.HarnessState), StateLabel: harnessStateLabel(st.HarnessState),
			LastError: cutText(st.LastError), Updated: stampOf(now, st.UpdatedAt),
		}
		if st.HarnessState == store.HarnessPending && st.ContentHash == "" && st.LastAppliedCommit == "" {
			row.StateNote = "not in Harness yet: waits for the bot PR to merge"
		}
		if st.LastRenderedCommit != "" {
			row.Rendered = link{shortSHA(st.LastRenderedCommit), a.commitURL(a.configRepo, st.LastRenderedCommit)}
		}
		if st.LastAppliedCommit != "" {
			row.Applied = link{shortSHA(st.LastAppliedCommit), a.commitURL(a.pipelinesRepo, st.LastAppliedCommit)}
		}
		d.Services = append(d.Services, row)
	}

	prView := func(pr store.BotPR) *botPRView {
		return &botPRView{Number: pr.Number, URL: web + "/" + a.pipelinesRepo.String() + "/pull/" + strconv.Itoa(pr.Number),
			State: string(pr.State), Head: shortSHA(pr.HeadSHA), Updated: stampOf(now, pr.UpdatedAt)}
	}
	if pr, err := a.db.OpenBotPR(ctx, a.pipelinesRepo.String()); err == nil {
		d.BotPR = prView(pr)
	} else if !errors.Is(err, store.ErrNotFound) {
		return d, err
	} else {
		last, err := a.db.ListBotPRs(ctx, a.pipelinesRepo.String(), 1)
		if err != nil {
			return d, err
		}
		if len(last) > 0 {
			d.LastBotPR = prView(last[0])
		}
	}

	qs, err := a.db.QueueStats(ctx)
	if err != nil {
		return d, err
	}
	d.Queue = queueView{Pending: qs.Pending, Running: qs.Running, Failed: qs.Failed, Held: qs.Held,
		Done: qs.Done, Superseded: qs.Superseded, OldestPending: stampOf(now, qs.OldestPending)}
	active, err := a.db.ListOperations(ctx, store.OperationFilter{
		States: []store.OperationState{store.OpPending, store.OpRunning}, Limit: statusActiveScan})
	if err != nil {
		return d, err
	}
	failed, err := a.db.ListOperations(ctx, store.OperationFilter{States: []store.OperationState{store.OpFailed}, Limit: statusAttention})
	if err != nil {
		return d, err
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
		if op.State != store.OpFailed {
			state = "retrying"
		}
		d.Attention = append(d.Attention, operationRow{ID: op.ID, Pipeline: op.Pipeline, Service: op.Service,
			Kind: string(op.Kind), State: state, Attempts: op.Attempts, LastError: cutText(op.LastError),
			Updated: stampOf(now, op.UpdatedAt)})
	}

	ds, err := a.db.DeliveryStats(ctx)
	if err != nil {
		return d, err
	}
	d.Deliveries = deliveriesView{Pending: ds.Pending, Running: ds.Running, Done: ds.Done, Failed: ds.Failed,
		OldestPending: stampOf(now, ds.OldestPending)}
	recent, err := a.db.RecentDeliveries(ctx, statusRecentDeliveries)
	if err != nil {
		return d, err
	}
	for _, dl := range recent {
		event := dl.Event
		if dl.Action != "" {
			event += " · " + dl.Action
		}
		repo := decodeWorkData(dl).Repo // where the event came from; dl.Repo is the lane it runs in
		if repo == "" {
			repo = dl.Repo
		}
		d.Recent = append(d.Recent, deliveryRow{ID: dl.ID, Event: event, Key: dl.Key, Repo: repo, State: string(dl.State),
			Outcome: cutText(dl.Outcome), LastError: cutText(dl.LastError), Received: stampOf(now, dl.ReceivedAt)})
	}

	if rep, ok := a.LastDrift(ctx); ok {
		dv := &driftView{At: stampOf(now, rep.At), Checked: rep.Checked, Drifted: rep.Drifted(), Queued: rep.Queued}
		if rep.Commit != "" {
			dv.Commit = link{shortSHA(rep.Commit), a.commitURL(a.pipelinesRepo, rep.Commit)}
		}
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
	}
	return d, nil
}

// harnessStateLabel is how the page names a Harness state.
func harnessStateLabel(s store.HarnessState) string {
	if s == store.HarnessInSync {
		return "in sync"
	}
	if s == "" {
		return string(store.HarnessPending)
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
	return cutUTF8(s, statusTextLimit) + "…"
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
var statusTemplate = template.Must(template.New("status").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta http-equiv="refresh" content="{{.Refresh}}" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>pipeline-orchestrator</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: 12px 24px; }
header h1 { font-size: 18px; margin: 0 0 4px; }
header a { color: #9ecbff; }
header p { margin: 0; color: #d0d7de; }
main { padding: 8px 24px 32px; max-width: 1500px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 16px 12px; margin-top: 16px; }
h2 { font-size: 15px; margin: 6px 0 10px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { font-weight: 600; color: #57606a; font-size: 12px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
a { color: #0969da; text-decoration: none; }
a:hover { text-decoration: underline; }
.empty { color: #57606a; font-style: italic; }
.error, td.last-error, td.outcome.failed { color: #cf222e; white-space: pre-wrap; word-break: break-word; max-width: 48ch; }
.ok { color: #1a7f37; }
.harness-state { font-weight: 600; white-space: nowrap; }
.state-in_sync { color: #1a7f37; }
.state-pending, .state-running, .state-retrying { color: #9a6700; }
.state-failed { color: #cf222e; }
.state-drifted, .state-held { color: #8250df; }
.state-deleted, .state-superseded { color: #57606a; }
table.counts { width: auto; }
table.counts td { font-size: 20px; font-weight: 600; text-align: center; min-width: 72px; }
table.counts th { text-align: center; }
.muted { color: #57606a; }
</style>
</head>
<body>
<header>
<h1>pipeline-orchestrator</h1>
<p>catalog <a id="config-repo" href="{{.ConfigRepo.URL}}">{{.ConfigRepo.Text}}</a> → pipelines <a id="pipelines-repo" href="{{.PipelinesRepo.URL}}">{{.PipelinesRepo.Text}}</a> · page generated <time id="generated-at" datetime="{{.Generated.ISO}}">{{.Generated.Text}}</time> · reloads every {{.Refresh}}s</p>
</header>
<main>

<section id="health">
<h2>Last error</h2>
{{if .LastError}}<p id="last-error" class="error">{{.LastError}}</p>{{else}}<p id="last-error" class="empty ok">No error: the last run succeeded (or none has run yet).</p>{{end}}
</section>

<section id="proposal">
<h2>Bot pull request</h2>
{{with .BotPR}}<p>Open: <a id="bot-pr" href="{{.URL}}">#{{.Number}}</a> · head <code>{{.Head}}</code> · updated {{template "time" .Updated}}. Merging it applies its changes to Harness.</p>{{else}}<p id="no-bot-pr" class="empty">No open bot PR: the pipelines repo matches the catalog, or nothing was proposed yet.{{with .LastBotPR}} The last one, <a id="last-bot-pr" href="{{.URL}}">#{{.Number}}</a>, was {{.State}} {{template "time" .Updated}}.{{end}}</p>{{end}}
</section>

<section id="pipelines">
<h2>Services ({{len .Services}})</h2>
{{if .Services}}<table id="services">
<thead><tr><th>Service</th><th>Archetype</th><th>Team</th><th>Pipeline</th><th>Config commit</th><th>Applied commit</th><th>Harness</th><th>Last error</th><th>Last change</th></tr></thead>
<tbody>
{{range .Services}}<tr data-service="{{.Service}}" data-harness-state="{{.State}}">
<td class="service">{{.Service}}</td>
<td class="archetype">{{.Archetype}}</td>
<td class="team">{{.Team}}</td>
<td class="pipeline"><code title="{{.Path}}">{{.Pipeline}}</code></td>
<td class="rendered-commit">{{if .Rendered.URL}}<a href="{{.Rendered.URL}}"><code>{{.Rendered.Text}}</code></a>{{else}}—{{end}}</td>
<td class="applied-commit">{{if .Applied.URL}}<a href="{{.Applied.URL}}"><code>{{.Applied.Text}}</code></a>{{else}}—{{end}}</td>
<td class="harness-state state-{{.State}}"{{with .StateNote}} title="{{.}}"{{end}}>{{.StateLabel}}</td>
<td class="last-error">{{.LastError}}</td>
<td class="updated">{{template "time" .Updated}}</td>
</tr>
{{end}}</tbody>
</table>{{else}}<p id="no-services" class="empty">No services yet. They appear once a catalog change is proposed to the pipelines repo.</p>{{end}}
</section>

<section id="queue">
<h2>Harness operations</h2>
<table class="counts" id="queue-counts">
<thead><tr><th>pending</th><th>running</th><th>retrying</th><th>failed</th><th>held</th><th>done</th><th>superseded</th></tr></thead>
<tbody><tr><td id="queue-pending">{{.Queue.Pending}}</td><td id="queue-running">{{.Queue.Running}}</td><td id="queue-retrying" class="state-retrying">{{.Queue.Retrying}}</td><td id="queue-failed" class="state-failed">{{.Queue.Failed}}</td><td id="queue-held" class="state-held">{{.Queue.Held}}</td><td id="queue-done">{{.Queue.Done}}</td><td id="queue-superseded" class="muted">{{.Queue.Superseded}}</td></tr></tbody>
</table>
<p id="queue-oldest">{{if .Queue.OldestPending.ISO}}Oldest pending operation: enqueued {{template "time" .Queue.OldestPending}}.{{else}}No operation waiting.{{end}}</p>
{{if .Attention}}<table id="attention">
<thead><tr><th>Operation</th><th>Pipeline</th><th>Service</th><th>Kind</th><th>State</th><th>Attempts</th><th>Last error</th><th>Updated</th></tr></thead>
<tbody>
{{range .Attention}}<tr data-operation="{{.ID}}" data-state="{{.State}}">
<td class="id">{{.ID}}</td>
<td class="pipeline"><code>{{.Pipeline}}</code></td>
<td class="service">{{.Service}}</td>
<td class="kind">{{.Kind}}</td>
<td class="state state-{{.State}}">{{.State}}</td>
<td class="attempts">{{.Attempts}}</td>
<td class="last-error">{{.LastError}}</td>
<td class="updated">{{template "time" .Updated}}</td>
</tr>
{{end}}</tbody>
</table>{{else}}<p id="no-attention" class="empty">No failed or retrying operation.</p>{{end}}
</section>

<section id="deliveries">
<h2>Deliveries</h2>
<table class="counts" id="deliveries-counts">
<thead><tr><th>pending</th><th>running</th><th>done</th><th>failed</th></tr></thead>
<tbody><tr><td id="deliveries-pending">{{.Deliveries.Pending}}</td><td id="deliveries-running">{{.Deliveries.Running}}</td><td id="deliveries-done">{{.Deliveries.Done}}</td><td id="deliveries-failed" class="state-failed">{{.Deliveries.Failed}}</td></tr></tbody>
</table>
<p id="deliveries-oldest">{{if .Deliveries.OldestPending.ISO}}Oldest pending delivery: received {{template "time" .Deliveries.OldestPending}}.{{else}}No delivery waiting.{{end}}</p>
{{if .Recent}}<table id="recent-deliveries">
<thead><tr><th>Event</th><th>Work</th><th>Repository</th><th>State</th><th>Outcome</th><th>Received</th></tr></thead>
<tbody>
{{range .Recent}}<tr data-delivery="{{.ID}}" data-state="{{.State}}">
<td class="event">{{.Event}}</td>
<td class="key"><code>{{.Key}}</code></td>
<td class="repo">{{.Repo}}</td>
<td class="state state-{{.State}}">{{.State}}</td>
{{if .LastError}}<td class="outcome failed">{{.LastError}}</td>{{else}}<td class="outcome">{{.Outcome}}</td>{{end}}
<td class="received">{{template "time" .Received}}</td>
</tr>
{{end}}</tbody>
</table>{{else}}<p id="no-deliveries" class="empty">No deliveries yet.</p>{{end}}
</section>

<section id="drift">
<h2>Last reconcile</h2>
{{with .Drift}}<p id="drift-summary">Run {{template "time" .At}}{{if .Commit.URL}} against <a href="{{.Commit.URL}}"><code>{{.Commit.Text}}</code></a>{{end}}: checked {{.Checked}}, drifted {{.Drifted}}, repairs queued {{.Queued}}.</p>
{{if .Items}}<ul id="drift-items">
{{range .Items}}<li data-drift="{{.Kind}}" data-pipeline="{{.Pipeline}}"><code>{{.Pipeline}}</code>: {{.Label}}</li>
{{end}}</ul>{{else}}<p id="no-drift-items" class="ok">Harness matched Git.</p>{{end}}{{else}}<p id="no-drift" class="empty">No reconcile run yet.</p>{{end}}
</section>

</main>
</body>
</html>
{{define "time"}}{{if .ISO}}<time datetime="{{.ISO}}" title="{{.Text}}">{{.Ago}}</time>{{else}}—{{end}}{{end}}`))
