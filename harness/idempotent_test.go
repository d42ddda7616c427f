package harness_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

func TestCreateOrUpdate(t *testing.T) {
	const id = "svc_a"
	desired := pipelineYAML(id, "svc a", "")
	// The same data as desired, written differently: comments, key order,
	// quoting and flow style do not make a change.
	reformatted := []byte(`# rendered by hand
pipeline:
  identifier: "svc_a"
  projectIdentifier: payments
  orgIdentifier: default
  name: 'svc a'
  stages:
    - stage: {type: Deployment, identifier: deploy, name: deploy}
  tags: {team: payments}
`)
	old := pipelineYAML(id, "svc a (old)", "")

	// deleteAfterFirstGet removes the pipeline right after the client read it,
	// so that the following update finds nothing.
	deleteAfterFirstGet := func(f *fixture) {
		var once sync.Once
		f.srv.OnCall(func(c harnesstest.Call) {
			if c.Method == get {
				once.Do(func() { f.srv.DeletePipeline(testOrg, testProject, id) })
			}
		})
	}

	tests := []struct {
		name        string
		setup       func(f *fixture)
		want        harness.Action
		wantErr     error
		wantCalls   []string
		wantEffects []string
		wantStored  []byte // nil: nothing stored
	}{
		{
			name:        "absent: create",
			want:        harness.Created,
			wantCalls:   []string{"GET " + pathGet + id, "POST " + pathCreate},
			wantEffects: []string{"create " + id},
			wantStored:  desired,
		},
		{
			name:       "present with the same data: no write",
			setup:      func(f *fixture) { f.srv.PutPipeline(testOrg, testProject, id, reformatted) },
			want:       harness.Unchanged,
			wantCalls:  []string{"GET " + pathGet + id},
			wantStored: reformatted,
		},
		{
			name:        "present with other data: update",
			setup:       func(f *fixture) { f.srv.PutPipeline(testOrg, testProject, id, old) },
			want:        harness.Updated,
			wantCalls:   []string{"GET " + pathGet + id, "PUT " + pathUpdate + id},
			wantEffects: []string{"update " + id},
			wantStored:  desired,
		},
		{
			name: "create finds it already there: update",
			setup: func(f *fixture) {
				// The read misses it (created by someone else in between).
				f.srv.PutPipeline(testOrg, testProject, id, old)
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: http.StatusNotFound,
					Code: "ENTITY_NOT_FOUND", Method: get})
			},
			want:        harness.Updated,
			wantCalls:   []string{"GET " + pathGet + id, "POST " + pathCreate, "PUT " + pathUpdate + id},
			wantEffects: []string{"update " + id},
			wantStored:  desired,
		},
		{
			name: "update finds it gone (400 INVALID_REQUEST): create",
			setup: func(f *fixture) {
				f.srv.PutPipeline(testOrg, testProject, id, old)
				deleteAfterFirstGet(f)
			},
			want:        harness.Created,
			wantCalls:   []string{"GET " + pathGet + id, "PUT " + pathUpdate + id, "POST " + pathCreate},
			wantEffects: []string{"create " + id},
			wantStored:  desired,
		},
		{
			name: "update finds it gone (404): create",
			setup: func(f *fixture) {
				f.srv.SetUpdateMissingStatus(http.StatusNotFound)
				f.srv.PutPipeline(testOrg, testProject, id, old)
				deleteAfterFirstGet(f)
			},
			want:        harness.Created,
			wantCalls:   []string{"GET " + pathGet + id, "PUT " + pathUpdate + id, "POST " + pathCreate},
			wantEffects: []string{"create " + id},
			wantStored:  desired,
		},
		{
			name:      "governance deny on create: nothing saved",
			setup:     func(f *fixture) { f.srv.SetGovernanceDeny(true) },
			wantErr:   harness.ErrGovernanceDenied,
			wantCalls: []string{"GET " + pathGet + id, "POST " + pathCreate},
		},
		{
			name: "governance deny on update: nothing saved",
			setup: func(f *fixture) {
				f.srv.PutPipeline(testOrg, testProject, id, old)
				f.srv.SetGovernanceDeny(true)
			},
			wantErr:    harness.ErrGovernanceDenied,
			wantCalls:  []string{"GET " + pathGet + id, "PUT " + pathUpdate + id},
			wantStored: old,
		},
		{
			name: "5xx after the create took effect: read back, not created twice",
			setup: func(f *fixture) {
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500, AfterEffect: true})
			},
			want:        harness.Created,
			wantCalls:   []string{"GET " + pathGet + id, "POST " + pathCreate, "GET " + pathGet + id},
			wantEffects: []string{"create " + id},
			wantStored:  desired,
		},
		{
			name: "dropped connection after the create took effect",
			setup: func(f *fixture) {
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultDrop, AfterEffect: true})
			},
			want:        harness.Created,
			wantCalls:   []string{"GET " + pathGet + id, "POST " + pathCreate, "GET " + pathGet + id},
			wantEffects: []string{"create " + id},
			wantStored:  desired,
		},
		{
			name: "5xx after the update took effect: read back, not written twice",
			setup: func(f *fixture) {
				f.srv.PutPipeline(testOrg, testProject, id, old)
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 503, HTML: true, AfterEffect: true})
			},
			want:        harness.Updated,
			wantCalls:   []string{"GET " + pathGet + id, "PUT " + pathUpdate + id, "GET " + pathGet + id},
			wantEffects: []string{"update " + id},
			wantStored:  desired,
		},
		{
			name: "5xx before the update: update retried",
			setup: func(f *fixture) {
				f.srv.PutPipeline(testOrg, testProject, id, old)
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 502, HTML: true, Method: put})
			},
			want: harness.Updated,
			wantCalls: []string{"GET " + pathGet + id, "PUT " + pathUpdate + id, "GET " + pathGet + id,
				"PUT " + pathUpdate + id},
			wantEffects: []string{"update " + id},
			wantStored:  desired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			got, err := f.client.CreateOrUpdate(context.Background(), id, desired)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("CreateOrUpdate: %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("CreateOrUpdate: %v", err)
			}
			if got != tt.want {
				t.Errorf("action = %v, want %v", got, tt.want)
			}
			wantCalls(t, f.srv, tt.wantCalls...)
			wantEffects(t, f.srv, tt.wantEffects...)
			want := map[string]string{}
			if tt.wantStored != nil {
				want[id] = string(tt.wantStored)
			}
			got2 := map[string]string{}
			for k, v := range f.srv.Pipelines(testOrg, testProject) {
				got2[k] = string(v)
			}
			if diff := cmp.Diff(want, got2); diff != "" {
				t.Errorf("stored pipelines (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCreateNotBlindlyRepeated shows that a create whose outcome is unknown
// and that did not take effect is not sent again in the same call; the
// error is retryable, and the next call starts from a read and creates once.
func TestCreateNotBlindlyRepeated(t *testing.T) {
	const id = "svc_a"
	desired := pipelineYAML(id, "svc a", "")
	for name, fault := range map[string]harnesstest.Fault{
		"500":      {Kind: harnesstest.FaultStatus, Status: 500, Method: post},
		"502 html": {Kind: harnesstest.FaultStatus, Status: 502, HTML: true, Method: post},
		"dropped":  {Kind: harnesstest.FaultDrop, Method: post},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.srv.FailNext(1, fault)
			ctx := context.Background()
			_, err := f.client.CreateOrUpdate(ctx, id, desired)
			if err == nil || !harness.IsRetryable(err) {
				t.Fatalf("first CreateOrUpdate: %v, want a retryable error", err)
			}
			wantCalls(t, f.srv, "GET "+pathGet+id, "POST "+pathCreate, "GET "+pathGet+id)
			wantEffects(t, f.srv)

			got, err := f.client.CreateOrUpdate(ctx, id, desired)
			if err != nil || got != harness.Created {
				t.Fatalf("second CreateOrUpdate = %v, %v; want created", got, err)
			}
			wantEffects(t, f.srv, "create "+id)
		})
	}
}

