// Package loop runs the steps of the level-triggered loop: preview,
// propose, apply, reconcile, and the admin sync. Each step gathers a
// snapshot (package snapshot, the store, Harness), hands it to a pure
// planner (package planner), and acts on the plan: commits and PRs,
// check runs (package checkrun, with the text of package present), and
// durable operations that the outbox runs against Harness (Execute).
//
// Events are hints: every step reads the current heads and converges, so
// duplicate, late or reordered deliveries end in the same state.
package loop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/checkrun"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/metrics"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/snapshot"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// Log keys the loop adds beside go-githubapp's.
const (
	LogKeyService = "service"
	LogKeySHA     = "github_sha"
)

// auditActor names the loop in the audit log.
const auditActor = "pipeline-orchestrator"

// Harness is what the loop needs from Harness in one org and project.
// *harness.Client (scoped with In) implements it.
type Harness interface {
	Apply(ctx context.Context, ref harness.Ref, yaml []byte) (harness.Action, error)
	Remove(ctx context.Context, ref harness.Ref) (bool, error)
	Get(ctx context.Context, ref harness.Ref) (*harness.Entity, error)
	List(ctx context.Context, kind harness.Kind, parent string) ([]harness.Summary, error)
}

// HarnessScoper returns the Harness client for an org and project.
type HarnessScoper func(org, project string) Harness

// Deps are the loop's collaborators; all are required except Connector.
type Deps struct {
	GitHub  gh.GitHub
	Harness HarnessScoper
	Store   *store.DB
	Reader  *snapshot.Reader
	Checks  *checkrun.Reporter
	Metrics *metrics.Metrics
	// Notify wakes the outbox runner after operations were enqueued.
	Notify func()
	// Now is the clock.
	Now func() time.Time
	// Links build links to GitHub's web pages.
	Links present.Links
	// Connector makes the loop manage the cross-org GitHub connector
	// (optional: nil manages none).
	Connector *ConnectorSource
}

// Loop runs the steps. It is safe for concurrent use; the workers
// serialise the steps of one repository.
type Loop struct {
	Deps
	runStatus // the last error of a run, for the status page
	repos     snapshot.Repos
	schemas   schemaSource // Harness's schemas for renderings (schema.go)
	// connector manages the connector Deps.Connector describes
	// (connector.go).
	connector *connectorKeeper
	preview   *previewer // plans the PRs Preview reports on (preview.go)
}

// New returns a Loop.
func New(d Deps) *Loop {
	l := &Loop{Deps: d, runStatus: runStatus{now: d.Now}, repos: d.Reader.Repos()}
	l.connector = &connectorKeeper{src: d.Connector, owner: l.repos.Config.Owner, state: d.Store.State}
	l.preview = &previewer{github: d.GitHub, reader: d.Reader, repos: l.repos, links: d.Links, schemas: l.renderSchemas}
	return l
}

// runStatus keeps the last error of the loop's runs for the status page.
// It is safe for concurrent use.
type runStatus struct {
	now func() time.Time

	mu        sync.Mutex
	lastError string
}

// SetLastError records the last error of a run for the status page; nil
// clears it.
func (s *runStatus) SetLastError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.lastError = ""
		return
	}
	s.lastError = fmt.Sprintf("%s: %v", s.now().UTC().Format(time.RFC3339), err)
}

// LastError is the last error of a run, or "".
func (s *runStatus) LastError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastError
}

// sourceOf names the inputs of a rendering in pipeline headers.
func sourceOf(repos snapshot.Repos, catalogCommit, templatesCommit string) render.Source {
	return render.Source{
		CatalogRepo: repos.Config.String(), CatalogPath: repos.CatalogPath,
		CatalogCommit: catalogCommit, TemplatesCommit: templatesCommit,
	}
}

// audit appends to the audit log; failing to is logged, not fatal: the
// action it records has already happened.
func (l *Loop) audit(ctx context.Context, action, subject, detail, commit string) {
	if err := l.Store.Audit.Append(ctx, store.AuditEntry{Actor: auditActor, Action: action, Subject: subject, Detail: detail, Commit: commit}); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("writing audit log")
	}
}

// isNotFound reports whether err is a GitHub not-found.
func isNotFound(err error) bool { return errors.Is(err, gh.ErrNotFound) }
