package ghapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/ghapi"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// called collects the stand-in routes the tests' clients called.
var called = struct {
	sync.Mutex
	routes map[string]bool
}{routes: map[string]bool{}}

// TestMain checks, after the tests, that the Client calls only the routes
// the stand-in marks as the contract with GitHub's API, and (when every
// test ran) that it calls each of them, so that the contract's list stays
// what the app relies on.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		code = checkContract(flag.Lookup("test.run").Value.String() == "")
	}
	os.Exit(code)
}

func checkContract(complete bool) int {
	contract := map[string]bool{}
	for _, r := range githubtest.ContractRoutes() {
		contract[r] = true
	}
	var outside, unused []string
	for r := range called.routes {
		if !contract[r] {
			outside = append(outside, r)
		}
	}
	for r := range contract {
		if !called.routes[r] {
			unused = append(unused, r)
		}
	}
	sort.Strings(outside)
	sort.Strings(unused)
	code := 0
	if len(outside) > 0 {
		fmt.Printf("FAIL: ghapi called routes that are not in the stand-in's contract (githubtest Server.contract): %v\n", outside)
		code = 1
	}
	if complete && len(unused) > 0 {
		fmt.Printf("FAIL: contract routes ghapi's tests never called (call them, or take them out of the contract): %v\n", unused)
		code = 1
	}
	return code
}

const appSlug = "po"

var (
	keyOnce sync.Once
	appKey  *rsa.PrivateKey
)

// newClientWith returns a Client on a GitHub stand-in shaped by mutate and
// setup, and records the routes it calls.
func newClientWith(t *testing.T, mutate func(*githubtest.Options), setup func(*githubtest.Server)) (*ghapi.Client, *githubtest.Server) {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		appKey = k
	})
	opts := githubtest.Options{AppID: 7, AppPublicKey: &appKey.PublicKey, AppSlug: appSlug, RateLimit: -1}
	if mutate != nil {
		mutate(&opts)
	}
	stub := githubtest.New(opts)
	t.Cleanup(func() {
		stub.Close()
		called.Lock()
		defer called.Unlock()
		for r := range stub.Calls() {
			called.routes[r] = true
		}
	})
	setup(stub)
	var cfg githubapp.Config
	cfg.V3APIURL = stub.URL
	cfg.App.IntegrationID = 7
	cfg.App.PrivateKey = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(appKey)}))
	cc, err := githubapp.NewDefaultCachingClientCreator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ghapi.New(cc, time.Minute), stub
}

// newClient returns a Client on a GitHub stand-in with the App installed
// on two orgs, each holding one repository.
func newClient(t *testing.T) (*ghapi.Client, *githubtest.Server) {
	t.Helper()
	return newClientWith(t, nil, func(stub *githubtest.Server) {
		for _, owner := range []string{"org-a", "org-b"} {
			stub.AddInstallation(owner)
			stub.CreateRepo(owner, "repo", "main", map[string]string{"dir/f.txt": "hello\n", "README.md": "# r\n"})
		}
	})
}

func TestReadsEachRepoWithItsOrgsInstallation(t *testing.T) {
	c, stub := newClient(t)
	ctx := context.Background()
	for _, repo := range []gh.Repo{{Owner: "org-a", Name: "repo"}, {Owner: "org-b", Name: "repo"}} {
		head, err := c.Branch(ctx, repo, "main")
		if err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		files, err := c.Tree(ctx, repo, head.TreeSHA, "dir")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"dir/f.txt": gh.BlobSHA([]byte("hello\n"))}, files); diff != "" {
			t.Errorf("%s tree (-want +got):\n%s", repo, diff)
		}
	}
	auths := map[string]bool{}
	for _, r := range stub.Requests() {
		auths[r.Auth] = true
	}
	if auths["user:octocat"] || auths["anonymous"] {
		t.Errorf("requests were made without an installation token: %v", auths)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	c, stub := newClient(t)
	ctx := context.Background()
	repo := gh.Repo{Owner: "org-a", Name: "repo"}
	if _, err := c.Branch(ctx, repo, "main"); err != nil { // warm the installation cache
		t.Fatal(err)
	}

	if _, err := c.File(ctx, repo, "main", "missing.yaml"); !errors.Is(err, gh.ErrNotFound) {
		t.Errorf("missing file: %v, want ErrNotFound", err)
	}
	var unreachable *gh.UnreachableError
	_, err := c.Branch(ctx, gh.Repo{Owner: "org-c", Name: "repo"}, "main")
	if !errors.As(err, &unreachable) || unreachable.Reason != gh.NotInstalled {
		t.Errorf("a repository without installation: %v, want *gh.UnreachableError not installed", err)
	}
	if _, ok := gh.RetryAfterOf(err); ok {
		t.Errorf("a repository without installation is transient: %v", err)
	}

	stub.FailNext("GET /repos/{owner}/{repo}/git/ref/{ref}", 1, githubtest.FaultBadGateway)
	_, err = c.Branch(ctx, repo, "main")
	if ok, _ := ghapi.IsRetryable(err); !ok {
		t.Errorf("502: %v, want a retryable error", err)
	}
	var transient gh.Transient
	if !errors.As(err, &transient) {
		t.Errorf("502 is not an gh.Transient")
	}
	if _, ok := gh.IsRateLimit(err); ok {
		t.Errorf("502 is a rate limit")
	}
}
