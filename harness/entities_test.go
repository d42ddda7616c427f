package harness_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

var managed = harness.Tag{Key: "managed_by", Value: "pipeline-orchestrator"}

func withManagedTag(cfg *harness.Config) { cfg.ManagedTag = managed }

// entity is one entity of each kind, as the application renders it, in
// testOrg and testProject; the pipeline references the service,
// environment and infrastructure definition.
type entity struct {
	ref  harness.Ref
	yaml string
	// changed is the same entity with another name.
	changed string
	// key is the entity's key in harnesstest.Server.Entities.
	key string
}

func entityFixtures() []entity {
	es := []entity{
		{ref: harness.Ref{Kind: harness.KindConnector, Identifier: "gh_conn"}, key: "gh_conn", yaml: `connector:
  name: platform next
  identifier: gh_conn
  orgIdentifier: default
  projectIdentifier: payments
  type: Github
  tags:
    managed_by: pipeline-orchestrator
  spec:
    url: https://github.com/company/platform-next
    type: Repo
    executeOnDelegate: false
    authentication:
      type: Http
      spec:
        type: GithubApp
        spec:
          installationId: "123"
          applicationId: "456"
          privateKeyRef: account.po_github_app_key
    apiAccess:
      type: GithubApp
      spec:
        installationId: "123"
        applicationId: "456"
        privateKeyRef: account.po_github_app_key
`},
		{ref: harness.Ref{Kind: harness.KindEnvironment, Identifier: "prod"}, key: "prod", yaml: `environment:
  name: prod
  identifier: prod
  orgIdentifier: default
  projectIdentifier: payments
  type: Production
  tags:
    managed_by: pipeline-orchestrator
`},
		{ref: harness.Ref{Kind: harness.KindInfrastructure, Identifier: "prod_eu", EnvironmentRef: "prod"}, key: "prod/prod_eu",
			yaml: `infrastructureDefinition:
  name: prod eu
  identifier: prod_eu
  orgIdentifier: default
  projectIdentifier: payments
  environmentRef: prod
  deploymentType: Kubernetes
  type: KubernetesDirect
  tags:
    managed_by: pipeline-orchestrator
  spec:
    connectorRef: k8s_eu
    namespace: payments
    releaseName: release-payments
`},
		{ref: harness.Ref{Kind: harness.KindService, Identifier: "payments_api"}, key: "payments_api", yaml: `service:
  name: payments api
  identifier: payments_api
  tags:
    managed_by: pipeline-orchestrator
  serviceDefinition:
    type: Kubernetes
    spec:
      manifests:
        - manifest:
            identifier: main
            type: K8sManifest
            spec:
              store:
                type: Github
                spec:
                  connectorRef: gh_conn
                  gitFetchType: Branch
                  branch: main
                  paths: <+input>
`},
		{ref: harness.Ref{Kind: harness.KindPipeline, Identifier: "payments_api_cd"}, key: "payments_api_cd", yaml: `pipeline:
  name: payments api cd
  identifier: payments_api_cd
  orgIdentifier: default
  projectIdentifier: payments
  tags:
    managed_by: pipeline-orchestrator
  stages:
    - stage:
        name: prod eu
        identifier: prod_eu
        type: Deployment
        spec:
          deploymentType: Kubernetes
          service:
            serviceRef: payments_api
          environment:
            environmentRef: prod
            infrastructureDefinitions:
              - identifier: prod_eu
`},
		{ref: harness.Ref{Kind: harness.KindTrigger, Identifier: "on_new_image", PipelineRef: "payments_api_cd"},
			key: "payments_api_cd/on_new_image", yaml: `trigger:
  name: on new image
  identifier: on_new_image
  enabled: true
  orgIdentifier: default
  projectIdentifier: payments
  pipelineIdentifier: payments_api_cd
  tags:
    managed_by: pipeline-orchestrator
  source:
    type: Webhook
    spec:
      type: Custom
      spec:
        payloadConditions: []
        headerConditions: []
  inputYaml: |
    pipeline:
      identifier: payments_api_cd
`},
	}
	for i := range es {
		es[i].changed = renamed(es[i].yaml)
	}
	return es
}

// renamed changes the entity's name (the first "  name: " line).
func renamed(src string) string {
	i := strings.Index(src, "\n  name: ")
	j := strings.Index(src[i+1:], "\n")
	return src[:i+1] + "  name: renamed" + src[i+1+j:]
}

