package harness

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/rs/zerolog"
	yamlv3 "gopkg.in/yaml.v3"
)

// Kind names a kind of Harness entity the application manages.
type Kind string

// The kinds of entity a deploy needs. Their string values name them in
// logs, metrics (Config.Observe) and errors.
const (
	// KindService is a Service V2 (/ng/api/servicesV2), YAML root "service".
	KindService Kind = "service"
	// KindEnvironment is an Environment V2 (/ng/api/environmentsV2), YAML
	// root "environment".
	KindEnvironment Kind = "environment"
	// KindInfrastructure is an infrastructure definition of an environment
	// (/ng/api/infrastructures), YAML root "infrastructureDefinition".
	KindInfrastructure Kind = "infrastructure"
	// KindPipeline is a pipeline (/pipeline/api/pipelines), YAML root
	// "pipeline".
	KindPipeline Kind = "pipeline"
	// KindTrigger is a trigger of a pipeline (/pipeline/api/triggers), YAML
	// root "trigger".
	KindTrigger Kind = "trigger"
	// KindConnector is a connector (/ng/api/connectors), YAML root
	// "connector".
	KindConnector Kind = "connector"
)

// Kinds returns every Kind in dependency order: an entity may reference
// entities of the kinds before its own (an infrastructure definition its
// environment and connector, a service its connectors, a pipeline its
// services, environments and infrastructure definitions, a trigger its
// pipeline). Apply in this order and Remove in the reverse one.
func Kinds() []Kind {
	return []Kind{KindConnector, KindEnvironment, KindInfrastructure, KindService, KindPipeline, KindTrigger}
}

// RootKey returns the key under which the entity's YAML holds its fields,
// as Harness names it: "service", "environment",
// "infrastructureDefinition", "pipeline", "trigger" or "connector"; "" for
// an unknown kind.
func (k Kind) RootKey() string {
	switch k {
	case KindService, KindEnvironment, KindPipeline, KindTrigger, KindConnector:
		return string(k)
	case KindInfrastructure:
		return "infrastructureDefinition"
	}
	return ""
}

// Ref names one entity in the client's org and project.
type Ref struct {
	Kind       Kind
	Identifier string
	// EnvironmentRef is the environment of an infrastructure definition;
	// required for KindInfrastructure, empty otherwise.
	EnvironmentRef string
	// PipelineRef is the pipeline a trigger targets; required for
	// KindTrigger, empty otherwise.
	PipelineRef string
}

// String formats r as "kind id", with the parent where the kind has one:
// "infrastructure prod/prod_eu", "trigger svc_cd/on_image".
func (r Ref) String() string {
	if p := r.parent(); p != "" {
		return fmt.Sprintf("%s %s/%s", r.Kind, p, r.Identifier)
	}
	return fmt.Sprintf("%s %s", r.Kind, r.Identifier)
}

func (r Ref) parent() string {
	switch r.Kind {
	case KindInfrastructure:
		return r.EnvironmentRef
	case KindTrigger:
		return r.PipelineRef
	}
	return ""
}

// check validates r before anything is sent: a known kind, identifiers
// that can go into a URL path or query as Harness accepts them, and the
// parent the kind needs.
func (r Ref) check() error {
	if r.Kind.RootKey() == "" {
		return fmt.Errorf("harness: unknown entity kind %q: %w", r.Kind, ErrInvalidRequest)
	}
	if err := checkIdentifier(r.Kind, "identifier", r.Identifier); err != nil {
		return err
	}
	switch r.Kind {
	case KindInfrastructure:
		if err := checkIdentifier(r.Kind, "environment", r.EnvironmentRef); err != nil {
			return err
		}
	case KindTrigger:
		if err := checkIdentifier(r.Kind, "pipeline", r.PipelineRef); err != nil {
			return err
		}
	}
	return nil
}

func checkIdentifier(k Kind, what, id string) error {
	if !identifierRE.MatchString(id) {
		return fmt.Errorf("harness: %s %s %q does not match %s: %w", k, what, id, identifierRE, ErrInvalidRequest)
	}
	return nil
}

