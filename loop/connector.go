package loop

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
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
func (l *Loop) ConnectorProblem() (ConnectorProblem, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.connectorProblem == nil {
		return ConnectorProblem{}, false
	}
	return *l.connectorProblem, true
}

func (l *Loop) setConnectorProblem(ctx context.Context, p *ConnectorProblem) {
	l.mu.Lock()
	was := l.connectorProblem
	l.connectorProblem = p
	l.mu.Unlock()
	switch {
	case p != nil && (was == nil || *was != *p):
		zerolog.Ctx(ctx).Error().Str("github_repo", p.Repo.String()).Str("fix", p.Fix).Msg(p.Problem)
	case p == nil && was != nil:
		zerolog.Ctx(ctx).Info().Str("github_repo", was.Repo.String()).Msg("the GitHub connector can be managed again")
	}
}

// desiredConnector discovers the App's installation on the repository the
// settings' manifests are in and builds the connector Harness must hold.
// It returns nil when the loop manages no connector (no ConnectorSource,
// or the settings name a connector of another scope), and nil with a
// ConnectorProblem recorded when the App is not installed there: the rest
// of the run goes on without the connector. An error is GitHub failing to
// answer.
func (l *Loop) desiredConnector(ctx context.Context, s catalog.Settings) (*planner.DesiredConnector, error) {
	src := l.Connector
	if src == nil || planner.ManagedConnector(s) == "" {
		l.setConnectorProblem(ctx, nil)
		return nil, nil
	}
	repo := gh.Repo{Owner: l.repos.Config.Owner, Name: s.Manifests.Repo}
	inst, err := src.Installations.RepoInstallation(ctx, repo)
	var unreachable *gh.UnreachableError
	switch {
	case errors.As(err, &unreachable):
		l.setConnectorProblem(ctx, &ConnectorProblem{Repo: repo,
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
	l.setConnectorProblem(ctx, nil)
	return &d, nil
}

// connectorNote is what the harness check run of a commit says a person
// must fix about the connector; "" when nothing.
func (l *Loop) connectorNote() string {
	p, ok := l.ConnectorProblem()
	if !ok {
		return ""
	}
	return p.Problem + ". " + p.Fix
}

// wantConnector adds the connector the settings call for, when it is
// known, to what reconcile compares Harness with.
func (l *Loop) wantConnector(ctx context.Context, s catalog.Settings, wanted map[planner.Scope]map[planner.EntityID]planner.Wanted) error {
	d, err := l.desiredConnector(ctx, s)
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