// entityFixture starts a stand-in holding the GitHub App key and a client
// with the managed tag.
func entityFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := newFixture(tb, withManagedTag)
	f.srv.PutSecret("account.po_github_app_key", "-----BEGIN RSA PRIVATE KEY-----")
	return f
}

// standInKind is the stand-in's name for a kind.
func standInKind(k harness.Kind) harnesstest.Kind { return harnesstest.Kind(k) }

func TestApplyAndRemoveEveryKind(t *testing.T) {
	f := entityFixture(t)
	ctx := context.Background()
	es := entityFixtures()
	for _, e := range es {
		t.Run(string(e.ref.Kind), func(t *testing.T) {
			for _, step := range []struct {
				yaml string
				want harness.Action
			}{{e.yaml, harness.Created}, {e.yaml, harness.Unchanged}, {e.changed, harness.Updated}, {e.changed, harness.Unchanged}} {
				got, err := f.client.Apply(ctx, e.ref, []byte(step.yaml))
				if err != nil || got != step.want {
					t.Fatalf("Apply = %v, %v; want %v", got, err, step.want)
				}
			}
			stored := f.srv.Entities(standInKind(e.ref.Kind), testOrg, testProject)[e.key]
			if same, err := harness.SameEntity(stored, []byte(e.changed)); err != nil || !same {
				t.Errorf("the stand-in holds:\n%s\nwant:\n%s", stored, e.changed)
			}
			got, err := f.client.Get(ctx, e.ref)
			if err != nil {
				t.Fatal(err)
			}
			if got.Ref != e.ref || got.Name != "renamed" || got.Tags[managed.Key] != managed.Value {
				t.Errorf("Get = %+v", got)
			}
			list, err := f.client.List(ctx, e.ref.Kind, parentOf(e.ref))
			if err != nil {
				t.Fatal(err)
			}
			want := []harness.Summary{{Kind: e.ref.Kind, Identifier: e.ref.Identifier, Name: "renamed",
				Tags: map[string]string{managed.Key: managed.Value}, EnvironmentRef: e.ref.EnvironmentRef, PipelineRef: e.ref.PipelineRef}}
			if e.ref.Kind == harness.KindTrigger {
				// A custom webhook trigger's URL, from its token.
				if !strings.Contains(got.WebhookURL, "/pipeline/api/webhook/custom/") {
					t.Errorf("Get: trigger webhook URL %q", got.WebhookURL)
				}
				want[0].WebhookURL = got.WebhookURL
			} else if got.WebhookURL != "" {
				t.Errorf("Get: %s with a webhook URL %q", e.ref.Kind, got.WebhookURL)
			}
			if diff := cmp.Diff(want, list); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
	// Remove in reverse dependency order, as the references require.
	for i := len(es) - 1; i >= 0; i-- {
		ref := es[i].ref
		if gone, err := f.client.Remove(ctx, ref); err != nil || !gone {
			t.Errorf("Remove(%s) = %v, %v; want true", ref, gone, err)
		}
		if gone, err := f.client.Remove(ctx, ref); err != nil || gone {
			t.Errorf("Remove(%s) again = %v, %v; want false", ref, gone, err)
		}
		if _, err := f.client.Get(ctx, ref); !errors.Is(err, harness.ErrNotFound) {
			t.Errorf("Get(%s) after Remove: %v, want ErrNotFound", ref, err)
		}
	}
	var got []string
	for _, e := range f.srv.Effects() {
		got = append(got, e.Kind+" "+string(e.Entity))
	}
	var want []string
	for _, e := range es {
		want = append(want, "create "+string(e.ref.Kind), "update "+string(e.ref.Kind))
	}
	for i := len(es) - 1; i >= 0; i-- {
		want = append(want, "delete "+string(es[i].ref.Kind))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
}

func parentOf(r harness.Ref) string {
	if r.EnvironmentRef != "" {
		return r.EnvironmentRef
	}
	return r.PipelineRef
}

// TestApplyRefusesUnmanagedEntities: an entity with the same identifier
// that lacks the managed tag is reported and left alone.
func TestApplyRefusesUnmanagedEntities(t *testing.T) {
	for _, e := range entityFixtures() {
		t.Run(string(e.ref.Kind), func(t *testing.T) {
			f := entityFixture(t)
			seed(t, f, e.ref.Kind)
			ctx := context.Background()
			theirs := strings.Replace(e.yaml, "managed_by: pipeline-orchestrator", "team: someone-else", 1)
			if err := f.srv.PutEntity(standInKind(e.ref.Kind), testOrg, testProject, []byte(theirs)); err != nil {
				t.Fatal(err)
			}
			if _, err := f.client.Apply(ctx, e.ref, []byte(e.yaml)); !errors.Is(err, harness.ErrNotManaged) || harness.IsRetryable(err) {
				t.Errorf("Apply over an unmanaged entity: %v, want ErrNotManaged", err)
			}
			if gone, err := f.client.Remove(ctx, e.ref); gone || !errors.Is(err, harness.ErrNotManaged) {
				t.Errorf("Remove of an unmanaged entity = %v, %v; want ErrNotManaged", gone, err)
			}
			if n := len(f.srv.Effects()); n != 0 {
				t.Errorf("%d effects, want none", n)
			}
			if got := f.srv.Entities(standInKind(e.ref.Kind), testOrg, testProject)[e.key]; string(got) != theirs {
				t.Errorf("their entity changed:\n%s", got)
			}
		})
	}
	t.Run("yaml without the tag", func(t *testing.T) {
		f := entityFixture(t)
		e := entityFixtures()[1]
		_, err := f.client.Apply(context.Background(), e.ref, []byte(strings.Replace(e.yaml, "managed_by", "owner", 1)))
		if !errors.Is(err, harness.ErrInvalidRequest) {
			t.Errorf("Apply of yaml without the managed tag: %v, want ErrInvalidRequest", err)
		}
		wantCalls(t, f.srv)
	})
}

// TestApplyRaces covers the entity changing between the read and the
// write, which exercises each kind's answer to an update of a missing
// entity and to a duplicate create.
func TestApplyRaces(t *testing.T) {
	for _, e := range entityFixtures() {
		t.Run(string(e.ref.Kind)+": update finds none, so create", func(t *testing.T) {
			f := entityFixture(t)
			seed(t, f, e.ref.Kind)
			if err := f.srv.PutEntity(standInKind(e.ref.Kind), testOrg, testProject, []byte(e.yaml)); err != nil {
				t.Fatal(err)
			}
			afterFirstGet(f, func() { f.srv.DeleteEntity(standInKind(e.ref.Kind), testOrg, testProject, e.key) })
			got, err := f.client.Apply(context.Background(), e.ref, []byte(e.changed))
			if err != nil || got != harness.Created {
				t.Fatalf("Apply = %v, %v; want Created", got, err)
			}
			wantMethods(t, f.srv, "GET", "PUT", "POST")
		})
		t.Run(string(e.ref.Kind)+": create finds one, so update", func(t *testing.T) {
			f := entityFixture(t)
			seed(t, f, e.ref.Kind)
			afterFirstGet(f, func() {
				if err := f.srv.PutEntity(standInKind(e.ref.Kind), testOrg, testProject, []byte(e.yaml)); err != nil {
					t.Error(err)
				}
			})
			got, err := f.client.Apply(context.Background(), e.ref, []byte(e.changed))
			if err != nil || got != harness.Updated {
				t.Fatalf("Apply = %v, %v; want Updated", got, err)
			}
			wantMethods(t, f.srv, "GET", "POST", "GET", "PUT")
		})
		t.Run(string(e.ref.Kind)+": delete finds none", func(t *testing.T) {
			f := entityFixture(t)
			seed(t, f, e.ref.Kind)
			if err := f.srv.PutEntity(standInKind(e.ref.Kind), testOrg, testProject, []byte(e.yaml)); err != nil {
				t.Fatal(err)
			}
			afterFirstGet(f, func() { f.srv.DeleteEntity(standInKind(e.ref.Kind), testOrg, testProject, e.key) })
			if gone, err := f.client.Remove(context.Background(), e.ref); err != nil || !gone {
				t.Fatalf("Remove = %v, %v; want true", gone, err)
			}
		})
	}
}

// TestCreateThatFindsTheEntityComparesFirst shows, for every kind, that
// when another writer stores the entity between Apply's read and its
// create, the create answered "already exists" is followed by a read and
// a comparison: the same data is left as it is (no PUT reaches the
// stand-in, no effect, Unchanged), other data is replaced (Updated).
func TestCreateThatFindsTheEntityComparesFirst(t *testing.T) {
	for _, e := range entityFixtures() {
		tests := []struct {
			name        string
			there       string // what the other writer stores
			want        harness.Action
			wantMethods []string
			wantEffects []string
		}{
			{
				name: "same data", there: e.changed, want: harness.Unchanged,
				wantMethods: []string{"GET", "POST", "GET"},
			},
			{
				name: "other data", there: e.yaml, want: harness.Updated,
				wantMethods: []string{"GET", "POST", "GET", "PUT"},
				wantEffects: []string{"update " + e.ref.Identifier},
			},
		}
		for _, tt := range tests {
			t.Run(string(e.ref.Kind)+": "+tt.name, func(t *testing.T) {
				f := entityFixture(t)
				seed(t, f, e.ref.Kind)
				if e.ref.Kind == harness.KindTrigger {
					// Harness disables a trigger saved without its pipeline.
					if err := f.srv.PutEntity(harnesstest.KindPipeline, testOrg, testProject, []byte(entityFixtures()[4].yaml)); err != nil {
						t.Fatal(err)
					}
				}
				afterFirstGet(f, func() {
					if err := f.srv.PutEntity(standInKind(e.ref.Kind), testOrg, testProject, []byte(tt.there)); err != nil {
						t.Error(err)
					}
				})
				got, err := f.client.Apply(context.Background(), e.ref, []byte(e.changed))
				if err != nil || got != tt.want {
					t.Fatalf("Apply = %v, %v; want %v", got, err, tt.want)
				}
				wantMethods(t, f.srv, tt.wantMethods...)
				wantEffects(t, f.srv, tt.wantEffects...)
				stored := f.srv.Entities(standInKind(e.ref.Kind), testOrg, testProject)[e.key]
				if same, err := harness.SameEntity(stored, []byte(e.changed)); err != nil || !same {
					t.Errorf("the stand-in holds:\n%s\nwant:\n%s", stored, e.changed)
				}
			})
		}
	}
}

// seed stores what an entity of kind needs to exist before it: the
// environment of an infrastructure definition.
func seed(tb testing.TB, f *fixture, k harness.Kind) {
	tb.Helper()
	if k == harness.KindInfrastructure {
		if err := f.srv.PutEntity(harnesstest.KindEnvironment, testOrg, testProject, []byte(entityFixtures()[1].yaml)); err != nil {
			tb.Fatal(err)
		}
	}
}

// afterFirstGet runs fn once, right after the first GET is answered.
func afterFirstGet(f *fixture, fn func()) {
	var once sync.Once
	f.srv.OnCall(func(c harnesstest.Call) {
		if c.Method == http.MethodGet {
			once.Do(fn)
		}
	})
}

func wantMethods(tb testing.TB, srv *harnesstest.Server, want ...string) {
	tb.Helper()
	var got []string
	for _, c := range srv.Calls() {
		got = append(got, c.Method)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestGetMissingIsNotFoundForEveryKind(t *testing.T) {
	f := entityFixture(t)
	seed(t, f, harness.KindInfrastructure)
	for _, e := range entityFixtures() {
		if e.ref.Kind == harness.KindEnvironment {
			e.ref.Identifier = "qa" // prod is the seed
		}
		_, err := f.client.Get(context.Background(), e.ref)
		if !errors.Is(err, harness.ErrNotFound) || harness.IsRetryable(err) {
			t.Errorf("Get(%s): %v, want ErrNotFound", e.ref, err)
		}
		if gone, err := f.client.Remove(context.Background(), e.ref); gone || err != nil {
			t.Errorf("Remove(%s) of a missing entity = %v, %v; want false, nil", e.ref, gone, err)
		}
	}
}

func TestApplyInfrastructureOfAMissingEnvironment(t *testing.T) {
	f := entityFixture(t)
	e := entityFixtures()[2]
	_, err := f.client.Apply(context.Background(), e.ref, []byte(e.yaml))
	if !errors.Is(err, harness.ErrReferenceNotFound) || harness.IsRetryable(err) {
		t.Errorf("Apply: %v, want ErrReferenceNotFound", err)
	}
	if list, err := f.client.List(context.Background(), harness.KindInfrastructure, "prod"); err != nil || len(list) != 0 {
		t.Errorf("List of a missing environment's infrastructures = %v, %v; want none", list, err)
	}
}

func TestRemoveReferencedService(t *testing.T) {
	f := entityFixture(t)
	ctx := context.Background()
	es := entityFixtures()
	for _, e := range es[:5] {
		if _, err := f.client.Apply(ctx, e.ref, []byte(e.yaml)); err != nil {
			t.Fatal(err)
		}
	}
	gone, err := f.client.Remove(ctx, es[3].ref)
	if gone || !errors.Is(err, harness.ErrReferenced) || harness.IsRetryable(err) {
		t.Errorf("Remove of a service a pipeline references = %v, %v; want ErrReferenced", gone, err)
	}
}

// TestWritesAfterAnAmbiguousFailureTakeEffectOnce: a 5xx after the write
// took effect is read back, not replayed.
func TestWritesAfterAnAmbiguousFailureTakeEffectOnce(t *testing.T) {
	f := entityFixture(t)
	ctx := context.Background()
	e := entityFixtures()[3]
	f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 502, AfterEffect: true, Method: post})
	if got, err := f.client.Apply(ctx, e.ref, []byte(e.yaml)); err != nil || got != harness.Created {
		t.Fatalf("Apply = %v, %v; want Created", got, err)
	}
	f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 504, AfterEffect: true, Method: put})
	if got, err := f.client.Apply(ctx, e.ref, []byte(e.changed)); err != nil || got != harness.Updated {
		t.Fatalf("Apply = %v, %v; want Updated", got, err)
	}
	f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500, AfterEffect: true, Method: del})
	if gone, err := f.client.Remove(ctx, e.ref); err != nil || !gone {
		t.Fatalf("Remove = %v, %v; want true", gone, err)
	}
	wantEffects(t, f.srv, "create payments_api", "update payments_api", "delete payments_api")
}

