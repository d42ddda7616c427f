package loop

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// SchemaFetcher fetches the JSON Schemas Harness validates YAML with, from
// the user's own account, so that renderings are checked against the
// account's Harness version. *harness.Client implements it; the loop asks
// the client its HarnessScoper returns, since the schemas are the
// account's whatever the org and project. A Harness without it is used
// without schema fetches.
type SchemaFetcher interface {
	// YAMLSchema returns the schema of an entity type
	// (harness.SchemaPipelines, harness.SchemaTriggers) as JSON.
	YAMLSchema(ctx context.Context, entityType string) ([]byte, error)
}

// schemaStore keeps fetched schemas across restarts; *store.Schemas is
// one.
type schemaStore interface {
	PutSchema(ctx context.Context, entityType string, schema []byte, fetchedAt time.Time) error
	Schema(ctx context.Context, entityType string) ([]byte, time.Time, error)
}

const (
	// schemaMaxAge is how old a kept schema gets before it is fetched
	// again: Harness changes its schemas with its releases.
	schemaMaxAge = 24 * time.Hour
	// schemaRetryAfter spaces the fetches of a schema Harness could not
	// serve, so that plans do not wait on it each time.
	schemaRetryAfter = time.Hour
)

// schemaEntities are the entity types whose schemas are kept, the
// pipeline schema first: it is the one renderings need.
var schemaEntities = []string{harness.SchemaPipelines, harness.SchemaTriggers}

// renderSchemas returns Harness's compiled schemas for the loop's
// renderings, or nil when none is available: the renderings then skip the
// schema check, which is logged once at warn. See schemaSource.get.
func (l *Loop) renderSchemas(ctx context.Context) *render.Schemas {
	fetch, _ := l.Harness("", "").(SchemaFetcher)
	return l.schemas.get(ctx, l.Store.Schemas, fetch, l.Now())
}

// schemaSource keeps the compiled schemas the loop renders with. Its zero
// value is ready; it is safe for concurrent use.
type schemaSource struct {
	mu       sync.Mutex
	loaded   bool // the store has been read
	raw      map[string][]byte
	fetched  map[string]time.Time // when each raw schema was fetched
	failed   map[string]time.Time // when each last fetch failed
	compiled *render.Schemas
	dirty    bool // raw changed since compiled
	warned   bool
}

// get returns the compiled schemas. On first use it reads the kept
// schemas from db; then it fetches from Harness (fetch may be nil) each
// schema that is missing or older than schemaMaxAge, at most once per
// schemaRetryAfter while Harness fails to serve it, keeps what it fetched
// in db, and compiles when anything changed. A schema Harness cannot serve
// is taken from db, however old; with no pipeline schema at all, get
// returns nil.
func (s *schemaSource) get(ctx context.Context, db schemaStore, fetch SchemaFetcher, now time.Time) *render.Schemas {
	log := zerolog.Ctx(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		s.load(ctx, db)
	}
	var fetchErr error
	for _, entity := range schemaEntities {
		fresh := s.raw[entity] != nil && now.Sub(s.fetched[entity]) < schemaMaxAge
		if fresh || fetch == nil || (!s.failed[entity].IsZero() && now.Sub(s.failed[entity]) < schemaRetryAfter) {
			continue
		}
		schema, err := fetch.YAMLSchema(ctx, entity)
		if err != nil {
			s.failed[entity] = now
			log.Debug().Err(err).Str("entity_type", entity).Msg("fetching the harness schema")
			if entity == harness.SchemaPipelines {
				fetchErr = err
			}
			continue
		}
		delete(s.failed, entity)
		s.raw[entity], s.fetched[entity], s.dirty = schema, now, true
		if err := db.PutSchema(ctx, entity, schema, now); err != nil {
			log.Warn().Err(err).Str("entity_type", entity).Msg("keeping the harness schema")
		}
	}
	if s.dirty && s.raw[harness.SchemaPipelines] != nil {
		s.dirty = false
		compiled, err := render.CompileSchemas(s.raw[harness.SchemaPipelines], s.raw[harness.SchemaTriggers])
		if err != nil {
			log.Warn().Err(err).Msg("compiling the harness schemas: keeping the previous ones")
		} else {
			s.compiled = compiled
			log.Info().Time("fetched_at", s.fetched[harness.SchemaPipelines]).Bool("trigger_schema", compiled.HasTrigger()).
				Msg("harness schemas ready")
		}
	}
	if s.compiled == nil && !s.warned {
		s.warned = true
		ev := log.Warn()
		if fetchErr != nil {
			ev = ev.Err(fetchErr)
		}
		ev.Msg("no harness pipeline schema (harness did not serve one and none is kept): rendering without the schema check")
	}
	return s.compiled
}

// load reads the kept schemas. The caller holds s.mu.
func (s *schemaSource) load(ctx context.Context, db schemaStore) {
	s.loaded = true
	s.raw, s.fetched, s.failed = map[string][]byte{}, map[string]time.Time{}, map[string]time.Time{}
	for _, entity := range schemaEntities {
		schema, at, err := db.Schema(ctx, entity)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			zerolog.Ctx(ctx).Warn().Err(err).Str("entity_type", entity).Msg("reading the kept harness schema")
		default:
			s.raw[entity], s.fetched[entity], s.dirty = schema, at, true
		}
	}
}
