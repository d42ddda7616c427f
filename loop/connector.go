package loop

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// ConnectorSource is what the loop needs to manage the cross-org GitHub
// connector through which Harness reads the manifests the config
// repository's CI generates: the GitHub App the connector authenticates
// as, and where to find the App's installation on the config repository's
// owner.
type ConnectorSource struct {
	// AppID is the GitHub App's id.
	AppID int64
	// WebURL is GitHub's web base ("https://github.com").
	WebURL string
	// Installations finds the App's installation that covers the
	// repository of the manifests.
	Installations gh.InstallationFinder
}

// ConnectorProblem is why the loop cannot manage the connector, and the
// fix, in the words of gh.UnreachableError.
type ConnectorProblem struct {
	// Repo is the repository the connector reads the manifests from.
	Repo    gh.Repo
	Problem string
	Fix     string
}

// ConnectorProblem returns why the loop could not build the connector at
// its last try; false when it could, or never tried.
func (l *Loop) ConnectorProblem() (ConnectorProblem, bool) { return l.connector.Problem() }

// connectorStore is where apply records the connector it last enqueued;
// *store.State is one.
type connectorStore interface {
	Connector(ctx context.Context) (record.ConnectorState, error)
}

// connectorKeeper manages the app's cross-org GitHub connector for the
// loop: it finds the App's installation on the manifests' repository,
// builds the connector Harness must hold, and remembers why it could not.
// It is safe for concurrent use.
type connectorKeeper struct {
	src   *ConnectorSource // nil: the loop manages no connector
	owner string           // the config repository's owner
	state connectorStore

	mu      sync.Mutex
	problem *ConnectorProblem
}

// Problem returns why the keeper could not build the connector at its
// last try; false when it could, or never tried.
func (k *connectorKeeper) Problem() (ConnectorProblem, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.problem == nil {
		return ConnectorProblem{}, false
	}
	return *k.problem, true
}

func (k *connectorKeeper) setProblem(ctx context.Context, p *ConnectorProblem) {
	k.mu.Lock()
	was := k.problem
	k.problem = p
	k.mu.Unlock()
	switch {
	case p != nil && (was == nil || *was != *p):
		zerolog.Ctx(ctx).Error().Str("github_repo", p.Repo.String()).Str("fix", p.Fix).Msg(p.Problem)
	case p == nil && was != nil:
		zerolog.Ctx(ctx).Info().Str("github_repo", was.Repo.String()).Msg("the GitHub connector can be managed again")
	}
}

// desired discovers the App's installation on the repository the
// settings' manifests are in and builds the connector Harness must hold.
// It returns nil when the loop manages no connector (no ConnectorSource,
// or the settings name a connector of another scope), and nil with a
// ConnectorProblem recorded when the App is not installed there: the rest
// of the run goes on without the connector. An error is GitHub failing to
// answer.
func (k *connectorKeeper) desired(ctx context.Context, s catalog.Settings) (*planner.DesiredConnector, error) {
	src := k.src
	if src == nil || planner.ManagedConnector(s) == "" {
		k.setProblem(ctx, nil)
		return nil, nil
	}
	repo := gh.Repo{Owner: k.owner, Name: s.Manifests.Repo}
	inst, err := src.Installations.RepoInstallation(ctx, repo)
	var unreachable *gh.UnreachableError
	switch {
	case errors.As(err, &unreachable):
		k.setProblem(ctx, &ConnectorProblem{Repo: repo,
			Problem: fmt.Sprintf("Harness cannot read the manifests in %s through the connector %s: %s", repo, s.Manifests.Connector, unreachable.Error()),
			Fix:     unreachable.Fix() + " The app then creates the connector."})
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("finding the GitHub App's installation for the connector: %w", err)
	}
	d, err := planner.NewDesiredConnector(s, render.ConnectorApp{WebURL: src.WebURL, Owner: repo.Owner, AppID: src.AppID, InstallationID: inst})
	if err != nil {
		return nil, err
	}
	k.setProblem(ctx, nil)
	return &d, nil
}

// note is what the harness check run of a commit says a person must fix
// about the connector; "" when nothing.
func (k *connectorKeeper) note() string {
	p, ok := k.Problem()
	if !ok {
		return ""
	}
	return p.Problem + ". " + p.Fix
}

// input is the connector apply wants Harness to hold (nil when unknown)
// and the one apply last enqueued.
func (k *connectorKeeper) input(ctx context.Context, s catalog.Settings) (*planner.DesiredConnector, record.ConnectorState, error) {
	d, err := k.desired(ctx, s)
	if err != nil {
		return nil, record.ConnectorState{}, err
	}
	applied, err := k.state.Connector(ctx)
	return d, applied, err
}

// want adds the connector the settings call for, when it is known, to
// what reconcile compares Harness with.
func (k *connectorKeeper) want(ctx context.Context, s catalog.Settings, wanted map[planner.Scope]map[planner.EntityID]planner.Wanted) error {
	d, err := k.desired(ctx, s)
	if err != nil || d == nil {
		return err
	}
	sc, w := d.Wanted()
	if wanted[sc] == nil {
		wanted[sc] = map[planner.EntityID]planner.Wanted{}
	}
	wanted[sc][d.ID()] = w
	return nil
}

// readConnector reads the connector wanted in one scope, if any, into in:
// reconcile compares it like any entity, but Harness is asked for it by
// its identifier, never listed, so that no other connector of the project
// is ever compared, let alone deleted.
func readConnector(ctx context.Context, h Harness, wanted map[planner.EntityID]planner.Wanted, in planner.InHarness) error {
	for id := range wanted {
		if id.Kind != render.KindConnector {
			continue
		}
		got, err := h.Get(ctx, harness.Ref{Kind: harness.KindConnector, Identifier: id.Identifier})
		switch {
		case errors.Is(err, harness.ErrNotFound):
		case err != nil:
			return err
		default:
			in.Tags[id], in.YAML[id] = got.Tags, got.YAML
		}
	}
	return nil
}
