package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"strconv"
	"time"
)

// The key/value state: small facts the loop remembers between runs. Every
// key the app uses is here, with its type, so nothing else builds keys by
// hand. What the janitor prunes is PruneHistory's list below; every other
// entry is kept for good (each is one row).
const (
	// keyLastGoodCatalog holds the last valid catalog's commit and size, so
	// a catalog that suddenly empties is refused rather than deleting
	// every pipeline.
	keyLastGoodCatalog = "catalog.last_good"
	// keyMergedCatalog is the config commit whose rendering the pipelines
	// repo's default branch holds (from the last merged bot PR); the bot
	// PR lists catalog fields changed since.
	keyMergedCatalog = "catalog.merged_commit"
	// keyProposedInputs is the settings-and-templates hash of the last
	// propose run, so a push that changes them proposes again.
	keyProposedInputs = "propose.inputs"
	// keyLastPropose holds what the last propose run did.
	keyLastPropose = "propose.last"
	// keyLastReconcile holds the last reconcile report.
	keyLastReconcile = "reconcile.last"
	// keyHarnessOrg and keyHarnessProject are the settings' Harness scope,
	// kept for deletes whose file is gone.
	keyHarnessOrg     = "harness.org"
	keyHarnessProject = "harness.project"
	// keyConnector holds the cross-org GitHub connector as apply last
	// enqueued it.
	keyConnector = "harness.connector"
	// keyRedeliveryChecked is when the last redelivery sweep started.
	keyRedeliveryChecked = "redelivery.checked"

	// prefixCheckRun + work key + ":" + check name + ":" + repo + ":" + SHA
	// holds the id of a check run a piece of work created, so that a
	// retried run updates it rather than leaving one in progress.
	prefixCheckRun = "check:"
	// prefixHarnessChecks + pipelines commit holds that commit's harness
	// check runs (JSON), for the reporter.
	prefixHarnessChecks = "harness-checks:"
	// prefixUnreadable + pipelines commit lists the files of that commit
	// that are not pipelines the app can apply.
	prefixUnreadable = "unreadable:"
	// prefixHarnessNote + pipelines commit holds what a person must fix
	// for that commit's changes to work in Harness, beyond its operations
	// (the connector the app could not manage).
	prefixHarnessNote = "harness-note:"
)

// The values of the key/value state are defined in package record.
type (
	LastGoodCatalog = record.LastGoodCatalog
	DriftReport     = record.DriftReport
	ProposeReport   = record.ProposeReport
	ConnectorState  = record.ConnectorState
	CheckRunRef     = record.CheckRunRef
	RepoRef         = record.RepoRef
)

// LastGoodCatalog returns the last valid catalog; the zero value when none
// was seen yet.
func (st *State) LastGoodCatalog(ctx context.Context) (LastGoodCatalog, error) {
	var v LastGoodCatalog
	_, err := st.getJSON(ctx, keyLastGoodCatalog, &v)
	return v, err
}

// SetLastGoodCatalog records the last valid catalog.
func (st *State) SetLastGoodCatalog(ctx context.Context, v LastGoodCatalog) error {
	return st.setJSON(ctx, keyLastGoodCatalog, v)
}

// MergedCatalog is the config commit rendered in the pipelines repo's
// default branch; "" when unknown.
func (st *State) MergedCatalog(ctx context.Context) (string, error) {
	return st.getString(ctx, keyMergedCatalog)
}

// SetMergedCatalog records the config commit of the last merged bot PR.
func (st *State) SetMergedCatalog(ctx context.Context, commit string) error {
	return st.Set(ctx, keyMergedCatalog, commit)
}

// ProposedInputs is the settings-and-templates hash of the last propose
// run; "" when none ran.
func (st *State) ProposedInputs(ctx context.Context) (string, error) {
	return st.getString(ctx, keyProposedInputs)
}

// SetProposedInputs records the inputs hash of a propose run.
func (st *State) SetProposedInputs(ctx context.Context, hash string) error {
	return st.Set(ctx, keyProposedInputs, hash)
}

// LastPropose returns what the last propose run did; false when none was
// recorded.
func (st *State) LastPropose(ctx context.Context) (ProposeReport, bool, error) {
	var rep ProposeReport
	ok, err := st.getJSON(ctx, keyLastPropose, &rep)
	return rep, ok, err
}

