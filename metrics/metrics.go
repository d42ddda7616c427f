// Package metrics holds the app's Prometheus measurements: what the
// workers, the webhook endpoint and the API clients count and time, and
// the queue gauges read from the store at scrape time.
package metrics

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/outbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

const metricPrefix = "pipeline_orchestrator_"

// Metrics are the app's Prometheus measurements. Create one with New and
// pass it to the app; its GitHubMiddleware and HarnessObserver instrument
// the API clients.
type Metrics struct {
	queueOnce   sync.Once
	reg         *prometheus.Registry
	webhooks    *prometheus.CounterVec
	work        *prometheus.HistogramVec
	github      *prometheus.CounterVec
	githubTime  *prometheus.HistogramVec
	harness     *prometheus.CounterVec
	harnessTime *prometheus.HistogramVec
	operations  *prometheus.CounterVec
	botPRs      *prometheus.CounterVec
	drifted     *prometheus.GaugeVec
	driftFound  *prometheus.CounterVec
	repaired    *prometheus.CounterVec
	heldDeletes prometheus.Counter
	invalid     prometheus.Counter
}

// New registers the app's metrics (and the Go and process collectors) in
// a new registry when reg is nil.
func New(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &Metrics{
		reg: reg,
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "webhooks_total",
			Help: "Webhook deliveries received, by event and outcome (recorded, duplicate, ignored, rejected, error).",
		}, []string{"event", "outcome"}),
		work: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricPrefix + "work_duration_seconds",
			Help:    "Time to process one batch of deliveries, by kind of work (preview, propose, apply, reconcile, botpr) and result.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"kind", "result"}),
		github: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "github_requests_total",
			Help: "GitHub API requests, by endpoint and HTTP status.",
		}, []string{"endpoint", "status"}),
		githubTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricPrefix + "github_request_duration_seconds",
			Help:    "GitHub API request latency, by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"endpoint"}),
		harness: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "harness_requests_total",
			Help: "Harness API calls, by operation and result.",
		}, []string{"operation", "result"}),
		harnessTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricPrefix + "harness_request_duration_seconds",
			Help:    "Harness API call latency, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"operation"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "operation_attempts_total",
			Help: "Attempts at outbox operations, by kind and outcome (done, retry, failed, released, lease_lost, unrecorded).",
		}, []string{"kind", "outcome"}),
		botPRs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "bot_prs_total",
			Help: "Bot pull requests opened, updated and closed.",
		}, []string{"action"}),
		drifted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricPrefix + "drift_entities",
			Help: "Entities that differed between Harness and Git at the last reconcile, by kind of drift (missing, different, extra).",
		}, []string{"kind"}),
		driftFound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "drift_found_total",
			Help: "Entities reconcile found different in Harness from Git, by entity kind and drift (missing, different, extra, unmanaged). Unlike drift_entities, it survives the repair.",
		}, []string{"entity", "drift"}),
		repaired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "drift_repaired_total",
			Help: "Drift repairs done in Harness, by entity kind.",
		}, []string{"entity"}),
		heldDeletes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricPrefix + "held_deletes_total",
			Help: "Deletes held for the mass-delete label.",
		}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricPrefix + "invalid_catalogs_total",
			Help: "Catalog versions found invalid (previews and proposals).",
		}),
	}
	reg.MustRegister(m.webhooks, m.work, m.github, m.githubTime, m.harness, m.harnessTime, m.operations, m.botPRs,
		m.drifted, m.driftFound, m.repaired, m.heldDeletes, m.invalid)
	m.initSeries()
	return m
}

// initSeries creates the labelled series that are known in advance, so
// that a dashboard or an alert sees zeros rather than no series before
// the first event.
func (m *Metrics) initSeries() {
	for _, a := range []string{"opened", "updated", "closed"} {
		m.botPRs.WithLabelValues(a)
	}
	for _, d := range []string{"missing", "different", "extra"} {
		m.drifted.WithLabelValues(d)
		for _, e := range entityKinds {
			m.driftFound.WithLabelValues(e, d)
		}
	}
	for _, e := range entityKinds {
		m.repaired.WithLabelValues(e)
	}
}

// Handler serves the metrics in Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Webhook counts a webhook delivery by event and outcome.
func (m *Metrics) Webhook(event, outcome string) {
	m.webhooks.WithLabelValues(event, outcome).Inc()
}

// ObserveRun times one run of a kind of work: ok, rejected (its input was
// invalid or a safety rule stopped it) or error.
func (m *Metrics) ObserveRun(kind work.Kind, outcome work.Outcome, err error, d time.Duration) {
	result := "ok"
	switch {
	case err != nil:
		result = "error"
	case outcome.Rejected():
		result = "rejected"
	}
	m.work.WithLabelValues(string(kind), result).Observe(d.Seconds())
}

// Operation counts one attempt at an outbox operation.
func (m *Metrics) Operation(r outbox.Result) {
	m.operations.WithLabelValues(string(r.Op.Kind), string(r.Outcome)).Inc()
}

// BotPR counts the bot PR opened, updated or closed.
func (m *Metrics) BotPR(action string) { m.botPRs.WithLabelValues(action).Inc() }

// CatalogInvalid counts a catalog version found invalid.
func (m *Metrics) CatalogInvalid() { m.invalid.Inc() }

