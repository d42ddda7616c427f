package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// DeliveryState is where a delivery is in its processing.
type DeliveryState string

// Delivery states.
const (
	DeliveryPending DeliveryState = "pending" // waiting for a worker (possibly until NotBefore)
	DeliveryRunning DeliveryState = "running" // claimed by Worker until LeaseUntil
	DeliveryDone    DeliveryState = "done"    // processed; Outcome says how
	DeliveryFailed  DeliveryState = "failed"  // gave up after the maximum number of attempts
)

// Delivery is one unit of work recorded from a webhook delivery. It carries
// identity (repository, ref, head SHA, kind of work), never a delta: the
// worker re-reads current heads, which is why deliveries with the same
// repository and Key can be processed by one run.
type Delivery struct {
	// Seq is assigned by the store in arrival order; it is zero until recorded.
	Seq int64
	// ID is the X-GitHub-Delivery GUID.
	ID string
	// Event is the X-GitHub-Event name, e.g. "push" or "pull_request".
	Event  string
	Action string
	// Repo is the repository's full name, owner/name. Work on one Repo is
	// serialised.
	Repo         string
	Installation int64
	// Key names the work the delivery asks for, computed by the handler
	// (e.g. "preview:<sha>", "propose", "apply"). Pending deliveries with the
	// same Repo and Key are claimed together.
	Key        string
	Ref        string
	SHA        string
	Before     string
	After      string
	PRNumber   int
	Data       []byte // small JSON the handler wants to keep
	ReceivedAt time.Time

	// Fields below are maintained by the store.
	State      DeliveryState
	Attempts   int // claims so far, this one included
	NotBefore  time.Time
	LeaseUntil time.Time
	Worker     string
	Outcome    string
	LastError  string
	UpdatedAt  time.Time
	DoneAt     time.Time
}

const deliveryCols = `seq, delivery_id, event, action, repo, installation, work_key, ref, sha,
	before_sha, after_sha, pr_number, data, received_at, state, attempts, not_before,
	lease_until, worker, outcome, last_error, updated_at, done_at`

func scanDelivery(s rowScanner) (Delivery, error) {
	var d Delivery
	var receivedAt, notBefore, leaseUntil, updatedAt, doneAt sql.NullInt64
	err := s.Scan(&d.Seq, &d.ID, &d.Event, &d.Action, &d.Repo, &d.Installation, &d.Key, &d.Ref, &d.SHA,
		&d.Before, &d.After, &d.PRNumber, &d.Data, &receivedAt, &d.State, &d.Attempts, &notBefore,
		&leaseUntil, &d.Worker, &d.Outcome, &d.LastError, &updatedAt, &doneAt)
	if err != nil {
		return Delivery{}, err
	}
	d.ReceivedAt = fromMS(receivedAt)
	d.NotBefore = fromMS(notBefore)
	d.LeaseUntil = fromMS(leaseUntil)
	d.UpdatedAt = fromMS(updatedAt)
	d.DoneAt = fromMS(doneAt)
	return d, nil
}

func collectDeliveries(rows *sql.Rows) ([]Delivery, error) {
	defer rows.Close()
	var ds []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, rows.Err()
}