func TestListReadsEveryPage(t *testing.T) {
	const n = 230 // three pages of 100
	for _, e := range entityFixtures() {
		f := entityFixture(t)
		seed(t, f, e.ref.Kind)
		for i := range n {
			src := strings.ReplaceAll(e.yaml, "identifier: "+e.ref.Identifier, fmt.Sprintf("identifier: x%03d", i))
			if err := f.srv.PutEntity(standInKind(e.ref.Kind), testOrg, testProject, []byte(src)); err != nil {
				t.Fatal(err)
			}
		}
		list, err := f.client.List(context.Background(), e.ref.Kind, parentOf(e.ref))
		if err != nil {
			t.Fatalf("List(%s): %v", e.ref.Kind, err)
		}
		if len(list) != n || list[0].Identifier != "x000" || list[n-1].Identifier != fmt.Sprintf("x%03d", n-1) {
			t.Errorf("List(%s): %d entries, want %d in order", e.ref.Kind, len(list), n)
		}
	}
}

// TestApplyChecksBeforeSending: what Harness would refuse for a reason
// the client can see is refused without a call.
func TestApplyChecksBeforeSending(t *testing.T) {
	es := entityFixtures()
	tests := []struct {
		name string
		ref  harness.Ref
		yaml string
	}{
		{"unknown kind", harness.Ref{Kind: "template", Identifier: "x"}, "template: {identifier: x}"},
		{"wrong root", es[1].ref, es[3].yaml},
		{"other identifier", harness.Ref{Kind: harness.KindEnvironment, Identifier: "qa"}, es[1].yaml},
		{"infrastructure without environment", harness.Ref{Kind: harness.KindInfrastructure, Identifier: "prod_eu"}, es[2].yaml},
		{"infrastructure of another environment", harness.Ref{Kind: harness.KindInfrastructure, Identifier: "prod_eu", EnvironmentRef: "qa"}, es[2].yaml},
		{"trigger of another pipeline", harness.Ref{Kind: harness.KindTrigger, Identifier: "on_new_image", PipelineRef: "other"}, es[5].yaml},
		{"connector of another project", es[0].ref, strings.Replace(es[0].yaml, "projectIdentifier: payments", "projectIdentifier: other", 1)},
		{"identifier with a hyphen", harness.Ref{Kind: harness.KindService, Identifier: "payments-api"}, es[3].yaml},
		{"not yaml", es[3].ref, "service: ["},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := entityFixture(t)
			if _, err := f.client.Apply(context.Background(), tt.ref, []byte(tt.yaml)); !errors.Is(err, harness.ErrInvalidRequest) {
				t.Errorf("Apply: %v, want ErrInvalidRequest", err)
			}
			wantCalls(t, f.srv)
		})
	}
	f := entityFixture(t)
	for _, c := range []struct {
		kind   harness.Kind
		parent string
	}{{harness.KindInfrastructure, ""}, {harness.KindTrigger, ""}, {harness.KindService, "prod"}, {"template", ""}} {
		if _, err := f.client.List(context.Background(), c.kind, c.parent); !errors.Is(err, harness.ErrInvalidRequest) {
			t.Errorf("List(%q, %q): %v, want ErrInvalidRequest", c.kind, c.parent, err)
		}
	}
	wantCalls(t, f.srv)
}

