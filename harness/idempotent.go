package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/rs/zerolog"
	yamlv3 "gopkg.in/yaml.v3"
)

// Action is what CreateOrUpdate did.
type Action int

// The zero Action means "nothing known" and comes only with an error.
const (
	// Created means the pipeline was absent and is now created.
	Created Action = iota + 1
	// Updated means the pipeline held other content and was replaced.
	Updated
	// Unchanged means the pipeline already held the same data; nothing was
	// written.
	Unchanged
)

// String returns "created", "updated", "unchanged", or "none".
func (a Action) String() string {
	switch a {
	case Created:
		return "created"
	case Updated:
		return "updated"
	case Unchanged:
		return "unchanged"
	default:
		return "none"
	}
}

// CreateOrUpdate makes Harness hold yaml as the pipeline id, writing only
// when needed. yaml's pipeline.identifier must be id.
//
//   - It reads the pipeline first. When it is there with the same content
//     (compared as data: comments, key order and quoting do not count), it
//     writes nothing and returns Unchanged.
//   - Present with other content: update. If the update finds no pipeline
//     (Harness answers 400 INVALID_REQUEST "does not exist", or 404), create.
//   - Absent: create. If the create answers DUPLICATE_FIELD (a race, or an
//     earlier attempt that took effect), update.
//   - A create is never replayed blindly; see CreatePipeline.
//
// A governance deny is ErrGovernanceDenied, and nothing was saved. Calls for
// the same account, org, project and id are serialised within the Client
// (and every Client derived from it with In). Errors follow IsRetryable, so
// an outbox can call CreateOrUpdate again until it succeeds.
func (c *Client) CreateOrUpdate(ctx context.Context, id string, yaml []byte) (Action, error) {
	if err := checkID(id); err != nil {
		return 0, err
	}
	// Parse once: the data serves both the identifier check and the
	// comparison with what Harness holds.
	var want any
	if err := yamlv3.Unmarshal(yaml, &want); err != nil {
		return 0, fmt.Errorf("create or update pipeline %q: %w: parsing yaml: %w", id, ErrInvalidRequest, err)
	}
	if got := pipelineIdentifier(want); got != id {
		return 0, fmt.Errorf("create or update pipeline %q: yaml has pipeline.identifier %q: %w", id, got, ErrInvalidRequest)
	}
	unlock, err := c.lock(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("create or update pipeline %q: %w", id, err)
	}
	defer unlock()

	cur, err := c.getYAML(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return c.createElseUpdate(ctx, id, yaml)
	case err != nil:
		return 0, err
	}
	if bytes.Equal(cur, yaml) || sameData(cur, want) {
		zerolog.Ctx(ctx).Debug().Str("pipeline_id", id).Msg("pipeline unchanged")
		return Unchanged, nil
	}
	return c.updateElseCreate(ctx, id, yaml)
}

func (c *Client) createElseUpdate(ctx context.Context, id string, yaml []byte) (Action, error) {
	_, err := c.create(ctx, id, yaml)
	if err == nil {
		return Created, nil
	}
	if !errors.Is(err, ErrAlreadyExists) {
		return 0, err
	}
	zerolog.Ctx(ctx).Debug().Str("pipeline_id", id).Msg("create found the pipeline: updating")
	if err := c.UpdatePipeline(ctx, id, yaml); err != nil {
		return 0, err
	}
	return Updated, nil
}

