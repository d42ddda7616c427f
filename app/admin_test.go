package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// The admin API's wire shapes, as a client decodes them.
type (
	apiPipeline struct {
		Service            string    `json:"service"`
		Pipeline           string    `json:"pipeline"`
		Path               string    `json:"path"`
		Archetype          string    `json:"archetype"`
		Team               string    `json:"team"`
		LastRenderedCommit string    `json:"lastRenderedCommit"`
		LastAppliedCommit  string    `json:"lastAppliedCommit"`
		HarnessState       string    `json:"harnessState"`
		LastError          string    `json:"lastError"`
		UpdatedAt          time.Time `json:"updatedAt"`
	}
	apiPipelines struct {
		Pipelines []apiPipeline `json:"pipelines"`
	}
	apiOperation struct {
		ID           int64     `json:"id"`
		Entity       string    `json:"entity"`
		Identifier   string    `json:"identifier"`
		Parent       string    `json:"parent"`
		Service      string    `json:"service"`
		Kind         string    `json:"kind"`
		State        string    `json:"state"`
		Attempts     int       `json:"attempts"`
		LastError    string    `json:"lastError"`
		Result       string    `json:"result"`
		Commit       string    `json:"commit"`
		ConfigCommit string    `json:"configCommit"`
		Reason       string    `json:"reason"`
		SupersededBy int64     `json:"supersededBy"`
		CreatedAt    time.Time `json:"createdAt"`
		UpdatedAt    time.Time `json:"updatedAt"`
	}
	apiOperations struct {
		Operations []apiOperation `json:"operations"`
	}
	apiSync struct {
		Operations    []int64 `json:"operations"`
		ProposeQueued bool    `json:"proposeQueued"`
	}
	apiQueued struct {
		Queued bool `json:"queued"`
	}
	apiErr struct {
		Error string `json:"error"`
	}
)

// ignoreVolatile leaves ids and times out of comparisons; tests check them
// on their own.
var ignoreVolatile = cmp.Options{
	cmpopts.IgnoreFields(apiPipeline{}, "UpdatedAt"),
	cmpopts.IgnoreFields(apiOperation{}, "ID", "CreatedAt", "UpdatedAt"),
}

const paymentPath = "pipelines/payment-service-cd.yaml"

// apiCall sends one request to the app's handler. authorization is the
// Authorization header's value; empty sends none.
func apiCall(tb testing.TB, h http.Handler, method, path, authorization string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decodeStrict decodes a JSON answer, failing on fields the client does not
// know: the shapes are exactly those above.
func decodeStrict[T any](tb testing.TB, rec *httptest.ResponseRecorder) T {
	tb.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("Content-Type = %q, want application/json; body:\n%s", ct, rec.Body)
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("decoding %T: %v\n%s", v, err, rec.Body)
	}
	return v
}

// admin is an authenticated client of one world's admin API.
type admin struct {
	tb    testing.TB
	h     http.Handler
	token string
}

func adminOf(w *world) admin {
	return admin{tb: w.t, h: w.App.App.Handler(), token: w.App.Config.Server.AdminToken.Value()}
}

func (c admin) do(method, path string, wantStatus int) *httptest.ResponseRecorder {
	c.tb.Helper()
	rec := apiCall(c.tb, c.h, method, path, "Bearer "+c.token)
	if rec.Code != wantStatus {
		c.tb.Fatalf("%s %s = %d, want %d\n%s", method, path, rec.Code, wantStatus, rec.Body)
	}
	return rec
}

// adminWork lists the work the admin API queued, as "<key> (<why>)".
func adminWork(tb testing.TB, w *world) []string {
	tb.Helper()
	ds, err := w.App.DB.Deliveries.Recent(context.Background(), 1000)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		if d.Event == "internal" && strings.HasPrefix(d.Action, "admin") {
			out = append(out, d.Key+" ("+d.Action+")")
		}
	}
	return out
}

