package harnesstest

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// stepItem is one step of a stage's execution with its fully qualified
// name.
type stepItem struct {
	doc map[string]any
	fqn string
}

// flattenSteps lists the steps of an execution in order: step groups and
// parallel blocks are run one step after the other.
func flattenSteps(list []any, fqn string) []stepItem {
	var out []stepItem
	for _, item := range list {
		m := asMap(item)
		switch {
		case mapAt(m, "step") != nil:
			st := mapAt(m, "step")
			out = append(out, stepItem{doc: st, fqn: fqn + "." + str(st, "identifier")})
		case mapAt(m, "stepGroup") != nil:
			g := mapAt(m, "stepGroup")
			inner, _ := g["steps"].([]any)
			out = append(out, flattenSteps(inner, fqn+"."+str(g, "identifier")+".steps")...)
		case m["parallel"] != nil:
			inner, _ := m["parallel"].([]any)
			out = append(out, flattenSteps(inner, fqn)...)
		}
	}
	return out
}

// runSteps runs a stage's steps (spec.execution.steps) in order and
// returns the stage's final status and message. Rollback steps never run.
func (s *Server) runSteps(ctx context.Context, e *execution, st *stageRun, ev *evalCtx) (string, string) {
	list, _ := mapAt(mapAt(st.doc, "spec"), "execution")["steps"].([]any)
	items := flattenSteps(list, "pipeline.stages."+st.id+".spec.execution.steps")
	var steps []*stepRun
	for _, it := range items {
		steps = append(steps, s.newStep(e, st, str(it.doc, "identifier"), str(it.doc, "name"), str(it.doc, "type"), it.fqn, it.doc))
	}
	s.changeRun(e, func() { st.steps = steps })
	for _, sp := range steps {
		if ctx.Err() != nil {
			return StatusAborted, "the stand-in was closed"
		}
		s.stepStatus(e, st, sp, StatusRunning, "")
		status, msg := s.runStep(ctx, e, st, sp, ev)
		s.stepStatus(e, st, sp, status, msg)
		if status != StatusSuccess {
			return status, msg
		}
	}
	return StatusSuccess, ""
}

// runStep runs one step. Step types other than Wait, HarnessApproval and
// the K8s deploy steps succeed without doing anything.
func (s *Server) runStep(ctx context.Context, e *execution, st *stageRun, sp *stepRun, ev *evalCtx) (string, string) {
	spec := mapAt(sp.doc, "spec")
	switch sp.typ {
	case "Wait":
		return s.waitStep(ctx, e, st, sp, spec, ev)
	case "HarnessApproval":
		return s.approvalStep(ctx, e, st, sp, spec, ev)
	case "K8sRollingDeploy", "K8sApply", "K8sCanaryDeploy", "K8sBlueGreenDeploy":
		if st.typ != "Deployment" {
			return StatusFailed, fmt.Sprintf("harnesstest: a %s step needs a Deployment stage", sp.typ)
		}
		return s.k8sStep(ctx, e, st, sp, ev)
	}
	return StatusSuccess, ""
}

// waitStep is WaitStep (harness-core pipeline-service/modules/
// orchestration-steps io/harness/steps/wait/WaitStep.java): it waits its
// duration, which must be positive, in status WaitStepRunning.
func (s *Server) waitStep(ctx context.Context, e *execution, st *stageRun, sp *stepRun, spec map[string]any, ev *evalCtx) (string, string) {
	raw, err := ev.resolve(scalarText(spec["duration"]))
	if err != nil {
		return StatusFailed, err.Error()
	}
	d, ok := parseHarnessDuration(raw)
	if !ok || d <= 0 {
		return StatusFailed, "Invalid input for duration of wait step, Duration should be greater than 0"
	}
	s.stepStatus(e, st, sp, StatusWaitStepRunning, "")
	if err := s.sleep(ctx, d); err != nil {
		return StatusAborted, "the stand-in was closed"
	}
	return StatusSuccess, ""
}

var durationPart = regexp.MustCompile(`(\d+)(ms|w|d|h|m|s)`)

// parseHarnessDuration reads a timeout string as
// NGTimeConversionHelper.convertTimeStringToMilliseconds does: a sequence
// of <number><unit>, units w, d, h, m, s and ms.
func parseHarnessDuration(s string) (time.Duration, bool) {
	if s == "" || durationPart.ReplaceAllString(s, "") != "" {
		return 0, false
	}
	units := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
		"d": 24 * time.Hour, "w": 7 * 24 * time.Hour}
	var d time.Duration
	for _, m := range durationPart.FindAllStringSubmatch(s, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return 0, false
		}
		d += time.Duration(n) * units[m[2]]
	}
	return d, true
}
