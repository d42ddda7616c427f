package gh_test

import (
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
)

// TestNamesUsersRelyOn pins the names GitHub users see: branch protection
// rules require the check runs by name, filters and automations use the
// branch and the labels. Renaming one is a breaking change, and must show
// up here first.
func TestNamesUsersRelyOn(t *testing.T) {
	for _, n := range []struct{ got, want string }{
		{gh.CheckPlan, "pipeline-orchestrator/plan"},
		{gh.CheckSync, "pipeline-orchestrator/sync"},
		{gh.CheckHarness, "pipeline-orchestrator/harness"},
		{gh.CheckDrift, "pipeline-orchestrator/drift"},
		{gh.SyncBranch, "pipeline-orchestrator/sync"},
		{gh.BotLabel, "pipeline-orchestrator"},
		{gh.MassDeleteLabel, "pipeline-orchestrator/allow-mass-delete"},
	} {
		if n.got != n.want {
			t.Errorf("a contract name changed: %q, want %q", n.got, n.want)
		}
	}
}

func TestRepoIsComparesWithoutCase(t *testing.T) {
	r := gh.ParseRepo("company/platform-next")
	for full, want := range map[string]bool{
		"company/platform-next": true,
		"Company/Platform-Next": true,
		"company/platform":      false,
		"other/platform-next":   false,
		"":                      false,
	} {
		if got := r.Is(full); got != want {
			t.Errorf("Is(%q) = %v, want %v", full, got, want)
		}
	}
}

func TestBlobSHAIsGitsObjectID(t *testing.T) {
	// `printf 'hello\n' | git hash-object --stdin`
	if got := gh.BlobSHA([]byte("hello\n")); got != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Errorf("BlobSHA = %s", got)
	}
}