// onboarding is a world where payment-service went through the whole loop:
// catalog PR merged, bot PR merged, pipeline created in Harness.
type onboarding struct {
	*world
	configMerge, pipelinesMerge string
	botNumber                   int
}

func onboardPayment(t *testing.T) onboarding {
	t.Helper()
	w := newWorld(t, "services: []\n", nil)
	pr, _ := w.catalogPR("onboard-payment", oneService)
	configMerge := w.merge(w.ConfigRepo, pr)
	bot, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR after the catalog merge")
	}
	pipelinesMerge := w.merge(w.PipelinesRepo, bot.Number)
	if _, ok := w.harnessPipelines()["payment_service_cd"]; !ok {
		t.Fatal("payment_service_cd not in Harness after the bot PR merged")
	}
	return onboarding{world: w, configMerge: configMerge, pipelinesMerge: pipelinesMerge, botNumber: bot.Number}
}

func TestAdminAPIRequiresTheBearerToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	h := w.App.App.Handler()
	token := w.App.Config.Server.AdminToken.Value()

	type answer struct {
		Status          int
		WWWAuthenticate string
		Error           string
	}
	unauthorized := func(msg string) answer {
		return answer{http.StatusUnauthorized, `Bearer realm="pipeline-orchestrator"`, msg}
	}
	tests := []struct {
		name, path, authorization string
		want                      answer
	}{
		{"missing", "/api/v1/pipelines", "", unauthorized("missing bearer token: send Authorization: Bearer <admin token>")},
		{"wrong", "/api/v1/pipelines", "Bearer not-the-token", unauthorized("invalid admin token")},
		{"prefix of the token", "/api/v1/pipelines", "Bearer " + token[:len(token)-1], unauthorized("invalid admin token")},
		{"token and more", "/api/v1/pipelines", "Bearer " + token + "x", unauthorized("invalid admin token")},
		{"empty token", "/api/v1/pipelines", "Bearer ", unauthorized("invalid admin token")},
		{"basic scheme without base64 credentials", "/api/v1/pipelines", "Basic " + token, unauthorized("invalid admin token")},
		{"unknown route, before routing", "/api/v1/secret-route", "", unauthorized("missing bearer token: send Authorization: Bearer <admin token>")},
		{"right", "/api/v1/pipelines", "Bearer " + token, answer{Status: http.StatusOK}},
		{"scheme in lower case", "/api/v1/pipelines", "bearer " + token, answer{Status: http.StatusOK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := apiCall(t, h, http.MethodGet, tt.path, tt.authorization)
			got := answer{Status: rec.Code, WWWAuthenticate: rec.Header().Get("WWW-Authenticate")}
			if rec.Code != http.StatusOK {
				got.Error = decodeStrict[apiErr](t, rec).Error
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET %s with %q (-want +got):\n%s", tt.path, tt.authorization, diff)
			}
		})
	}
}

func TestAdminAPIDisabledWithoutToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", func(c *app.Config) { c.Server.AdminToken = "" })
	h := w.App.App.Handler()
	routes := []struct{ method, path string }{
		{http.MethodGet, "/api/v1/pipelines"},
		{http.MethodGet, "/api/v1/pipelines/payment-service"},
		{http.MethodPost, "/api/v1/pipelines/payment-service/sync"},
		{http.MethodGet, "/api/v1/operations"},
		{http.MethodPost, "/api/v1/reconcile"},
		{http.MethodGet, "/api/v1/no-such-route"},
		{http.MethodGet, "/api/v1"},
	}
	for _, r := range routes {
		for _, authorization := range []string{"", "Bearer anything"} {
			rec := apiCall(t, h, r.method, r.path, authorization)
			got := apiErr{}
			if rec.Code == http.StatusNotFound {
				got = decodeStrict[apiErr](t, rec)
			}
			want := apiErr{Error: "admin API disabled: set server.admin_token or server.admin_tokens"}
			if rec.Code != http.StatusNotFound || got != want {
				t.Errorf("%s %s (auth %q) = %d %+v, want 404 %+v", r.method, r.path, authorization, rec.Code, got, want)
			}
		}
	}
	w.settle()
	if got := adminWork(t, w); len(got) != 0 {
		t.Errorf("a disabled admin API queued work: %v", got)
	}
}

func TestAdminAPIRoutingErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	c := adminOf(w)
	tests := []struct {
		method, path string
		status       int
		allow        string
		error        string
	}{
		{http.MethodGet, "/api/v1", 404, "", "no such route: GET /api/v1"},
		{http.MethodGet, "/api/v1/", 404, "", "no such route: GET /api/v1/"},
		{http.MethodGet, "/api/v1/pipeline", 404, "", "no such route: GET /api/v1/pipeline"},
		{http.MethodGet, "/api/v1/pipelines/a/b", 404, "", "no such route: GET /api/v1/pipelines/a/b"},
		{http.MethodGet, "/api/v1/pipelines/unknown-service", 404, "", `unknown service "unknown-service"`},
		{http.MethodPost, "/api/v1/pipelines/unknown-service/sync", 404, "",
			`unknown service "unknown-service": not in the store and no file of it in company-harness/harness-pipelines`},
		{http.MethodDelete, "/api/v1/pipelines", 405, "GET, HEAD", "method DELETE not allowed on /api/v1/pipelines: use GET, HEAD"},
		{http.MethodPost, "/api/v1/pipelines/payment-service", 405, "GET, HEAD", "method POST not allowed on /api/v1/pipelines/payment-service: use GET, HEAD"},
		{http.MethodGet, "/api/v1/pipelines/payment-service/sync", 405, "POST", "method GET not allowed on /api/v1/pipelines/payment-service/sync: use POST"},
		{http.MethodPut, "/api/v1/operations", 405, "GET, HEAD", "method PUT not allowed on /api/v1/operations: use GET, HEAD"},
		{http.MethodGet, "/api/v1/reconcile", 405, "POST", "method GET not allowed on /api/v1/reconcile: use POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			c := c
			c.tb = t
			rec := c.do(tt.method, tt.path, tt.status)
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if diff := cmp.Diff(apiErr{tt.error}, decodeStrict[apiErr](t, rec)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
	w.settle()
	if got := adminWork(t, w); len(got) != 0 {
		t.Errorf("refused requests queued work: %v", got)
	}
}

func TestAdminAPIListsPipelinesAndOperations(t *testing.T) {
	t.Parallel()
	o := onboardPayment(t)
	c := adminOf(o.world)

	wantPayment := apiPipeline{
		Service: "payment-service", Pipeline: "payment_service_cd", Path: paymentPath,
		Archetype: "api", Team: "payments", LastRenderedCommit: o.configMerge, LastAppliedCommit: o.pipelinesMerge,
		HarnessState: "in_sync",
	}
	list := decodeStrict[apiPipelines](t, c.do(http.MethodGet, "/api/v1/pipelines", http.StatusOK))
	if diff := cmp.Diff(apiPipelines{Pipelines: []apiPipeline{wantPayment}}, list, ignoreVolatile); diff != "" {
		t.Errorf("GET /api/v1/pipelines (-want +got):\n%s", diff)
	}
	one := decodeStrict[apiPipeline](t, c.do(http.MethodGet, "/api/v1/pipelines/payment-service", http.StatusOK))
	if diff := cmp.Diff(wantPayment, one, ignoreVolatile); diff != "" {
		t.Errorf("GET /api/v1/pipelines/payment-service (-want +got):\n%s", diff)
	}
	if one.UpdatedAt.IsZero() || time.Since(one.UpdatedAt) > time.Hour {
		t.Errorf("updatedAt = %v, want the time of the last change", one.UpdatedAt)
	}
	c.do(http.MethodHead, "/api/v1/pipelines/payment-service", http.StatusOK)

	// Onboarding the service created its Service, pipeline and trigger,
	// in that order; the listing is newest first.
	created := func(entity, id, parent, path string) apiOperation {
		return apiOperation{Entity: entity, Identifier: id, Parent: parent, Service: "payment-service", Kind: "create", State: "done",
			Attempts: 1, Result: "created", Commit: o.pipelinesMerge, ConfigCommit: o.configMerge, Reason: "changed in " + path}
	}
	service := created("service", "payment_service", "", "services/payment-service.yaml")
	pipeline := created("pipeline", "payment_service_cd", "", paymentPath)
	trigger := created("trigger", "payment_service_cd_new_image", "payment_service_cd", "triggers/payment-service-cd-new-image.yaml")
	all := []apiOperation{trigger, pipeline, service}
	tests := []struct {
		query string
		want  []apiOperation
	}{
		{"?service=payment-service", all},
		{"?service=payment-service&status=done", all},
		{"?status=pending,failed", []apiOperation{}},
		{"?service=payment-service&status=running,+done+", all},
		{"?pipeline=payment_service_cd&limit=1", []apiOperation{pipeline}},
		{"?entity=trigger&identifier=payment_service_cd_new_image", []apiOperation{trigger}},
		{"?entity=service&limit=1", []apiOperation{service}},
		{"?pipeline=other_cd", []apiOperation{}},
		{"?service=payment-service&status=&limit=1000", all},
	}
	for _, tt := range tests {
		rec := c.do(http.MethodGet, "/api/v1/operations"+tt.query, http.StatusOK)
		got := decodeStrict[apiOperations](t, rec)
		if diff := cmp.Diff(apiOperations{Operations: tt.want}, got, ignoreVolatile); diff != "" {
			t.Errorf("GET /api/v1/operations%s (-want +got):\n%s", tt.query, diff)
		}
		for _, op := range got.Operations {
			if op.ID <= 0 || op.CreatedAt.IsZero() || op.UpdatedAt.Before(op.CreatedAt) {
				t.Errorf("GET /api/v1/operations%s: id %d, created %v, updated %v", tt.query, op.ID, op.CreatedAt, op.UpdatedAt)
			}
		}
		if strings.Contains(rec.Body.String(), "orgIdentifier") {
			t.Errorf("GET /api/v1/operations%s shows entity YAML:\n%s", tt.query, rec.Body)
		}
	}

	badRequests := []struct{ query, error string }{
		{"?status=bogus", `invalid status "bogus": want one or more of pending, running, failed, done, held, superseded, comma-separated`},
		{"?status=done,Done", `invalid status "Done": want one or more of pending, running, failed, done, held, superseded, comma-separated`},
		{"?limit=0", `invalid limit "0": want a number from 1 to 1000`},
		{"?limit=-3", `invalid limit "-3": want a number from 1 to 1000`},
		{"?limit=1001", `invalid limit "1001": want a number from 1 to 1000`},
		{"?limit=ten", `invalid limit "ten": want a number from 1 to 1000`},
	}
	for _, tt := range badRequests {
		got := decodeStrict[apiErr](t, c.do(http.MethodGet, "/api/v1/operations"+tt.query, http.StatusBadRequest))
		if diff := cmp.Diff(apiErr{tt.error}, got); diff != "" {
			t.Errorf("GET /api/v1/operations%s (-want +got):\n%s", tt.query, diff)
		}
	}
}

func TestAdminAPISyncReappliesThePipeline(t *testing.T) {
	t.Parallel()
	o := onboardPayment(t)
	c := adminOf(o.world)
	file, ok := o.GitHub.File(o.PipelinesRepo, "main", paymentPath)
	if !ok {
		t.Fatalf("%s missing from the pipelines repo", paymentPath)
	}
	const id = "payment_service_cd"
	commented := file + "# edited in the Harness UI\n"
	changed := strings.Replace(file, "int-stable", "int-edited", 1)

	// Deleting a pipeline in Harness deletes its triggers too: the sync
	// creates both again.
	tests := []struct {
		name        string
		behindBack  func()
		wantEffects []string // none when Harness already holds the files
		wantResult  string
	}{
		{"deleted in Harness", func() { o.Harness.DeletePipeline("default", "platform", id) },
			[]string{"create pipeline " + id, "create trigger payment_service_cd_new_image"}, "created"},
		{"changed in Harness", func() { o.Harness.PutPipeline("default", "platform", id, []byte(changed)) },
			[]string{"update pipeline " + id}, "updated"},
		{"only comments differ", func() { o.Harness.PutPipeline("default", "platform", id, []byte(commented)) }, nil, "unchanged"},
		{"already in step", func() {}, nil, "unchanged"},
	}
	seen := map[int64]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.behindBack()
			o.Harness.ClearRecords()
			c := c
			c.tb = t
			got := decodeStrict[apiSync](t, c.do(http.MethodPost, "/api/v1/pipelines/payment-service/sync", http.StatusAccepted))
			if len(got.Operations) != 3 || !got.ProposeQueued {
				t.Fatalf("sync answered %+v, want three operations (Service, pipeline, trigger) and proposeQueued", got)
			}
			opID := got.Operations[1]
			if seen[opID] {
				t.Fatalf("sync reused operation %d: a repeated sync must run again", opID)
			}
			seen[opID] = true
			o.settle()

			var effects []string
			for _, e := range o.Harness.Effects() {
				if e.Org != "default" || e.Project != "platform" {
					t.Errorf("effect in %s/%s, want default/platform", e.Org, e.Project)
				}
				effects = append(effects, e.Kind+" "+string(e.Entity)+" "+e.ID)
			}
			if diff := cmp.Diff(tt.wantEffects, effects); diff != "" {
				t.Errorf("Harness effects (-want +got):\n%s", diff)
			}
			if same, err := harness.SameYAML(o.harnessPipelines()[id], []byte(file)); err != nil || !same {
				t.Errorf("after the sync Harness holds:\n%s\nwant the file at the pipelines repo's head:\n%s", o.harnessPipelines()[id], file)
			}

			ops := decodeStrict[apiOperations](t, c.do(http.MethodGet, "/api/v1/operations?pipeline="+id+"&limit=1", http.StatusOK))
			wantOp := apiOperation{Entity: "pipeline", Identifier: id, Service: "payment-service", Kind: "update", State: "done", Attempts: 1,
				Result: tt.wantResult, Commit: o.pipelinesMerge, ConfigCommit: o.configMerge, Reason: "admin sync of " + paymentPath}
			if diff := cmp.Diff(apiOperations{Operations: []apiOperation{wantOp}}, ops, ignoreVolatile); diff != "" {
				t.Errorf("the sync's operation (-want +got):\n%s", diff)
			}
			if len(ops.Operations) == 1 && ops.Operations[0].ID != opID {
				t.Errorf("newest operation is %d, want the sync's %d", ops.Operations[0].ID, opID)
			}
			st := decodeStrict[apiPipeline](t, c.do(http.MethodGet, "/api/v1/pipelines/payment-service", http.StatusOK))
			if st.HarnessState != "in_sync" || st.LastError != "" {
				t.Errorf("after the sync the state is %q (last error %q), want in_sync", st.HarnessState, st.LastError)
			}
		})
	}

	// Each sync also queued a propose run, which found nothing to change.
	ds, err := o.App.DB.Deliveries.Recent(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	proposes := 0
	for _, d := range ds {
		if d.Event == "internal" && d.Action == "admin sync" && d.Key == "propose" {
			proposes++
			if d.State != store.DeliveryDone || d.Outcome != "nothing to propose" {
				t.Errorf("admin sync's propose run %s: %s %q %q", d.ID, d.State, d.Outcome, d.LastError)
			}
		}
	}
	if proposes != len(tests) {
		t.Errorf("%d propose runs queued by %d syncs", proposes, len(tests))
	}
	if _, ok := o.botPR(); ok {
		t.Error("a propose run with nothing to change opened a bot PR")
	}
}

