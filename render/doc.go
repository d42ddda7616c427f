// Package render turns catalog services into Harness pipeline YAML with Go
// text/template templates, checks the result, and writes it in one
// canonical form.
//
// The package is pure: besides reading its embedded default templates it
// does no I/O, keeps no clock and logs nothing. Harness's JSON Schemas are
// not among its files: they are Harness's, and come in as a compiled
// *Schemas (CompileSchemas) that the caller obtained, from the user's
// Harness account or from a file.
//
// # Templates
//
// A template is the pipelines repo's templates/<archetype>-pipeline-template.yaml,
// or the built-in default of package templates for an archetype the repo
// lacks. It executes on a Data value:
//
//	.Service   Name, Identifier, Team, Archetype, Environments, Regions
//	.Settings  Org, Project, Connector, ConfigRepo, Branch
//	.Pipeline  Name ("<service>-cd"), Identifier ("<service>_cd" as an identifier)
//	.Stages    one per environment (promotion order) × region: Identifier
//	           ("int_stable_euw1"), Name, Environment{Name, Identifier, Short},
//	           Region, ManifestPath, DelegateSelector, Infrastructure,
//	           Gate{Kind, Wait, UserGroups, MinApprovers, Timeout},
//	           FirstInEnvironment
//	.Source    CatalogRepo, Template
//
// and may call:
//
//	quote       a value as a YAML double-quoted string: {{quote .Service.Team}}
//	quoteList   a list of strings as a YAML flow list of quoted strings
//	identifier  Identifier, for names built in the template
//
// and the seed architecture's placeholders {{SERVICE_NAME}}, {{TEAM}},
// {{ARCHETYPE}}, {{ENVIRONMENTS}} and {{REGIONS}} (comma-joined), so that
// a seed-style template renders unchanged.
//
// # No value changes the YAML structure
//
// Values reach the YAML only in two ways. Through quote, which escapes
// everything outside printable ASCII, so the value stays one string in its
// place whatever it holds. Or as an Identifier field, which holds only
// [a-zA-Z0-9_]. The seed placeholders cannot quote (seed templates write
// them inside quotes and bare), so they insert only values made of
// letters, digits, '.', '_' and '-', and fail the rendering otherwise.
//
// Harness evaluates <+...> expressions in every string of a pipeline,
// quoted or not, so quoting cannot neutralise one. A catalog value (name,
// team, archetype, environments, regions) that holds "<+" is therefore
// rejected with an error naming the field, rather than rewritten: the
// pipeline must say what the catalog says, or nothing. Templates and
// settings are written by the platform team and may use expressions.
//
// # Checks and canonical form
//
// Pipeline parses the template's output back and checks it: one YAML
// document, no anchors or duplicate keys, a pipeline: root with only the
// keys Harness's schema defines (the schema's list when there is a schema,
// a built-in copy of it otherwise), the tag managed_by:
// pipeline-orchestrator, Harness identifier rules on pipeline, stage and
// step identifiers, unique stage identifiers, unique step identifiers
// within a stage, required keys (every step has a timeout, except Wait),
// and, when Options.Schemas is not nil, Harness's pipeline JSON Schema.
// Without schemas that last check is skipped and everything else runs;
// PipelinePlan.SchemaSkipped says so, for the caller to tell the user.
// Each problem is a *TemplateError naming the template, the template line
// (found by re-running the template with line markers) and the JSON
// pointer into the pipeline.
//
// The same Schemas check other documents Harness will be given:
// CheckServiceDefinition a Service's serviceDefinition, CheckTrigger a
// trigger.
//
// The file written is a header comment naming the source commits, then the
// pipeline re-encoded with yaml.v3: 2-space indentation, keys in the
// template's order, comments dropped, strings quoted only where needed.
// The same inputs give the same bytes, and Body(file) drops the header so
// that renderings from different commits compare equal when the pipeline
// did not change.
//
// # Cost
//
// Two equivalences keep a rendering cheap, each held by a test against the
// slow reference: the canonical form is written directly, byte for byte
// what yaml.v3's encoder writes (which is used for anything outside the
// subset pipelines are made of); and the schema is compiled with each
// oneOf over step or stage types replaced by a dispatch on the value's
// "type" that tries only the alternatives that can match. Compiling the
// pipeline schema (CompileSchemas) costs a few tenths of a second of CPU
// time, paid once per process for the same schema bytes: the caller compiles when
// the schema changes (the application: when it fetches a new one, at most
// daily), not per rendering.
package render