// SetLastPropose records what a propose run did.
func (st *State) SetLastPropose(ctx context.Context, rep ProposeReport) error {
	return st.setJSON(ctx, keyLastPropose, rep)
}

// LastDrift returns the last reconcile report; false when none ran.
func (st *State) LastDrift(ctx context.Context) (DriftReport, bool, error) {
	var rep DriftReport
	ok, err := st.getJSON(ctx, keyLastReconcile, &rep)
	return rep, ok, err
}

// SetLastDrift records a reconcile report.
func (st *State) SetLastDrift(ctx context.Context, rep DriftReport) error {
	return st.setJSON(ctx, keyLastReconcile, rep)
}

// HarnessScope returns the Harness org and project of the last valid
// settings; "" when none was seen.
func (st *State) HarnessScope(ctx context.Context) (org, project string, err error) {
	if org, err = st.getString(ctx, keyHarnessOrg); err != nil {
		return "", "", err
	}
	project, err = st.getString(ctx, keyHarnessProject)
	return org, project, err
}

// SetHarnessScope records the settings' Harness org and project.
func (st *State) SetHarnessScope(ctx context.Context, org, project string) error {
	if err := st.Set(ctx, keyHarnessOrg, org); err != nil {
		return err
	}
	return st.Set(ctx, keyHarnessProject, project)
}

// Connector returns the cross-org GitHub connector as apply last enqueued
// it; the zero value when it never did.
func (st *State) Connector(ctx context.Context) (ConnectorState, error) {
	var v ConnectorState
	_, err := st.getJSON(ctx, keyConnector, &v)
	return v, err
}

// SetConnector records the connector apply enqueued.
func (st *State) SetConnector(ctx context.Context, v ConnectorState) error {
	return st.setJSON(ctx, keyConnector, v)
}

// RedeliveryChecked is when the last redelivery sweep started; zero when
// none did.
func (st *State) RedeliveryChecked(ctx context.Context) (time.Time, error) {
	v, err := st.getString(ctx, keyRedeliveryChecked)
	if err != nil || v == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, nil // an unreadable value: sweep the whole window again
	}
	return t, nil
}

// SetRedeliveryChecked records when a redelivery sweep started.
func (st *State) SetRedeliveryChecked(ctx context.Context, t time.Time) error {
	return st.Set(ctx, keyRedeliveryChecked, t.UTC().Format(time.RFC3339Nano))
}

// CheckRunKey names the check run one piece of work creates on a commit.
type CheckRunKey struct {
	Work, Name, Repo, SHA string
}

func (k CheckRunKey) key() string {
	return prefixCheckRun + k.Work + ":" + k.Name + ":" + k.Repo + ":" + k.SHA
}

// CheckRunID returns the id of the check run k; 0 when none was created.
func (st *State) CheckRunID(ctx context.Context, k CheckRunKey) (int64, error) {
	v, err := st.getString(ctx, k.key())
	if err != nil || v == "" {
		return 0, err
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, nil // unreadable: a new check run replaces it
	}
	return id, nil
}

// SetCheckRunID records the id of the check run k.
func (st *State) SetCheckRunID(ctx context.Context, k CheckRunKey, id int64) error {
	return st.Set(ctx, k.key(), strconv.FormatInt(id, 10))
}

// HarnessChecks returns the harness check runs of a pipelines commit.
func (st *State) HarnessChecks(ctx context.Context, commit string) ([]CheckRunRef, error) {
	var refs []CheckRunRef
	if _, err := st.getJSON(ctx, prefixHarnessChecks+commit, &refs); err != nil {
		return nil, err
	}
	return refs, nil
}

// SetHarnessChecks records the harness check runs of a pipelines commit.
func (st *State) SetHarnessChecks(ctx context.Context, commit string, refs []CheckRunRef) error {
	return st.setJSON(ctx, prefixHarnessChecks+commit, refs)
}

// Unreadable returns the files of a pipelines commit that are not
// pipelines the app can apply, one per line; "" when there are none.
func (st *State) Unreadable(ctx context.Context, commit string) (string, error) {
	return st.getString(ctx, prefixUnreadable+commit)
}

