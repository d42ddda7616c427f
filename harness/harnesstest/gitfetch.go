package harnesstest

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// Fetching manifests from a Git store through its GitHub connector, as a
// delegate does for a K8s step.
//
// With feature flag OPTIMIZED_GIT_FETCH_FILES on and a GitHub connector
// authenticated with a token or as a GitHub App, Harness fetches the files
// through the provider's API rather than by cloning
// (CDStepHelper.isOptimizedFilesFetch; ScmFetchFilesHelperNG in
// 930-delegate-tasks), which is what the stand-in does, over HTTP, against
// the GitHub API Options.GitHubAPIURL names:
//   - GitHub App credentials: the App's private key (PKCS#8 PEM, the only
//     form GithubServiceImpl.getPrivateKeyFromString reads) signs an RS256
//     JWT with issuer the application id and a five-minute lifetime
//     (GithubServiceImpl.generateTokenFromPrivateKey, EXP_TIME), which is
//     exchanged at POST app/installations/{installationId}/access_tokens
//     (GithubRestClient.createAccessToken) for an installation token
//     (GithubServiceImpl.getToken, called from
//     GitHubAppAuthenticationHelper). Ids and key may come from secrets
//     (applicationIdRef, installationIdRef, privateKeyRef).
//   - Token credentials: the secret tokenRef names.
//   - The repository is the connector's url, or for an Account connector
//     url + "/" + the store's repoName.
//   - Each path is read at the store's branch (gitFetchType Branch) or
//     commitId (Commit); a folder is read file by file.
//
// Harness computes the API URL from the connector's url
// (GitClientHelper.getGithubApiURL: https://api.github.com/ for
// github.com); the stand-in uses Options.GitHubAPIURL for every connector
// whose url is under Options.GitHubWebURL and refuses the others.

// fetchedFile is one file read from a Git store.
type fetchedFile struct {
	FetchedFile
	content []byte
}

// gitSource is a resolved Git store: where to read and how to
// authenticate.
type gitSource struct {
	connectorRef string
	apiBase      string // with a trailing slash
	owner, repo  string
	useBranch    bool
	ref          string // branch or commit id
	authHeader   string
}

// githubSource resolves a GitHub store spec through its connector. The
// caller holds no lock; conn is the connector's ConnectorInfoDTO and cs
// its scope.
func (s *Server) githubSource(ctx context.Context, cs scope, connectorRef string, conn map[string]any, store map[string]any) (*gitSource, error) {
	if t := str(conn, "type"); t != "Github" {
		return nil, fmt.Errorf("harnesstest: manifest stores of connector type %s are not modelled (connector %s)", t, connectorRef)
	}
	spec := mapAt(conn, "spec")
	repoURL := strings.TrimSuffix(strings.TrimRight(str(spec, "url"), "/"), ".git")
	if str(spec, "type") == "Account" {
		name := str(store, "repoName")
		if name == "" {
			return nil, fmt.Errorf("repoName is required in the store of a manifest whose connector %s is an Account connector", connectorRef)
		}
		repoURL += "/" + strings.TrimSuffix(name, ".git")
	}
	web := s.githubWeb
	rest, ok := strings.CutPrefix(repoURL, strings.TrimRight(web, "/")+"/")
	owner, repo, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("harnesstest: connector %s: url %s is not a repository under %s", connectorRef, repoURL, web)
	}
	if s.githubAPI == "" {
		return nil, fmt.Errorf("Could not reach Github Server at :%s (harnesstest: no Options.GitHubAPIURL)", repoURL)
	}
	src := &gitSource{connectorRef: connectorRef, apiBase: s.githubAPI, owner: owner, repo: repo}
	switch str(store, "gitFetchType") {
	case "Commit":
		src.ref = str(store, "commitId")
	default:
		src.useBranch, src.ref = true, str(store, "branch")
	}

	// API access, else the HTTP credentials.
	creds := mapAt(spec, "apiAccess")
	credType, credSpec := str(creds, "type"), mapAt(creds, "spec")
	if creds == nil {
		auth := mapAt(mapAt(spec, "authentication"), "spec")
		credType, credSpec = str(auth, "type"), mapAt(auth, "spec")
		if credType == "UsernameToken" {
			credType = "Token"
		}
	}
	secret := func(field string) (string, error) {
		ref := str(credSpec, field)
		s.mu.Lock()
		k, err := secretKey(s.account, cs.org, cs.project, ref)
		v, found := s.secrets[k]
		s.mu.Unlock()
		if err != nil {
			return "", err
		}
		if !found {
			return "", fmt.Errorf("secret %s of connector %s not found", ref, connectorRef)
		}
		return v, nil
	}
	plainOrSecret := func(plain, ref string) (string, error) {
		if v := scalarText(credSpec[plain]); v != "" {
			return v, nil
		}
		return secret(ref)
	}
	switch credType {
	case "GithubApp":
		appID, err := plainOrSecret("applicationId", "applicationIdRef")
		if err != nil {
			return nil, err
		}
		instID, err := plainOrSecret("installationId", "installationIdRef")
		if err != nil {
			return nil, err
		}
		key, err := secret("privateKeyRef")
		if err != nil {
			return nil, err
		}
		tok, err := s.installationToken(ctx, src.apiBase, appID, instID, key)
		if err != nil {
			return nil, err
		}
		src.authHeader = "token " + tok
	case "Token":
		tok, err := secret("tokenRef")
		if err != nil {
			return nil, err
		}
		src.authHeader = "token " + tok
	case "Anonymous", "":
	default:
		return nil, fmt.Errorf("harnesstest: GitHub credentials of type %s are not modelled (connector %s)", credType, connectorRef)
	}
	return src, nil
}

