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
		rows, err := db.read.QueryContext(ctx, `EXPLAIN QUERY PLAN `+fmt.Sprintf(claimableSQL, ready), 0, 8)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		t.Logf("claim where %s:\n%s", ready, text)
		if strings.Contains(text, "SCAN o\n") || strings.Contains(text, "SCAN p") || strings.Contains(text, "SCAN operations") ||
			!strings.Contains(text, "operations_ready") || strings.Contains(text, "TEMP B-TREE") {
			t.Errorf("claim where %s plans a scan or a sort:\n%s", ready, text)
		}
	}
}
