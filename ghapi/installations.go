package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
)

// fresh returns a go-github client on gc's transport (its token, caching
// and middleware) without gc's memory of rate limits. go-githubapp keeps
// one client per installation, and go-github v62 remembers limits on it:
// after a secondary limit without Retry-After it takes x-ratelimit-reset,
// the end of the hourly window, as the end of the limit, and refuses every
// later call until then (parseSecondaryRate, checkSecondaryRateLimitBeforeDo
// in github.go), where GitHub asks for a minute. Each port call gets its
// own client, so waits are decided once, by classify, and by the caller.
func fresh(gc *github.Client) *github.Client {
	f := github.NewClient(gc.Client())
	f.BaseURL, f.UploadURL, f.UserAgent = gc.BaseURL, gc.UploadURL, gc.UserAgent
	return f
}

// installations finds the App's installations and authenticates as the
// App (JWT) or as one of its installations. It caches the installation
// covering each repository for ttl, and the bot's login for good; it is
// safe for concurrent use.
type installations struct {
	cc       githubapp.ClientCreator
	ttl      time.Duration
	now      func() time.Time
	classify func(error) error // Client.classify

	mu    sync.Mutex
	ids   map[string]cachedInstallation // "owner/name" → installation
	login string                        // cached by botLogin
}

type cachedInstallation struct {
	id      int64
	expires time.Time
}

// forget drops the cached installation of every repository of owner.
func (in *installations) forget(owner string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for k := range in.ids {
		if strings.EqualFold(strings.SplitN(k, "/", 2)[0], owner) {
			delete(in.ids, k)
		}
	}
}

// app returns a go-github client authenticated as the App (JWT).
func (in *installations) app() (*github.Client, error) {
	app, err := in.cc.NewAppClient()
	if err != nil {
		return nil, fmt.Errorf("creating app client: %w", err)
	}
	return fresh(app), nil
}

// client returns a go-github client authenticated with the
// installation token of the installation covering repo. When there is
// none, the error is a *gh.UnreachableError saying why.
func (in *installations) client(ctx context.Context, repo gh.Repo) (*github.Client, error) {
	id, err := in.id(ctx, repo)
	if err != nil {
		return nil, err
	}
	return in.clientFor(repo, id)
}

func (in *installations) clientFor(repo gh.Repo, installationID int64) (*github.Client, error) {
	client, err := in.cc.NewInstallationClient(installationID)
	if err != nil {
		return nil, fmt.Errorf("creating installation client for %s: %w", repo, err)
	}
	return fresh(client), nil
}

// id finds, and caches, the installation covering repo.
func (in *installations) id(ctx context.Context, repo gh.Repo) (int64, error) {
	key := strings.ToLower(repo.String())
	in.mu.Lock()
	ci, ok := in.ids[key]
	in.mu.Unlock()
	if ok && !in.now().After(ci.expires) {
		return ci.id, nil
	}
	app, err := in.app()
	if err != nil {
		return 0, err
	}
	inst, _, err := app.Apps.FindRepositoryInstallation(ctx, repo.Owner, repo.Name)
	if isNotFound(err) {
		return 0, in.unreachable(ctx, app, repo)
	}
	if err != nil {
		return 0, fmt.Errorf("finding the App's installation for %s: %w", repo, in.classify(err))
	}
	in.mu.Lock()
	in.ids[key] = cachedInstallation{id: inst.GetID(), expires: in.now().Add(in.ttl)}
	in.mu.Unlock()
	return inst.GetID(), nil
}

func isNotFound(err error) bool {
	var resp *github.ErrorResponse
	return errors.As(err, &resp) && resp.Response != nil && resp.Response.StatusCode == http.StatusNotFound
}

// unreachable explains GitHub's 404 for a repository's installation, which
// has two causes: the App is not installed on the owner, or it is, with
// selected repositories that do not include this one (observed in
// fabro-sh/fabro#797). The owner's installation tells them apart.
func (in *installations) unreachable(ctx context.Context, app *github.Client, repo gh.Repo) error {
	inst, err := in.owner(ctx, app, repo.Owner)
	if err != nil {
		return fmt.Errorf("finding the App's installation for %s: %w", repo, err)
	}
	if inst == nil {
		e := &gh.UnreachableError{Repo: repo, Reason: gh.NotInstalled}
		if a, _, err := app.Apps.Get(ctx, ""); err == nil && a.GetHTMLURL() != "" {
			e.FixURL = strings.TrimSuffix(a.GetHTMLURL(), "/") + "/installations/new"
		}
		return e
	}
	return &gh.UnreachableError{Repo: repo, Reason: gh.NotSelected, InstallationID: inst.GetID(), FixURL: inst.GetHTMLURL()}
}

// owner finds the App's installation on an organization or a
// user, as go-githubapp's GetByOwner does; nil when there is none.
func (in *installations) owner(ctx context.Context, app *github.Client, owner string) (*github.Installation, error) {
	inst, _, err := app.Apps.FindOrganizationInstallation(ctx, owner)
	if isNotFound(err) {
		inst, _, err = app.Apps.FindUserInstallation(ctx, owner)
	}
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, in.classify(err)
	}
	return inst, nil
}

// repos lists the repositories of the App's installation on owner with
// the installation's token (GET /installation/repositories).
func (in *installations) repos(ctx context.Context, owner string) ([]gh.Repo, error) {
	app, err := in.app()
	if err != nil {
		return nil, err
	}
	inst, err := in.owner(ctx, app, owner)
	if err != nil {
		return nil, fmt.Errorf("finding the App's installation on %s: %w", owner, err)
	}
	if inst == nil {
		return nil, in.unreachable(ctx, app, gh.Repo{Owner: owner})
	}
	client, err := in.clientFor(gh.Repo{Owner: owner}, inst.GetID())
	if err != nil {
		return nil, err
	}
	var out []gh.Repo
	opts := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := client.Apps.ListRepos(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("listing the repositories of the App's installation on %s: %w", owner, in.classify(err))
		}
		for _, r := range page.Repositories {
			out = append(out, gh.ParseRepo(r.GetFullName()))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// botLogin is the login of the App's bot user, from the App's slug
// (GET /app), the only way: an installation token cannot call GET /user.
func (in *installations) botLogin(ctx context.Context) (string, error) {
	in.mu.Lock()
	login := in.login
	in.mu.Unlock()
	if login != "" {
		return login, nil
	}
	app, err := in.app()
	if err != nil {
		return "", err
	}
	a, _, err := app.Apps.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("reading the App: %w", in.classify(err))
	}
	login = gh.BotLogin(a.GetSlug())
	in.mu.Lock()
	in.login = login
	in.mu.Unlock()
	return login, nil
}

// Reachable implements gh.Installations.
func (c *Client) Reachable(ctx context.Context, repo gh.Repo) error {
	_, err := c.inst.id(ctx, repo)
	return err
}

// RepoInstallation implements gh.InstallationFinder. The answer is
// cached as the installation clients' are (see New); an unreachable
// repository is asked about again every time.
func (c *Client) RepoInstallation(ctx context.Context, repo gh.Repo) (int64, error) {
	return c.inst.id(ctx, repo)
}

// InstallationRepos implements gh.Installations with the installation's
// token (GET /installation/repositories).
func (c *Client) InstallationRepos(ctx context.Context, owner string) ([]gh.Repo, error) {
	return c.inst.repos(ctx, owner)
}

// BotLogin implements gh.AppIdentity from the App's slug (GET /app).
func (c *Client) BotLogin(ctx context.Context) (string, error) {
	return c.inst.botLogin(ctx)
}
