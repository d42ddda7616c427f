// Package outbox runs the durable Harness operations that the apply and
// reconcile steps write to the store.
//
// An operation is in the store before it is tried, is retried with bounded
// exponential back-off on transient errors, and is marked done only after it
// took effect. A Runner may be killed at any instant: an operation it was
// running stays leased until the lease expires, then another Runner (or the
// same one after a restart) runs it again. That is why the Executor must be
// idempotent; the store guarantees the rest: operations of one pipeline never
// run concurrently and run in the order they were enqueued, and a runner
// that lost its lease cannot move an operation's state.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/backoff"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// storeTimeout bounds one store write made for an operation's outcome.
const storeTimeout = 30 * time.Second

// Log keys of an operation's lines. The attempt is the operation's, not
// the HTTP attempt the Harness client logs as "attempt".
const (
	logKeyOperationID = "operation_id"
	logKeyEntity      = "entity"
	logKeyAttempt     = "operation_attempt"
)

// Executor makes one operation take effect in Harness.
//
// Execute must be idempotent: the Runner calls it again for the same
// operation after a crash or a lost lease, possibly after the first call
// took effect. A create that finds the pipeline updates it, an update that
// finds none creates it, a delete of a missing pipeline succeeds. result is
// a short word kept on the operation ("created", "updated", "unchanged",
// "deleted", "absent"). Execute is called concurrently for operations of
// different pipelines, never for two operations of the same pipeline.
type Executor interface {
	Execute(ctx context.Context, op store.Operation) (result string, err error)
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, op store.Operation) (string, error)

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, op store.Operation) (string, error) {
	return f(ctx, op)
}

// Backoff bounds the retries of one operation.
type Backoff struct {
	// Base is the cap of the first wait; each further attempt doubles it.
	Base time.Duration
	// Max caps every wait, a server's Retry-After included.
	Max time.Duration
	// MaxAttempts is how many times an operation is tried before it is
	// failed for good, the first attempt included.
	MaxAttempts int
}

// Delay returns the wait after the given failed attempt (1-based), with
// full jitter: rnd (in [0, 1)) times min(Max, Base*2^(attempt-1)).
func (b Backoff) Delay(attempt int, rnd float64) time.Duration {
	return backoff.Exponential{Base: b.Base, Max: b.Max}.Delay(attempt, rnd)
}

// Outcome is what became of one attempt at an operation.
type Outcome string

// Outcomes of an attempt.
const (
	OutcomeDone      Outcome = "done"       // took effect; the operation is done
	OutcomeRetry     Outcome = "retry"      // transient error; tried again from NotBefore (or superseded by a newer operation)
	OutcomeFailed    Outcome = "failed"     // permanent error or out of attempts; the operation is failed
	OutcomeReleased  Outcome = "released"   // interrupted by shutdown; pending again, the attempt not counted
	OutcomeLeaseLost Outcome = "lease_lost" // another worker holds the operation now; its state was left alone
	// OutcomeUnrecorded means the store could not record the outcome; the
	// lease will expire and the operation run again.
	OutcomeUnrecorded Outcome = "unrecorded"
)

// Result reports one attempt at an operation, for metrics and check runs.
type Result struct {
	Op        store.Operation // the operation as claimed (Attempts counts this attempt)
	Outcome   Outcome
	Result    string        // the executor's result, when it succeeded
	Err       error         // the executor's error, or the store's for OutcomeLeaseLost
	NotBefore time.Time     // when OutcomeRetry may run again
	Duration  time.Duration // time spent in Execute
}

// Options configures a Runner. Zero fields take the values of
// DefaultOptions.
type Options struct {
	// Worker names this runner in leases; it must differ between processes.
	// Default: host-pid-random.
	Worker string
	// Concurrency bounds how many operations run at once.
	Concurrency int
	// Lease is how long a claim lasts without renewal. The runner renews
	// it every Lease/3 while Execute runs, so a short lease only bounds how
	// long a crashed runner's operations wait before they run again; it
	// does not bound how long one call may take.
	Lease time.Duration
	// CallTimeout bounds one Execute call.
	CallTimeout time.Duration
	// PollInterval is the longest the runner sleeps before looking for
	// ready operations when nothing woke it (Notify, a finished operation,
	// the end of a back-off). It is what picks up work enqueued by another
	// process.
	PollInterval time.Duration
	// ShutdownGrace is how long operations in flight may go on after Run's
	// context ends; then their calls are cancelled and they are released.
	ShutdownGrace time.Duration
	Backoff       Backoff
	// Classify says whether an executor error is worth retrying, and how long
	// the server asked to wait (0 when it did not say). The app passes
	// harness.IsRetryable and harness.RetryAfter. Default: every error is
	// retryable, with no Retry-After.
	Classify func(err error) (retryable bool, retryAfter time.Duration)
	// Rand returns a number in [0, 1) for jitter. It must be safe for
	// concurrent use. Default: math/rand/v2.Float64.
	Rand func() float64
	// Now is the clock for back-off deadlines. Default: the store's clock.
	Now func() time.Time
	// OnResult, when set, is called after each attempt's state is stored. It
	// is called from several goroutines at once.
	OnResult func(ctx context.Context, r Result)
}