// Entity is an entity as Harness holds it.
type Entity struct {
	Ref  Ref
	Name string
	// YAML is the entity's YAML as Harness returns it, root key included.
	// Harness may return it re-serialised (the trigger service, for one,
	// rewrites "enabled" when it disables a trigger); compare it with
	// SameEntity, not byte for byte. A connector has no stored YAML: its
	// YAML is the connector object of the JSON answer, under "connector:".
	YAML []byte
	// Tags are the entity's tags: from the answer's tags where Harness
	// sends them, else from the YAML.
	Tags map[string]string
	// WebhookURL is a custom webhook trigger's URL, as Harness generates
	// it from the token it gave the trigger at creation
	// (<base>/pipeline/api/webhook/custom/<token>/v3?…); give it to
	// FireTrigger. Empty for other kinds, and where Harness does not send
	// it (versions before late 2025 answer a trigger's GET without it;
	// List sends it).
	WebhookURL string
}

// Summary is one entity of a List.
type Summary struct {
	Kind       Kind
	Identifier string
	Name       string
	Tags       map[string]string
	// EnvironmentRef is set for infrastructure definitions, PipelineRef for
	// triggers.
	EnvironmentRef, PipelineRef string
	// WebhookURL is a custom webhook trigger's URL (see Entity).
	WebhookURL string
}

// Ref returns the Ref of s.
func (s Summary) Ref() Ref {
	return Ref{Kind: s.Kind, Identifier: s.Identifier, EnvironmentRef: s.EnvironmentRef, PipelineRef: s.PipelineRef}
}

// desired is an entity to write: its Ref, its YAML, and the YAML decoded.
type desired struct {
	ref  Ref
	yaml []byte
	info map[string]any // the mapping under the root key
}

// str returns a string field of the root mapping, or "".
func (d *desired) str(key string) string {
	s, _ := d.info[key].(string)
	return s
}

func (d *desired) tags() map[string]string { return tagsOf(d.info) }

