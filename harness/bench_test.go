package harness_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
)

// benchPipeline renders a pipeline of the size the orchestrator produces:
// four deployment stages, each with an approval, a rolling deploy and a
// rollback (about 4 KB).
func benchPipeline(id, imageDefault string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `pipeline:
  name: %[1]s deploy
  identifier: %[1]s
  orgIdentifier: %[2]s
  projectIdentifier: %[3]s
  tags: {team: payments, archetype: api}
  variables:
    - name: imageTag
      type: String
      description: ""
      required: true
      value: <+input>.default(%[4]s)
  stages:
`, id, testOrg, testProject, imageDefault)
	for _, st := range []string{"int_stable_euw1", "pre_stable_euw1", "prod_euw1", "prod_euw2"} {
		fmt.Fprintf(&b, `    - stage:
        name: deploy %[1]s
        identifier: deploy_%[1]s
        type: Deployment
        spec:
          deploymentType: Kubernetes
          service:
            serviceRef: %[2]s
            serviceInputs: <+input>
          environment:
            environmentRef: %[1]s
            deployToAll: false
            infrastructureDefinitions:
              - identifier: %[1]s_k8s
          execution:
            steps:
              - step:
                  type: HarnessApproval
                  name: approve
                  identifier: approve
                  timeout: 1d
                  spec:
                    approvalMessage: Deploy <+pipeline.variables.imageTag>?
                    includePipelineExecutionHistory: true
                    approvers: {userGroups: [account._account_all_users], minimumCount: 1, disallowPipelineExecutor: false}
                    approverInputs: []
              - step:
                  type: K8sRollingDeploy
                  name: rolling
                  identifier: rolling
                  timeout: 10m
                  spec: {skipDryRun: false, pruningEnabled: false}
            rollbackSteps:
              - step:
                  type: K8sRollingRollback
                  name: rollback
                  identifier: rollback
                  timeout: 10m
                  spec: {pruningEnabled: false}
        failureStrategies:
          - onFailure:
              errors: [AllErrors]
              action: {type: StageRollback}
`, st, id)
	}
	return []byte(b.String())
}

// BenchmarkCreateOrUpdate measures one CreateOrUpdate over real HTTP against
// the stand-in: "unchanged" is a GET plus a structural comparison, "changed"
// a GET, a comparison and a PUT.
func BenchmarkCreateOrUpdate(b *testing.B) {
	const id = "payments_api"
	ctx := context.Background()
	b.Run("unchanged", func(b *testing.B) {
		f := newFixture(b)
		y := benchPipeline(id, "1.0.0")
		f.srv.PutPipeline(testOrg, testProject, id, y)
		b.SetBytes(int64(len(y)))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			a, err := f.client.CreateOrUpdate(ctx, id, y)
			if err != nil || a != harness.Unchanged {
				b.Fatalf("CreateOrUpdate = %v, %v", a, err)
			}
			if i%1000 == 999 {
				f.srv.ClearRecords()
			}
		}
	})
	b.Run("changed", func(b *testing.B) {
		f := newFixture(b)
		versions := [][]byte{benchPipeline(id, "1.0.0"), benchPipeline(id, "1.0.1")}
		f.srv.PutPipeline(testOrg, testProject, id, versions[0])
		b.SetBytes(int64(len(versions[0])))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			a, err := f.client.CreateOrUpdate(ctx, id, versions[(i+1)%2])
			if err != nil || a != harness.Updated {
				b.Fatalf("CreateOrUpdate = %v, %v", a, err)
			}
			if i%1000 == 999 {
				f.srv.ClearRecords()
			}
		}
	})
}