func TestAdminAPISyncOfARenderedButUnmergedService(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	pr, _ := w.catalogPR("onboard-payment", oneService)
	w.merge(w.ConfigRepo, pr) // the bot PR is open, not merged
	c := adminOf(w)
	got := decodeStrict[apiSync](t, c.do(http.MethodPost, "/api/v1/pipelines/payment-service/sync", http.StatusAccepted))
	if diff := cmp.Diff(apiSync{Operations: []int64{}, ProposeQueued: true}, got); diff != "" {
		t.Errorf("sync of a service not yet in the pipelines repo (-want +got):\n%s", diff)
	}
	w.settle()
	if n := len(w.Harness.Effects()); n != 0 {
		t.Errorf("Harness changed %d time(s) before the bot PR merged", n)
	}
}

func TestAdminAPISyncDeletesWhatGitNoLongerHas(t *testing.T) {
	t.Parallel()
	// Six services, so that removing one is not a mass delete.
	var catalog strings.Builder
	catalog.WriteString(oneService)
	for _, name := range []string{"billing", "checkout", "ledger", "orders", "search"} {
		catalog.WriteString("  - name: " + name + "\n    archetype: api\n    team: payments\n    environments: [int-stable]\n    regions: [euw1]\n")
	}
	w := newWorld(t, "services: []\n", nil)
	pr, _ := w.catalogPR("onboard", catalog.String())
	w.merge(w.ConfigRepo, pr)
	bot, _ := w.botPR()
	w.merge(w.PipelinesRepo, bot.Number)
	if n := len(w.harnessPipelines()); n != 6 {
		t.Fatalf("Harness holds %d pipelines, want 6", n)
	}

	// Someone removes the service's files by hand, and Harness refuses
	// the pipeline's delete (then the Service's: the pipeline still
	// refers to it).
	w.Harness.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: http.StatusBadRequest, Code: "INVALID_REQUEST",
		Method: http.MethodDelete, Path: "/pipeline/api/pipelines/"})
	removal := w.GitHub.Commit(w.PipelinesRepo, "main", "Remove payment-service by hand", map[string]*string{paymentPath: nil,
		"services/payment-service.yaml": nil, "triggers/payment-service-cd-new-image.yaml": nil})
	w.settle()
	c := adminOf(w)
	st := decodeStrict[apiPipeline](t, c.do(http.MethodGet, "/api/v1/pipelines/payment-service", http.StatusOK))
	if st.HarnessState != "failed" {
		t.Fatalf("after the refused delete the state is %q (%q), want failed", st.HarnessState, st.LastError)
	}

	page, _ := statusPage(t, w.App.App.Handler())
	var attention []string
	for _, row := range page.All(func(n *pageNode) bool { return n.Tag == "tr" && n.Attr["data-operation"] != "" }) {
		attention = append(attention, row.Attr["data-state"]+" "+row.First(byClass("td", "kind")).Text()+" "+row.Attr["data-identifier"])
	}
	if diff := cmp.Diff([]string{"failed delete payment_service", "failed delete payment_service_cd"}, attention); diff != "" || textOf(page, "queue-failed") != "2" {
		t.Errorf("status page: operations needing attention (-want +got):\n%s\n#queue-failed = %q", diff, textOf(page, "queue-failed"))
	}
	// What the page says to do is what follows.
	if action := textOf(page, "failed"); !strings.Contains(action, "POST /api/v1/pipelines/payment-service/sync") {
		t.Errorf("the failed delete does not name the admin sync: %s", action)
	}

	w.Harness.ClearRecords()
	got := decodeStrict[apiSync](t, c.do(http.MethodPost, "/api/v1/pipelines/payment-service/sync", http.StatusAccepted))
	if len(got.Operations) != 2 {
		t.Fatalf("sync answered %+v, want two operations: the pipeline's delete, then the Service's", got)
	}
	w.settle()
	var deletes []string
	for _, e := range w.Harness.Effects() {
		if e.Kind == "delete" {
			deletes = append(deletes, string(e.Entity)+" "+e.ID)
		}
	}
	if diff := cmp.Diff([]string{"pipeline payment_service_cd", "service payment_service"}, deletes); diff != "" {
		t.Errorf("Harness deletes after the sync (-want +got):\n%s", diff)
	}
	if _, ok := w.harnessPipelines()["payment_service_cd"]; ok {
		t.Error("payment_service_cd is still in Harness")
	}
	op := decodeStrict[apiOperations](t, c.do(http.MethodGet, "/api/v1/operations?pipeline=payment_service_cd&limit=1", http.StatusOK))
	if len(op.Operations) != 1 || op.Operations[0].ID != got.Operations[0] || op.Operations[0].Kind != "delete" ||
		op.Operations[0].State != "done" || op.Operations[0].Commit != removal {
		t.Errorf("the sync's operation: %+v, want a done delete at %s", op.Operations, removal)
	}
}

