package ghapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/ghapi"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// newClient returns a Client on a GitHub stand-in with the App installed
// on two orgs, each holding one repository.
func newClient(t *testing.T) (*ghapi.Client, *githubtest.Server) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	stub := githubtest.New(githubtest.Options{AppID: 7, AppPublicKey: &key.PublicKey, AppSlug: "po", RateLimit: -1})
	t.Cleanup(stub.Close)
	for _, owner := range []string{"org-a", "org-b"} {
		stub.AddInstallation(owner)
		stub.CreateRepo(owner, "repo", "main", map[string]string{"dir/f.txt": "hello\n", "README.md": "# r\n"})
	}
	var cfg githubapp.Config
	cfg.V3APIURL = stub.URL
	cfg.App.IntegrationID = 7
	cfg.App.PrivateKey = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	cc, err := githubapp.NewDefaultCachingClientCreator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ghapi.New(cc, time.Minute), stub
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
	if _, err := c.Branch(ctx, gh.Repo{Owner: "org-c", Name: "repo"}, "main"); err == nil {
		t.Error("a repository without installation was readable")
	}

	stub.FailNext("GET /repos/{owner}/{repo}/git/ref/{ref}", 1, githubtest.FaultBadGateway)
	_, err := c.Branch(ctx, repo, "main")
	if ok, _ := ghapi.IsRetryable(err); !ok {
		t.Errorf("502: %v, want a retryable error", err)
	}
	var transient gh.Transient
	if !errors.As(err, &transient) {
		t.Errorf("502 is not an gh.Transient")
	}

	stub.FailNext("GET /repos/{owner}/{repo}/git/ref/{ref}", 1, githubtest.FaultSecondaryRateLimit)
	_, err = c.Branch(ctx, repo, "main")
	if ok, after := ghapi.IsRetryable(err); !ok || after <= 0 {
		t.Errorf("secondary rate limit: %v (retry after %v), want retryable with a wait", err, after)
	}
}
