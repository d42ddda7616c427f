package githubtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	mrand "math/rand"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// hookID is the id of the App's single webhook.
const hookID = 1

// Delivery is one webhook event and every attempt to deliver it.
type Delivery struct {
	// GUID is the X-GitHub-Delivery header, shared by every attempt.
	GUID           string
	Event          string // X-GitHub-Event
	Action         string // the payload's "action", if any
	Repo           string // "owner/name"; "" for installation events
	InstallationID int64
	Payload        []byte
	// Pending is true while the delivery waits in the manual queue.
	Pending  bool
	Attempts []Attempt
}

// Delivered reports whether some attempt got a 2xx answer.
func (d Delivery) Delivered() bool {
	for _, a := range d.Attempts {
		if a.StatusCode >= 200 && a.StatusCode < 300 {
			return true
		}
	}
	return false
}

// Attempt is one try at delivering a webhook.
type Attempt struct {
	// ID is the hook delivery id of the App webhook deliveries API.
	ID         int64
	Time       time.Time
	Redelivery bool
	// StatusCode is the receiver's HTTP status, 0 when none came back.
	StatusCode int
	// Status is GitHub's summary: "OK", "Invalid HTTP Response: 500",
	// "timed out" or "failed to connect to host".
	Status   string
	Duration time.Duration
	Error    string
}

type delivery struct {
	GUID           string
	Event          string
	Action         string
	Repo           string
	RepoID         int64
	InstallationID int64
	Payload        []byte
	Created        time.Time
	attempts       []*Attempt
}

func (d *delivery) snapshot(pending bool) Delivery {
	out := Delivery{
		GUID: d.GUID, Event: d.Event, Action: d.Action, Repo: d.Repo, InstallationID: d.InstallationID,
		Payload: append([]byte(nil), d.Payload...), Pending: pending,
	}
	for _, a := range d.attempts {
		out.Attempts = append(out.Attempts, *a)
	}
	return out
}

type queued struct {
	d          *delivery
	redelivery bool
}

// hookSender records and sends webhooks.
type hookSender struct {
	s      *Server
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc

	mu          sync.Mutex
	idle        *sync.Cond
	url         string
	mode        DeliveryMode
	all         []*delivery
	byGUID      map[string]*delivery
	attempts    map[int64]*delivery
	nextAttempt int64
	pending     []queued            // manual mode
	queues      map[string][]queued // immediate mode, per repository
	running     map[string]bool
	inflight    int
	closed      bool
	dropRate    float64
	rng         *mrand.Rand
}

func newHookSender(s *Server) *hookSender {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hookSender{
		s:        s,
		client:   &http.Client{Timeout: s.opts.DeliveryTimeout},
		ctx:      ctx,
		cancel:   cancel,
		url:      s.opts.WebhookURL,
		mode:     s.opts.Delivery,
		byGUID:   map[string]*delivery{},
		attempts: map[int64]*delivery{},
		queues:   map[string][]queued{},
		running:  map[string]bool{},
		rng:      mrand.New(mrand.NewSource(1)),
	}
	h.idle = sync.NewCond(&h.mu)
	return h
}

func (h *hookSender) subscribed(event string) bool {
	if event == "installation" || event == "installation_repositories" || len(h.s.opts.Events) == 0 {
		return true
	}
	for _, e := range h.s.opts.Events {
		if e == event {
			return true
		}
	}
	return false
}

// enqueue records a new delivery and, in immediate mode, starts sending it.
func (h *hookSender) enqueue(d *delivery) {
	if !h.subscribed(d.Event) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.all = append(h.all, d)
	h.byGUID[d.GUID] = d
	h.schedule(queued{d: d})
}

// schedule queues a send; h.mu must be held.
func (h *hookSender) schedule(q queued) {
	if h.mode == DeliverManually {
		h.pending = append(h.pending, q)
		return
	}
	if h.closed {
		return
	}
	h.queues[q.d.Repo] = append(h.queues[q.d.Repo], q)
	h.inflight++
	if !h.running[q.d.Repo] {
		h.running[q.d.Repo] = true
		go h.drain(q.d.Repo)
	}
}

// drain sends one repository's queue in order.
func (h *hookSender) drain(key string) {
	for {
		h.mu.Lock()
		q := h.queues[key]
		if len(q) == 0 {
			h.running[key] = false
			h.mu.Unlock()
			return
		}
		next := q[0]
		h.queues[key] = q[1:]
		h.mu.Unlock()

		h.send(next.d, next.redelivery)

		h.mu.Lock()
		h.inflight--
		if h.inflight == 0 {
			h.idle.Broadcast()
		}
		h.mu.Unlock()
	}
}