// DefaultOptions returns the defaults: 4 at once, 30s leases renewed every
// 10s, 2m per call, a 5s poll, 10s of shutdown grace, and back-off from 1s
// doubling to 5m over 10 attempts (about 17 minutes in all before an
// operation fails, long enough to ride out a short Harness outage).
func DefaultOptions() Options {
	return Options{
		Concurrency:   4,
		Lease:         30 * time.Second,
		CallTimeout:   2 * time.Minute,
		PollInterval:  5 * time.Second,
		ShutdownGrace: 10 * time.Second,
		Backoff:       Backoff{Base: time.Second, Max: 5 * time.Minute, MaxAttempts: 10},
		Classify:      func(error) (bool, time.Duration) { return true, 0 },
		Rand:          mathrand.Float64,
	}
}

// Runner drains the operation queue of a store.
type Runner struct {
	db     *store.DB
	exec   Executor
	opts   Options
	notify chan struct{}
	// executing counts the operations between their claim and the end of
	// their OnResult.
	executing atomic.Int64
}

// New returns a Runner executing db's operations with exec.
func New(db *store.DB, exec Executor, opts Options) *Runner {
	def := DefaultOptions()
	if opts.Worker == "" {
		opts.Worker = defaultWorker()
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = def.Concurrency
	}
	if opts.Lease <= 0 {
		opts.Lease = def.Lease
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = def.CallTimeout
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = def.PollInterval
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = def.ShutdownGrace
	}
	if opts.Backoff.Base <= 0 {
		opts.Backoff.Base = def.Backoff.Base
	}
	if opts.Backoff.Max <= 0 {
		opts.Backoff.Max = def.Backoff.Max
	}
	if opts.Backoff.MaxAttempts <= 0 {
		opts.Backoff.MaxAttempts = def.Backoff.MaxAttempts
	}
	if opts.Classify == nil {
		opts.Classify = def.Classify
	}
	if opts.Rand == nil {
		opts.Rand = def.Rand
	}
	if opts.Now == nil {
		opts.Now = db.Now
	}
	return &Runner{db: db, exec: exec, opts: opts, notify: make(chan struct{}, 1)}
}

func defaultWorker() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Worker returns the name this runner claims operations under.
func (r *Runner) Worker() string { return r.opts.Worker }

// Executing returns how many claimed operations this runner has not
// finished with: their attempt, or the OnResult that follows it once the
// store says the operation is done, is still running.
func (r *Runner) Executing() int { return int(r.executing.Load()) }