// Record stores d as pending. It is idempotent on (ID, Event, Key):
// recording a redelivery again returns inserted == false and changes
// nothing. One webhook delivery may be recorded under several Keys when it
// asks for several kinds of work. A zero ReceivedAt is set to now.
//
// It returns once d is committed. Calls made at the same time share one
// transaction (group commit): while one transaction commits, the calls
// that arrive queue up, and the next transaction writes them all, so the
// rate of durable writes is not bound by the rate of disk flushes. A call
// waits for its transaction even when ctx ends meanwhile.
func (dl *Deliveries) Record(ctx context.Context, d Delivery) (inserted bool, err error) {
	if d.ID == "" || d.Event == "" || d.Repo == "" || d.Key == "" {
		return false, fmt.Errorf("recording delivery %q: id, event, repo and key are required", d.ID)
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("recording delivery %s: %w", d.ID, err)
	}
	req := &recordRequest{d: d, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	dl.db.recording.mu.Lock()
	dl.db.recording.queue = append(dl.db.recording.queue, req)
	if !dl.db.recording.busy {
		dl.db.recording.busy = true
		req.lead <- struct{}{}
	}
	dl.db.recording.mu.Unlock()
	for {
		select {
		case <-req.done:
			if req.err != nil {
				return false, fmt.Errorf("recording delivery %s: %w", d.ID, req.err)
			}
			return req.inserted, nil
		case <-req.lead:
			// A batch must not be left without a writer: it is written
			// even if ctx ends, as the transaction of a single call was.
			dl.recordBatch(context.WithoutCancel(ctx))
		}
	}
}

// recordRequest is one Deliveries.Record call waiting for its transaction.
type recordRequest struct {
	d        Delivery
	inserted bool
	err      error
	done     chan struct{} // closed once the request's transaction ended
	lead     chan struct{} // the request's caller is to write the next batch
}

// recordQueue holds the Deliveries.Record calls waiting for a transaction.
// One caller at a time writes a batch: the one whose lead channel was
// signalled. It writes the queued requests (up to maxRecordBatch), its own
// among them, then hands the lead to the first request still queued, so no
// caller writes more than one batch.
type recordQueue struct {
	mu    sync.Mutex
	queue []*recordRequest
	busy  bool // a batch is being written, or its writer has been chosen
}

// maxRecordBatch bounds the deliveries written in one transaction.
const maxRecordBatch = 256

// recordBatch writes the queued requests in one transaction and passes the
// lead on.
func (dl *Deliveries) recordBatch(ctx context.Context) {
	q := &dl.db.recording
	q.mu.Lock()
	n := min(len(q.queue), maxRecordBatch)
	batch := q.queue[:n:n]
	q.queue = q.queue[n:]
	q.mu.Unlock()

	err := dl.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		insert, err := tx.PrepareContext(ctx, `INSERT INTO deliveries
			(delivery_id, event, action, repo, installation, work_key, ref, sha, before_sha, after_sha,
			 pr_number, data, received_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (delivery_id, event, work_key) DO NOTHING`)
		if err != nil {
			return err
		}
		defer insert.Close()
		for _, r := range batch {
			d := r.d
			received := d.ReceivedAt
			if received.IsZero() {
				received = now
			}
			res, err := insert.ExecContext(ctx, d.ID, d.Event, d.Action, d.Repo, d.Installation, d.Key, d.Ref, d.SHA,
				d.Before, d.After, d.PRNumber, d.Data, ms(received), ms(now))
			if err != nil {
				return err
			}
			rows, err := res.RowsAffected()
			if err != nil {
				return err
			}
			r.inserted = rows == 1
		}
		return nil
	})
	for _, r := range batch {
		if err != nil {
			r.inserted, r.err = false, err
		}
		close(r.done)
	}

	q.mu.Lock()
	if len(q.queue) > 0 {
		q.queue[0].lead <- struct{}{}
	} else {
		q.busy = false
	}
	q.mu.Unlock()
}

