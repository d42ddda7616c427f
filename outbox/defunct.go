package outbox

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Defunct reports whether worker names a runner that ran on this host in a
// process that has ended, or a worker named after one ("<runner>/<suffix>",
// as the app names its delivery workers). Such a runner was killed before
// it could release its claims, so its leases can be ended at once
// (store.ExpireLeases) rather than left to run out.
//
// Only default worker names ("<host>-<pid>-<random>") are judged. A name of
// another host, of a process that still runs, or of another form is not
// defunct. A name with this process's pid but another random part is: it
// belonged to an earlier process with the same pid, as when a container
// restarts its program. A program therefore calls Defunct before it starts
// a second runner on the same store, if it ever does.
func (r *Runner) Defunct(worker string) bool {
	base, _, _ := strings.Cut(worker, "/")
	if base == r.opts.Worker {
		return false
	}
	host, pid, ok := parseWorker(base)
	if !ok {
		return false
	}
	if me, err := os.Hostname(); err != nil || host != me {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	return !processRuns(pid)
}

// parseWorker splits a default worker name, "<host>-<pid>-<8 hex digits>".
func parseWorker(name string) (host string, pid int, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || len(name)-i-1 != 8 {
		return "", 0, false
	}
	for _, c := range name[i+1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", 0, false
		}
	}
	j := strings.LastIndexByte(name[:i], '-')
	if j <= 0 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(name[j+1 : i])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return name[:j], pid, true
}

// processRuns reports whether a process with this pid exists. When it
// cannot tell (another user's process, or a platform without signal 0), it
// says it runs: a lease is then left to expire, which is always safe.
func processRuns(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false // only where FindProcess checks existence (Windows)
	}
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}
