package harnesstest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

const pipelineYAML = `pipeline:
  name: svc a
  identifier: svc_a
  orgIdentifier: default
  projectIdentifier: payments
  tags: {team: payments}
  stages: []
`

type request struct {
	method, path string
	query        url.Values // nil: the full, valid scope
	key          *string    // nil: the server's key
	contentType  string
	body         string
}

type response struct {
	status int
	header http.Header
	body   map[string]any // nil when the body is not JSON
	raw    string
}

func do(tb testing.TB, base string, srv *harnesstest.Server, r request) response {
	tb.Helper()
	q := r.query
	if q == nil {
		q = url.Values{"accountIdentifier": {srv.AccountID()}, "orgIdentifier": {"default"},
			"projectIdentifier": {"payments"}}
	}
	req, err := http.NewRequest(r.method, base+r.path+"?"+q.Encode(), strings.NewReader(r.body))
	if err != nil {
		tb.Fatal(err)
	}
	key := srv.APIKey()
	if r.key != nil {
		key = *r.key
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func newServer(tb testing.TB) *harnesstest.Server {
	tb.Helper()
	srv := harnesstest.New(harnesstest.Options{Seed: 7})
	tb.Cleanup(srv.Close)
	return srv
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func ptr(s string) *string { return &s }

func TestEnvelopes(t *testing.T) {
	srv := newServer(t)
	srv.PutPipeline("default", "payments", "svc_a", []byte(pipelineYAML))
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantKeys   []string
		want       map[string]any // selected fields
	}{
		{
			name:       "success",
			req:        request{method: "GET", path: "/pipeline/api/pipelines/svc_a"},
			wantStatus: 200,
			wantKeys:   []string{"correlationId", "data", "metaData", "status"},
			want:       map[string]any{"status": "SUCCESS", "metaData": nil},
		},
		{
			name:       "missing key",
			req:        request{method: "GET", path: "/pipeline/api/pipelines/svc_a", key: ptr("")},
			wantStatus: 401,
			wantKeys: []string{"code", "correlationId", "detailedMessage", "message", "metadata",
				"responseMessages", "status"},
			want: map[string]any{"status": "ERROR", "code": "INVALID_CREDENTIAL"},
		},
		{
			name:       "unknown key",
			req:        request{method: "GET", path: "/pipeline/api/pipelines/svc_a", key: ptr("pat.test_account.tok2.nope")},
			wantStatus: 401,
			want: map[string]any{"status": "ERROR", "code": "INVALID_TOKEN",
				"message": "Invalid API token tok2: Token not found"},
		},
		{
			name: "missing account",
			req: request{method: "GET", path: "/pipeline/api/pipelines/svc_a",
				query: url.Values{"orgIdentifier": {"default"}, "projectIdentifier": {"payments"}}},
			wantStatus: 400,
			want: map[string]any{"status": "ERROR", "code": "INVALID_REQUEST",
				"message": "Account detail is not present in the request"},
		},
		{
			name: "missing org and project",
			req: request{method: "GET", path: "/pipeline/api/pipelines/svc_a",
				query: url.Values{"accountIdentifier": {harnesstest.DefaultAccountID}}},
			wantStatus: 400,
			wantKeys:   []string{"code", "correlationId", "errors", "message", "status"},
			want: map[string]any{"status": "FAILURE", "code": "INVALID_REQUEST", "errors": []any{
				map[string]any{"fieldId": "orgIdentifier", "error": "must not be null"},
				map[string]any{"fieldId": "projectIdentifier", "error": "must not be null"},
			}},
		},
		{
			name:       "get missing",
			req:        request{method: "GET", path: "/pipeline/api/pipelines/nope"},
			wantStatus: 404,
			want: map[string]any{"code": "ENTITY_NOT_FOUND",
				"message": "Pipeline [nope] under Project[payments], Organization [default] doesn't exist or has been deleted."},
		},
		{
			name: "yaml sent as json",
			req: request{method: "POST", path: "/pipeline/api/pipelines/v2", contentType: "application/json",
				body: pipelineYAML},
			wantStatus: 415,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, srv.URL, srv, tt.req)
			if got.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", got.status, tt.wantStatus, got.raw)
			}
			if got.body == nil {
				t.Fatalf("body is not JSON: %s", got.raw)
			}
			if tt.wantKeys != nil {
				if diff := cmp.Diff(tt.wantKeys, keysOf(got.body)); diff != "" {
					t.Errorf("envelope keys (-want +got):\n%s", diff)
				}
			}
			for k, v := range tt.want {
				if diff := cmp.Diff(v, got.body[k]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}

func TestUnknownRouteIsAPlain404(t *testing.T) {
	srv := newServer(t)
	got := do(t, srv.URL, srv, request{method: "GET", path: "/ng/api/unknown"})
	if got.status != 404 || got.body != nil || !strings.HasPrefix(got.header.Get("Content-Type"), "text/plain") {
		t.Errorf("got %d %q %q, want a plain-text 404", got.status, got.header.Get("Content-Type"), got.raw)
	}
}

func TestCRUDOverTheWire(t *testing.T) {
	srv := newServer(t)
	h := httptest.NewServer(srv.Handler()) // as the demo serves it, behind /gateway
	t.Cleanup(h.Close)
	base := h.URL + "/gateway"

	created := do(t, base, srv, request{method: "POST", path: "/pipeline/api/pipelines/v2",
		contentType: "application/yaml", body: pipelineYAML})
	wantData := map[string]any{"identifier": "svc_a", "governanceMetadata": map[string]any{
		"id": "", "deny": false, "details": []any{}, "message": "", "status": "pass"}}
	if diff := cmp.Diff(wantData, created.body["data"]); created.status != 200 || diff != "" {
		t.Fatalf("create: %d, data (-want +got):\n%s", created.status, diff)
	}

	dup := do(t, base, srv, request{method: "POST", path: "/pipeline/api/pipelines/v2",
		contentType: "application/yaml", body: pipelineYAML})
	if dup.status != 400 || dup.body["code"] != "DUPLICATE_FIELD" || dup.body["message"] !=
		"Pipeline [svc_a] under Project[payments], Organization [default] already exists or has been deleted." {
		t.Errorf("duplicate create: %d %s", dup.status, dup.raw)
	}

	got := do(t, base, srv, request{method: "GET", path: "/pipeline/api/pipelines/svc_a"})
	if data, _ := got.body["data"].(map[string]any); data["yamlPipeline"] != pipelineYAML {
		t.Errorf("get: data.yamlPipeline = %v", got.body["data"])
	}

	mismatch := do(t, base, srv, request{method: "PUT", path: "/pipeline/api/pipelines/v2/svc_b",
		contentType: "application/yaml", body: pipelineYAML})
	if mismatch.status != 400 || mismatch.body["message"] != "Expected Pipeline identifier in YAML to be [svc_b], but was [svc_a]" {
		t.Errorf("update with another id: %d %s", mismatch.status, mismatch.raw)
	}

	list := do(t, base, srv, request{method: "POST", path: "/pipeline/api/pipelines/list",
		contentType: "application/json", body: `{"filterType":"PipelineSetup"}`})
	page, _ := list.body["data"].(map[string]any)
	for _, k := range []string{"content", "pageable", "totalElements", "totalPages", "last", "size", "number",
		"sort", "numberOfElements", "first", "empty"} {
		if _, ok := page[k]; !ok {
			t.Errorf("list page lacks %q: %s", k, list.raw)
		}
	}
	if page["totalElements"] != 1.0 || page["size"] != 25.0 {
		t.Errorf("list page: totalElements %v size %v, want 1 and the default 25", page["totalElements"], page["size"])
	}

	run := do(t, base, srv, request{method: "POST", path: "/pipeline/api/pipeline/execute/svc_a",
		query: url.Values{"accountIdentifier": {srv.AccountID()}, "orgIdentifier": {"default"},
			"projectIdentifier": {"payments"}, "moduleType": {"cd"}},
		contentType: "application/yaml"})
	data, _ := run.body["data"].(map[string]any)
	plan, _ := data["planExecution"].(map[string]any)
	if uuid, _ := plan["uuid"].(string); len(uuid) != 22 {
		t.Errorf("execute: data.planExecution.uuid = %v", plan["uuid"])
	}

	gone := do(t, base, srv, request{method: "DELETE", path: "/pipeline/api/pipelines/svc_a"})
	if gone.status != 200 || gone.body["data"] != true {
		t.Errorf("delete: %d %s", gone.status, gone.raw)
	}
	again := do(t, base, srv, request{method: "DELETE", path: "/pipeline/api/pipelines/svc_a"})
	if again.status != 400 || again.body["code"] != "INVALID_REQUEST" {
		t.Errorf("delete of a missing pipeline: %d %s", again.status, again.raw)
	}

	var kinds []string
	for _, e := range srv.Effects() {
		kinds = append(kinds, e.Kind+" "+e.ID)
	}
	if diff := cmp.Diff([]string{"create svc_a", "execute svc_a", "delete svc_a"}, kinds); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
}

func TestRejectsWhatHarnessRejects(t *testing.T) {
	tests := map[string]struct {
		body     string
		wantCode string
	}{
		"unparsable":         {"pipeline: [", "INVALID_YAML_ERROR"},
		"no pipeline root":   {"template:\n  identifier: x\n", "INVALID_YAML_ERROR"},
		"hyphen in id":       {strings.Replace(pipelineYAML, "svc_a", "svc-a", 1), "INVALID_REQUEST"},
		"id too long":        {strings.Replace(pipelineYAML, "svc_a", strings.Repeat("a", 129), 1), "INVALID_REQUEST"},
		"reserved word":      {strings.Replace(pipelineYAML, "svc_a", "parallel", 1), "INVALID_REQUEST"},
		"runtime input id":   {strings.Replace(pipelineYAML, "svc_a", "<+input>", 1), "INVALID_REQUEST"},
		"other project":      {strings.Replace(pipelineYAML, "projectIdentifier: payments", "projectIdentifier: x", 1), "INVALID_REQUEST"},
		"other org":          {strings.Replace(pipelineYAML, "orgIdentifier: default", "orgIdentifier: x", 1), "INVALID_REQUEST"},
		"no name":            {strings.Replace(pipelineYAML, "name: svc a", "", 1), "INVALID_REQUEST"},
		"pipeline not a map": {"pipeline: [1, 2]\n", "INVALID_YAML_ERROR"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t)
			got := do(t, srv.URL, srv, request{method: "POST", path: "/pipeline/api/pipelines/v2",
				contentType: "application/yaml", body: tt.body})
			if got.status != 400 || got.body["code"] != tt.wantCode {
				t.Errorf("got %d %s, want 400 %s", got.status, got.raw, tt.wantCode)
			}
			if n := len(srv.Pipelines("default", "payments")); n != 0 {
				t.Errorf("%d pipelines stored, want 0", n)
			}
		})
	}
}

func TestGovernanceDenySavesNothing(t *testing.T) {
	srv := newServer(t)
	srv.SetGovernanceDeny(true)
	got := do(t, srv.URL, srv, request{method: "POST", path: "/pipeline/api/pipelines/v2",
		contentType: "application/yaml", body: pipelineYAML})
	data, _ := got.body["data"].(map[string]any)
	gm, _ := data["governanceMetadata"].(map[string]any)
	if got.status != 200 || got.body["status"] != "SUCCESS" || gm["deny"] != true || data["identifier"] != nil {
		t.Errorf("deny answer: %d %s", got.status, got.raw)
	}
	if len(srv.Pipelines("default", "payments")) != 0 || len(srv.Effects()) != 0 {
		t.Error("a denied create was saved")
	}
}

func TestRecordsCallsWithoutTheKey(t *testing.T) {
	srv := newServer(t)
	do(t, srv.URL, srv, request{method: "POST", path: "/pipeline/api/pipelines/v2", contentType: "application/yaml",
		body: pipelineYAML})
	calls := srv.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls recorded, want 1", len(calls))
	}
	c := calls[0]
	if c.Method != "POST" || c.Path != "/pipeline/api/pipelines/v2" || c.Status != 200 || string(c.Body) != pipelineYAML ||
		c.Query.Get("projectIdentifier") != "payments" || c.Header.Get("Content-Type") != "application/yaml" {
		t.Errorf("recorded %+v", c)
	}
	if c.Header.Get("X-Api-Key") != "" {
		t.Error("the recorded headers hold the API key")
	}
}

func TestFaults(t *testing.T) {
	t.Run("429 html with Retry-After", func(t *testing.T) {
		srv := newServer(t)
		srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 429, HTML: true, RetryAfter: 1500 * time.Millisecond})
		got := do(t, srv.URL, srv, request{method: "GET", path: "/pipeline/api/pipelines/svc_a"})
		if got.status != 429 || got.header.Get("Retry-After") != "2" || !strings.Contains(got.raw, "<html>") {
			t.Errorf("got %d Retry-After %q %s", got.status, got.header.Get("Retry-After"), got.raw)
		}
		if got := do(t, srv.URL, srv, request{method: "GET", path: "/pipeline/api/pipelines/svc_a"}); got.status != 404 {
			t.Errorf("second call: %d, want the fault used up", got.status)
		}
	})
	t.Run("matching by method and path", func(t *testing.T) {
		srv := newServer(t)
		srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 503, Method: "DELETE",
			Path: "/pipeline/api/pipelines/"})
		if got := do(t, srv.URL, srv, request{method: "GET", path: "/pipeline/api/pipelines/svc_a"}); got.status != 404 {
			t.Errorf("GET: %d, want it untouched", got.status)
		}
		if got := do(t, srv.URL, srv, request{method: "DELETE", path: "/pipeline/api/pipelines/svc_a"}); got.status != 503 {
			t.Errorf("DELETE: %d, want 503", got.status)
		}
	})
	t.Run("after effect", func(t *testing.T) {
		srv := newServer(t)
		srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500, AfterEffect: true})
		// A read has no effect, so the fault waits for the create.
		do(t, srv.URL, srv, request{method: "GET", path: "/pipeline/api/pipelines/svc_a"})
		got := do(t, srv.URL, srv, request{method: "POST", path: "/pipeline/api/pipelines/v2",
			contentType: "application/yaml", body: pipelineYAML})
		if got.status != 500 || len(srv.Pipelines("default", "payments")) != 1 || len(srv.Effects()) != 1 {
			t.Errorf("got %d with %d pipelines, want 500 after the create took effect", got.status,
				len(srv.Pipelines("default", "payments")))
		}
	})
	t.Run("drop", func(t *testing.T) {
		srv := newServer(t)
		srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultDrop, Method: "POST"})
		req, _ := http.NewRequest("POST", srv.URL+"/pipeline/api/pipelines/v2", strings.NewReader(pipelineYAML))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("got %d, want a dropped connection", resp.StatusCode)
		}
		if c := srv.Calls(); len(c) != 1 || c[0].Fault != "drop" || c[0].Status != 0 {
			t.Errorf("recorded %+v", c)
		}
	})
	t.Run("latency past the client's timeout", func(t *testing.T) {
		srv := newServer(t)
		srv.SetLatency(time.Second)
		client := &http.Client{Timeout: 20 * time.Millisecond}
		req, _ := http.NewRequest("GET", srv.URL+"/pipeline/api/pipelines/svc_a", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("got %d, want a client timeout", resp.StatusCode)
		}
		srv.ClearFaults()
		if got := do(t, srv.URL, srv, request{method: "GET", path: "/pipeline/api/pipelines/svc_a"}); got.status != 404 {
			t.Errorf("after ClearFaults: %d, want an immediate 404", got.status)
		}
	})
	t.Run("fraction is seeded", func(t *testing.T) {
		pattern := func() string {
			srv := newServer(t)
			srv.FailFraction(0.3, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 502, HTML: true})
			var b strings.Builder
			for range 40 {
				got := do(t, srv.URL, srv, request{method: "GET", path: "/pipeline/api/pipelines/svc_a"})
				fmt.Fprintf(&b, "%d ", got.status)
			}
			return b.String()
		}
		first, second := pattern(), pattern()
		if first != second {
			t.Errorf("same seed, different faults:\n%s\n%s", first, second)
		}
		if n := strings.Count(first, "502"); n == 0 || n == 40 {
			t.Errorf("%d of 40 calls failed at p=0.3", n)
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	srv := newServer(t)
	srv.FailFraction(0.2, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("svc_%d", i)
			body := strings.Replace(pipelineYAML, "svc_a", id, 1)
			for range 5 {
				do(t, srv.URL, srv, request{method: "POST", path: "/pipeline/api/pipelines/v2",
					contentType: "application/yaml", body: body})
				do(t, srv.URL, srv, request{method: "GET", path: "/pipeline/api/pipelines/" + id})
				_ = srv.Pipelines("default", "payments")
			}
		}()
	}
	wg.Wait()
	if n := len(srv.Calls()); n != 80 {
		t.Errorf("%d calls recorded, want 80", n)
	}
	seen := map[string]int{}
	for _, e := range srv.Effects() {
		seen[e.ID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s created %d times", id, n)
		}
	}
}

