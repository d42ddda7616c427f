package planner

import (
	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// The cross-org GitHub connector is the one entity the application
// manages without a file in the pipelines repository: the settings and
// the App's installation make it (render.GitHubConnector). Apply enqueues
// it when it differs from what apply last enqueued, before everything
// else; the Services, which read their manifests through it, wait for it.
// Reconcile compares it with Harness like any entity; nothing ever
// deletes it.

// ManagedConnector is the identifier of the connector the application
// manages under the settings, the one the Services name; "" when the
// settings name a connector of another scope, which a person manages.
func ManagedConnector(s catalog.Settings) string {
	if render.ConnectorScoped(s) {
		return ""
	}
	return s.Manifests.Connector
}

// DesiredConnector is the connector the settings and the App's
// installation call for.
type DesiredConnector struct {
	Org, Project, Identifier string
	InstallationID           int64
	// YAML is the connector's document (render.GitHubConnector).
	YAML []byte
}

// NewDesiredConnector builds the connector for settings s and the App.
func NewDesiredConnector(s catalog.Settings, app render.ConnectorApp) (DesiredConnector, error) {
	doc, err := render.GitHubConnector(s, app)
	if err != nil {
		return DesiredConnector{}, err
	}
	return DesiredConnector{Org: s.Org, Project: s.Project, Identifier: s.Manifests.Connector,
		InstallationID: app.InstallationID, YAML: doc}, nil
}

// State is what apply records once it enqueued d: its identity and its
// content hash.
func (d DesiredConnector) State() record.ConnectorState {
	return record.ConnectorState{Org: d.Org, Project: d.Project, Identifier: d.Identifier,
		Hash: gh.BlobSHA(d.YAML), InstallationID: d.InstallationID}
}

// ID is the connector's entity identity.
func (d DesiredConnector) ID() EntityID {
	return EntityID{Kind: render.KindConnector, Identifier: d.Identifier}
}

// Wanted is the connector as reconcile compares it with Harness, and the
// scope it lives in.
func (d DesiredConnector) Wanted() (Scope, Wanted) {
	st := d.State()
	return Scope{d.Org, d.Project}, Wanted{Content: d.YAML, Blob: st.Hash, Entity: render.Entity{
		Kind: render.KindConnector, Identifier: d.Identifier, Org: d.Org, Project: d.Project,
		Tags: map[string]string{render.ManagedByTag: render.ManagedByValue},
	}}
}

// connectorOp is the operation that brings Harness to d when d differs
// from what apply last enqueued (applied), with the state to record; nil
// when nothing changed or d is unknown. Its key is the default one
// (entity, kind, commit, content hash): replaying an apply of the same
// commit enqueues nothing, and the same connector wanted again after a
// change in between is enqueued again.
func connectorOp(d *DesiredConnector, applied record.ConnectorState, head string) (*Op, *record.ConnectorState) {
	if d == nil {
		return nil, nil
	}
	st := d.State()
	if st == applied {
		return nil, nil
	}
	kind := record.KindCreate
	if applied.Identifier == st.Identifier && applied.Org == st.Org && applied.Project == st.Project {
		kind = record.KindUpdate
	}
	reason := "the cross-org GitHub connector, from " + catalog.SettingsPath + " and the GitHub App's installation"
	return &Op{Kind: kind, Entity: render.KindConnector, Identifier: d.Identifier, Commit: head,
		Blob: st.Hash, YAML: d.YAML, Reason: reason, Cause: FromApply}, &st
}
