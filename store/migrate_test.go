package store

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var updateTestdata = flag.Bool("update", false, "rewrite testdata/v1.db")

// v1File is a database written by schema version 1, with one row in every
// table, kept to prove that files made by older builds still open.
const v1File = "testdata/v1.db"

// writeV1Sample creates a version-1 database at path, holding one row in
// each table written with version 1's own SQL.
func writeV1Sample(tb testing.TB, path string) {
	tb.Helper()
	ctx := context.Background()
	db := &DB{cfg: defaultConfig()}
	db.cfg.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	var err error
	db.write, err = openWriter(path, db.cfg)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.write.Close()
	if err := db.migrate(ctx, 1); err != nil {
		tb.Fatalf("migrating to version 1: %v", err)
	}
	stmts := []string{
		`INSERT INTO deliveries (delivery_id, event, action, repo, installation, work_key, ref, after_sha, received_at, updated_at)
		 VALUES ('d-1', 'push', '', 'company/platform-next', 42, 'propose', 'refs/heads/main', 'c0ffee', 1767323045000, 1767323045000)`,
		`INSERT INTO operations (dedupe_key, pipeline, service, path, kind, commit_sha, content_hash, yaml, state, created_at, updated_at)
		 VALUES ('payment_service_cd|create|p1|h1', 'payment_service_cd', 'payment-service', 'pipelines/payment-service-cd.yaml',
		         'create', 'p1', 'h1', CAST('pipeline: {}' AS BLOB), 'pending', 1767323045000, 1767323045000)`,
		`INSERT INTO pipeline_states (service, pipeline, harness_state, updated_at) VALUES ('payment-service', 'payment_service_cd', 'pending', 1767323045000)`,
		`INSERT INTO bot_prs (repo, number, state, source_commits, updated_at) VALUES ('company-harness/harness-pipelines', 3, 'open', '["c0ffee"]', 1767323045000)`,
		`INSERT INTO kv (key, value, updated_at) VALUES ('catalog.last_good', 'c0ffee', 1767323045000)`,
		`INSERT INTO audit_log (at, actor, action, subject) VALUES (1767323045000, 'app', 'pr.open', 'company-harness/harness-pipelines#3')`,
	}
	for _, s := range stmts {
		if _, err := db.write.ExecContext(ctx, s); err != nil {
			tb.Fatalf("writing version 1 sample: %v", err)
		}
	}
}

