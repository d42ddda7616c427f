package templates

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultHasTwoTemplatesPerArchetype(t *testing.T) {
	got := Default()
	names := make([]string, 0, len(got))
	for name, src := range got {
		names = append(names, name)
		if len(src) == 0 {
			t.Errorf("%s is empty", name)
		}
	}
	slices.Sort(names)
	want := []string{
		"api-pipeline-template.yaml",
		"api-service-template.yaml",
		"job-pipeline-template.yaml",
		"job-service-template.yaml",
		"listener-pipeline-template.yaml",
		"listener-service-template.yaml",
		"scheduler-pipeline-template.yaml",
		"scheduler-service-template.yaml",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("Default() file names (-want +got):\n%s", diff)
	}
}

func TestDefaultReturnsACopy(t *testing.T) {
	m := Default()
	delete(m, "api-pipeline-template.yaml")
	if _, ok := Default()["api-pipeline-template.yaml"]; !ok {
		t.Error("deleting from one Default() map changed the next one")
	}
}