func TestAdminAPISyncDoesNotBypassAHeldMassDelete(t *testing.T) {
	t.Parallel()
	o := onboardPayment(t)
	// Removing the only pipeline is a mass delete: it waits for the label.
	o.GitHub.Commit(o.PipelinesRepo, "main", "Remove payment-service by hand", map[string]*string{paymentPath: nil})
	o.settle()
	c := adminOf(o.world)
	held := decodeStrict[apiOperations](t, c.do(http.MethodGet, "/api/v1/operations?status=held", http.StatusOK))
	if len(held.Operations) != 1 {
		t.Fatalf("held operations: %+v, want the delete", held.Operations)
	}
	got := decodeStrict[apiErr](t, c.do(http.MethodPost, "/api/v1/pipelines/payment-service/sync", http.StatusConflict))
	want := apiErr{"the delete of pipeline payment_service_cd is held until the bot PR carries the label " + gh.MassDeleteLabel + "; an admin sync does not bypass it"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sync of a held delete (-want +got):\n%s", diff)
	}
	o.settle()
	if _, ok := o.harnessPipelines()["payment_service_cd"]; !ok {
		t.Error("the held delete reached Harness")
	}
	still := decodeStrict[apiOperations](t, c.do(http.MethodGet, "/api/v1/operations?status=held", http.StatusOK))
	if diff := cmp.Diff(held, still); diff != "" {
		t.Errorf("held operations changed (-before +after):\n%s", diff)
	}
}

