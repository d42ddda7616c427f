// Package catalog reads, validates and compares the service catalog
// (catalog/services.yaml) and the pipelines repository's settings
// (.pipeline-orchestrator.yml).
//
// The package is pure: it does no I/O, keeps no clock, logs nothing and
// holds no mutable state, so its functions are safe for concurrent use.
// Callers read the files and pass their bytes:
//
//	settings, diags := catalog.ParseSettings(".pipeline-orchestrator.yml", settingsSrc)
//	if len(diags) > 0 { ... }
//	cat, diags := catalog.Parse("catalog/services.yaml", catalogSrc, catalog.ParseOptions{
//		Settings:   settings,
//		Archetypes: archetypes, // from the templates
//	})
//	if len(diags) > 0 { ... }
//	change := catalog.Diff(baseCatalog, cat)
//
// # Diagnostics
//
// Every problem is returned as a Diagnostic, never as a bare error string,
// so that callers can print it as PATH:LINE:COL: message or turn it into a
// check-run annotation on the exact line. Parse and ParseSettings report
// all problems at once, sorted in file order. Lines and columns are
// 1-based; columns count characters, not bytes. Column is 0 when only the
// line is known, which is the case for most YAML syntax errors: yaml.v3
// reports no column, and for an error inside a block it reports the line
// where the block starts, so the parser looks for the first line at which
// the file stops parsing (in files up to 1 MiB).
// Field is a path such as services[2].environments[1], with 0-based list
// indexes; Service names the service when its name could be read.
//
// When the diagnostics are not empty, the returned Catalog or Settings is
// the zero value and must not be used. An unreadable catalog must never be
// taken for an empty one: a valid catalog without services is written
// `services: []`.
//
// # YAML
//
// Both files are read through yaml.Node, so each value keeps its position.
// Besides syntax errors, these are errors anywhere in either file, because
// they hide or repeat values that a reviewer of a pull request should see:
// duplicate mapping keys, anchors (&a), aliases (*a), merge keys (<<), lists
// or mappings used as keys, more than one document, tabs used for
// indentation, text that is not UTF-8 and control characters. Values that must be strings must be plain strings:
// `name: 123` and `name: !!binary ...` are errors. Config-only fields of a
// service may hold any YAML value (tags included) and are kept as canonical
// text.
package catalog