// Drift records what the last reconcile found.
func (m *Metrics) Drift(r store.DriftReport) {
	m.drifted.WithLabelValues("missing").Set(float64(len(r.Missing)))
	m.drifted.WithLabelValues("different").Set(float64(len(r.Different)))
	m.drifted.WithLabelValues("extra").Set(float64(len(r.Extra)))
}

// entityKinds are the kinds of Harness entities the app manages.
var entityKinds = []string{"connector", "environment", "infrastructure", "service", "pipeline", "trigger"}

// DriftFound counts one entity reconcile found drifted.
func (m *Metrics) DriftFound(entity, drift string) {
	if entity == "" {
		entity = "pipeline"
	}
	m.driftFound.WithLabelValues(entity, drift).Inc()
}

// DriftRepaired counts one drift repair done.
func (m *Metrics) DriftRepaired(entity string) {
	if entity == "" {
		entity = "pipeline"
	}
	m.repaired.WithLabelValues(entity).Inc()
}

// HeldDeletes counts deletes held for the mass-delete label.
func (m *Metrics) HeldDeletes(n int) { m.heldDeletes.Add(float64(n)) }

// HarnessObserver is the harness client's Observe hook.
func (m *Metrics) HarnessObserver(op, result string, d time.Duration) {
	m.harness.WithLabelValues(op, result).Inc()
	m.harnessTime.WithLabelValues(op).Observe(d.Seconds())
}

// GitHubMiddleware counts GitHub API requests by endpoint and status; pass
// it to githubapp.WithClientMiddleware.
func (m *Metrics) GitHubMiddleware() githubapp.ClientMiddleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			start := time.Now()
			resp, err := next.RoundTrip(req)
			endpoint := req.Method + " " + endpointOf(req.URL.Path)
			status := "error"
			if err == nil {
				status = strconv.Itoa(resp.StatusCode)
			}
			m.github.WithLabelValues(endpoint, status).Inc()
			m.githubTime.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
			return resp, err
		})
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var (
	reposPath  = regexp.MustCompile(`^(?:/api/v3)?/repos/[^/]+/[^/]+`)
	shaSegment = regexp.MustCompile(`/[0-9a-f]{40}\b`)
	numSegment = regexp.MustCompile(`/[0-9]+(/|$)`)
	refPath    = regexp.MustCompile(`/git/(refs?|matching-refs)/.*$`)
	contents   = regexp.MustCompile(`/contents/.*$`)
)

// endpointOf turns a request path into a low-cardinality endpoint label:
// /repos/o/r/git/trees/<sha> → /repos/{repo}/git/trees/{sha}.
func endpointOf(p string) string {
	p = reposPath.ReplaceAllString(p, "/repos/{repo}")
	p = refPath.ReplaceAllString(p, "/git/$1/{ref}")
	p = contents.ReplaceAllString(p, "/contents/{path}")
	p = shaSegment.ReplaceAllString(p, "/{sha}")
	for numSegment.MatchString(p) {
		p = numSegment.ReplaceAllString(p, "/{n}$1")
	}
	return p
}

// queueCollector reports the outbox and delivery queues at scrape time.
type queueCollector struct {
	db                                        *store.DB
	now                                       func() time.Time
	ops, oldest, deliveries, deliveriesOldest *prometheus.Desc
}

// RegisterQueue adds the queue gauges, read from db at scrape time; only
// the first call registers them.
func (m *Metrics) RegisterQueue(db *store.DB, now func() time.Time) {
	m.queueOnce.Do(func() { m.mustRegisterQueue(db, now) })
}

func (m *Metrics) mustRegisterQueue(db *store.DB, now func() time.Time) {
	m.reg.MustRegister(&queueCollector{
		db: db, now: now,
		ops:        prometheus.NewDesc(metricPrefix+"queue_operations", "Outbox operations by state.", []string{"state"}, nil),
		oldest:     prometheus.NewDesc(metricPrefix+"queue_oldest_pending_seconds", "Age of the oldest pending outbox operation (0 when none).", nil, nil),
		deliveries: prometheus.NewDesc(metricPrefix+"deliveries", "Recorded webhook deliveries by processing state.", []string{"state"}, nil),
		deliveriesOldest: prometheus.NewDesc(metricPrefix+"deliveries_oldest_pending_seconds",
			"Age of the oldest delivery waiting for a worker (0 when none).", nil, nil),
	})
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.ops
	ch <- c.oldest
	ch <- c.deliveries
	ch <- c.deliveriesOldest
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s, err := c.db.Operations.Stats(ctx); err == nil {
		for state, n := range map[string]int{"pending": s.Pending, "running": s.Running, "failed": s.Failed,
			"done": s.Done, "held": s.Held, "superseded": s.Superseded} {
			ch <- prometheus.MustNewConstMetric(c.ops, prometheus.GaugeValue, float64(n), state)
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, ageSeconds(c.now(), s.OldestPending))
	}
	if s, err := c.db.Deliveries.Stats(ctx); err == nil {
		for state, n := range map[string]int{"pending": s.Pending, "running": s.Running, "done": s.Done, "failed": s.Failed} {
			ch <- prometheus.MustNewConstMetric(c.deliveries, prometheus.GaugeValue, float64(n), state)
		}
		ch <- prometheus.MustNewConstMetric(c.deliveriesOldest, prometheus.GaugeValue, ageSeconds(c.now(), s.OldestPending))
	}
}

func ageSeconds(now, t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return now.Sub(t).Seconds()
}