func TestAdminAPIReconcileRepairsDrift(t *testing.T) {
	t.Parallel()
	o := onboardPayment(t)
	c := adminOf(o.world)
	o.Harness.DeletePipeline("default", "platform", "payment_service_cd")
	if _, ok := o.lastDrift(); ok {
		t.Fatal("a reconcile report exists before any reconcile ran")
	}
	got := decodeStrict[apiQueued](t, c.do(http.MethodPost, "/api/v1/reconcile", http.StatusAccepted))
	if !got.Queued {
		t.Errorf("POST /api/v1/reconcile answered %+v", got)
	}
	o.settle()
	rep, ok := o.lastDrift()
	if !ok {
		t.Fatal("no reconcile report after POST /api/v1/reconcile")
	}
	// The pipeline's trigger went with it.
	want := []string{"pipeline payment_service_cd", "trigger payment_service_cd/payment_service_cd_new_image"}
	if diff := cmp.Diff(want, rep.Missing); diff != "" || rep.Queued != 2 {
		t.Errorf("reconcile report: missing (-want +got):\n%s\nqueued %d, want 2", diff, rep.Queued)
	}
	if _, ok := o.harnessPipelines()["payment_service_cd"]; !ok {
		t.Error("reconcile did not re-create payment_service_cd")
	}
}
