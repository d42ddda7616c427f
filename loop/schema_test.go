package loop

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// testSchema has the shape render.CompileSchemas needs of a pipeline
// schema, and nothing more; version makes schemas that differ.
func testSchema(version string) []byte {
	return []byte(`{"$comment": "` + version + `", "type": "object",
  "properties": {"pipeline": {"$ref": "#/definitions/pipeline/pipeline"}},
  "definitions": {"pipeline": {
    "pipeline": {"type": "object", "properties": {"name": {"type": "string"}}},
    "stages": {"cd": {"ServiceDefinition": {"type": "object"}}}
  }}}`)
}

// fakeFetcher serves schemas by entity type, or fails with err.
type fakeFetcher struct {
	schemas map[string][]byte
	err     error
	calls   map[string]int
}

func (f *fakeFetcher) YAMLSchema(_ context.Context, entity string) ([]byte, error) {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[entity]++
	if f.err != nil {
		return nil, f.err
	}
	s, ok := f.schemas[entity]
	if !ok {
		return nil, errors.New("not served")
	}
	return s, nil
}

func openStore(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "state.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// logged returns a context whose logger writes into buf.
func logged(buf *bytes.Buffer) context.Context {
	l := zerolog.New(buf)
	return l.WithContext(context.Background())
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestSchemaSourceFetchesKeepsAndRefreshes(t *testing.T) {
	var logs bytes.Buffer
	ctx := logged(&logs)
	db := openStore(t)
	f := &fakeFetcher{schemas: map[string][]byte{
		harness.SchemaPipelines: testSchema("p1"), harness.SchemaTriggers: []byte(`{"type": "object"}`),
	}}
	var src schemaSource
	first := src.get(ctx, db.Schemas, f, t0)
	if first == nil || !first.HasTrigger() {
		t.Fatalf("get() = %v, want schemas with the trigger schema", first)
	}
	if got, at, err := db.Schemas.Schema(ctx, harness.SchemaPipelines); err != nil || !bytes.Equal(got, testSchema("p1")) || !at.Equal(t0) {
		t.Errorf("kept pipeline schema = %.20q…, %v, %v", got, at, err)
	}
	// Fresh: nothing is fetched again.
	if again := src.get(ctx, db.Schemas, f, t0.Add(23*time.Hour)); again != first || f.calls[harness.SchemaPipelines] != 1 {
		t.Errorf("within a day: same schemas %v, %d fetches; want the same, 1 fetch", again == first, f.calls[harness.SchemaPipelines])
	}
	// A day old: fetched again, and a new version is compiled and kept.
	f.schemas[harness.SchemaPipelines] = testSchema("p2")
	later := t0.Add(25 * time.Hour)
	next := src.get(ctx, db.Schemas, f, later)
	if next == nil || next == first || f.calls[harness.SchemaPipelines] != 2 {
		t.Errorf("after a day: new schemas %v, %d fetches; want new ones, 2 fetches", next != first, f.calls[harness.SchemaPipelines])
	}
	if got, at, _ := db.Schemas.Schema(ctx, harness.SchemaPipelines); !bytes.Equal(got, testSchema("p2")) || !at.Equal(later) {
		t.Errorf("kept pipeline schema after the refresh = %.20q…, %v", got, at)
	}
	if strings.Contains(logs.String(), `"level":"warn"`) {
		t.Errorf("warnings while Harness served every schema:\n%s", logs.String())
	}
}

func TestSchemaSourceStartsFromTheStore(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	if err := db.Schemas.PutSchema(ctx, harness.SchemaPipelines, testSchema("kept"), t0); err != nil {
		t.Fatal(err)
	}
	if err := db.Schemas.PutSchema(ctx, harness.SchemaTriggers, []byte(`{}`), t0); err != nil {
		t.Fatal(err)
	}
	f := &fakeFetcher{err: errors.New("must not be called")}
	var src schemaSource
	if s := src.get(ctx, db.Schemas, f, t0.Add(time.Hour)); s == nil || len(f.calls) != 0 {
		t.Errorf("get() = %v with %d fetches; want the kept schemas without fetching", s, len(f.calls))
	}

	// Harness unreachable a week later: the kept schema still serves.
	var stale schemaSource
	if s := stale.get(ctx, db.Schemas, f, t0.Add(7*24*time.Hour)); s == nil || f.calls[harness.SchemaPipelines] != 1 {
		t.Errorf("stale and unfetchable: get() = %v with %d fetches; want the kept schemas after one try", s, f.calls[harness.SchemaPipelines])
	}

	// No fetcher at all (a Harness client without YAMLSchema).
	var storeOnly schemaSource
	if s := storeOnly.get(ctx, db.Schemas, nil, t0.Add(7*24*time.Hour)); s == nil {
		t.Error("without a fetcher: get() = nil, want the kept schemas")
	}
}

func TestSchemaSourceWithoutAnySchemaWarnsOnceAndRetriesHourly(t *testing.T) {
	var logs bytes.Buffer
	ctx := logged(&logs)
	db := openStore(t)
	f := &fakeFetcher{err: &harness.APIError{HTTPStatus: 400, Code: "UNEXPECTED_SCHEMA_EXCEPTION"}}
	var src schemaSource
	for _, at := range []time.Time{t0, t0.Add(10 * time.Minute), t0.Add(30 * time.Minute)} {
		if s := src.get(ctx, db.Schemas, f, at); s != nil {
			t.Fatalf("get() = %v, want nil", s)
		}
	}
	if n := f.calls[harness.SchemaPipelines]; n != 1 {
		t.Errorf("%d fetches within the hour, want 1", n)
	}
	if n := strings.Count(logs.String(), `"level":"warn"`); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "rendering without the schema check") {
		t.Errorf("the warning does not say the schema check is skipped:\n%s", logs.String())
	}

	// An hour on, Harness serves it: fetched, compiled, kept.
	f.err = nil
	f.schemas = map[string][]byte{harness.SchemaPipelines: testSchema("late")}
	if s := src.get(ctx, db.Schemas, f, t0.Add(61*time.Minute)); s == nil || s.HasTrigger() {
		t.Errorf("get() = %v, want the pipeline schema alone", s)
	}
	if _, _, err := db.Schemas.Schema(ctx, harness.SchemaPipelines); err != nil {
		t.Errorf("the fetched schema is not kept: %v", err)
	}
}
