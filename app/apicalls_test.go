package app_test

import (
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestProposeAPICallsDoNotGrowWithPipelines measures, with the GitHub
// stand-in's call counter, what one propose run costs for 1 and for 200
// changed pipelines. The Git Data API commits any number of files with one
// tree and one commit, so the two must be equal.
func TestProposeAPICallsDoNotGrowWithPipelines(t *testing.T) {
	t.Parallel()
	count := func(n int) (int, map[string]int) {
		w := newWorld(t, "services: []\n", nil)
		w.GitHub.ResetCalls()
		w.pushCatalog(catalogOf(genServices(n)))
		bot, ok := w.botPR()
		if !ok {
			t.Fatalf("%d services: no bot PR", n)
		}
		// README.md, the 7 environment files merged at the start, and a
		// Service, a pipeline and a trigger per service.
		if files := len(w.GitHub.Tree(w.PipelinesRepo, bot.HeadSHA)); files != 1+7+3*n {
			t.Fatalf("%d services: bot PR holds %d files, want %d", n, files, 1+7+3*n)
		}
		// Only repository endpoints: the App-level calls (the token
		// exchange, the periodic webhook redelivery sweep) are not the
		// propose run's and may land at any moment.
		calls := map[string]int{}
		total := 0
		for route, n := range w.GitHub.Calls() {
			if strings.Contains(route, " /repos/") {
				calls[route] = n
				total += n
			}
		}
		return total, calls
	}
	one, oneCalls := count(1)
	many, manyCalls := count(200)
	t.Logf("GitHub API calls for one propose run: %d with 1 changed pipeline, %d with 200", one, many)
	var lines []string
	for route, n := range manyCalls {
		lines = append(lines, route+": "+itoa(oneCalls[route])+" / "+itoa(n))
	}
	sort.Strings(lines)
	t.Logf("per endpoint (1 / 200):\n%s", strings.Join(lines, "\n"))
	if one != many {
		t.Errorf("propose made %d GitHub calls for 1 pipeline but %d for 200", one, many)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