// checkV1Sample opens the version-1 file at path with the current code and
// checks that it was migrated and that its rows read back.
func checkV1Sample(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	if v := rawSchemaVersion(t, path); v != 1 {
		t.Fatalf("sample file is at version %d, want 1", v)
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("opening a version 1 file: %v", err)
	}
	defer db.Close()
	if v, err := db.SchemaVersion(ctx); err != nil || v != LatestSchemaVersion() {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, LatestSchemaVersion())
	}
	// Version 2 replaced the claim indexes.
	rows, err := db.read.QueryContext(ctx, `SELECT name FROM sqlite_master
		WHERE type = 'index' AND tbl_name IN ('deliveries', 'operations') AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var indexes []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, name)
	}
	rows.Close()
	wantIndexes := []string{"deliveries_state", "operations_commit", "operations_entity_state", "operations_ready", "operations_state"}
	if diff := cmp.Diff(wantIndexes, indexes); diff != "" {
		t.Errorf("indexes after migration (-want +got):\n%s", diff)
	}

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	ds, err := db.Deliveries.Recent(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantD := []Delivery{{
		Seq: 1, ID: "d-1", Event: "push", Repo: "company/platform-next", Installation: 42, Key: "propose",
		Ref: "refs/heads/main", After: "c0ffee", ReceivedAt: at, State: DeliveryPending, UpdatedAt: at,
	}}
	if diff := cmp.Diff(wantD, ds); diff != "" {
		t.Errorf("RecentDeliveries (-want +got):\n%s", diff)
	}
	ops, err := db.Operations.List(ctx, OperationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	wantO := []Operation{{
		ID: 1, Key: "payment_service_cd|create|p1|h1", Entity: "pipeline", Identifier: "payment_service_cd", Service: "payment-service",
		Path: "pipelines/payment-service-cd.yaml", Kind: KindCreate, Commit: "p1", ContentHash: "h1",
		YAML: []byte("pipeline: {}"), State: OpPending, CreatedAt: at, UpdatedAt: at,
	}}
	if diff := cmp.Diff(wantO, ops); diff != "" {
		t.Errorf("ListOperations (-want +got):\n%s", diff)
	}
	if v, err := db.State.Get(ctx, "catalog.last_good"); err != nil || v != "c0ffee" {
		t.Errorf("GetState = %q, %v; want c0ffee", v, err)
	}
	if p, err := db.BotPRs.Open(ctx, "company-harness/harness-pipelines"); err != nil || p.Number != 3 {
		t.Errorf("OpenBotPR = %+v, %v; want #3", p, err)
	}
	if p, err := db.Pipelines.Get(ctx, "payment-service"); err != nil || p.Pipeline != "payment_service_cd" {
		t.Errorf("GetPipelineState = %+v, %v", p, err)
	}
	if es, err := db.Audit.List(ctx, AuditFilter{}); err != nil || len(es) != 1 {
		t.Errorf("ListAudit = %+v, %v; want one entry", es, err)
	}

	// The migrated file works for new work too.
	claimed, err := db.Operations.Claim(ctx, "w", 10, time.Minute)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimOperations on the migrated file = %d, %v; want 1", len(claimed), err)
	}
	if err := db.Operations.Complete(ctx, claimed[0], "created"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenVersion1File(t *testing.T) {
	t.Run("generated", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "v1.db")
		writeV1Sample(t, path)
		checkV1Sample(t, path)
	})
	t.Run("checked-in", func(t *testing.T) {
		if *updateTestdata {
			os.Remove(v1File)
			writeV1Sample(t, v1File)
		}
		path := filepath.Join(t.TempDir(), "v1.db")
		copyFile(t, v1File, path)
		checkV1Sample(t, path)
	})
}

// TestOpenVersion3File checks that version 4's rename of blobs.added_at
// keeps the cached blobs and their times.
func TestOpenVersion3File(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	added := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db := &DB{cfg: defaultConfig()}
	var err error
	if db.write, err = openWriter(path, db.cfg); err != nil {
		t.Fatal(err)
	}
	if err := db.migrate(ctx, 3); err != nil {
		t.Fatalf("migrating to version 3: %v", err)
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO blobs (sha, content, added_at) VALUES ('abc', CAST('pipeline: {}' AS BLOB), ?)`, ms(added)); err != nil {
		t.Fatal(err)
	}
	db.write.Close()

	now := added.Add(10 * 24 * time.Hour)
	db, err = Open(ctx, path, WithNow(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("opening a version 3 file: %v", err)
	}
	defer db.Close()
	var usedAt int64
	if err := db.read.QueryRowContext(ctx, `SELECT used_at FROM blobs WHERE sha = 'abc'`).Scan(&usedAt); err != nil || usedAt != ms(added) {
		t.Fatalf("used_at of the migrated blob = %d, %v; want its added_at %d", usedAt, err, ms(added))
	}
	got, err := db.Blobs.Get(ctx, []string{"abc"})
	if err != nil || string(got["abc"]) != "pipeline: {}" {
		t.Fatalf("GetBlobs on the migrated file = %q, %v", got, err)
	}
	// Reading it marked it used now.
	if n, err := db.Blobs.Prune(ctx, added.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneBlobs after a read = %d, %v; want 0", n, err)
	}
}

