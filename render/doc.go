// Package render turns the service catalog and the pipelines repo's
// settings into the Harness entities a deploy needs, one YAML file each,
// checks them, alone and against each other, and writes them in one
// canonical form.
//
// The package is pure: besides reading its embedded default templates it
// does no I/O, keeps no clock and logs nothing. Harness's JSON Schemas are
// not among its files: they are Harness's, and come in as a compiled
// *Schemas (CompileSchemas) that the caller obtained, from the user's
// Harness account or from a file.
//
// # Entities
//
// Every enabled service renders three files, the settings two kinds:
//
//	services/<service>.yaml              service:  Service V2 (Kubernetes), from the archetype's Service template
//	pipelines/<service>-cd.yaml          pipeline: from the archetype's pipeline template
//	triggers/<service>-cd-new-image.yaml trigger:  custom webhook trigger of the pipeline, built here
//	environments/<env>.yaml              environment: PreProduction or Production, built here
//	infrastructures/<env>-<region>.yaml  infrastructureDefinition: KubernetesDirect, built here
//
// (the directories are settings; see catalog.ParseSettings). Each file
// holds the entity's own Harness YAML, with the tag managed_by:
// pipeline-orchestrator. Harness must receive them in ApplyOrder, and
// delete them in the reverse order.
//
// The Service leaves as runtime inputs (<+input>) exactly what differs per
// stage: its manifest's paths and valuesPaths (the manifests and the values
// file of each environment and region in the config repo, read through the
// cross-org connector) and its primary artifact's tag. Each stage of the
// pipeline fills them through serviceInputs, the tag from the pipeline
// variable imageTag (ImageTagVariable). The trigger sets imageTag from the
// field imageTag of its webhook's JSON payload (ImageTagPayload); its
// webhook URL comes from Harness once it exists. The values file holds
// `image: <+artifacts.primary.image>`, which Harness resolves from the
// artifact, and the manifests template the image as {{.Values.image}}.
//
// Environments, infrastructure definitions and triggers are built in Go
// rather than from templates: everything in them is a setting (validated
// where it is written) or follows from the pipeline, and nothing is the
// platform team's to shape. Infrastructure definitions take their cluster
// connector and namespace from the settings' cluster patterns and the
// release name release-<+INFRA_KEY_SHORT_ID> (Harness's default, unique
// per service, environment and infrastructure); they have no runtime
// inputs, so stages give them none, and delegate selectors go on the
// stage. Every environment and region of the settings is rendered, whether
// or not a service deploys there.
//
// # Templates
//
// A template is the pipelines repo's
// templates/<archetype>-pipeline-template.yaml or
// templates/<archetype>-service-template.yaml, or the built-in default of
// package templates where the repo has none. An archetype needs both. A
// template executes on a Data value:
//
//	.Service   Name, Identifier, Team, Archetype, Environments, Regions
//	.Settings  Org, Project, Connector, ConfigRepo, Branch,
//	           Artifact{Type, Connector, Registry, ImagePath}
//	.Pipeline  Name ("<service>-cd"), Identifier ("<service>_cd" as an identifier)
//	.Stages    one per environment (promotion order) × region: Identifier
//	           ("int_stable_euw1"), Name, Environment{Name, Identifier, Short},
//	           Region, ManifestPath, ValuesPath, DelegateSelector,
//	           Infrastructure, Gate{Kind, Wait, UserGroups, MinApprovers,
//	           Timeout}, FirstInEnvironment
//	.Source    CatalogRepo, Template
//
// A Service template sees no stage, environment or region (.Stages,
// .Service.Environments and .Service.Regions are empty): a Service is the
// same everywhere. Templates may call:
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
// place whatever it holds. Or as an identifier field, which holds only
// [a-zA-Z0-9_]. The seed placeholders cannot quote (seed templates write
// them inside quotes and bare), so they insert only values made of
// letters, digits, '.', '_' and '-', and fail the rendering otherwise.
//
// Harness evaluates <+...> expressions in every string of an entity,
// quoted or not, so quoting cannot neutralise one. A catalog value (name,
// team, archetype, environments, regions) that holds "<+" is therefore
// rejected with an error naming the field, rather than rewritten: the
// entity must say what the catalog says, or nothing. Templates and
// settings are written by the platform team and may use expressions.
//
// Harness reads YAML 1.1, where on, no, y, off, yes, ~, 0x1F, 1e3 and .inf
// are booleans, nulls and numbers. The canonical form double-quotes every
// string that a YAML 1.1 reader would take for another type, whatever the
// template wrote, so such service and team names reach Harness as strings.
//
// # Checks
//
// Each file is parsed back and checked on its own: one YAML document, no
// anchors or duplicate keys, the kind's root key and only the keys Harness
// defines for it (for pipelines the schema's list when there is a schema,
// a built-in copy of it otherwise), Harness identifier rules and unique
// identifiers (pipeline, stage and step identifiers, unique stages, unique
// steps within a stage), required keys (every step has a timeout, except
// Wait), the tag managed_by: pipeline-orchestrator, and, when the schemas
// are given, Harness's schema where it covers the kind: the pipeline
// schema for pipelines, its ServiceDefinition for a Service's
// serviceDefinition, its InfrastructureDef for an infrastructure
// definition, the trigger schema for triggers. Without schemas those
// checks are skipped and everything else runs; PipelinePlan.SchemaSkipped
// says so, for the caller to tell the user.
//
// Then a service's files are checked against each other and the settings,
// as Harness resolves a stage at run time:
//
//   - every reference resolves: a stage's serviceRef is the service's own
//     Service, its environmentRef a rendered environment, each of its
//     infrastructureDefinitions a rendered definition of that
//     environment, every literal connectorRef a connector the settings
//     declare, every approver a user group they declare (entities outside
//     the rendered graph are declared in the settings' external), the
//     trigger's pipelineIdentifier the pipeline;
//   - runtime inputs fit, merged as Harness's MergeHelper merges them
//     (values apply only where the entity holds <+input>, lists of objects
//     element by element, matched by identifier, or by name for
//     variables): a stage's serviceInputs set only fields the Service
//     marks <+input>, and every such field; environmentInputs and an
//     infrastructure definition's inputs likewise; the trigger's inputYaml
//     fills every runtime input of the pipeline;
//   - a stage's deploymentType is its Service's serviceDefinition.type and
//     its infrastructure definitions' deploymentType;
//   - each entity has the identifier the application gives it, and the
//     Service and pipeline the tag service: <name>.
//
// Each problem is a *TemplateError naming the template, the template line
// (found by re-running the template with line markers) and the JSON
// pointer into the entity: a problem between two files is reported on the
// template of the file at fault. Problems of environments and
// infrastructure definitions are diagnostics on the settings file.
//
// # Files
//
// The file written is a header comment naming the source commits and the
// template (or the settings) it comes from, a fingerprint line, then the
// entity re-encoded with yaml.v3: 2-space indentation, keys in the
// template's order, comments dropped, strings quoted only where needed.
// The same inputs give the same bytes, and Body(file) drops the header so
// that renderings from different commits compare equal when the entity
// did not change. Files without the header (IsGenerated) are written by
// hand: plans never rewrite or delete them, and a rendered file whose path
// one takes is a diagnostic.
//
// # Cost
//
// A plan renders only what changed. The fingerprint line records a hash of
// what the file was rendered from (its template, the settings, the
// service's fields; a Service and a trigger do not depend on the stages)
// and a hash of its body; a file whose inputs are the same and whose body
// was not edited is kept without being rendered again. When one of a
// service's files is rendered again, the others are parsed back and the
// checks between them run again.
//
// Three equivalences keep a rendering cheap, each held by a test against
// the slow reference: the canonical form is written directly, byte for
// byte what yaml.v3's encoder writes (which is used for anything outside
// the subset entities are made of); each oneOf of the schema over step or
// stage types is replaced by a dispatch on the value's "type" that tries
// only the alternatives that can match; and each allOf of conditionals on
// a constant ("if type is Gcr, then spec is …") by one that applies only
// the conditionals that hold. Compiling the pipeline schema
// (CompileSchemas) costs a few tenths of a second of CPU time, paid once
// per process for the same schema bytes: the caller compiles when the
// schema changes (the application: when it fetches a new one, at most
// daily), not per rendering.
package render
