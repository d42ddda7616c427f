package render_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// githubApp is a GithubAppDTO's or GithubAppSpecDTO's fields.
func githubApp(installation, appID, key string) map[string]any {
	return map[string]any{"installationId": installation, "applicationId": appID, "privateKeyRef": key}
}

// githubConnector is a GitHub connector of type Repo, as decoded YAML,
// authenticated with creds for both Git and API access.
func githubConnector(name, id, org, project, url string, creds map[string]any) map[string]any {
	return map[string]any{"connector": map[string]any{
		"name": name, "identifier": id, "orgIdentifier": org, "projectIdentifier": project,
		"tags": map[string]any{"managed_by": "pipeline-orchestrator"},
		"type": "Github",
		"spec": map[string]any{
			"url": url, "type": "Repo", "executeOnDelegate": false,
			"authentication": map[string]any{"type": "Http", "spec": map[string]any{"type": "GithubApp", "spec": creds}},
			"apiAccess":      map[string]any{"type": "GithubApp", "spec": creds},
		},
	}}
}

func TestGitHubConnector(t *testing.T) {
	app := render.ConnectorApp{WebURL: "https://github.com/", Owner: "company", AppID: 424242, InstallationID: 51}
	custom := catalog.DefaultSettings()
	custom.Org, custom.Project = "platform_eng", "checkout"
	custom.Manifests.Connector, custom.Manifests.Repo = "manifests_gh", "k8s.config"
	custom.Manifests.PrivateKeySecret = "org.gh_app_pem"
	ghes := app
	ghes.WebURL, ghes.Owner = "https://git.example.com", "platform"

	tests := map[string]struct {
		settings catalog.Settings
		app      render.ConnectorApp
		want     map[string]any
		err      string
	}{
		"the default settings: the config repo of the App's installation, the key in an account secret": {
			settings: catalog.DefaultSettings(), app: app,
			want: githubConnector("platform-next manifests", "github_platform_next_cross_org", "default", "platform",
				"https://github.com/company/platform-next", githubApp("51", "424242", "account.po_github_app_key")),
		},
		"the settings' scope, connector, repository and secret; GitHub Enterprise Server's web URL": {
			settings: custom, app: ghes,
			want: githubConnector("k8s-config manifests", "manifests_gh", "platform_eng", "checkout",
				"https://git.example.com/platform/k8s.config", githubApp("51", "424242", "org.gh_app_pem")),
		},
		"an account connector is not the application's to manage": {
			settings: func() catalog.Settings {
				s := catalog.DefaultSettings()
				s.Manifests.Connector = "account.shared_github"
				return s
			}(),
			app: app, err: "manifests.connector account.shared_github is not a connector of project default/platform",
		},
		"without the installation there is no connector": {
			settings: catalog.DefaultSettings(), app: render.ConnectorApp{WebURL: "https://github.com", Owner: "company", AppID: 424242},
			err: "the GitHub App's installation on company is unknown",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			doc, err := render.GitHubConnector(tt.settings, tt.app)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := yaml.Unmarshal(doc, &got); err != nil {
				t.Fatalf("not YAML: %v\n%s", err, doc)
			}
			desc, _ := got["connector"].(map[string]any)["description"].(string)
			if !strings.Contains(desc, "Managed by pipeline-orchestrator") {
				t.Errorf("description %q does not say who manages the connector", desc)
			}
			delete(got["connector"].(map[string]any), "description")
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("connector (-want +got):\n%s", d)
			}
			again, _ := render.GitHubConnector(tt.settings, tt.app)
			if string(again) != string(doc) {
				t.Error("two renderings of the same connector differ")
			}
			e, err := render.ReadEntity(doc)
			if err != nil || e.Kind != render.KindConnector || e.Org != tt.settings.Org || e.Project != tt.settings.Project {
				t.Errorf("ReadEntity = %+v, %v: want the connector in the settings' scope", e, err)
			}
		})
	}
}
