package harness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/internal/sharedfiles"
)

// Schemas written for these tests; the stand-in serves whatever it is
// given.
const (
	pipelineSchema = `{
  "type": "object",
  "required": ["pipeline"],
  "properties": {"pipeline": {"type": "object"}}
}`
	triggerSchema = `{"type": "object", "required": ["trigger"]}`
)

func compact(tb testing.TB, s []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, s); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// schemaFixture is a client whose account has the test schemas, and which
// names no org or project: the schema is the account's.
func schemaFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := newFixture(tb, func(c *harness.Config) { c.OrgID, c.ProjectID = "", "" })
	f.srv.SetSchemas([]byte(pipelineSchema), []byte(triggerSchema))
	return f
}

func TestYAMLSchema(t *testing.T) {
	f := schemaFixture(t)
	ctx := context.Background()
	for entity, want := range map[string]string{harness.SchemaPipelines: pipelineSchema, harness.SchemaTriggers: triggerSchema} {
		got, err := f.client.YAMLSchema(ctx, entity)
		if err != nil {
			t.Fatalf("YAMLSchema(%s): %v", entity, err)
		}
		if !bytes.Equal(got, compact(t, []byte(want))) {
			t.Errorf("YAMLSchema(%s) = %s, want %s", entity, got, compact(t, []byte(want)))
		}
	}
	calls := f.srv.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	for _, c := range calls {
		if c.Method != get || c.Path != "/pipeline/api/yaml-schema" {
			t.Errorf("call %s %s, want GET /pipeline/api/yaml-schema", c.Method, c.Path)
		}
		// Only the account and the entity type: org and project would
		// narrow the schema to one project.
		got := map[string]string{}
		for k := range c.Query {
			got[k] = c.Query.Get(k)
		}
		want := map[string]string{"accountIdentifier": f.srv.AccountID(), "entityType": c.Query.Get("entityType")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("query (-want +got):\n%s", diff)
		}
	}
}

func TestYAMLSchemaFromAProjectClientIsStillTheAccounts(t *testing.T) {
	f := newFixture(t) // scoped to testOrg and testProject
	f.srv.SetSchemas([]byte(pipelineSchema), nil)
	if _, err := f.client.YAMLSchema(context.Background(), harness.SchemaPipelines); err != nil {
		t.Fatal(err)
	}
	if q := f.srv.Calls()[0].Query; q.Has("orgIdentifier") || q.Has("projectIdentifier") {
		t.Errorf("query %v names an org or project", q)
	}
}

func TestYAMLSchemaErrors(t *testing.T) {
	tests := []struct {
		name      string
		entity    string
		schemas   bool
		wantCode  string // "" when no call is made
		wantCalls int
	}{
		{"harness cannot produce it", harness.SchemaTriggers, false, "UNEXPECTED_SCHEMA_EXCEPTION", 1},
		{"entity type harness does not serve", "Connectors", true, "MEDIA_NOT_SUPPORTED", 1},
		{"no entity type", "", true, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.schemas {
				f.srv.SetSchemas([]byte(pipelineSchema), []byte(triggerSchema))
			}
			_, err := f.client.YAMLSchema(context.Background(), tt.entity)
			if !errors.Is(err, harness.ErrInvalidRequest) || harness.IsRetryable(err) {
				t.Fatalf("YAMLSchema(%q) = %v, want a non-retryable ErrInvalidRequest", tt.entity, err)
			}
			if tt.wantCode != "" {
				if ae := apiErr(t, err); ae.Code != tt.wantCode {
					t.Errorf("code %q, want %q", ae.Code, tt.wantCode)
				}
			}
			if n := len(f.srv.Calls()); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestYAMLSchemaRetriesServerErrors(t *testing.T) {
	f := schemaFixture(t)
	f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: http.StatusServiceUnavailable})
	got, err := f.client.YAMLSchema(context.Background(), harness.SchemaPipelines)
	if err != nil || !bytes.Equal(got, compact(t, []byte(pipelineSchema))) {
		t.Fatalf("YAMLSchema after a 503 = %s, %v", got, err)
	}
	wantCalls(t, f.srv, get+" /pipeline/api/yaml-schema", get+" /pipeline/api/yaml-schema")
}

// TestYAMLSchemaThatIsNoSchema: a success envelope whose data is not a JSON
// object is not taken for a schema.
func TestYAMLSchemaThatIsNoSchema(t *testing.T) {
	for _, data := range []string{`null`, `"{}"`, `[]`} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"SUCCESS","data":` + data + `,"metaData":null,"correlationId":"c"}`))
		}))
		c, err := harness.New(harness.Config{BaseURL: ts.URL, AccountID: "acc", APIKey: "pat.acc.t.s", Retry: harness.RetryPolicy{MaxAttempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.YAMLSchema(context.Background(), harness.SchemaPipelines); !errors.Is(err, harness.ErrUnexpectedResponse) {
			t.Errorf("data %s: YAMLSchema() error %v, want ErrUnexpectedResponse", data, err)
		}
		ts.Close()
	}
}

// TestYAMLSchemaCarriesHarnessSchema fetches Harness's own pipeline schema
// (3.4 MB) through the stand-in: it arrives whole.
func TestYAMLSchemaCarriesHarnessSchema(t *testing.T) {
	path, ok := sharedfiles.Path("schemas", "harness-pipeline-v0.json")
	if !ok {
		t.Skipf("Harness schema not found at %s: schema checks not run", path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.srv.SetSchemas(src, nil)
	got, err := f.client.YAMLSchema(context.Background(), harness.SchemaPipelines)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, compact(t, src)) {
		t.Errorf("the schema changed on the way: %d bytes, want %d", len(got), len(compact(t, src)))
	}
}
