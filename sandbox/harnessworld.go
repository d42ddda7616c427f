package sandbox

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

// What a platform team sets up in Harness once, by hand, before the app
// runs: the GitHub App's private key as a Harness secret (so that the
// connector the app creates authenticates as the App, with no personal
// token), and the registry and cluster connectors that the rendered
// Services and infrastructure definitions name. The app creates every
// other entity itself.

// settingsOf reads the settings the pipelines repository starts with: the
// settings file among files, or the defaults. Settings that do not parse
// are the defaults (the app reports them).
func settingsOf(files map[string]string) catalog.Settings {
	src, ok := files[catalog.SettingsPath]
	if !ok {
		return catalog.DefaultSettings()
	}
	s, diags := catalog.ParseSettings(catalog.SettingsPath, []byte(src))
	if len(diags) > 0 {
		return catalog.DefaultSettings()
	}
	return s
}

// pkcs8PEM writes key as PKCS#8 PEM ("BEGIN PRIVATE KEY"): the only form
// Harness reads a GitHub App's key in (GithubServiceImpl
// .getPrivateKeyFromString); GitHub hands out PKCS#1 ("BEGIN RSA PRIVATE
// KEY"), which must be converted first.
func pkcs8PEM(key *rsa.PrivateKey) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("encoding the App key as PKCS#8: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// refScope splits a Harness reference into the org and project it lives
// in and its identifier: "account.x" is the account's, "org.x" the org's,
// "x" the project's.
func refScope(org, project, ref string) (string, string, string) {
	if id, ok := strings.CutPrefix(ref, "account."); ok {
		return "", "", id
	}
	if id, ok := strings.CutPrefix(ref, "org."); ok {
		return org, "", id
	}
	return org, project, ref
}

// seedHarness stores the App's key as the secret the settings name, and
// creates the artifact registry's connector and every environment and
// region's cluster connector.
func (s *StandIns) seedHarness(settings catalog.Settings) error {
	key, err := pkcs8PEM(s.key)
	if err != nil {
		return err
	}
	s.Harness.PutScopedSecret(settings.Org, settings.Project, settings.Manifests.PrivateKeySecret, key)
	put := func(ref, typ, spec string) error {
		org, project, id := refScope(settings.Org, settings.Project, ref)
		doc := fmt.Sprintf("connector:\n  name: %s\n  identifier: %s\n  orgIdentifier: %q\n  projectIdentifier: %q\n  type: %s\n  spec:\n%s",
			id, id, org, project, typ, spec)
		if err := s.Harness.PutEntity(harnesstest.KindConnector, org, project, []byte(doc)); err != nil {
			return fmt.Errorf("creating the connector %s in the Harness stand-in: %w", ref, err)
		}
		return nil
	}
	registry := "    credential: {type: InheritFromDelegate}\n    executeOnDelegate: true\n"
	typ := "Gcp"
	if settings.Artifact.Type == catalog.ArtifactDockerRegistry {
		typ = "DockerRegistry"
		registry = "    dockerRegistryUrl: https://registry.example.com/\n    providerType: DockerRegistry\n    auth: {type: Anonymous}\n"
	}
	if err := put(settings.Artifact.Connector, typ, registry); err != nil {
		return err
	}
	for _, env := range settings.Environments {
		for _, region := range env.Regions {
			v := catalog.PatternValues{Env: env, Region: region}
			spec := fmt.Sprintf("    credential: {type: InheritFromDelegate}\n    delegateSelectors: [%q]\n",
				catalog.Expand(settings.DelegateSelectorPattern, v))
			if err := put(settings.ClusterConnector(env, region), "K8sCluster", spec); err != nil {
				return err
			}
		}
	}
	return nil
}