// Claim leases to worker the next piece of work: the oldest
// pending delivery (by arrival) whose repository has no delivery in flight,
// together with every other pending delivery of the same repository and Key
// (they are coalesced into one run), ordered by arrival. A delivery whose
// NotBefore is still ahead is not picked as the oldest, but is coalesced
// when a newer one of the same Repo and Key is. A running delivery whose
// lease expired (its worker died) is claimable again.
//
// It returns nil when nothing is claimable. Each claim increments Attempts.
// The caller finishes the batch with CompleteDeliveries, RetryDeliveries or
// ReleaseDeliveries, passing back the deliveries it was given.
func (dl *Deliveries) Claim(ctx context.Context, worker string, lease time.Duration) ([]Delivery, error) {
	if worker == "" || lease <= 0 {
		return nil, fmt.Errorf("claiming deliveries: worker and a positive lease are required")
	}
	var claimed []Delivery
	err := dl.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		var repo, key string
		err := tx.QueryRowContext(ctx, `SELECT d.repo, d.work_key FROM deliveries d
			WHERE ((d.state = 'pending' AND d.not_before <= ?1) OR (d.state = 'running' AND d.lease_until <= ?1))
			  AND NOT EXISTS (SELECT 1 FROM deliveries r
			                  WHERE r.repo = d.repo AND r.state = 'running' AND r.lease_until > ?1)
			ORDER BY d.seq LIMIT 1`, ms(now)).Scan(&repo, &key)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries
			SET state = 'running', worker = ?1, lease_until = ?2, attempts = attempts + 1, updated_at = ?3
			WHERE repo = ?4 AND work_key = ?5
			  AND (state = 'pending' OR (state = 'running' AND lease_until <= ?3))
			RETURNING `+deliveryCols,
			worker, ms(now.Add(lease)), ms(now), repo, key)
		if err != nil {
			return err
		}
		claimed, err = collectDeliveries(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claiming deliveries: %w", err)
	}
	sort.Slice(claimed, func(i, j int) bool { return claimed[i].Seq < claimed[j].Seq })
	return claimed, nil
}

// finish applies update to every delivery of claimed that is still
// held by the claim that returned it (same worker, same attempt, running).
// The held ones are updated even when others were lost; ErrLeaseLost is
// returned if any was not held.
func (dl *Deliveries) finish(ctx context.Context, claimed []Delivery, update string, args func(d Delivery, now time.Time) []any) error {
	var lost []int64
	err := dl.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		lost = lost[:0]
		// Prepared once: a coalesced batch can hold hundreds of deliveries,
		// and parsing the statement for each held the writer for long.
		stmt, err := tx.PrepareContext(ctx, update+` WHERE seq = ? AND worker = ? AND attempts = ? AND state = 'running'`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, d := range claimed {
			a := append(args(d, now), d.Seq, d.Worker, d.Attempts)
			res, err := stmt.ExecContext(ctx, a...)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				lost = append(lost, d.Seq)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(lost) > 0 {
		return fmt.Errorf("deliveries %v: %w", lost, ErrLeaseLost)
	}
	return nil
}

// Complete marks the claimed deliveries done with outcome (a short
// word or sentence, e.g. "proposed #12" or "no change").
func (d *Deliveries) Complete(ctx context.Context, claimed []Delivery, outcome string) error {
	err := d.finish(ctx, claimed,
		`UPDATE deliveries SET state = 'done', outcome = ?, lease_until = NULL, updated_at = ?, done_at = ?`,
		func(_ Delivery, now time.Time) []any { return []any{outcome, ms(now), ms(now)} })
	if err != nil {
		return fmt.Errorf("completing deliveries: %w", err)
	}
	return nil
}

// Retry records a failed attempt on the claimed deliveries: each goes
// back to pending, claimable from notBefore(it) on, or to failed once it
// has been attempted the maximum number of times
// (WithMaxDeliveryAttempts). A failed delivery is not abandoned: Revive
// makes it pending again from notBefore on, so the caller gives a failed
// one a long back-off. Each delivery gets its own back-off: deliveries
// claimed together can have been attempted a different number of times.
func (d *Deliveries) Retry(ctx context.Context, claimed []Delivery, errMsg string, notBefore func(Delivery) time.Time) error {
	maxAttempts := d.db.cfg.maxDeliveryAttempts
	err := d.finish(ctx, claimed,
		`UPDATE deliveries SET
			state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'pending' END,
			done_at = CASE WHEN attempts >= ? THEN ? ELSE NULL END,
			last_error = ?, not_before = ?, lease_until = NULL, updated_at = ?`,
		func(dl Delivery, now time.Time) []any {
			return []any{maxAttempts, maxAttempts, ms(now), errMsg, ms(notBefore(dl)), ms(now)}
		})
	if err != nil {
		return fmt.Errorf("retrying deliveries: %w", err)
	}
	return nil
}

// Postpone gives the claimed deliveries back to be tried from until on
// without counting the attempt, saying why (a rate limit to wait out is
// not a failed attempt).
func (d *Deliveries) Postpone(ctx context.Context, claimed []Delivery, until time.Time, why string) error {
	err := d.finish(ctx, claimed,
		`UPDATE deliveries SET state = 'pending', attempts = attempts - 1, worker = '', last_error = ?, not_before = ?,
			lease_until = NULL, updated_at = ?`,
		func(_ Delivery, now time.Time) []any { return []any{why, ms(until), ms(now)} })
	if err != nil {
		return fmt.Errorf("postponing deliveries: %w", err)
	}
	return nil
}

// Revive makes pending again the failed deliveries received since
// receivedSince whose back-off (the notBefore of their last Retry) has
// passed, and returns how many it revived. Their attempts keep counting.
func (d *Deliveries) Revive(ctx context.Context, receivedSince time.Time) (int, error) {
	var n int64
	err := d.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = 'pending', done_at = NULL, updated_at = ?1
			WHERE state = 'failed' AND not_before <= ?1 AND received_at >= ?2`, ms(now), ms(receivedSince))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reviving failed deliveries: %w", err)
	}
	return int(n), nil
}