// installationToken mints an installation token as GithubServiceImpl
// .getToken does; its failures carry that method's message.
func (s *Server) installationToken(ctx context.Context, apiBase, appID, installationID, privateKey string) (string, error) {
	fail := func(cause string) (string, error) {
		return "", fmt.Errorf("Failed to generate token for url %s, installation id %s, cause: %s", apiBase, installationID, cause)
	}
	key, err := pkcs8Key(privateKey)
	if err != nil {
		// generateTokenFromPrivateKey's message for any key it cannot read.
		return fail("Invalid Github App key, Validate key is copied properly by trimming end line")
	}
	now := s.now()
	claims := jwt.RegisteredClaims{
		Issuer:    appID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		return fail(err.Error())
	}
	u := apiBase + "app/installations/" + url.PathEscape(installationID) + "/access_tokens"
	status, body, _, err := s.githubCall(ctx, http.MethodPost, u, "Bearer "+signed, "application/vnd.github.v3+json")
	if err != nil {
		return fail(err.Error())
	}
	var out struct {
		Token   string `json:"token"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &out)
	if status != http.StatusCreated && status != http.StatusOK || out.Token == "" {
		msg := out.Message
		if msg == "" {
			msg = strings.TrimSpace(string(body))
		}
		return fail(fmt.Sprintf("%d %s", status, msg))
	}
	return out.Token, nil
}

// pkcs8Key reads a PEM private key the way GithubServiceImpl
// .getPrivateKeyFromString does: it strips the PKCS#8 armour lines and
// decodes the rest as PKCS#8, so a PKCS#1 key ("BEGIN RSA PRIVATE KEY", the
// form GitHub hands out) is refused.
func pkcs8Key(src string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(src)))
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("not a PKCS#8 PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("not an RSA key")
	}
	return rk, nil
}

// githubCall sends one request to the GitHub API.
func (s *Server) githubCall(ctx context.Context, method, u, auth, accept string) (int, []byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, nil, "", err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "harnesstest-delegate")
	resp, err := s.githubHTTP.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, body, resp.Header.Get("Content-Type"), err
}

// commitOf returns the commit the store's branch or commit id names, or
// "" when GitHub does not say (Harness's batch answer carries it,
// FileContentBatchResponse.getCommitId).
func (s *Server) commitOf(ctx context.Context, src *gitSource) string {
	u := fmt.Sprintf("%srepos/%s/%s/commits/%s", src.apiBase, url.PathEscape(src.owner), url.PathEscape(src.repo), url.PathEscape(src.ref))
	status, body, _, err := s.githubCall(ctx, http.MethodGet, u, src.authHeader, "application/vnd.github+json")
	var out struct {
		SHA string `json:"sha"`
	}
	if err != nil || status != http.StatusOK || json.Unmarshal(body, &out) != nil {
		return ""
	}
	return out.SHA
}

// fetch reads paths from src; a path that is a folder is read file by file
// (the .yaml, .yml and .json files under it). Each file records the commit
// the ref pointed at.
func (s *Server) fetch(ctx context.Context, src *gitSource, paths []string) ([]fetchedFile, error) {
	var out []fetchedFile
	for _, p := range paths {
		files, err := s.fetchPath(ctx, src, strings.TrimPrefix(p, "/"), 0)
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
	}
	if len(out) > 0 {
		commit := s.commitOf(ctx, src)
		for i := range out {
			out[i].Commit = commit
		}
	}
	return out, nil
}

func (s *Server) fetchPath(ctx context.Context, src *gitSource, p string, depth int) ([]fetchedFile, error) {
	escaped := (&url.URL{Path: p}).EscapedPath()
	u := fmt.Sprintf("%srepos/%s/%s/contents/%s?ref=%s", src.apiBase, url.PathEscape(src.owner), url.PathEscape(src.repo),
		escaped, url.QueryEscape(src.ref))
	status, body, ctype, err := s.githubCall(ctx, http.MethodGet, u, src.authHeader, "application/vnd.github.raw")
	if err != nil {
		return nil, s.noConnectivity(src)
	}
	if status == http.StatusNotFound {
		// ScmFetchFilesHelperNG.throwFailedToFetchFileException.
		where := " for Branch: "
		if !src.useBranch {
			where = " for CommitId: "
		}
		return nil, fmt.Errorf("Unable to fetch files for filePath [%s]%s%s", p, where, src.ref)
	}
	if status != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &e)
		return nil, s.fetchFailed(src, status, e.Message)
	}
	repo := src.owner + "/" + src.repo
	if !strings.HasPrefix(ctype, "application/json") {
		return []fetchedFile{{FetchedFile: FetchedFile{ConnectorRef: src.connectorRef, Repo: repo, Ref: src.ref, Path: p},
			content: body}}, nil
	}
	var entries []struct {
		Type string `json:"type"`
		Path string `json:"path"`
	}
	if err := json.Unmarshal(body, &entries); err != nil || depth > 8 {
		return nil, fmt.Errorf("Unable to fetch files for filePath [%s] for Branch: %s", p, src.ref)
	}
	var out []fetchedFile
	for _, e := range entries {
		switch {
		case e.Type == "dir":
		case e.Type == "file" && (path.Ext(e.Path) == ".yaml" || path.Ext(e.Path) == ".yml" || path.Ext(e.Path) == ".json"):
		default:
			continue
		}
		files, err := s.fetchPath(ctx, src, e.Path, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
	}
	return out, nil
}

// noConnectivity is ScmFetchFilesHelperNG
// .throwFailedToFetchNoConnectivityException's message.
func (s *Server) noConnectivity(src *gitSource) error {
	if src.useBranch {
		return fmt.Errorf("Unable to fetch files for Branch: %s due to connectivity issue. Please try again after some time", src.ref)
	}
	return fmt.Errorf("Unable to fetch files for CommitId: %s due to connectivity issue. Please try again after some time", src.ref)
}

// fetchFailed is ScmFetchFilesHelperNG's message for a provider error
// other than a missing file (the double space is Harness's).
func (s *Server) fetchFailed(src *gitSource, status int, msg string) error {
	where := " for Branch: "
	if !src.useBranch {
		where = " for CommitId: "
	}
	return fmt.Errorf("Fetch files %s%s failed with error %s and status code %s", where, src.ref, msg, strconv.Itoa(status))
}