// Schemas written for the tests: the stand-in serves whatever bytes it is
// given.
const (
	testPipelineSchema = `{"type":"object","required":["pipeline"],"properties":{"pipeline":{"type":"object"}}}`
	testTriggerSchema  = `{"type":"object","required":["trigger"],"properties":{"trigger":{"type":"object"}}}`
)

func TestYAMLSchema(t *testing.T) {
	srv := harnesstest.New(harnesstest.Options{
		PipelineSchema: []byte(testPipelineSchema), TriggerSchema: []byte(testTriggerSchema),
	})
	t.Cleanup(srv.Close)
	bare := harnesstest.New(harnesstest.Options{})
	t.Cleanup(bare.Close)
	decode := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	account := func(extra ...string) url.Values {
		q := url.Values{"accountIdentifier": {harnesstest.DefaultAccountID}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return q
	}
	const path = "/pipeline/api/yaml-schema"
	tests := []struct {
		name       string
		srv        *harnesstest.Server
		req        request
		wantStatus int
		want       map[string]any // selected fields
	}{
		{
			name:       "pipelines",
			req:        request{method: "GET", path: path, query: account("entityType", "Pipelines")},
			wantStatus: 200,
			want:       map[string]any{"status": "SUCCESS", "data": decode(testPipelineSchema)},
		},
		{
			name:       "triggers",
			req:        request{method: "GET", path: path, query: account("entityType", "Triggers")},
			wantStatus: 200,
			want:       map[string]any{"status": "SUCCESS", "data": decode(testTriggerSchema)},
		},
		{
			name:       "entity type by its constant's name, any case",
			req:        request{method: "GET", path: path, query: account("entityType", "pipelines")},
			wantStatus: 200,
			want:       map[string]any{"data": decode(testPipelineSchema)},
		},
		{
			name: "org and project are accepted",
			req: request{method: "GET", path: path,
				query: account("entityType", "PIPELINES", "orgIdentifier", "default", "projectIdentifier", "payments")},
			wantStatus: 200,
			want:       map[string]any{"data": decode(testPipelineSchema)},
		},
		{
			name:       "no entity type",
			req:        request{method: "GET", path: path, query: account()},
			wantStatus: 400,
			want: map[string]any{"status": "FAILURE", "code": "INVALID_REQUEST", "errors": []any{
				map[string]any{"fieldId": "entityType", "error": "must not be null"},
			}},
		},
		{
			name:       "entity type it does not serve",
			req:        request{method: "GET", path: path, query: account("entityType", "Connectors")},
			wantStatus: 415,
			want: map[string]any{"status": "FAILURE", "code": "MEDIA_NOT_SUPPORTED",
				"message": "Entity type Connectors is not supported", "errors": nil},
		},
		{
			name:       "no account",
			req:        request{method: "GET", path: path, query: url.Values{"entityType": {"Pipelines"}}},
			wantStatus: 400,
			want: map[string]any{"status": "ERROR", "code": "INVALID_REQUEST",
				"message": "Account detail is not present in the request"},
		},
		{
			name: "another account",
			req: request{method: "GET", path: path,
				query: url.Values{"entityType": {"Pipelines"}, "accountIdentifier": {"other"}}},
			wantStatus: 401,
			want:       map[string]any{"status": "ERROR", "code": "INVALID_TOKEN"},
		},
		{
			name:       "no key",
			req:        request{method: "GET", path: path, query: account("entityType", "Pipelines"), key: ptr("")},
			wantStatus: 401,
			want:       map[string]any{"status": "ERROR", "code": "INVALID_CREDENTIAL"},
		},
		{
			name:       "no schema to serve",
			srv:        bare,
			req:        request{method: "GET", path: path, query: account("entityType", "Triggers")},
			wantStatus: 400,
			want:       map[string]any{"status": "ERROR", "code": "UNEXPECTED_SCHEMA_EXCEPTION"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.srv
			if s == nil {
				s = srv
			}
			got := do(t, s.URL, s, tt.req)
			if got.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", got.status, tt.wantStatus, got.raw)
			}
			for k, v := range tt.want {
				if diff := cmp.Diff(v, got.body[k]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}

func TestSetSchemasChangesWhatIsServed(t *testing.T) {
	srv := newServer(t)
	q := url.Values{"accountIdentifier": {srv.AccountID()}, "entityType": {"Pipelines"}}
	req := request{method: "GET", path: "/pipeline/api/yaml-schema", query: q}
	if got := do(t, srv.URL, srv, req); got.status != 400 {
		t.Fatalf("before SetSchemas: status %d, want 400: %s", got.status, got.raw)
	}
	srv.SetSchemas([]byte(testPipelineSchema), nil)
	if got := do(t, srv.URL, srv, req); got.status != 200 {
		t.Fatalf("after SetSchemas: status %d, want 200: %s", got.status, got.raw)
	}
	srv.SetSchemas(nil, nil)
	if got := do(t, srv.URL, srv, req); got.status != 400 {
		t.Fatalf("after SetSchemas(nil, nil): status %d, want 400: %s", got.status, got.raw)
	}
}