// tagsOf reads the tags map of a decoded root mapping. Harness's tags are
// a map of string to string in every entity's YAML; a value written as
// another scalar is read as its text.
func tagsOf(info map[string]any) map[string]string {
	raw, ok := info["tags"].(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
			out[k] = ""
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// entities is the idempotent entity surface behind Apply, Remove, Get and
// List: it checks what it is given before anything is sent, serialises
// writes per entity, refuses entities without the managed tag, compares
// before it writes, and hands each kind's calls to the family of
// endpoints that serves it (ngAPI, pipelineAPI, triggerAPI).
type entities struct {
	sh        *shared
	sc        scope
	ng        *ngAPI
	pipelines *pipelineAPI
	triggers  *triggerAPI
}

// prepare checks what Apply is given before anything is sent.
func (e *entities) prepare(ref Ref, src []byte) (*desired, error) {
	if err := ref.check(); err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) (*desired, error) {
		return nil, fmt.Errorf("apply %s: %s: %w", ref, fmt.Sprintf(format, args...), ErrInvalidRequest)
	}
	var doc any
	if err := yamlv3.Unmarshal(src, &doc); err != nil {
		return bad("parsing yaml: %v", err)
	}
	root := ref.Kind.RootKey()
	top, _ := doc.(map[string]any)
	info, ok := top[root].(map[string]any)
	if !ok {
		return bad("yaml has no %s: mapping", root)
	}
	d := &desired{ref: ref, yaml: src, info: info}
	if got := d.str("identifier"); got != ref.Identifier {
		return bad("yaml has %s.identifier %q", root, got)
	}
	switch ref.Kind {
	case KindInfrastructure:
		if got := d.str("environmentRef"); got != ref.EnvironmentRef {
			return bad("yaml has %s.environmentRef %q", root, got)
		}
	case KindTrigger:
		// The trigger service stores the YAML's pipelineIdentifier as the
		// target; the targetIdentifier query serves access checks and
		// look-ups (NGTriggerElementMapper.toTriggerEntity in harness-core's
		// pipeline-service ng-triggers module).
		if got := d.str("pipelineIdentifier"); got != ref.PipelineRef {
			return bad("yaml has %s.pipelineIdentifier %q", root, got)
		}
	case KindConnector:
		// A connector's scope is the one its body names
		// (DefaultConnectorServiceImpl.createInternal); without org and
		// project it would be an account connector this client does not
		// address.
		if d.str("orgIdentifier") != e.sc.org || d.str("projectIdentifier") != e.sc.project {
			return bad("yaml has %s.orgIdentifier %q and projectIdentifier %q, the client %q and %q",
				root, d.str("orgIdentifier"), d.str("projectIdentifier"), e.sc.org, e.sc.project)
		}
	}
	if m := e.sh.managed; !m.on(d.tags()) {
		return bad("yaml does not carry the managed tag %s: %s", m.Key, m.Value)
	}
	return d, nil
}

// Apply makes Harness hold yaml as the entity ref, writing only when
// needed, and says what it did. yaml is the entity's Harness YAML, root key
// included (see Kind.RootKey); its identifier must be ref.Identifier, an
// infrastructure definition's environmentRef ref.EnvironmentRef, a
// trigger's pipelineIdentifier ref.PipelineRef, and a connector's
// orgIdentifier and projectIdentifier the client's.
//
//   - It reads the entity first. Present with the same data (SameEntity:
//     comments, key order, quoting and empty fields Harness adds do not
//     count), it writes nothing and returns Unchanged.
//   - Present with other data: update; if the update finds none (Harness
//     answers that it does not exist), create.
//   - Absent: create; if the create finds one (a race, or an earlier
//     attempt that took effect), update. With Config.ManagedTag set the
//     entity is read first, as above: holding the same data, it is left
//     as it is and Apply returns Unchanged.
//   - An existing entity without Config.ManagedTag is never changed:
//     ErrNotManaged.
//   - A create is never replayed blindly: it is repeated only when the
//     request provably did not reach Harness or was throttled; after an
//     ambiguous failure the entity is read back.
//
// Calls for the same entity are serialised within the Client (and every
// Client derived from it with In). Errors follow IsRetryable, so an outbox
// can call Apply again until it succeeds.
func (c *Client) Apply(ctx context.Context, ref Ref, yaml []byte) (Action, error) {
	return c.entities.apply(ctx, ref, yaml)
}

// apply is Client.Apply.
func (e *entities) apply(ctx context.Context, ref Ref, yaml []byte) (Action, error) {
	d, err := e.prepare(ref, yaml)
	if err != nil {
		return 0, err
	}
	unlock, err := e.lockRef(ctx, ref)
	if err != nil {
		return 0, fmt.Errorf("apply %s: %w", ref, err)
	}
	defer unlock()

	f := e.family(ref.Kind)
	cur, err := f.get(ctx, ref)
	switch {
	case errors.Is(err, ErrNotFound):
		return e.createElseUpdate(ctx, f, d)
	case err != nil:
		return 0, err
	}
	same, err := e.holds(ctx, cur, d)
	if err != nil {
		return 0, err
	}
	if same {
		return Unchanged, nil
	}
	return updateElseCreate(ctx, f, d)
}

// holds reports whether the entity found, cur, already holds d's data;
// an entity without the managed tag is an error.
func (e *entities) holds(ctx context.Context, cur *Entity, d *desired) (bool, error) {
	if err := e.checkManaged(cur); err != nil {
		return false, err
	}
	if !sameContent(cur.YAML, d.yaml) {
		return false, nil
	}
	zerolog.Ctx(ctx).Debug().Str(logKeyEntity, d.ref.String()).Msg("harness entity unchanged")
	return true, nil
}

// checkManaged refuses an entity that does not carry the managed tag.
func (e *entities) checkManaged(ent *Entity) error {
	if m := e.sh.managed; !m.on(ent.Tags) {
		return fmt.Errorf("%s exists without the tag %s: %s: %w", ent.Ref, m.Key, m.Value, ErrNotManaged)
	}
	return nil
}

// createElseUpdate creates d, absent when read; if the create finds it (a
// race, or an earlier attempt that took effect), it updates it. With a
// managed tag it reads the entity first, to check the tag, and then
// compares as Apply does: the same data is Unchanged, with no write.
func (e *entities) createElseUpdate(ctx context.Context, f family, d *desired) (Action, error) {
	err := createConfirmed(ctx, f, d)
	if err == nil {
		return Created, nil
	}
	if !errors.Is(err, ErrAlreadyExists) {
		return 0, err
	}
	zerolog.Ctx(ctx).Debug().Str(logKeyEntity, d.ref.String()).Msg("create found the entity")
	if e.sh.managed.Key != "" {
		// Someone else may have created it: look before replacing it.
		cur, gerr := f.get(ctx, d.ref)
		switch {
		case errors.Is(gerr, ErrNotFound):
			return 0, err // there and gone again: let the caller retry
		case gerr != nil:
			return 0, gerr
		}
		same, herr := e.holds(ctx, cur, d)
		if herr != nil {
			return 0, herr
		}
		if same {
			return Unchanged, nil
		}
	}
	if err := f.update(ctx, d); err != nil {
		return 0, err
	}
	return Updated, nil
}

// updateElseCreate updates d, present when read; if the update finds none
// (Harness answers that it does not exist), it creates it.
func updateElseCreate(ctx context.Context, f family, d *desired) (Action, error) {
	err := f.update(ctx, d)
	if err == nil {
		return Updated, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	zerolog.Ctx(ctx).Debug().Str(logKeyEntity, d.ref.String()).Msg("update found no entity: creating")
	if err := createConfirmed(ctx, f, d); err != nil {
		return 0, err
	}
	return Created, nil
}

// createConfirmed creates d. After an ambiguous failure (timeout, dropped
// connection, 5xx after the request was sent) it reads the entity back:
// found with the same data means the create took effect; found with other
// data is ErrAlreadyExists; absent returns the original (retryable) error.
func createConfirmed(ctx context.Context, f family, d *desired) error {
	err := f.create(ctx, d)
	if err == nil || !ambiguous(err) || ctx.Err() != nil {
		return err
	}
	cur, gerr := f.get(ctx, d.ref)
	switch {
	case gerr == nil:
		if sameContent(cur.YAML, d.yaml) {
			zerolog.Ctx(ctx).Debug().Str(logKeyEntity, d.ref.String()).Str("error", err.Error()).
				Msg("create answered with a failure but took effect")
			return nil
		}
		return fmt.Errorf("creating %s: found with other content after %v: %w", d.ref, err, ErrAlreadyExists)
	case errors.Is(gerr, ErrNotFound):
		return fmt.Errorf("%w (read back: absent, so not created)", err)
	default:
		return fmt.Errorf("%w (reading it back: %v)", err, gerr)
	}
}

// Remove deletes the entity ref if Harness has it. It reports whether the
// entity was there when the call started; one that is already gone is
// success (false, nil). An entity without Config.ManagedTag is not
// deleted: ErrNotManaged. One that other entities still reference is
// ErrReferenced.
//
// It reads first, since Harness answers a delete of a missing entity
// differently per kind. A DELETE answering not-found counts as done; one
// answering another client error is checked with a second read, so a
// retried delete whose first attempt took effect also ends in success.
// After an ambiguous failure the entity is read back before the DELETE is
// repeated.
func (c *Client) Remove(ctx context.Context, ref Ref) (bool, error) {
	return c.entities.remove(ctx, ref)
}

// remove is Client.Remove.
func (e *entities) remove(ctx context.Context, ref Ref) (bool, error) {
	if err := ref.check(); err != nil {
		return false, err
	}
	unlock, err := e.lockRef(ctx, ref)
	if err != nil {
		return false, fmt.Errorf("remove %s: %w", ref, err)
	}
	defer unlock()

	f := e.family(ref.Kind)
	cur, err := f.get(ctx, ref)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	if err := e.checkManaged(cur); err != nil {
		return false, err
	}
	err = f.remove(ctx, ref)
	switch {
	case err == nil, errors.Is(err, ErrNotFound):
		return true, nil
	case !errors.Is(err, ErrInvalidRequest):
		return false, err
	}
	if _, gerr := f.get(ctx, ref); errors.Is(gerr, ErrNotFound) {
		zerolog.Ctx(ctx).Debug().Str(logKeyEntity, ref.String()).Str("error", err.Error()).
			Msg("delete answered with a failure but the entity is gone")
		return true, nil
	}
	return false, err
}

// Get reads the entity ref. A missing entity is ErrNotFound.
func (c *Client) Get(ctx context.Context, ref Ref) (*Entity, error) {
	if err := ref.check(); err != nil {
		return nil, err
	}
	return c.entities.family(ref.Kind).get(ctx, ref)
}

// List returns every entity of kind in the client's org and project,
// reading every page, each once, sorted by identifier. parent is the
// environment for KindInfrastructure and the pipeline for KindTrigger, both
// required; it must be "" for the other kinds. The infrastructure
// definitions of an environment that does not exist are none.
func (c *Client) List(ctx context.Context, kind Kind, parent string) ([]Summary, error) {
	return c.entities.list(ctx, kind, parent)
}

// list is Client.List.
func (e *entities) list(ctx context.Context, kind Kind, parent string) ([]Summary, error) {
	switch kind {
	case KindInfrastructure, KindTrigger:
		if err := checkIdentifier(kind, "parent", parent); err != nil {
			return nil, err
		}
	default:
		if kind.RootKey() == "" {
			return nil, fmt.Errorf("harness: unknown entity kind %q: %w", kind, ErrInvalidRequest)
		}
		if parent != "" {
			return nil, fmt.Errorf("harness: %s has no parent, got %q: %w", kind, parent, ErrInvalidRequest)
		}
	}
	out, err := e.family(kind).list(ctx, kind, parent)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Identifier < out[j].Identifier })
	return out, nil
}

