package web_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/loop"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/web"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// fixedStore is a read model holding one of everything the page shows.
type fixedStore struct {
	states   []record.PipelineState
	ops      []record.Operation
	open     *record.BotPR
	last     []record.BotPR
	queue    store.QueueStats
	dstats   store.DeliveryStats
	recent   []store.Delivery
	drift    *record.DriftReport
	propose  *record.ProposeReport
	events   []record.DriftEvent
	merged   map[string]int // pipelines commit → the bot PR merged as it
	writable error
	audited  []store.AuditEntry
}

func (s *fixedStore) ListPipelineStates(context.Context) ([]record.PipelineState, error) {
	return s.states, nil
}

func (s *fixedStore) GetPipelineState(_ context.Context, service string) (record.PipelineState, error) {
	for _, st := range s.states {
		if st.Service == service {
			return st, nil
		}
	}
	return record.PipelineState{}, store.ErrNotFound
}

// ListOperations filters by state and Latest, as the store does; s.ops
// are newest first.
func (s *fixedStore) ListOperations(_ context.Context, f store.OperationFilter) ([]record.Operation, error) {
	var out []record.Operation
	for _, op := range s.ops {
		if f.Latest && s.followed(op) {
			continue
		}
		for _, st := range f.States {
			if op.State == st {
				out = append(out, op)
			}
		}
	}
	return out, nil
}

// followed reports whether a newer operation of the same entity follows op.
func (s *fixedStore) followed(op record.Operation) bool {
	for _, o := range s.ops {
		if o.ID > op.ID && o.EntityKey() == op.EntityKey() {
			return true
		}
	}
	return false
}

func (s *fixedStore) QueueStats(context.Context) (store.QueueStats, error) { return s.queue, nil }
func (s *fixedStore) DeliveryStats(context.Context) (store.DeliveryStats, error) {
	return s.dstats, nil
}
func (s *fixedStore) RecentDeliveries(context.Context, int) ([]store.Delivery, error) {
	return s.recent, nil
}

func (s *fixedStore) OpenBotPR(context.Context, string) (record.BotPR, error) {
	if s.open == nil {
		return record.BotPR{}, store.ErrNotFound
	}
	return *s.open, nil
}

func (s *fixedStore) ListBotPRs(context.Context, string, int) ([]record.BotPR, error) {
	return s.last, nil
}

func (s *fixedStore) LastDrift(context.Context) (record.DriftReport, bool, error) {
	if s.drift == nil {
		return record.DriftReport{}, false, nil
	}
	return *s.drift, true, nil
}

func (s *fixedStore) LastPropose(context.Context) (record.ProposeReport, bool, error) {
	if s.propose == nil {
		return record.ProposeReport{}, false, nil
	}
	return *s.propose, true, nil
}

func (s *fixedStore) ListDrift(_ context.Context, limit int) ([]record.DriftEvent, error) {
	return s.events[:min(limit, len(s.events))], nil
}

func (s *fixedStore) MergedBotPR(_ context.Context, commit string) (int, error) {
	if n, ok := s.merged[commit]; ok {
		return n, nil
	}
	return 0, store.ErrNotFound
}

func (s *fixedStore) Writable(context.Context) error { return s.writable }
func (s *fixedStore) ListAudit(context.Context, store.AuditFilter) ([]store.AuditEntry, error) {
	return s.audited, nil
}
func (s *fixedStore) Audit(_ context.Context, e store.AuditEntry) error {
	s.audited = append(s.audited, e)
	return nil
}

type fixedLoop struct{ lastError string }

func (l fixedLoop) LastError() string { return l.lastError }
func (l fixedLoop) Sync(context.Context, string) (loop.SyncResult, error) {
	return loop.SyncResult{}, nil
}

func server(s *fixedStore, l fixedLoop, problems ...web.RepoProblem) http.Handler {
	mux := http.NewServeMux()
	web.New(web.Options{
		Reachability: func() []web.RepoProblem { return problems },
		Store:        s, Loop: l, Enqueue: func(context.Context, work.Kind, string) error { return nil },
		Metrics:    http.NotFoundHandler(),
		ConfigRepo: gh.ParseRepo("company/platform-next"), PipelinesRepo: gh.ParseRepo("company-harness/harness-pipelines"),
		Links: present.Links{Web: "https://github.com"}, Now: func() time.Time { return now },
	}).Routes(mux)
	return mux
}