func sign(secret string, body []byte, newHash func() hash.Hash) string {
	m := hmac.New(newHash, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// send makes one delivery attempt and records it.
func (h *hookSender) send(d *delivery, redelivery bool) Attempt {
	h.mu.Lock()
	h.nextAttempt++
	a := &Attempt{ID: 90000000 + h.nextAttempt, Time: h.s.opts.Now().UTC(), Redelivery: redelivery}
	url := h.url
	drop := h.dropRate > 0 && h.rng.Float64() < h.dropRate
	h.mu.Unlock()

	secret := h.s.opts.WebhookSecret
	hdr := http.Header{}
	hdr.Set("Accept", "*/*")
	hdr.Set("Content-Type", "application/json")
	hdr.Set("User-Agent", "GitHub-Hookshot/7e8d3c1")
	hdr.Set("X-GitHub-Delivery", d.GUID)
	hdr.Set("X-GitHub-Event", d.Event)
	hdr.Set("X-GitHub-Hook-ID", strconv.Itoa(hookID))
	hdr.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(h.s.opts.AppID, 10))
	hdr.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	if secret != "" {
		hdr.Set("X-Hub-Signature", "sha1="+sign(secret, d.Payload, sha1.New))
		hdr.Set("X-Hub-Signature-256", "sha256="+sign(secret, d.Payload, sha256.New))
	}

	start := time.Now()
	switch {
	case url == "":
		a.Status, a.Error = "failed to connect to host", "no webhook URL configured"
	case drop:
		a.Status, a.Error = "failed to connect to host", "delivery dropped by fault injection"
	default:
		req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, url, bytes.NewReader(d.Payload))
		if err != nil {
			a.Status, a.Error = "failed to connect to host", err.Error()
			break
		}
		req.Header = hdr.Clone()
		resp, err := h.client.Do(req)
		if err != nil {
			a.Status, a.Error = "failed to connect to host", err.Error()
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				a.Status = "timed out"
			}
			break
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		a.StatusCode = resp.StatusCode
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			a.Status = "OK"
		} else {
			a.Status = fmt.Sprintf("Invalid HTTP Response: %d", resp.StatusCode)
		}
	}
	a.Duration = time.Since(start)
	h.s.logf("githubtest: delivery %s %s %s -> %s", d.GUID, d.Event, d.Action, a.Status)

	h.mu.Lock()
	d.attempts = append(d.attempts, a)
	h.attempts[a.ID] = d
	h.mu.Unlock()
	return *a
}

func (h *hookSender) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.waitIdle()
}

func (h *hookSender) waitIdle() {
	h.mu.Lock()
	for h.inflight > 0 {
		h.idle.Wait()
	}
	h.mu.Unlock()
}

// newGUID returns a random UUID, the form of X-GitHub-Delivery.
func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// SetDeliveryMode switches between immediate and manual delivery. Deliveries
// already queued for manual delivery stay queued.
func (s *Server) SetDeliveryMode(mode DeliveryMode) {
	s.hooks.mu.Lock()
	s.hooks.mode = mode
	s.hooks.mu.Unlock()
}

// WaitIdle blocks until every delivery started in immediate mode has been
// attempted. Deliveries waiting in the manual queue do not count.
func (s *Server) WaitIdle() { s.hooks.waitIdle() }

// Deliveries returns every webhook recorded so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	pending := map[*delivery]bool{}
	for _, q := range h.pending {
		pending[q.d] = true
	}
	out := make([]Delivery, 0, len(h.all))
	for _, d := range h.all {
		out = append(out, d.snapshot(pending[d]))
	}
	return out
}

// Pending returns the deliveries waiting in the manual queue, in the order
// DeliverAll would send them.
func (s *Server) Pending() []Delivery {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Delivery, 0, len(h.pending))
	for _, q := range h.pending {
		out = append(out, q.d.snapshot(true))
	}
	return out
}

// Delivery returns the delivery with the given GUID.
func (s *Server) Delivery(guid string) (Delivery, bool) {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.byGUID[guid]
	if !ok {
		return Delivery{}, false
	}
	pending := false
	for _, q := range h.pending {
		pending = pending || q.d == d
	}
	return d.snapshot(pending), true
}

// Deliver sends one queued delivery now and waits for the answer.
func (s *Server) Deliver(guid string) (Attempt, error) {
	h := s.hooks
	h.mu.Lock()
	idx := -1
	for i, q := range h.pending {
		if q.d.GUID == guid {
			idx = i
			break
		}
	}
	if idx < 0 {
		h.mu.Unlock()
		return Attempt{}, fmt.Errorf("no pending delivery %s", guid)
	}
	q := h.pending[idx]
	h.pending = append(h.pending[:idx:idx], h.pending[idx+1:]...)
	h.mu.Unlock()
	return h.send(q.d, q.redelivery), nil
}