// family is what the entity surface needs from the endpoints that serve
// a group of kinds. Every method takes an entity (or kind) that has been
// checked, of a kind the family serves.
type family interface {
	// get reads ref; a missing entity is ErrNotFound.
	get(ctx context.Context, ref Ref) (*Entity, error)
	// create sends one create of d, with the retry rules of creates.
	create(ctx context.Context, d *desired) error
	// update replaces the entity with d. A full replacement is
	// idempotent, so it is retried on every retryable failure; after an
	// ambiguous failure the entity is read back first, and one that
	// already holds d ends the call with success instead of a second
	// write. A missing entity is ErrNotFound.
	update(ctx context.Context, d *desired) error
	// remove deletes ref. It is retried on every retryable failure;
	// after an ambiguous failure the entity is read back first, and one
	// that is gone ends the call with success.
	remove(ctx context.Context, ref Ref) error
	// list returns every entity of kind (of parent, for the kinds that
	// have one), in no particular order.
	list(ctx context.Context, kind Kind, parent string) ([]Summary, error)
}

var (
	_ family = (*ngAPI)(nil)
	_ family = (*pipelineAPI)(nil)
	_ family = (*triggerAPI)(nil)
)

// family returns the endpoints that serve kind.
func (e *entities) family(kind Kind) family {
	switch kind {
	case KindPipeline:
		return e.pipelines
	case KindTrigger:
		return e.triggers
	default:
		return e.ng
	}
}

// settledUpdate is the read-back of an update through f: the entity holds
// yaml.
func settledUpdate(f family, ref Ref, yaml []byte) func(context.Context) bool {
	return func(ctx context.Context) bool {
		cur, err := f.get(ctx, ref)
		return err == nil && sameContent(cur.YAML, yaml)
	}
}

// settledDelete is the read-back of a delete through f: the entity is
// gone.
func settledDelete(f family, ref Ref) func(context.Context) bool {
	return func(ctx context.Context) bool {
		_, err := f.get(ctx, ref)
		return errors.Is(err, ErrNotFound)
	}
}

// lockRef serialises writes to ref across every Client derived with In.
func (e *entities) lockRef(ctx context.Context, ref Ref) (func(), error) {
	return e.sh.locks.lock(ctx, e.sh.t.account+"/"+e.sc.org+"/"+e.sc.project+"/"+string(ref.Kind)+"/"+ref.parent()+"/"+ref.Identifier)
}

// keyedMutex serialises work per key, honouring ctx while waiting.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{} // holds one token while locked
	refs int
}

func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyLock)
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()

	release := func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