// Redeliveries returns how often a redelivery of each GUID was requested.
func (d *Deliveries) Redeliveries(ctx context.Context, guids []string) (map[string]int, error) {
	out := map[string]int{}
	if len(guids) == 0 {
		return out, nil
	}
	args := make([]any, len(guids))
	for i, g := range guids {
		args[i] = g
	}
	rows, err := d.db.read.QueryContext(ctx, `SELECT guid, requests FROM redeliveries WHERE guid IN (`+placeholders(len(guids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading redelivery counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		var n int
		if err := rows.Scan(&g, &n); err != nil {
			return nil, fmt.Errorf("reading redelivery counts: %w", err)
		}
		out[g] = n
	}
	return out, rows.Err()
}

// CountRedelivery records one more redelivery request of guid.
func (d *Deliveries) CountRedelivery(ctx context.Context, guid string) error {
	err := d.db.writeTx(ctx, func(tx *sql.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO redeliveries (guid, requests, last_at) VALUES (?1, 1, ?2)
			ON CONFLICT (guid) DO UPDATE SET requests = requests + 1, last_at = ?2`, guid, ms(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("counting a redelivery of %s: %w", guid, err)
	}
	return nil
}

// Release gives the claimed deliveries back unprocessed, for a
// graceful shutdown: they become pending at once and the attempt is not
// counted.
func (d *Deliveries) Release(ctx context.Context, claimed []Delivery) error {
	err := d.finish(ctx, claimed,
		`UPDATE deliveries SET state = 'pending', attempts = attempts - 1, worker = '', lease_until = NULL, updated_at = ?`,
		func(_ Delivery, now time.Time) []any { return []any{ms(now)} })
	if err != nil {
		return fmt.Errorf("releasing deliveries: %w", err)
	}
	return nil
}

// Extend renews the lease on the claimed deliveries to now+lease,
// for a run that takes longer than its lease. It returns ErrLeaseLost if the
// claim is no longer held; the caller should then stop its run.
func (d *Deliveries) Extend(ctx context.Context, claimed []Delivery, lease time.Duration) error {
	err := d.finish(ctx, claimed,
		`UPDATE deliveries SET lease_until = ?, updated_at = ?`,
		func(_ Delivery, now time.Time) []any { return []any{ms(now.Add(lease)), ms(now)} })
	if err != nil {
		return fmt.Errorf("extending deliveries: %w", err)
	}
	return nil
}

// Recent returns up to limit deliveries, newest first.
func (d *Deliveries) Recent(ctx context.Context, limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := d.db.read.QueryContext(ctx, `SELECT `+deliveryCols+` FROM deliveries ORDER BY seq DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing deliveries: %w", err)
	}
	ds, err := collectDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("listing deliveries: %w", err)
	}
	return ds, nil
}

// DeliveryStats counts deliveries by state.
type DeliveryStats struct {
	Pending, Running, Done, Failed int
	// OldestPending is when the oldest pending delivery was received; zero
	// when none is pending.
	OldestPending time.Time
}

// Stats counts deliveries by state.
func (d *Deliveries) Stats(ctx context.Context) (DeliveryStats, error) {
	var s DeliveryStats
	counts, err := countByState(ctx, d.db.read, "deliveries")
	if err != nil {
		return DeliveryStats{}, fmt.Errorf("counting deliveries: %w", err)
	}
	s.Pending, s.Running, s.Done, s.Failed = counts["pending"], counts["running"], counts["done"], counts["failed"]
	var oldest sql.NullInt64
	if err := d.db.read.QueryRowContext(ctx, `SELECT min(received_at) FROM deliveries WHERE state = 'pending'`).Scan(&oldest); err != nil {
		return DeliveryStats{}, fmt.Errorf("counting deliveries: %w", err)
	}
	s.OldestPending = fromMS(oldest)
	return s, nil
}

// Prune deletes done and failed deliveries received before cutoff
// and returns how many it deleted. Pending and running ones are kept.
func (d *Deliveries) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	return d.db.prune(ctx, "deliveries", `DELETE FROM deliveries WHERE state IN ('done', 'failed') AND received_at < ?`, ms(cutoff))
}