// SetUnreadable records the unreadable files of a pipelines commit.
func (st *State) SetUnreadable(ctx context.Context, commit, list string) error {
	return st.Set(ctx, prefixUnreadable+commit, list)
}

// HarnessNote returns what a person must fix for a pipelines commit's
// changes to work in Harness beyond its operations; "" when nothing.
func (st *State) HarnessNote(ctx context.Context, commit string) (string, error) {
	return st.getString(ctx, prefixHarnessNote+commit)
}

// SetHarnessNote records a pipelines commit's note ("" clears it).
func (st *State) SetHarnessNote(ctx context.Context, commit, note string) error {
	return st.Set(ctx, prefixHarnessNote+commit, note)
}

// PruneHistory is the janitor's round: it deletes what only looks back and
// is older than cutoff, and returns how many rows of each kind it deleted:
//
//   - processed deliveries (done or failed);
//   - the ids of check runs the app created (CheckRunID);
//   - the harness check runs, unreadable-file lists and notes of
//     pipelines commits, except for commits whose operations are still
//     open;
//   - cached blobs nothing has read since cutoff;
//   - finished operations (done, failed or superseded), drift repairs and
//     admin syncs included: the audit log keeps what they did;
//   - drift events found before cutoff;
//   - the redelivery counts of GUIDs last redelivered before cutoff
//     (GitHub keeps a delivery for a few days only).
//
// One kind failing does not stop the others. Open deliveries, open
// operations, entity states, the bot PRs, the audit log and the other
// state entries above are never pruned.
func (db *DB) PruneHistory(ctx context.Context, cutoff time.Time) (map[string]int64, error) {
	pruned := map[string]int64{}
	var errs []error
	for _, p := range []struct {
		what string
		run  func() (int64, error)
	}{
		{"deliveries", func() (int64, error) { return db.Deliveries.Prune(ctx, cutoff) }},
		{"check run ids", func() (int64, error) { return db.State.prune(ctx, prefixCheckRun, cutoff) }},
		{"harness check runs", func() (int64, error) { return db.State.pruneCommit(ctx, prefixHarnessChecks, cutoff) }},
		{"unreadable file lists", func() (int64, error) { return db.State.pruneCommit(ctx, prefixUnreadable, cutoff) }},
		{"harness notes", func() (int64, error) { return db.State.pruneCommit(ctx, prefixHarnessNote, cutoff) }},
		{"cached blobs", func() (int64, error) { return db.Blobs.Prune(ctx, cutoff) }},
		{"finished operations", func() (int64, error) {
			// A superseded operation points at the one that replaced it
			// (a foreign key): both finished before the cutoff, and go
			// in the same statement.
			return db.prune(ctx, "finished operations", `DELETE FROM operations
				WHERE state IN ('done', 'failed', 'superseded') AND done_at < ?`, ms(cutoff))
		}},
		{"drift events", func() (int64, error) {
			return db.prune(ctx, "drift events", `DELETE FROM drift_events WHERE at < ?`, ms(cutoff))
		}},
		{"redelivery counts", func() (int64, error) {
			return db.prune(ctx, "redelivery counts", `DELETE FROM redeliveries WHERE last_at < ?`, ms(cutoff))
		}},
	} {
		n, err := p.run()
		if err != nil {
			errs = append(errs, fmt.Errorf("pruning old %s: %w", p.what, err))
			continue
		}
		if n > 0 {
			pruned[p.what] = n
		}
	}
	return pruned, errors.Join(errs...)
}

// getString reads a state entry; "" when absent.
func (st *State) getString(ctx context.Context, key string) (string, error) {
	v, err := st.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return v, err
}

// getJSON decodes a state entry into v; false when absent or unreadable
// (a value written by an older version that no longer decodes is treated
// as absent rather than stopping the loop).
func (st *State) getJSON(ctx context.Context, key string, v any) (bool, error) {
	s, err := st.getString(ctx, key)
	if err != nil || s == "" {
		return false, err
	}
	if json.Unmarshal([]byte(s), v) != nil {
		return false, nil
	}
	return true, nil
}

func (st *State) setJSON(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding state %q: %w", key, err)
	}
	return st.Set(ctx, key, string(b))
}