// TestOpenVersion4File checks that version 5, which adds the Harness
// schemas table, opens a version 4 file with its cached blobs intact and
// an empty table of schemas.
func TestOpenVersion4File(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v4.db")
	used := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db := &DB{cfg: defaultConfig()}
	var err error
	if db.write, err = openWriter(path, db.cfg); err != nil {
		t.Fatal(err)
	}
	if err := db.migrate(ctx, 4); err != nil {
		t.Fatalf("migrating to version 4: %v", err)
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO blobs (sha, content, used_at) VALUES ('abc', CAST('pipeline: {}' AS BLOB), ?)`, ms(used)); err != nil {
		t.Fatal(err)
	}
	db.write.Close()
	if v := rawSchemaVersion(t, path); v != 4 {
		t.Fatalf("sample file is at version %d, want 4", v)
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("opening a version 4 file: %v", err)
	}
	defer db.Close()
	if v, err := db.SchemaVersion(ctx); err != nil || v != LatestSchemaVersion() {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, LatestSchemaVersion())
	}
	if got, err := db.Blobs.Get(ctx, []string{"abc"}); err != nil || string(got["abc"]) != "pipeline: {}" {
		t.Errorf("GetBlobs on the migrated file = %q, %v", got, err)
	}
	if _, _, err := db.Schemas.Schema(ctx, "Pipelines"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Schema on the migrated file: %v, want ErrNotFound", err)
	}
	fetched := used.Add(time.Hour)
	if err := db.Schemas.PutSchema(ctx, "Pipelines", []byte(`{}`), fetched); err != nil {
		t.Fatalf("PutSchema on the migrated file: %v", err)
	}
	if s, at, err := db.Schemas.Schema(ctx, "Pipelines"); err != nil || string(s) != "{}" || !at.Equal(fetched) {
		t.Errorf("Schema after PutSchema = %q, %v, %v", s, at, err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 0)`,
		LatestSchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(ctx, path); err == nil {
		db.Close()
		t.Fatalf("Open of a file from a newer build succeeded")
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Audit.Append(ctx, AuditEntry{Actor: "app", Action: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit_log SET actor = 'mallory'`, `DELETE FROM audit_log`} {
		if _, err := db.write.ExecContext(ctx, q); err == nil {
			t.Errorf("%s succeeded on the audit log", q)
		}
	}
	if es, err := db.Audit.List(ctx, AuditFilter{}); err != nil || len(es) != 1 || es[0].Actor != "app" {
		t.Errorf("audit log after tampering = %+v, %v", es, err)
	}
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	src, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		tb.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		tb.Fatal(err)
	}
}

// rawSchemaVersion reads the schema version of the file at path without
// migrating it.
func rawSchemaVersion(tb testing.TB, path string) int {
	tb.Helper()
	w, err := openWriter(path, defaultConfig())
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Close()
	var v int
	if err := w.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestOpenVersion5File checks that version 6 carries the pipelines applied
// before other kinds of entities existed into the entities table, so the
// first apply after the upgrade does not re-create or delete them, and
// that operations enqueued before it are pipeline operations.
func TestOpenVersion5File(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v5.db")
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db := &DB{cfg: defaultConfig()}
	var err error
	if db.write, err = openWriter(path, db.cfg); err != nil {
		t.Fatal(err)
	}
	if err := db.migrate(ctx, 5); err != nil {
		t.Fatalf("migrating to version 5: %v", err)
	}
	for _, q := range []string{
		`INSERT INTO pipeline_states (service, pipeline, path, content_hash, last_rendered_commit, harness_state, updated_at)
			VALUES ('payment-service', 'payment_service_cd', 'pipelines/payment-service-cd.yaml', 'h1', 'c0ffee', 'in_sync', ?1)`,
		`INSERT INTO pipeline_states (service, pipeline, harness_state, updated_at)
			VALUES ('rendered-only', 'rendered_only_cd', 'pending', ?1)`,
		`INSERT INTO operations (dedupe_key, pipeline, kind, yaml, created_at, updated_at)
			VALUES ('payment_service_cd|update|p1|h1', 'payment_service_cd', 'update', CAST('pipeline: {}' AS BLOB), ?1, ?1)`,
	} {
		if _, err := db.write.ExecContext(ctx, q, ms(at)); err != nil {
			t.Fatal(err)
		}
	}
	db.write.Close()

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("opening a version 5 file: %v", err)
	}
	defer db.Close()
	ents, err := db.Entities.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []EntityState{{Path: "pipelines/payment-service-cd.yaml", Kind: "pipeline", Identifier: "payment_service_cd",
		Service: "payment-service", ContentHash: "h1", LastRenderedCommit: "c0ffee", UpdatedAt: at}}
	if diff := cmp.Diff(want, ents); diff != "" {
		t.Errorf("entities after migration (-want +got):\n%s", diff)
	}
	ops, err := db.Operations.List(ctx, OperationFilter{Identifier: "payment_service_cd"})
	if err != nil || len(ops) != 1 || ops[0].Entity != "pipeline" || ops[0].After != nil {
		t.Errorf("the operation enqueued before: %+v, %v; want one pipeline operation without dependencies", ops, err)
	}
}
