package store_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

func record(tb testing.TB, db *store.DB, ds ...store.Delivery) {
	tb.Helper()
	for _, d := range ds {
		if _, err := db.Deliveries.Record(context.Background(), d); err != nil {
			tb.Fatalf("RecordDelivery(%s): %v", d.ID, err)
		}
	}
}

func delivery(id, repo, key string) store.Delivery {
	return store.Delivery{ID: id, Event: "push", Repo: repo, Key: key, Installation: 1}
}

// after is a back-off that gives every delivery the same time t.
func after(t time.Time) func(store.Delivery) time.Time {
	return func(store.Delivery) time.Time { return t }
}

// ids lists the delivery IDs of ds, in order.
func ids(ds []store.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func TestRecordDeliveryIsIdempotent(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	d := store.Delivery{
		ID: "72d3162e", Event: "push", Repo: "company/platform-next", Installation: 42, Key: "propose",
		Ref: "refs/heads/main", Before: "b1", After: "a1", Data: []byte(`{"files":1}`),
	}
	tests := []struct {
		name string
		d    store.Delivery
		want bool
	}{
		{"first", d, true},
		{"redelivery", d, false},
		{"same delivery, other work", func() store.Delivery { x := d; x.Key = "apply"; return x }(), true},
		{"other delivery", func() store.Delivery { x := d; x.ID = "9a0b"; return x }(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Deliveries.Record(ctx, tt.d)
			if err != nil || got != tt.want {
				t.Errorf("RecordDelivery = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	got, err := db.Deliveries.Recent(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	first := d
	first.Seq, first.State, first.ReceivedAt, first.UpdatedAt = 1, store.DeliveryPending, c.Now(), c.Now()
	if diff := cmp.Diff(first, got[len(got)-1]); diff != "" {
		t.Errorf("recorded delivery (-want +got):\n%s", diff)
	}
	if len(got) != 3 {
		t.Errorf("RecentDeliveries returned %d deliveries, want 3", len(got))
	}
	if _, err := db.Deliveries.Record(ctx, store.Delivery{ID: "x", Event: "push", Repo: "a/b"}); err == nil {
		t.Errorf("RecordDelivery without a key succeeded")
	}
}

func TestClaimDeliveriesSerialisesEachRepo(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	record(t, db,
		delivery("a1", "org/a", "propose"),
		delivery("a2", "org/a", "apply"),
		delivery("b1", "org/b", "propose"),
	)

	claim := func(worker string) []store.Delivery {
		t.Helper()
		ds, err := db.Deliveries.Claim(ctx, worker, time.Minute)
		if err != nil {
			t.Fatalf("ClaimDeliveries(%s): %v", worker, err)
		}
		return ds
	}
	w1 := claim("w1")
	if diff := cmp.Diff([]string{"a1"}, ids(w1)); diff != "" {
		t.Fatalf("first claim (-want +got):\n%s", diff)
	}
	// org/a is in flight, so the next worker gets org/b, not a2.
	w2 := claim("w2")
	if diff := cmp.Diff([]string{"b1"}, ids(w2)); diff != "" {
		t.Fatalf("second claim (-want +got):\n%s", diff)
	}
	if got := claim("w3"); got != nil {
		t.Fatalf("third claim = %v, want nothing while both repos are in flight", ids(got))
	}
	if err := db.Deliveries.Complete(ctx, w1, "proposed"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a2"}, ids(claim("w3"))); diff != "" {
		t.Fatalf("claim after org/a finished (-want +got):\n%s", diff)
	}
}

func TestClaimDeliveriesCoalescesSameKey(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	record(t, db,
		delivery("p1", "org/a", "propose"),
		delivery("v1", "org/a", "preview:abc"),
		delivery("p2", "org/a", "propose"),
		delivery("x1", "org/b", "propose"),
		delivery("p3", "org/a", "propose"),
	)
	var got [][]string
	for {
		ds, err := db.Deliveries.Claim(ctx, "w", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ds == nil {
			break
		}
		got = append(got, ids(ds))
		if err := db.Deliveries.Complete(ctx, ds, "ok"); err != nil {
			t.Fatal(err)
		}
	}
	want := [][]string{{"p1", "p2", "p3"}, {"v1"}, {"x1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	stats, err := db.Deliveries.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(store.DeliveryStats{Done: 5}, stats); diff != "" {
		t.Errorf("DeliveryStats (-want +got):\n%s", diff)
	}
}

func TestClaimDeliveriesAfterLeaseExpiry(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	record(t, db, delivery("a1", "org/a", "apply"))

	dead, err := db.Deliveries.Claim(ctx, "dead", time.Minute)
	if err != nil || len(dead) != 1 {
		t.Fatalf("claim = %v, %v", ids(dead), err)
	}
	c.Advance(59 * time.Second)
	if got, err := db.Deliveries.Claim(ctx, "live", time.Minute); err != nil || got != nil {
		t.Fatalf("claim before the lease expired = %v, %v; want nothing", ids(got), err)
	}
	c.Advance(time.Second)
	live, err := db.Deliveries.Claim(ctx, "live", time.Minute)
	if err != nil || len(live) != 1 {
		t.Fatalf("claim after the lease expired = %v, %v; want a1", ids(live), err)
	}
	if live[0].Attempts != 2 || live[0].Worker != "live" {
		t.Errorf("reclaimed delivery: attempts %d, worker %q; want 2, live", live[0].Attempts, live[0].Worker)
	}
	// The first worker comes back late: it must not finish the new claim.
	if err := db.Deliveries.Complete(ctx, dead, "late"); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("CompleteDeliveries by the old holder: %v, want ErrLeaseLost", err)
	}
	if err := db.Deliveries.Extend(ctx, live, time.Minute); err != nil {
		t.Errorf("ExtendDeliveries by the holder: %v", err)
	}
	if err := db.Deliveries.Complete(ctx, live, "applied"); err != nil {
		t.Fatalf("CompleteDeliveries by the holder: %v", err)
	}
	got, err := db.Deliveries.Recent(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].State != store.DeliveryDone || got[0].Outcome != "applied" {
		t.Errorf("delivery is %s/%q, want done/applied", got[0].State, got[0].Outcome)
	}
}

func TestRetryDeliveries(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c, store.WithMaxDeliveryAttempts(2))
	ctx := context.Background()
	record(t, db, delivery("a1", "org/a", "apply"), delivery("b1", "org/b", "apply"))

	first, err := db.Deliveries.Claim(ctx, "w", time.Minute)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim = %v, %v", ids(first), err)
	}
	if err := db.Deliveries.Retry(ctx, first, "github: 502", after(c.Now().Add(10*time.Second))); err != nil {
		t.Fatal(err)
	}
	// a1 waits for its back-off; b1 goes first.
	next, err := db.Deliveries.Claim(ctx, "w", time.Minute)
	if err != nil || !cmp.Equal(ids(next), []string{"b1"}) {
		t.Fatalf("claim during back-off = %v, %v; want b1", ids(next), err)
	}
	if err := db.Deliveries.Release(ctx, next); err != nil {
		t.Fatal(err)
	}
	c.Advance(10 * time.Second)
	again, err := db.Deliveries.Claim(ctx, "w", time.Minute)
	if err != nil || !cmp.Equal(ids(again), []string{"a1"}) {
		t.Fatalf("claim after back-off = %v, %v; want a1", ids(again), err)
	}
	if again[0].Attempts != 2 || again[0].LastError != "github: 502" {
		t.Errorf("retried delivery: attempts %d, last error %q", again[0].Attempts, again[0].LastError)
	}
	if err := db.Deliveries.Retry(ctx, again, "github: 502 again", after(c.Now())); err != nil {
		t.Fatal(err)
	}
	stats, err := db.Deliveries.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// a1 is out of attempts; b1 was released, so its attempt did not count.
	want := store.DeliveryStats{Pending: 1, Failed: 1, OldestPending: c.Now().Add(-10 * time.Second)}
	if diff := cmp.Diff(want, stats); diff != "" {
		t.Errorf("DeliveryStats (-want +got):\n%s", diff)
	}
	b, err := db.Deliveries.Claim(ctx, "w", time.Minute)
	if err != nil || len(b) != 1 || b[0].Attempts != 1 {
		t.Fatalf("claim of the released delivery = %+v, %v; want b1 at attempt 1", b, err)
	}
}

func TestPruneDeliveries(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c)
	ctx := context.Background()
	record(t, db, delivery("old", "org/a", "apply"))
	ds, err := db.Deliveries.Claim(ctx, "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Deliveries.Complete(ctx, ds, "ok"); err != nil {
		t.Fatal(err)
	}
	c.Advance(48 * time.Hour)
	record(t, db, delivery("new", "org/a", "apply"), delivery("pending-old", "org/b", "apply"))
	n, err := db.Deliveries.Prune(ctx, c.Now().Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneDeliveries = %d, %v; want 1", n, err)
	}
}

// TestDeliveriesUnderConcurrency records from many goroutines while workers
// claim and complete: no write may fail with SQLITE_BUSY, nothing may be
// lost, and no repository may ever have two runs at once.
func TestDeliveriesUnderConcurrency(t *testing.T) {
	db := mustOpen(t, nil)
	ctx := context.Background()
	const writers, perWriter, repos = 16, 25, 5

	var (
		mu       sync.Mutex
		inFlight = map[string]string{} // repo -> worker
		handled  = map[string]int{}
		overlaps []string
	)
	recordDone := make(chan struct{})
	var workers sync.WaitGroup
	for w := range 4 {
		worker := fmt.Sprintf("w%d", w)
		workers.Go(func() {
			for {
				ds, err := db.Deliveries.Claim(ctx, worker, time.Minute)
				if err != nil {
					t.Errorf("ClaimDeliveries: %v", err)
					return
				}
				if ds == nil {
					select {
					case <-recordDone:
						// Check once more: recording may have ended after the claim.
						if ds, err = db.Deliveries.Claim(ctx, worker, time.Minute); err != nil || ds == nil {
							return
						}
					default:
						continue
					}
				}
				repo := ds[0].Repo
				mu.Lock()
				if other, busy := inFlight[repo]; busy {
					overlaps = append(overlaps, fmt.Sprintf("%s claimed by %s and %s", repo, other, worker))
				}
				inFlight[repo] = worker
				for _, d := range ds {
					handled[d.ID]++
				}
				mu.Unlock()
				runtime.Gosched() // let other workers try to claim the same repo

				mu.Lock()
				delete(inFlight, repo)
				mu.Unlock()
				if err := db.Deliveries.Complete(ctx, ds, "ok"); err != nil {
					t.Errorf("CompleteDeliveries: %v", err)
					return
				}
			}
		})
	}

	var recorders sync.WaitGroup
	for w := range writers {
		recorders.Go(func() {
			for i := range perWriter {
				d := delivery(fmt.Sprintf("d-%d-%d", w, i), fmt.Sprintf("org/r%d", i%repos), fmt.Sprintf("k%d", i%3))
				if _, err := db.Deliveries.Record(ctx, d); err != nil {
					t.Errorf("RecordDelivery: %v", err)
				}
				// A redelivery racing with the original.
				if _, err := db.Deliveries.Record(ctx, d); err != nil {
					t.Errorf("RecordDelivery (again): %v", err)
				}
			}
		})
	}
	recorders.Wait()
	close(recordDone)
	workers.Wait()

	// Whatever the workers left (recorded after their last look) is still there.
	for {
		ds, err := db.Deliveries.Claim(ctx, "sweeper", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ds == nil {
			break
		}
		for _, d := range ds {
			handled[d.ID]++
		}
		if err := db.Deliveries.Complete(ctx, ds, "ok"); err != nil {
			t.Fatal(err)
		}
	}
	if len(overlaps) > 0 {
		t.Errorf("a repository had two runs at once: %v", overlaps)
	}
	if len(handled) != writers*perWriter {
		t.Errorf("handled %d distinct deliveries, want %d", len(handled), writers*perWriter)
	}
	for id, n := range handled {
		if n != 1 {
			t.Errorf("delivery %s handled %d times", id, n)
		}
	}
}

// Concurrent calls share transactions; each still learns whether its own
// delivery was new, including when the same delivery is recorded twice at
// once, and returns only once its delivery is stored.
func TestRecordDeliveryConcurrently(t *testing.T) {
	db := mustOpen(t, nil)
	ctx := context.Background()
	const callers, perCaller = 16, 25
	var (
		mu       sync.Mutex
		inserted = map[string]int{}
		wg       sync.WaitGroup
	)
	for c := range callers {
		wg.Go(func() {
			for i := range perCaller {
				// Callers c and c^1 record the same deliveries.
				id := fmt.Sprintf("d-%d-%d", c/2, i)
				ok, err := db.Deliveries.Record(ctx, delivery(id, "org/a", "apply"))
				if err != nil {
					t.Errorf("RecordDelivery(%s): %v", id, err)
					return
				}
				got, err := db.Deliveries.Recent(ctx, callers/2*perCaller)
				if err != nil {
					t.Error(err)
					return
				}
				if !slices.Contains(ids(got), id) {
					t.Errorf("RecordDelivery(%s) returned before the delivery was stored", id)
				}
				if ok {
					mu.Lock()
					inserted[id]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(inserted) != callers/2*perCaller {
		t.Errorf("%d deliveries reported new, want %d", len(inserted), callers/2*perCaller)
	}
	for id, n := range inserted {
		if n != 1 {
			t.Errorf("%s reported new %d times", id, n)
		}
	}
	stats, err := db.Deliveries.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Pending != callers/2*perCaller {
		t.Errorf("%d deliveries stored, want %d", stats.Pending, callers/2*perCaller)
	}
}

// TestFailedDeliveriesAreRevivedAfterTheirBackOff checks that a delivery
// that used up its attempts is failed, not abandoned: once the back-off
// its last failure set has passed, Revive makes it pending again, its
// attempts still counting; one received too long ago stays failed.
func TestFailedDeliveriesAreRevivedAfterTheirBackOff(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := mustOpen(t, c, store.WithMaxDeliveryAttempts(1))
	record(t, db, delivery("old", "company/platform-next", "propose"))
	c.Advance(48 * time.Hour)
	record(t, db, delivery("recent", "company-harness/harness-pipelines", "preview:abc"))
	failing := claimAll(t, db)
	if len(failing) != 2 {
		t.Fatalf("claimed %d deliveries, want both", len(failing))
	}
	for _, d := range failing {
		if err := db.Deliveries.Retry(ctx, []store.Delivery{d}, "github: 502", after(c.Now().Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.Deliveries.Revive(ctx, c.Now().Add(-24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("Revive before the back-off = %d, %v; want 0", n, err)
	}
	c.Advance(time.Hour)
	if n, err := db.Deliveries.Revive(ctx, c.Now().Add(-24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("Revive after the back-off = %d, %v; want the recent one", n, err)
	}
	again := claimAll(t, db)
	if len(again) != 1 || again[0].ID != "recent" || again[0].Attempts != 2 {
		t.Fatalf("claimed after Revive: %+v; want the recent delivery at attempt 2", again)
	}
}

// TestPostponedDeliveriesKeepTheirAttempts checks that waiting out a rate
// limit does not spend an attempt.
func TestPostponedDeliveriesKeepTheirAttempts(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := mustOpen(t, c, store.WithMaxDeliveryAttempts(1))
	record(t, db, delivery("d", "company/platform-next", "propose"))
	for i := 0; i < 3; i++ {
		got := claimAll(t, db)
		if len(got) != 1 || got[0].Attempts != 1 {
			t.Fatalf("claim %d: %+v; want the delivery at attempt 1", i, got)
		}
		if err := db.Deliveries.Postpone(ctx, got, c.Now().Add(time.Minute), "rate limited until …"); err != nil {
			t.Fatal(err)
		}
		if early := claimAll(t, db); len(early) != 0 {
			t.Fatalf("claimed before the wait ended: %+v", early)
		}
		c.Advance(time.Minute)
	}
}

func TestRedeliveryCountsPersist(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, newClock())
	for i := 0; i < 3; i++ {
		if err := db.Deliveries.CountRedelivery(ctx, "g1"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Deliveries.Redeliveries(ctx, []string{"g1", "g2"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"g1": 3}, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// claimAll claims every ready delivery, batch after batch.
func claimAll(tb testing.TB, db *store.DB) []store.Delivery {
	tb.Helper()
	var out []store.Delivery
	for {
		batch, err := db.Deliveries.Claim(context.Background(), "w", time.Minute)
		if err != nil {
			tb.Fatal(err)
		}
		if len(batch) == 0 {
			return out
		}
		out = append(out, batch...)
	}
}

// Deliveries claimed together back off by their own attempts: one that
// has used them up fails with its long back-off, although it ran with a
// newer delivery whose back-off is short.
func TestRetryBacksEachDeliveryOffByItsOwnAttempts(t *testing.T) {
	c := newClock()
	db := mustOpen(t, c, store.WithMaxDeliveryAttempts(2))
	ctx := context.Background()
	record(t, db, delivery("old", "org/a", "propose"))
	first := claimAll(t, db)
	if err := db.Deliveries.Retry(ctx, first, "github: 502", after(c.Now())); err != nil {
		t.Fatal(err)
	}
	record(t, db, delivery("new", "org/a", "propose"))
	batch := claimAll(t, db)
	if !cmp.Equal(ids(batch), []string{"old", "new"}) {
		t.Fatalf("claimed %v, want old and new together", ids(batch))
	}
	byAttempts := func(d store.Delivery) time.Time { return c.Now().Add(time.Duration(d.Attempts) * time.Hour) }
	if err := db.Deliveries.Retry(ctx, batch, "github: 502 again", byAttempts); err != nil {
		t.Fatal(err)
	}
	recent, err := db.Deliveries.Recent(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range recent {
		got[d.ID] = fmt.Sprintf("%s from +%s", d.State, d.NotBefore.Sub(c.Now()))
	}
	want := map[string]string{"old": "failed from +2h0m0s", "new": "pending from +1h0m0s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the retry (-want +got):\n%s", diff)
	}
}
