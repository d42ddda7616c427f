package outbox_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/outbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

func TestDefunctWorkers(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := outbox.New(db, nil, outbox.Options{})
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	// A process that has ended: this test binary, run to do nothing.
	ended := exec.Command(os.Args[0], "-test.run=^$")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := ended.Process.Pid
	name := func(host string, pid int, random string) string { return fmt.Sprintf("%s-%d-%s", host, pid, random) }

	for _, tc := range []struct {
		name   string
		worker string
		want   bool
	}{
		{"this runner", r.Worker(), false},
		{"a delivery worker of this runner", r.Worker() + "/d0", false},
		{"an earlier process with this pid", name(host, os.Getpid(), "0badf00d"), true},
		{"its delivery worker", name(host, os.Getpid(), "0badf00d") + "/d1", true},
		{"a process that ended", name(host, deadPID, "12345678"), true},
		{"a process that runs", name(host, os.Getppid(), "12345678"), false},
		{"another host", name("other-"+host, deadPID, "12345678"), false},
		{"not a default name", "worker-1", false},
		{"a random part that is not hex", name(host, deadPID, "zzzzzzzz"), false},
		{"no pid", host + "--12345678", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Defunct(tc.worker); got != tc.want {
				t.Errorf("Defunct(%q) = %v, want %v", tc.worker, got, tc.want)
			}
		})
	}
	if !strings.HasPrefix(r.Worker(), host+"-") {
		t.Fatalf("default worker %q does not start with the host name %q", r.Worker(), host)
	}
}