// Notify wakes the runner to look for ready operations now, e.g. right
// after Operations.Enqueue. It never blocks.
func (r *Runner) Notify() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Run claims and executes operations, at most Concurrency at once, until
// ctx ends. Then it claims nothing more and lets the operations in flight
// finish for up to ShutdownGrace; those still running are cancelled and
// released, ready for the next start. Run returns nil after that. Store
// errors are logged and retried at the poll interval.
func (r *Runner) Run(ctx context.Context) error {
	log := zerolog.Ctx(ctx)
	// Calls outlive ctx by ShutdownGrace; abort ends them.
	callBase, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()

	var wg sync.WaitGroup
	finished := make(chan struct{}, r.opts.Concurrency)
	inFlight := 0
	timer := time.NewTimer(0)
	defer timer.Stop()

	for ctx.Err() == nil {
		wait := r.opts.PollInterval
		if free := r.opts.Concurrency - inFlight; free > 0 {
			ops, err := r.db.Operations.Claim(ctx, r.opts.Worker, free, r.opts.Lease)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error().Err(err).Msg("claiming operations")
			case len(ops) == free:
				wait = 0 // there may be more ready; claim again when a slot frees
			default:
				wait = r.untilNextReady(ctx)
			}
			for _, op := range ops {
				inFlight++
				wg.Go(func() {
					r.execute(ctx, callBase, op)
					// Keep the slot busy while work is ready, without a
					// round trip through the loop.
					for ctx.Err() == nil {
						next, err := r.db.Operations.Claim(ctx, r.opts.Worker, 1, r.opts.Lease)
						if err != nil || len(next) == 0 {
							break
						}
						r.execute(ctx, callBase, next[0])
					}
					finished <- struct{}{}
				})
			}
		}
		if wait == 0 {
			// Every slot is busy: a finished operation wakes the loop.
			wait = r.opts.PollInterval
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-r.notify:
		case <-finished:
			inFlight--
		case <-timer.C:
		}
		timer.Stop()
		for drained := false; !drained; {
			select {
			case <-finished:
				inFlight--
			default:
				drained = true
			}
		}
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	grace := time.NewTimer(r.opts.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		log.Warn().Int("in_flight", inFlight).Msg("shutdown grace over, releasing operations in flight")
		abort()
		<-done
	}
	return nil
}

// untilNextReady returns how long to sleep before the next pending
// operation's back-off or running operation's lease ends, at most
// PollInterval. Operations that are ready but were not claimed wait behind
// a running operation of their pipeline; its end wakes the runner (or the
// poll, when another process runs it).
func (r *Runner) untilNextReady(ctx context.Context) time.Duration {
	next, err := r.db.Operations.NextReady(ctx)
	if err != nil || next.IsZero() {
		return r.opts.PollInterval
	}
	d := next.Sub(r.opts.Now())
	if d <= 0 || d > r.opts.PollInterval {
		return r.opts.PollInterval
	}
	return d
}

// Drain runs ready operations, Concurrency at a time, until none is ready,
// and returns. Operations waiting for their back-off are left pending. It
// is meant for tests and one-shot commands; if ctx ends, the calls in
// flight are cancelled and their operations released.
func (r *Runner) Drain(ctx context.Context) error {
	for ctx.Err() == nil {
		ops, err := r.db.Operations.Claim(ctx, r.opts.Worker, r.opts.Concurrency, r.opts.Lease)
		if err != nil {
			return fmt.Errorf("draining operations: %w", err)
		}
		if len(ops) == 0 {
			return nil
		}
		var wg sync.WaitGroup
		for _, op := range ops {
			wg.Go(func() { r.execute(ctx, ctx, op) })
		}
		wg.Wait()
	}
	return ctx.Err()
}

// execute makes one attempt at op and stores its outcome. callBase is the
// context calls derive from; when it is cancelled (shutdown) an interrupted
// operation is released rather than retried.
func (r *Runner) execute(ctx, callBase context.Context, op store.Operation) {
	log := zerolog.Ctx(ctx).With().Int64(logKeyOperationID, op.ID).Str(logKeyEntity, op.EntityKey()).
		Int(logKeyAttempt, op.Attempts).Logger()
	ctx = log.WithContext(ctx)
	res := Result{Op: op}
	r.executing.Add(1)
	defer r.executing.Add(-1)
	defer func() {
		if r.opts.OnResult != nil {
			r.opts.OnResult(ctx, res)
		}
	}()

	// Store updates must land even when ctx has ended (shutdown).
	bg := context.WithoutCancel(ctx)

	if op.Attempts > r.opts.Backoff.MaxAttempts {
		// The previous attempts never reported back: the process died
		// during each. Do not try an operation that may be what kills it.
		msg := fmt.Sprintf("out of attempts: %d attempts were interrupted", op.Attempts-1)
		res.Outcome, res.Err = OutcomeFailed, errors.New(msg)
		if err := withTimeout(bg, func(c context.Context) error { return r.db.Operations.Fail(c, op, msg) }); err != nil {
			res.Outcome, res.Err = r.storeFailed(ctx, err)
		}
		log.Error().Msg("operation failed: " + msg)
		return
	}

	// The call logs with the operation's fields.
	callCtx, cancelCall := context.WithTimeout(log.WithContext(callBase), r.opts.CallTimeout)
	defer cancelCall()
	lost := make(chan struct{})
	stopRenew := r.renew(bg, op, cancelCall, lost)

	start := time.Now()
	result, err := r.call(callCtx, op)
	res.Duration = time.Since(start)
	stopRenew()

	select {
	case <-lost:
		res.Outcome, res.Err = OutcomeLeaseLost, fmt.Errorf("operation %d: %w", op.ID, store.ErrLeaseLost)
		log.Warn().Msg("lease lost while running; another worker has the operation")
		return
	default:
	}

	switch {
	case err == nil:
		res.Outcome, res.Result = OutcomeDone, result
		if err := withTimeout(bg, func(c context.Context) error { return r.db.Operations.Complete(c, op, result) }); err != nil {
			res.Outcome, res.Err = r.storeFailed(ctx, err)
			return
		}
		log.Info().Str("result", result).Int64("took_ms", res.Duration.Milliseconds()).Msg("operation done")

	case callBase.Err() != nil:
		res.Outcome, res.Err = OutcomeReleased, err
		if err := withTimeout(bg, func(c context.Context) error { return r.db.Operations.Release(c, op) }); err != nil {
			res.Outcome, res.Err = r.storeFailed(ctx, err)
			return
		}
		log.Info().Msg("operation interrupted by shutdown, released")

	default:
		r.failed(ctx, bg, op, err, &res)
	}
}