// DeliverAll sends every queued delivery, in queue order, one at a time,
// and returns the attempts. Deliveries queued while it runs (because the
// receiver acted on an earlier one) are sent too.
func (s *Server) DeliverAll() []Attempt {
	h := s.hooks
	var out []Attempt
	for {
		h.mu.Lock()
		if len(h.pending) == 0 {
			h.mu.Unlock()
			return out
		}
		q := h.pending[0]
		h.pending = h.pending[1:]
		h.mu.Unlock()
		out = append(out, h.send(q.d, q.redelivery))
	}
}

// ShufflePending reorders the manual queue randomly (seeded), to test
// out-of-order delivery.
func (s *Server) ShufflePending(seed int64) {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	rng := mrand.New(mrand.NewSource(seed))
	rng.Shuffle(len(h.pending), func(i, j int) { h.pending[i], h.pending[j] = h.pending[j], h.pending[i] })
}

// DropPending removes a queued delivery without sending it, as if GitHub
// had lost it.
func (s *Server) DropPending(guid string) bool {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, q := range h.pending {
		if q.d.GUID == guid {
			h.pending = append(h.pending[:i:i], h.pending[i+1:]...)
			return true
		}
	}
	return false
}

// Redeliver sends a recorded delivery again now, with the same GUID, and
// waits for the answer. A redelivered event is not removed from the manual
// queue if it is also waiting there.
func (s *Server) Redeliver(guid string) (Attempt, error) {
	h := s.hooks
	h.mu.Lock()
	d, ok := h.byGUID[guid]
	h.mu.Unlock()
	if !ok {
		return Attempt{}, fmt.Errorf("no delivery %s", guid)
	}
	return h.send(d, true), nil
}

// hookDeliveryJSON is one item of the App webhook deliveries list.
func (s *Server) hookDeliveryJSON(d *delivery, a *Attempt) map[string]any {
	var action any
	if d.Action != "" {
		action = d.Action
	}
	j := map[string]any{
		"id":              a.ID,
		"guid":            d.GUID,
		"delivered_at":    isoTime(a.Time),
		"redelivery":      a.Redelivery,
		"duration":        a.Duration.Seconds(),
		"status":          a.Status,
		"status_code":     a.StatusCode,
		"event":           d.Event,
		"action":          action,
		"installation_id": d.InstallationID,
		"repository_id":   nullableID(d.RepoID),
		"throttled_at":    nil,
	}
	return j
}

// attemptsNewestFirst lists every attempt for the deliveries API.
func (h *hookSender) attemptsNewestFirst() []*Attempt {
	var out []*Attempt
	for _, d := range h.all {
		out = append(out, d.attempts...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out
}

func (s *Server) handleListHookDeliveries(c *call) {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	per, err := strconv.Atoi(c.r.URL.Query().Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	if per > 100 {
		per = 100
	}
	cursor, _ := strconv.ParseInt(c.r.URL.Query().Get("cursor"), 10, 64)
	var page []*Attempt
	more := false
	for _, a := range h.attemptsNewestFirst() {
		if cursor != 0 && a.ID >= cursor {
			continue
		}
		if len(page) == per {
			more = true
			break
		}
		page = append(page, a)
	}
	if more {
		next := page[len(page)-1].ID
		c.w.header.Set("Link", fmt.Sprintf(`<%sapp/hook/deliveries?cursor=%d&per_page=%d>; rel="next"`, s.URL, next, per))
	}
	list := []map[string]any{}
	for _, a := range page {
		list = append(list, s.hookDeliveryJSON(h.attempts[a.ID], a))
	}
	c.writeJSON(http.StatusOK, list)
}

func (s *Server) findAttempt(c *call) (*delivery, *Attempt) {
	id, ok := c.pathInt("delivery_id")
	if !ok {
		return nil, nil
	}
	d, found := s.hooks.attempts[id]
	if !found {
		c.fail(http.StatusNotFound, "Not Found")
		return nil, nil
	}
	for _, a := range d.attempts {
		if a.ID == id {
			return d, a
		}
	}
	c.fail(http.StatusNotFound, "Not Found")
	return nil, nil
}

// handleRedeliverHookDelivery answers 202 and redelivers in the background
// (or queues the redelivery in manual mode).
func (s *Server) handleRedeliverHookDelivery(c *call) {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	d, _ := s.findAttempt(c)
	if d == nil {
		return
	}
	h.schedule(queued{d: d, redelivery: true})
	c.writeJSON(http.StatusAccepted, map[string]any{})
}

// nullableID is null for 0, as GitHub reports the repository of a delivery
// that concerns none (installation events).
func nullableID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