func (c *Client) updateElseCreate(ctx context.Context, id string, yaml []byte) (Action, error) {
	err := c.UpdatePipeline(ctx, id, yaml)
	if err == nil {
		return Updated, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	zerolog.Ctx(ctx).Debug().Str("pipeline_id", id).Msg("update found no pipeline: creating")
	if _, err := c.create(ctx, id, yaml); err != nil {
		return 0, err
	}
	return Created, nil
}

// DeleteIfExists deletes the pipeline id if Harness has it. It reports
// whether the pipeline was there when the call started; a pipeline that is
// already gone is success (false, nil).
//
// It reads first, because Harness does not handle a delete of a missing
// pipeline explicitly (PMSPipelineServiceImpl.delete answers 400
// INVALID_REQUEST "... could not be deleted." when the removal fails). A
// DELETE answering not-found counts as done; one answering 400 is checked
// with a second read, so a retried delete whose first attempt took effect
// also ends in success. A pipeline still referenced by other entities
// (ENTITY_REFERENCE_EXCEPTION) is returned as ErrInvalidRequest.
func (c *Client) DeleteIfExists(ctx context.Context, id string) (bool, error) {
	if err := checkID(id); err != nil {
		return false, err
	}
	unlock, err := c.lock(ctx, id)
	if err != nil {
		return false, fmt.Errorf("delete pipeline %q if it exists: %w", id, err)
	}
	defer unlock()

	_, err = c.getYAML(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	err = c.DeletePipeline(ctx, id)
	switch {
	case err == nil, errors.Is(err, ErrNotFound):
		return true, nil
	case !errors.Is(err, ErrInvalidRequest):
		return false, err
	}
	if _, gerr := c.getYAML(ctx, id); errors.Is(gerr, ErrNotFound) {
		zerolog.Ctx(ctx).Debug().Str("pipeline_id", id).Str("error", err.Error()).
			Msg("delete answered with a failure but the pipeline is gone")
		return true, nil
	}
	return false, err
}

func (c *Client) lock(ctx context.Context, id string) (func(), error) {
	return c.sh.locks.lock(ctx, c.sh.account+"/"+c.org+"/"+c.project+"/"+id)
}

// SameYAML reports whether two YAML documents hold the same data: comments,
// key order, indentation and quoting style do not count; types do ("10" is
// not 10). It compares the first document of each input.
func SameYAML(a, b []byte) (bool, error) {
	var va, vb any
	if err := yamlv3.Unmarshal(a, &va); err != nil {
		return false, fmt.Errorf("parsing first yaml: %w", err)
	}
	if err := yamlv3.Unmarshal(b, &vb); err != nil {
		return false, fmt.Errorf("parsing second yaml: %w", err)
	}
	return reflect.DeepEqual(va, vb), nil
}

// sameContent reports whether stored holds the same data as want, with a
// fast path for identical bytes.
func sameContent(stored, want []byte) bool {
	if bytes.Equal(stored, want) {
		return true
	}
	same, err := SameYAML(stored, want)
	return err == nil && same
}

// sameData reports whether the YAML stored decodes to want.
func sameData(stored []byte, want any) bool {
	var v any
	if err := yamlv3.Unmarshal(stored, &v); err != nil {
		return false
	}
	return reflect.DeepEqual(v, want)
}

// pipelineIdentifier returns pipeline.identifier from decoded YAML, or "".
func pipelineIdentifier(doc any) string {
	root, _ := doc.(map[string]any)
	p, _ := root["pipeline"].(map[string]any)
	id, _ := p["identifier"].(string)
	return id
}

// meta is the part of a pipeline YAML the client reads.
type meta struct {
	Identifier        string            `yaml:"identifier"`
	Name              string            `yaml:"name"`
	OrgIdentifier     string            `yaml:"orgIdentifier"`
	ProjectIdentifier string            `yaml:"projectIdentifier"`
	Tags              map[string]string `yaml:"tags"`
}

func parseMeta(src []byte) (meta, error) {
	var doc struct {
		Pipeline *meta `yaml:"pipeline"`
	}
	if err := yamlv3.Unmarshal(src, &doc); err != nil {
		return meta{}, fmt.Errorf("parsing pipeline yaml: %w", err)
	}
	if doc.Pipeline == nil {
		return meta{}, errors.New("pipeline yaml has no pipeline: root")
	}
	return *doc.Pipeline, nil
}