func TestCreateOrUpdateConcurrentSameID(t *testing.T) {
	const id = "svc_a"
	f := newFixture(t)
	desired := pipelineYAML(id, "svc a", "")
	var wg sync.WaitGroup
	actions := make([]harness.Action, 8)
	errs := make([]error, 8)
	for i := range actions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actions[i], errs[i] = f.client.In(testOrg, testProject).CreateOrUpdate(context.Background(), id, desired)
		}()
	}
	wg.Wait()
	count := map[harness.Action]int{}
	for i, a := range actions {
		if errs[i] != nil {
			t.Fatalf("CreateOrUpdate #%d: %v", i, errs[i])
		}
		count[a]++
	}
	if diff := cmp.Diff(map[harness.Action]int{harness.Created: 1, harness.Unchanged: 7}, count); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	wantEffects(t, f.srv, "create "+id)
}

func TestDeleteIfExists(t *testing.T) {
	const id = "svc_a"
	stored := pipelineYAML(id, "svc a", "")
	deleteAfterFirstGet := func(f *fixture) {
		var once sync.Once
		f.srv.OnCall(func(c harnesstest.Call) {
			if c.Method == get {
				once.Do(func() { f.srv.DeletePipeline(testOrg, testProject, id) })
			}
		})
	}
	tests := []struct {
		name        string
		setup       func(f *fixture)
		want        bool
		wantCalls   []string
		wantEffects []string
	}{
		{
			name:      "missing: done without a delete",
			wantCalls: []string{"GET " + pathGet + id},
		},
		{
			name:        "present: deleted",
			setup:       func(f *fixture) { f.srv.PutPipeline(testOrg, testProject, id, stored) },
			want:        true,
			wantCalls:   []string{"GET " + pathGet + id, "DELETE " + pathGet + id},
			wantEffects: []string{"delete " + id},
		},
		{
			name: "gone before the delete, answered 400: read back, done",
			setup: func(f *fixture) {
				f.srv.PutPipeline(testOrg, testProject, id, stored)
				deleteAfterFirstGet(f)
			},
			want:      true,
			wantCalls: []string{"GET " + pathGet + id, "DELETE " + pathGet + id, "GET " + pathGet + id},
		},
		{
			name: "gone before the delete, answered 404: done",
			setup: func(f *fixture) {
				f.srv.SetDeleteMissingStatus(http.StatusNotFound)
				f.srv.PutPipeline(testOrg, testProject, id, stored)
				deleteAfterFirstGet(f)
			},
			want:      true,
			wantCalls: []string{"GET " + pathGet + id, "DELETE " + pathGet + id},
		},
		{
			name: "5xx after the delete took effect: read back, not deleted twice",
			setup: func(f *fixture) {
				f.srv.PutPipeline(testOrg, testProject, id, stored)
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 500, AfterEffect: true})
			},
			want:        true,
			wantCalls:   []string{"GET " + pathGet + id, "DELETE " + pathGet + id, "GET " + pathGet + id},
			wantEffects: []string{"delete " + id},
		},
		{
			name: "5xx before the delete: retried",
			setup: func(f *fixture) {
				f.srv.PutPipeline(testOrg, testProject, id, stored)
				f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 504, HTML: true, Method: del})
			},
			want: true,
			wantCalls: []string{"GET " + pathGet + id, "DELETE " + pathGet + id, "GET " + pathGet + id,
				"DELETE " + pathGet + id},
			wantEffects: []string{"delete " + id},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			got, err := f.client.DeleteIfExists(context.Background(), id)
			if err != nil {
				t.Fatalf("DeleteIfExists: %v", err)
			}
			if got != tt.want {
				t.Errorf("deleted = %v, want %v", got, tt.want)
			}
			wantCalls(t, f.srv, tt.wantCalls...)
			wantEffects(t, f.srv, tt.wantEffects...)
			if n := len(f.srv.Pipelines(testOrg, testProject)); n != 0 {
				t.Errorf("%d pipelines left, want 0", n)
			}
		})
	}
}

