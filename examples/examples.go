// Package examples holds the bundled example catalog and settings, which
// the README's commands and the demo use. They are embedded so that the
// demo runs from any directory, and from the container image.
package examples

import _ "embed"

// Catalog is examples/catalog/services.yaml: a realistic catalog of a
// dozen services over the four archetypes.
//
//go:embed catalog/services.yaml
var Catalog string

// NextCatalog is examples/catalog/services.next.yaml: the same catalog
// after a realistic change (a service added, one removed, one config-only
// and one pipeline-shaping edit).
//
//go:embed catalog/services.next.yaml
var NextCatalog string

// Settings is examples/.pipeline-orchestrator.yml, the seed's settings
// written out.
//
//go:embed .pipeline-orchestrator.yml
var Settings string
