// Package templates holds the built-in templates, a pipeline template and
// a Service template per archetype, used where the pipelines repository
// has no templates/<archetype>-pipeline-template.yaml or
// templates/<archetype>-service-template.yaml of its own.
//
// The files are Go text/template sources executed by package render, which
// documents the data and functions they may use.
package templates

import (
	"embed"
	"io/fs"
	"maps"
)

//go:embed *-pipeline-template.yaml *-service-template.yaml
var files embed.FS

// defaults is read once: the embedded files never change.
var defaults = func() map[string][]byte {
	m := map[string][]byte{}
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic("templates: reading embedded files: " + err.Error())
	}
	for _, e := range entries {
		b, err := fs.ReadFile(files, e.Name())
		if err != nil {
			panic("templates: reading embedded files: " + err.Error())
		}
		m[e.Name()] = b
	}
	return m
}()

// Default returns the built-in templates keyed by file name: for each of
// the archetypes api, listener, job and scheduler,
// "<archetype>-pipeline-template.yaml" and
// "<archetype>-service-template.yaml". The map is a fresh copy that the
// caller may change; the byte slices are shared and must not be modified.
func Default() map[string][]byte {
	return maps.Clone(defaults)
}
