package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
)

// TestRepositoryNamesCompareWithoutCase names the repositories on GitHub
// Company/Platform-Next and Company-Harness/Harness-Pipelines, and in the
// configuration in lower case, as GitHub allows: a config-only change and
// an invalid catalog both get their sync check run on the config commit.
func TestRepositoryNamesCompareWithoutCase(t *testing.T) {
	t.Parallel()
	env, err := sandbox.Start(context.Background(), sandbox.Options{
		StandInOptions: sandbox.StandInOptions{
			ConfigRepo: "Company/Platform-Next", PipelinesRepo: "Company-Harness/Harness-Pipelines",
			ConfigFiles: map[string]string{catalogPath: catalogOf(genServices(1))},
		},
		Dir: t.TempDir(),
		Tune: func(cfg *app.Config) {
			cfg.ConfigRepo.Repo = strings.ToLower(cfg.ConfigRepo.Repo)
			cfg.PipelinesRepo.Repo = strings.ToLower(cfg.PipelinesRepo.Repo)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	w := &world{t: t, Env: env}
	w.settle()
	if bot, ok := w.botPR(); !ok {
		t.Fatal("no bot PR for the initial catalog")
	} else {
		w.merge(w.PipelinesRepo, bot.Number)
	}

	configOnly := genServices(1)
	configOnly[0].profile = "large"
	head := w.pushCatalog(catalogOf(configOnly))
	if c := w.check(w.ConfigRepo, head, gh.CheckSync); c.Conclusion != "success" {
		t.Errorf("sync check run on a config-only change = %s %q", c.Conclusion, c.Title)
	}
	head = w.pushCatalog("services:\n  - name: Not_A_Name\n")
	if c := w.check(w.ConfigRepo, head, gh.CheckSync); c.Conclusion != "failure" || len(c.Annotations) == 0 {
		t.Errorf("sync check run on an invalid catalog = %s %q with %d annotations", c.Conclusion, c.Title, len(c.Annotations))
	}
}
