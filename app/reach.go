package app

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/web"
)

// reachInterval is how often the App checks it can still reach the two
// repositories, besides at start and after every installation event.
const reachInterval = 5 * time.Minute

// reachability is what the App last found of its access to the
// repositories it serves. It is safe for concurrent use.
type reachability struct {
	mu       sync.Mutex
	problems map[string]web.RepoProblem
	recheck  chan struct{}
}

func newReachability() *reachability {
	return &reachability{problems: map[string]web.RepoProblem{}, recheck: make(chan struct{}, 1)}
}

// Problems lists the repositories the App cannot reach, with the fix.
func (r *reachability) Problems() []web.RepoProblem {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]web.RepoProblem, 0, len(r.problems))
	for _, p := range r.problems {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Repo < out[j].Repo })
	return out
}

// kick asks for a check now (an installation changed).
func (r *reachability) kick() {
	select {
	case r.recheck <- struct{}{}:
	default:
	}
}

// checkReach asks GitHub whether the App's installations cover each
// repository, and keeps what it finds. A failure to ask keeps the last
// answer.
func (a *App) checkReach(ctx context.Context, inst gh.Installations) {
	for _, repo := range []gh.Repo{a.repos.Config, a.repos.Pipelines} {
		err := inst.Reachable(ctx, repo)
		var unreachable *gh.UnreachableError
		switch {
		case err == nil:
			a.reach.mu.Lock()
			if _, was := a.reach.problems[repo.String()]; was {
				zerolog.Ctx(ctx).Info().Str("github_repo", repo.String()).Msg("the App reaches the repository again")
			}
			delete(a.reach.problems, repo.String())
			a.reach.mu.Unlock()
		case errors.As(err, &unreachable):
			a.reach.mu.Lock()
			if _, was := a.reach.problems[repo.String()]; !was {
				zerolog.Ctx(ctx).Error().Str("github_repo", repo.String()).Str("fix", unreachable.Fix()).Msg(unreachable.Error())
			}
			a.reach.problems[repo.String()] = web.RepoProblem{Repo: repo.String(), Problem: unreachable.Error(), Fix: unreachable.Fix()}
			a.reach.mu.Unlock()
		case ctx.Err() == nil:
			zerolog.Ctx(ctx).Warn().Err(err).Str("github_repo", repo.String()).Msg("checking the App's access to the repository")
		}
	}
}