func TestDeleteIfExistsReferenced(t *testing.T) {
	const id = "svc_a"
	f := newFixture(t)
	f.srv.PutPipeline(testOrg, testProject, id, pipelineYAML(id, "svc a", ""))
	f.srv.FailNext(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 400, Code: "ENTITY_REFERENCE_EXCEPTION",
		Message: "Could not delete the pipeline svc_a as it is referenced by other entities", Method: del})
	got, err := f.client.DeleteIfExists(context.Background(), id)
	if got || !errors.Is(err, harness.ErrReferenced) || harness.IsRetryable(err) {
		t.Errorf("DeleteIfExists = %v, %v; want false and a non-retryable ErrReferenced", got, err)
	}
	if apiErr(t, err).Code != "ENTITY_REFERENCE_EXCEPTION" {
		t.Errorf("code = %q, want ENTITY_REFERENCE_EXCEPTION", apiErr(t, err).Code)
	}
}

// TestWrongBaseURLNeverDeletes guards the outbox against a misconfiguration:
// a 404 page for a wrong URL must not read as "already deleted".
func TestWrongBaseURLNeverDeletes(t *testing.T) {
	f := newFixture(t, func(c *harness.Config) { c.BaseURL += "/not-harness" })
	deleted, err := f.client.DeleteIfExists(context.Background(), "svc_a")
	if deleted || err == nil || errors.Is(err, harness.ErrNotFound) || harness.IsRetryable(err) {
		t.Errorf("DeleteIfExists = %v, %v; want a non-retryable error that is not ErrNotFound", deleted, err)
	}
}

func TestSameYAML(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"identical", "a: 1\n", "a: 1\n", true},
		{"comments and key order", "# c\na: 1\nb: x\n", "b: x # d\na: 1\n", true},
		{"quoting and flow style", "a: [x, 'y']\nb: {c: \"d\"}\n", "a:\n  - \"x\"\n  - y\nb:\n  c: d\n", true},
		{"value changed", "a: 1\n", "a: 2\n", false},
		{"type changed", "a: 10\n", "a: \"10\"\n", false},
		{"list order matters", "a: [x, y]\n", "a: [y, x]\n", false},
		{"key added", "a: 1\n", "a: 1\nb: 2\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := harness.SameYAML([]byte(tt.a), []byte(tt.b))
			if err != nil || got != tt.want {
				t.Errorf("SameYAML = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := harness.SameYAML([]byte("a: ["), []byte("a: 1")); err == nil {
		t.Error("SameYAML of invalid yaml: want an error")
	}
}
