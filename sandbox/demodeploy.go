package sandbox

import (
	"context"
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

// The demo's deploys: Harness reads the manifests the config repository's
// CI generated through the connector the app manages, as the GitHub App.

// settings are the pipelines repository's settings at its default branch.
func (d *Demo) settings() catalog.Settings {
	src, ok := d.Env.GitHub.File(d.Env.PipelinesRepo, DefaultBranch, catalog.SettingsPath)
	if !ok {
		return catalog.DefaultSettings()
	}
	return settingsOf(map[string]string{catalog.SettingsPath: src})
}

// sayConnector narrates the GitHub connector the app made in Harness.
func (d *Demo) sayConnector() error {
	s := d.settings()
	src, ok := d.Env.Harness.Entities(harnesstest.KindConnector, s.Org, s.Project)[s.Manifests.Connector]
	if !ok {
		return fmt.Errorf("Harness holds no connector %s", s.Manifests.Connector)
	}
	var doc struct {
		Connector struct {
			Spec struct {
				URL       string `yaml:"url"`
				APIAccess struct {
					Spec struct {
						InstallationID string `yaml:"installationId"`
						ApplicationID  string `yaml:"applicationId"`
						PrivateKeyRef  string `yaml:"privateKeyRef"`
					} `yaml:"spec"`
				} `yaml:"apiAccess"`
			} `yaml:"spec"`
		} `yaml:"connector"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return err
	}
	spec := doc.Connector.Spec
	d.Say("  • The app created the Harness connector %s to %s, authenticated as the GitHub App %s (its installation %s), the App's key in the Harness secret %s: no personal token",
		s.Manifests.Connector, spec.URL, spec.APIAccess.Spec.ApplicationID, spec.APIAccess.Spec.InstallationID, spec.APIAccess.Spec.PrivateKeyRef)
	return nil
}

// deploy deploys tag of service through its new-image trigger, as an
// image registry's CI would, approves the gates that ask for it, and
// narrates what each stage deployed, and from where.
func (d *Demo) deploy(ctx context.Context, service, tag string) error {
	s := d.settings()
	id := strings.ReplaceAll(service, "-", "_")
	pipeline, trigger := id+"_cd", id+"_cd_new_image"
	d.Say("  • The image registry's CI posts {\"imageTag\": %q} to the webhook of the Harness trigger %s", tag, trigger)
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	dep, err := d.Env.DeployImage(ctx, s.Org, s.Project, pipeline, trigger, tag, "approved in the demo")
	if err != nil {
		return err
	}
	rec := dep.Record
	for _, st := range rec.Stages {
		var files []string
		from := ""
		for _, f := range st.Fetched {
			files = append(files, path.Base(f.Path))
			from = fmt.Sprintf("%s/ of %s@%s through %s", path.Dir(f.Path), f.Repo, short(f.Commit), f.ConnectorRef)
		}
		d.Say("    %s %s%s: %s with %s from %s", st.Identifier, strings.ToLower(st.Status), gates(st), st.Image, strings.Join(files, " + "), from)
		if !strings.HasSuffix(st.Image, "/"+service+":"+tag) || len(st.Fetched) == 0 {
			return fmt.Errorf("stage %s deployed %q with %d files", st.Identifier, st.Image, len(st.Fetched))
		}
	}
	d.Say("  • Run %s of %s: %s", rec.ID, pipeline, rec.Status)
	if rec.Status != harnesstest.StatusSuccess {
		return fmt.Errorf("the run of %s ended %s: %s", pipeline, rec.Status, rec.FailureMessage)
	}
	return nil
}

// gates says which gates a stage passed before it deployed: its Wait step
// (in the stand-in's compressed time) and its approval, which the demo
// gave through Harness's API as an approver would.
func gates(st harnesstest.StageRecord) string {
	var out []string
	for _, step := range st.Steps {
		switch step.Type {
		case "Wait":
			out = append(out, "waited "+strings.TrimPrefix(step.Name, "wait "))
		case "HarnessApproval":
			out = append(out, "approved")
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " (" + strings.Join(out, ", ") + ")"
}