func busyStore() *fixedStore {
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	return &fixedStore{
		states: []record.PipelineState{
			{Service: "payment-service", Pipeline: "payment_service_cd", Path: "pipelines/payment-service-cd.yaml", Archetype: "api", Team: "payments",
				LastRenderedCommit: "c0ffee1111111111111111111111111111111111", LastAppliedCommit: "beef000000000000000000000000000000000001",
				HarnessState: record.HarnessInSync, UpdatedAt: ago(3 * time.Minute)},
			{Service: "orders", Pipeline: "orders_cd", Path: "pipelines/orders-cd.yaml", Archetype: "listener", Team: "orders <&> co",
				HarnessState: record.HarnessFailed, LastError: "harness: INVALID_REQUEST: <script>alert(1)</script>", UpdatedAt: ago(time.Hour)},
			{Service: "new-one", Pipeline: "new_one_cd", Path: "pipelines/new-one-cd.yaml", Archetype: "job", Team: "data",
				HarnessState: record.HarnessPending, UpdatedAt: ago(10 * time.Second)},
		},
		ops: []record.Operation{ // newest first, as the store lists them
			{ID: 12, Identifier: "legacy_b_cd", Service: "legacy-b", Kind: record.KindDelete, State: record.OpHeld,
				Commit: "beef000000000000000000000000000000000003", UpdatedAt: ago(4 * time.Minute)},
			{ID: 11, Identifier: "legacy_a_cd", Service: "legacy-a", Kind: record.KindDelete, State: record.OpHeld,
				Commit: "beef000000000000000000000000000000000003", UpdatedAt: ago(4 * time.Minute)},
			{ID: 9, Identifier: "reporting_cd", Service: "reporting", Kind: record.KindCreate, State: record.OpPending, Attempts: 2,
				LastError: "harness: 503", UpdatedAt: ago(time.Minute)},
			{ID: 8, Identifier: "payment_service_cd", Service: "payment-service", Kind: record.KindUpdate, State: record.OpDone,
				Attempts: 1, UpdatedAt: ago(3 * time.Minute)},
			{ID: 7, Identifier: "orders_cd", Service: "orders", Path: "pipelines/orders-cd.yaml", Kind: record.KindUpdate, State: record.OpFailed,
				Attempts: 10, LastError: "harness: INVALID_REQUEST", UpdatedAt: ago(time.Hour), DoneAt: ago(time.Hour)},
			// Failed, then fixed by operation 8: nothing to do any more.
			{ID: 3, Identifier: "payment_service_cd", Service: "payment-service", Kind: record.KindUpdate, State: record.OpFailed,
				Attempts: 10, LastError: "harness: connector not found", UpdatedAt: ago(5 * time.Hour)},
		},
		open:    &record.BotPR{Number: 42, State: record.PROpen, HeadSHA: "beef000000000000000000000000000000000002", UpdatedAt: ago(2 * time.Minute)},
		queue:   store.QueueStats{Pending: 1, Failed: 2, Held: 2, Done: 40, Superseded: 3, OldestPending: ago(time.Minute)},
		dstats:  store.DeliveryStats{Done: 12, Failed: 1},
		propose: &record.ProposeReport{At: ago(2 * time.Minute), Result: "changed", Text: "bot PR #42 updated", BotPR: 42, ConfigCommit: "c0ffee1111111111111111111111111111111111"},
		recent: []store.Delivery{
			{ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Event: "push", Repo: "company-harness/harness-pipelines", Key: "propose", State: store.DeliveryDone,
				Outcome: "bot PR #42 updated", Data: work.Data{Repo: "company/platform-next"}.Encode(), ReceivedAt: ago(2 * time.Minute)},
			{ID: "d-2", Event: "pull_request", Action: "opened", Repo: "company/platform-next", Key: "preview:c0ffee", State: store.DeliveryFailed,
				PRNumber: 17, LastError: "reading branch: 502", ReceivedAt: ago(5 * time.Minute)},
			{ID: "internal-reconcile-1796558400000000000-4294967295", Event: "internal", Action: "timer", Repo: "company-harness/harness-pipelines",
				Key: "reconcile", State: store.DeliveryDone, Outcome: "checked 3, drifted 2, queued 2", ReceivedAt: ago(9 * time.Minute)},
		},
		drift: &record.DriftReport{At: ago(9 * time.Minute), Commit: "beef000000000000000000000000000000000001", Checked: 3,
			Missing: []string{"a_cd"}, Extra: []string{"stray_cd"}, Queued: 2},
	}
}

