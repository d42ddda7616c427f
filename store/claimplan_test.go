package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestClaimReadsIndexesOnly pins the plan SQLite picks for a claim: the
// candidates and every condition come from indexes, never from a scan of
// the operations table, whose rows carry each entity's YAML. A scan made a
// first apply of 1,500 services take hours (BenchmarkDrainBootstrap
// measures the drain).
func TestClaimReadsIndexesOnly(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Operations.Enqueue(ctx, bootstrapOps(50)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	for _, ready := range []string{`o.state = 'running' AND o.lease_until <= ?1`, `o.state = 'pending' AND o.not_before <= ?1`} {
		text := queryPlan(t, db, fmt.Sprintf(claimableSQL, ready), 0, 8)
		t.Logf("claim where %s:\n%s", ready, text)
		if strings.Contains(text, "SCAN o\n") || strings.Contains(text, "SCAN p") || strings.Contains(text, "SCAN operations") ||
			!strings.Contains(text, "operations_ready") || strings.Contains(text, "TEMP B-TREE") {
			t.Errorf("claim where %s plans a scan or a sort:\n%s", ready, text)
		}
	}
}

// TestAuditListReadsThroughAnIndex pins the plans of the audit log's
// filters: the log is never pruned, so each filter the admin API offers
// must search an index, not scan the table, and none may sort.
func TestAuditListReadsThroughAnIndex(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 200 {
		if err := db.Audit.Append(ctx, AuditEntry{Actor: "admin", Action: fmt.Sprintf("action.%d", i%5),
			Subject: fmt.Sprintf("company/repo#%d", i%20), Commit: fmt.Sprintf("%040d", i%50)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.write.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]AuditFilter{
		"subject":            {Subject: "company/repo#3"},
		"action":             {Action: "action.2"},
		"commit":             {Commit: fmt.Sprintf("%040d", 7)},
		"subject and commit": {Subject: "company/repo#7", Commit: fmt.Sprintf("%040d", 7)},
	} {
		query, args := auditQuery(f, 100)
		text := queryPlan(t, db, query, args...)
		if !strings.Contains(text, "SEARCH audit_log USING INDEX") || strings.Contains(text, "TEMP B-TREE") {
			t.Errorf("listing by %s plans a scan or a sort:\n%s", name, text)
		}
		got, err := db.Audit.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Errorf("listing by %s found nothing", name)
		}
		for i, e := range got {
			if f.Subject != "" && e.Subject != f.Subject || f.Action != "" && e.Action != f.Action || f.Commit != "" && e.Commit != f.Commit ||
				i > 0 && e.ID >= got[i-1].ID {
				t.Errorf("listing by %s: entry %+v does not match or is out of order", name, e)
			}
		}
	}
}

// queryPlan is SQLite's plan for query, one step a line.
func queryPlan(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.read.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}