// failed records a failed attempt at op: retried later with back-off (a
// wait the server asked for wins), or failed for good when the error is
// permanent or the attempts are used up.
func (r *Runner) failed(ctx, bg context.Context, op store.Operation, err error, res *Result) {
	log := zerolog.Ctx(ctx)
	res.Err = err
	retryable, retryAfter := r.opts.Classify(err)
	if !retryable || op.Attempts >= r.opts.Backoff.MaxAttempts {
		msg := err.Error()
		if retryable {
			msg = fmt.Sprintf("giving up after %d attempts: %v", op.Attempts, err)
		}
		res.Outcome = OutcomeFailed
		if err := withTimeout(bg, func(c context.Context) error { return r.db.Operations.Fail(c, op, msg) }); err != nil {
			res.Outcome, res.Err = r.storeFailed(ctx, err)
			return
		}
		log.Error().Err(err).Bool("retryable", retryable).Msg("operation failed")
		return
	}
	delay := r.opts.Backoff.Delay(op.Attempts, r.opts.Rand())
	if retryAfter > 0 {
		delay = min(retryAfter, r.opts.Backoff.Max)
	}
	res.Outcome, res.NotBefore = OutcomeRetry, r.opts.Now().Add(delay)
	errMsg := err.Error()
	if err := withTimeout(bg, func(c context.Context) error { return r.db.Operations.Retry(c, op, errMsg, res.NotBefore) }); err != nil {
		res.Outcome, res.Err = r.storeFailed(ctx, err)
		return
	}
	log.Warn().Err(err).Int64("retry_in_ms", delay.Milliseconds()).Msg("operation will be retried")
}

// withTimeout runs a store write with its own deadline.
func withTimeout(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return f(ctx)
}

// call runs the executor, turning a panic into a permanent-looking error so
// that one bad operation cannot take the runner down.
func (r *Runner) call(ctx context.Context, op store.Operation) (result string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("executing operation %d: panic: %v", op.ID, p)
		}
	}()
	return r.exec.Execute(ctx, op)
}

// storeFailed classifies an error from storing an outcome.
func (r *Runner) storeFailed(ctx context.Context, err error) (Outcome, error) {
	if errors.Is(err, store.ErrLeaseLost) {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("operation ran after its lease was lost; state left to the new holder")
		return OutcomeLeaseLost, err
	}
	zerolog.Ctx(ctx).Error().Err(err).Msg("storing operation outcome; it will run again when its lease expires")
	return OutcomeUnrecorded, err
}

// renew extends op's lease every Lease/3 until the returned stop is called.
// If the lease is lost it closes lost and cancels the call.
func (r *Runner) renew(ctx context.Context, op store.Operation, cancelCall context.CancelFunc, lost chan struct{}) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			err := r.db.Operations.Extend(ctx, op, r.opts.Lease)
			if errors.Is(err, store.ErrLeaseLost) {
				close(lost)
				cancelCall()
				return
			}
			if err != nil {
				zerolog.Ctx(ctx).Warn().Err(err).Int64(logKeyOperationID, op.ID).Msg("renewing lease")
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}