// heldStore is the state after a bot PR that removes 13 services merged:
// their deletes wait for the mass-delete label.
func heldStore() *fixedStore {
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	const merge = "feed000000000000000000000000000000000041"
	s := &fixedStore{
		states: []record.PipelineState{
			{Service: "legacy-01", Pipeline: "legacy_01_cd", Path: "pipelines/legacy-01-cd.yaml", Archetype: "job", Team: "data",
				LastAppliedCommit: "beef000000000000000000000000000000000001", HarnessState: record.HarnessPending, UpdatedAt: ago(3 * time.Minute)},
			{Service: "payment-service", Pipeline: "payment_service_cd", Path: "pipelines/payment-service-cd.yaml", Archetype: "api", Team: "payments",
				LastAppliedCommit: "beef000000000000000000000000000000000001", ContentHash: "b10b", HarnessState: record.HarnessInSync, UpdatedAt: ago(time.Hour)},
		},
		last:    []record.BotPR{{Number: 41, State: record.PRMerged, HeadSHA: "beef000000000000000000000000000000000041", UpdatedAt: ago(3 * time.Minute)}},
		merged:  map[string]int{merge: 41},
		queue:   store.QueueStats{Held: 13, Done: 40},
		dstats:  store.DeliveryStats{Done: 3},
		propose: &record.ProposeReport{At: ago(3 * time.Minute), Result: "unchanged", Text: "no pipeline change", ConfigCommit: "c0ffee2222222222222222222222222222222222"},
		recent: []store.Delivery{
			{ID: "0b8e2c7a-cc79-11e3-8d5c-4c9367dc0958", Event: "push", Repo: "company-harness/harness-pipelines", Key: "apply", State: store.DeliveryDone,
				Outcome: "13 operation(s) queued, 13 delete(s) held for the mass-delete label", Data: work.Data{Repo: "company-harness/harness-pipelines"}.Encode(),
				ReceivedAt: ago(3 * time.Minute)},
			{ID: "0a4f1f52-cc79-11e3-9a0e-4c9367dc0958", Event: "pull_request", Action: "closed", Repo: "company-harness/harness-pipelines", Key: "botpr",
				PRNumber: 41, State: store.DeliveryDone, Outcome: "bot PR #41 merged", ReceivedAt: ago(3 * time.Minute)},
		},
	}
	for i := 13; i >= 1; i-- {
		s.ops = append(s.ops, record.Operation{ID: int64(100 + i), Identifier: fmt.Sprintf("legacy_%02d_cd", i), Service: fmt.Sprintf("legacy-%02d", i),
			Kind: record.KindDelete, State: record.OpHeld, Commit: merge, UpdatedAt: ago(3 * time.Minute)})
	}
	return s
}

// driftStore is the state after reconciles found Harness changed by
// hand: repairs done, queued, failed, and drift left to an operation
// already on its way.
func driftStore() *fixedStore {
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	const head = "beef000000000000000000000000000000000001"
	return &fixedStore{
		ops: []record.Operation{
			{ID: 14, Identifier: "search_api_cd", Service: "search-api", Path: "pipelines/search-api-cd.yaml", Kind: record.KindUpdate,
				State: record.OpFailed, Attempts: 10, LastError: "harness: 400 INVALID_REQUEST: connector <k8s_prod> not found",
				Commit: head, UpdatedAt: ago(time.Minute), DoneAt: ago(time.Minute)},
			{ID: 13, Identifier: "checkout_api_cd", Service: "checkout-api", Kind: record.KindCreate, State: record.OpPending, Commit: head, UpdatedAt: ago(2 * time.Minute)},
		},
		queue: store.QueueStats{Pending: 1, Failed: 1, Done: 40, OldestPending: ago(2 * time.Minute)},
		drift: &record.DriftReport{At: ago(2 * time.Minute), Commit: head, Checked: 12, Missing: []string{"checkout_api_cd"}, Different: []string{"search_api_cd"}, Queued: 2},
		events: []record.DriftEvent{
			{ID: 4, At: ago(2 * time.Minute), Commit: head, Entity: "pipeline", Identifier: "search_api_cd", Drift: "different",
				Diff: "--- git\n+++ harness\n-      timeout: 10m\n+      timeout: 99m <edited>", OperationID: 14},
			{ID: 3, At: ago(2 * time.Minute), Commit: head, Entity: "pipeline", Identifier: "checkout_api_cd", Drift: "missing", OperationID: 13},
			{ID: 2, At: ago(time.Hour), Commit: head, Entity: "pipeline", Identifier: "payment_service_cd", Drift: "different",
				Diff: "--- git\n+++ harness\n-    name: payment-service\n+    name: payments (hand edit)", OperationID: 10, RepairedAt: ago(59 * time.Minute)},
			{ID: 1, At: ago(time.Hour), Commit: head, Entity: "pipeline", Identifier: "stray_cd", Drift: "extra"},
		},
	}
}

// TestStatusPageGolden pins the page's markup for an idle app, a busy
// one, one whose deletes are held and one that found drift; a change to
// the page shows up as a diff of testdata/*.html.
func TestStatusPageGolden(t *testing.T) {
	for name, c := range map[string]struct {
		store    *fixedStore
		loop     fixedLoop
		problems []web.RepoProblem
	}{
		"status-idle.html":  {store: &fixedStore{}},
		"status-held.html":  {store: heldStore()},
		"status-drift.html": {store: driftStore()},
		"status-busy.html": {store: busyStore(), loop: fixedLoop{lastError: "2026-12-06T11:59:00Z: propose: reading branch main: 502"},
			problems: []web.RepoProblem{{Repo: "company/platform-next", Problem: "company/platform-next is not among the repositories the GitHub App's installation on company can access, or does not exist",
				Fix: `Add company/platform-next to the installation's repositories under "Repository access" at https://github.com/organizations/company/settings/installations/7, or check the repository's name.`}}},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			server(c.store, c.loop, c.problems...).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET / = %d", rec.Code)
			}
			body, _ := io.ReadAll(rec.Body)
			golden(t, name, string(body))
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./web -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		_ = os.WriteFile(path+".got", []byte(got), 0o644)
		t.Errorf("%s differs (-want +got), wrote %s.got:\n%s", path, path, diff)
	}
}
