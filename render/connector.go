package render

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// The cross-org GitHub connector is not rendered into the pipelines
// repository: what it holds (the GitHub App's id and its installation on
// the config repository's owner) is known to the running application, not
// to the templates. The application builds it here, from the settings and
// what it discovers, and applies it before the Services that name it.

// ConnectorApp is what the application knows of the GitHub App the
// connector authenticates as.
type ConnectorApp struct {
	// WebURL is GitHub's web base ("https://github.com", or a GitHub
	// Enterprise Server's); the connector's url is under it.
	WebURL string
	// Owner is the owner (organization or user) of the config repository:
	// the connector's url names Owner/<manifests.repo>.
	Owner string
	// AppID is the GitHub App's id; InstallationID its installation on
	// Owner that covers the repository.
	AppID, InstallationID int64
}

// ConnectorScoped reports whether the settings' connector reference names
// an account- or org-level connector ("account.x", "org.x"), which the
// application does not manage: it manages a connector in the settings'
// org and project only.
func ConnectorScoped(s catalog.Settings) bool {
	return strings.HasPrefix(s.Manifests.Connector, "account.") || strings.HasPrefix(s.Manifests.Connector, "org.")
}

// ConnectorRepoURL is the URL of the repository the connector reads the
// generated manifests from: <web>/<owner>/<manifests.repo>.
func ConnectorRepoURL(s catalog.Settings, app ConnectorApp) string {
	return strings.TrimRight(app.WebURL, "/") + "/" + app.Owner + "/" + s.Manifests.Repo
}

// GitHubConnector returns the YAML of the Harness GitHub connector through
// which the Services read the manifests that the config repository's CI
// generates: settings' manifests.connector in the settings' org and
// project, of connection type Repo (its url names the repository, so the
// Services' stores carry no repoName), authenticated as the GitHub App
// for both Git and API access, with the App's private key in the Harness
// secret manifests.private_key_secret. It is tagged managed_by:
// pipeline-orchestrator, so the application recognises it as its own.
//
// The shape is ConnectorDTO's, {connector: ConnectorInfoDTO}, with a
// GithubConnectorDTO spec (harness-core 954-connector-beans,
// io/harness/delegate/beans/connector/scm/github): type (GitConnectionType
// Repo or Account), url, authentication {type: Http, spec:
// GithubHttpCredentialsDTO {type: GithubApp, spec: GithubAppDTO}},
// apiAccess {type: GithubApp, spec: GithubAppSpecDTO}, executeOnDelegate.
// GithubAppDTO and GithubAppSpecDTO take installationId and applicationId
// as strings and privateKeyRef as a secret reference; the Terraform
// provider's harness_platform_connector_github sends the same fields
// (credentials.http.github_app, api_authentication.github_app in
// internal/service/platform/connector/github.go). API access is what
// Harness uses to fetch files through the provider's API rather than by
// cloning (ScmFetchFilesHelperNG).
//
// It fails when the settings name a connector of another scope
// (ConnectorScoped), or when the App's ids are not known.
func GitHubConnector(s catalog.Settings, app ConnectorApp) ([]byte, error) {
	switch {
	case ConnectorScoped(s):
		return nil, fmt.Errorf("manifests.connector %s is not a connector of project %s/%s: the application manages only a project connector", s.Manifests.Connector, s.Org, s.Project)
	case app.AppID <= 0:
		return nil, fmt.Errorf("the GitHub App's id is unknown")
	case app.InstallationID <= 0:
		return nil, fmt.Errorf("the GitHub App's installation on %s is unknown", app.Owner)
	case app.Owner == "" || app.WebURL == "":
		return nil, fmt.Errorf("the config repository's owner and GitHub's web URL are required")
	}
	repoURL := ConnectorRepoURL(s, app)
	var b bytes.Buffer
	b.WriteString("connector:\n")
	fmt.Fprintf(&b, "  name: %s\n  identifier: %s\n", quote(connectorName(s.Manifests.Repo)), s.Manifests.Connector)
	fmt.Fprintf(&b, "  description: %s\n", quote("Reads the manifests generated in "+repoURL+
		" as the GitHub App "+strconv.FormatInt(app.AppID, 10)+". Managed by pipeline-orchestrator from "+catalog.SettingsPath+" and the App's installation: do not edit."))
	fmt.Fprintf(&b, "  orgIdentifier: %s\n  projectIdentifier: %s\n", quote(s.Org), quote(s.Project))
	fmt.Fprintf(&b, "  tags:\n    %s: %s\n", ManagedByTag, ManagedByValue)
	b.WriteString("  type: Github\n  spec:\n")
	fmt.Fprintf(&b, "    url: %s\n    type: Repo\n", quote(repoURL))
	// The platform (not a delegate) reaches GitHub's API, as the
	// connector's Git and API access need nothing inside a cluster.
	b.WriteString("    executeOnDelegate: false\n")
	writeApp := func(indent string) {
		fmt.Fprintf(&b, "%sinstallationId: %s\n", indent, quote(strconv.FormatInt(app.InstallationID, 10)))
		fmt.Fprintf(&b, "%sapplicationId: %s\n", indent, quote(strconv.FormatInt(app.AppID, 10)))
		fmt.Fprintf(&b, "%sprivateKeyRef: %s\n", indent, quote(s.Manifests.PrivateKeySecret))
	}
	b.WriteString("    authentication:\n      type: Http\n      spec:\n        type: GithubApp\n        spec:\n")
	writeApp("          ")
	b.WriteString("    apiAccess:\n      type: GithubApp\n      spec:\n")
	writeApp("        ")
	return b.Bytes(), nil
}

// connectorName is the connector's display name. Harness's entity names
// take letters, digits, '-', '_' and spaces, at most 64 characters
// (io.harness.data.validator.NGEntityNameValidator in harness-core).
func connectorName(repo string) string {
	var b strings.Builder
	for _, r := range repo + " manifests" {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == ' ':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := b.String()
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}