// TestTriggerSaveAnsweredWithErrorResponse: the trigger resource answers
// an InvalidTriggerYamlException with HTTP 200 SUCCESS and
// data.errorResponse; nothing was saved.
func TestTriggerSaveAnsweredWithErrorResponse(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"status":"ERROR","code":"ENTITY_NOT_FOUND","message":"Trigger on_new_image does not exist"}`)
			return
		}
		fmt.Fprint(w, `{"status":"SUCCESS","data":{"identifier":"on_new_image","errorResponse":true,`+
			`"errors":{"trigger.source":{"message":"unknown source"}}},"metaData":null,"correlationId":"c1"}`)
	}))
	t.Cleanup(ts.Close)
	f := newFixture(t, func(cfg *harness.Config) { cfg.BaseURL = ts.URL })
	e := entityFixtures()[5]
	_, err := f.client.Apply(context.Background(), e.ref, []byte(e.yaml))
	if !errors.Is(err, harness.ErrInvalidRequest) || harness.IsRetryable(err) || !strings.Contains(err.Error(), "unknown source") {
		t.Errorf("Apply: %v, want a non-retryable ErrInvalidRequest naming the error", err)
	}
}

// TestUnmatchedRouteIsNotGone: Jersey answers a path no resource matches
// with 400 RESOURCE_NOT_FOUND_EXCEPTION "HTTP 404 Not Found"; that must
// not read as "already deleted".
func TestUnmatchedRouteIsNotGone(t *testing.T) {
	f := entityFixture(t)
	f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 400, Code: "RESOURCE_NOT_FOUND_EXCEPTION",
		Message: "HTTP 404 Not Found"})
	gone, err := f.client.Remove(context.Background(), entityFixtures()[3].ref)
	if gone || !errors.Is(err, harness.ErrUnexpectedResponse) {
		t.Errorf("Remove = %v, %v; want ErrUnexpectedResponse", gone, err)
	}
}

func TestExecuteSendsModuleType(t *testing.T) {
	f := newFixture(t)
	f.srv.PutPipeline(testOrg, testProject, "svc_a", pipelineYAML("svc_a", "svc a", ""))
	if _, err := f.client.Execute(context.Background(), "svc_a", nil); err != nil {
		t.Fatal(err)
	}
	calls := f.srv.Calls()
	if got := calls[len(calls)-1].Query.Get("moduleType"); got != "cd" {
		t.Errorf("moduleType = %q, want cd", got)
	}
}

func TestSameEntity(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"as SameYAML", "# c\na: 1\nb: [x]\n", "b: ['x']\na: 1\n", true},
		{"added null, empty string, list and map", "a: 1\n", "a: 1\nb: null\nc: ''\nd: []\ne: {}\n", true},
		{"dropped empty fields", "a: 1\nb: {c: [], d: ''}\n", "a: 1\nb: {}\n", true},
		{"nested", "a: {b: 1}\n", "a: {b: 1, c: null}\n", true},
		{"in lists", "a: [{b: 1}]\n", "a: [{b: 1, c: []}]\n", true},
		{"added value", "a: 1\n", "a: 1\nb: false\n", false},
		{"value changed", "a: {b: 1}\n", "a: {b: 2}\n", false},
		{"type changed", "a: 10\n", "a: '10'\n", false},
		{"list length", "a: [1]\n", "a: [1, 2]\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, args := range [][2]string{{tt.a, tt.b}, {tt.b, tt.a}} {
				got, err := harness.SameEntity([]byte(args[0]), []byte(args[1]))
				if err != nil || got != tt.want {
					t.Errorf("SameEntity(%q, %q) = %v, %v; want %v", args[0], args[1], got, err, tt.want)
				}
			}
		})
	}
	if _, err := harness.SameEntity([]byte("a: ["), []byte("a: 1")); err == nil {
		t.Error("SameEntity of invalid yaml: want an error")
	}
}

func TestKindsAndRootKeys(t *testing.T) {
	var got []string
	for _, k := range harness.Kinds() {
		got = append(got, string(k)+":"+k.RootKey())
	}
	want := []string{"connector:connector", "environment:environment", "infrastructure:infrastructureDefinition",
		"service:service", "pipeline:pipeline", "trigger:trigger"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Kinds (-want +got):\n%s", diff)
	}
}
