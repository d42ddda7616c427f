package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Paths of the v0 pipeline-service endpoints (PipelineResource and
// PlanExecutionResource in harness-core's pipeline-service contracts).
const (
	pathPipelines       = "/pipeline/api/pipelines/"
	pathCreateV2        = "/pipeline/api/pipelines/v2"
	pathUpdateV2        = "/pipeline/api/pipelines/v2/"
	pathList            = "/pipeline/api/pipelines/list"
	pathExecute         = "/pipeline/api/pipeline/execute/" // singular "pipeline", as in the server
	pathExecutionStatus = "/pipeline/api/pipelines/execution/v2/"
)

// listPageSize is the page size for ListPipelines; Harness caps it at 200.
const listPageSize = 100

// identifierRE is Harness's pipeline identifier pattern
// (NGRegexValidatorConstants.PIPELINE_IDENTIFIER_PATTERN).
var identifierRE = regexp.MustCompile(`^[a-zA-Z_][0-9a-zA-Z_]{0,127}$`)

// Pipeline is a pipeline as stored in Harness.
type Pipeline struct {
	Identifier string
	Name       string
	// YAML is the stored pipeline YAML (data.yamlPipeline), byte for byte.
	YAML []byte
	// Tags are read from the YAML's pipeline.tags.
	Tags map[string]string
}

// PipelineSummary is one entry of ListPipelines.
type PipelineSummary struct {
	Identifier string
	Name       string
	Tags       map[string]string
}

func checkID(id string) error {
	if !identifierRE.MatchString(id) {
		return fmt.Errorf("harness: pipeline identifier %q does not match %s: %w", id, identifierRE, ErrInvalidRequest)
	}
	return nil
}

// unexpected builds the error for a success envelope whose data is not what
// the call requires.
func unexpected(format string, args ...any) error {
	return &APIError{HTTPStatus: http.StatusOK, Message: fmt.Sprintf(format, args...), kind: ErrUnexpectedResponse}
}

// pipelineAPI is the pipeline service's pipeline endpoints
// (/pipeline/api/pipelines): the pipeline-specific calls of Client and the
// family of KindPipeline for the entity surface.
type pipelineAPI struct {
	endpoint
}

// GetPipeline reads a pipeline. A missing pipeline is ErrNotFound.
func (c *Client) GetPipeline(ctx context.Context, id string) (*Pipeline, error) {
	return c.pipelines.getPipeline(ctx, id)
}

// getPipeline is Client.GetPipeline.
func (p *pipelineAPI) getPipeline(ctx context.Context, id string) (*Pipeline, error) {
	y, err := p.getYAML(ctx, id)
	if err != nil {
		return nil, err
	}
	pl := &Pipeline{Identifier: id, YAML: y}
	if m, err := parseMeta(y); err == nil {
		pl.Name = m.Name
		pl.Tags = m.Tags
	}
	return pl, nil
}

// get reads the pipeline ref as an Entity.
func (p *pipelineAPI) get(ctx context.Context, ref Ref) (*Entity, error) {
	pl, err := p.getPipeline(ctx, ref.Identifier)
	if err != nil {
		return nil, err
	}
	return &Entity{Ref: ref, Name: pl.Name, YAML: pl.YAML, Tags: pl.Tags}, nil
}

// getYAML reads the stored YAML of pipeline id.
func (p *pipelineAPI) getYAML(ctx context.Context, id string) ([]byte, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	var data struct {
		YAMLPipeline *string `json:"yamlPipeline"`
	}
	err := p.do(ctx, call{
		op: "get_pipeline", method: http.MethodGet, path: pathPipelines + url.PathEscape(id),
		decode: func(raw json.RawMessage) error {
			if err := json.Unmarshal(raw, &data); err != nil || data.YAMLPipeline == nil {
				return unexpected("get pipeline answer has no data.yamlPipeline")
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("getting pipeline %q: %w", id, err)
	}
	return []byte(*data.YAMLPipeline), nil
}

// saveResponse is PipelineSaveResponse, the data of create and update v2.
type saveResponse struct {
	Identifier         string `json:"identifier"`
	GovernanceMetadata *struct {
		Deny    bool   `json:"deny"`
		Message string `json:"message"`
		Details []struct {
			Identifier string `json:"identifier"`
			Deny       bool   `json:"deny"`
		} `json:"details"`
	} `json:"governanceMetadata"`
}

// decodeSave checks a create/update answer. A governance (OPA) deny comes
// back as HTTP 200 with only governanceMetadata and no identifier, and means
// nothing was saved (PipelineResourceImpl.createPipelineV2 and
// updatePipelineV2 in harness-core's pipeline-service).
func decodeSave(out *saveResponse) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		if err := json.Unmarshal(raw, out); err != nil {
			return unexpected("save answer is not a PipelineSaveResponse")
		}
		if g := out.GovernanceMetadata; g != nil && g.Deny {
			var sets []string
			for _, d := range g.Details {
				if d.Deny {
					sets = append(sets, d.Identifier)
				}
			}
			msg := "pipeline denied by governance policy"
			if len(sets) > 0 {
				msg += " sets [" + strings.Join(sets, ", ") + "]"
			}
			if g.Message != "" {
				msg += ": " + g.Message
			}
			return &APIError{HTTPStatus: http.StatusOK, Message: msg, kind: ErrGovernanceDenied}
		}
		if out.Identifier == "" {
			return unexpected("save answer has no identifier and no governance deny")
		}
		return nil
	}
}

// CreatePipeline creates the pipeline described by yaml (root "pipeline:")
// and returns its identifier.
//
// A create is never replayed blindly. It is repeated only when the request
// provably did not reach Harness (a dial error) or was throttled (429).
// After an ambiguous failure (timeout, dropped connection, or 5xx after the
// request was sent) the client reads the pipeline back: found with the same
// content means the create took effect and CreatePipeline succeeds; found with
// other content is ErrAlreadyExists; absent returns the original (retryable)
// error, so the next attempt starts again from a read.
func (c *Client) CreatePipeline(ctx context.Context, yaml []byte) (string, error) {
	return c.pipelines.createPipeline(ctx, yaml)
}

// createPipeline is Client.CreatePipeline.
func (p *pipelineAPI) createPipeline(ctx context.Context, yaml []byte) (string, error) {
	m, err := parseMeta(yaml)
	if err != nil || !identifierRE.MatchString(m.Identifier) {
		// Let Harness say what is wrong; without an identifier there is
		// nothing to read back, so ambiguous failures are returned as they are.
		return p.postPipeline(ctx, m.Identifier, yaml)
	}
	if err := createConfirmed(ctx, p, &desired{ref: Ref{Kind: KindPipeline, Identifier: m.Identifier}, yaml: yaml}); err != nil {
		return "", err
	}
	return m.Identifier, nil
}

// create is the create call of createConfirmed.
func (p *pipelineAPI) create(ctx context.Context, d *desired) error {
	_, err := p.postPipeline(ctx, d.ref.Identifier, d.yaml)
	return err
}

// postPipeline sends POST /pipeline/api/pipelines/v2 with the retry rules
// of creates and returns the saved identifier.
func (p *pipelineAPI) postPipeline(ctx context.Context, id string, yaml []byte) (string, error) {
	var saved saveResponse
	err := p.do(ctx, call{
		op: "create_pipeline", method: http.MethodPost, path: pathCreateV2,
		body: yaml, contentType: "application/yaml", mode: retryUnsent,
		decode: decodeSave(&saved),
	})
	if err != nil {
		return "", fmt.Errorf("creating pipeline %q: %w", id, err)
	}
	return saved.Identifier, nil
}

// UpdatePipeline replaces the pipeline id with yaml, whose
// pipeline.identifier must be id. A full replacement is idempotent, so it is
// retried on every retryable failure; after an ambiguous failure the
// pipeline is read back first, and a pipeline that already holds yaml ends
// the call with success instead of a second write. A missing pipeline is
// ErrNotFound.
func (c *Client) UpdatePipeline(ctx context.Context, id string, yaml []byte) error {
	return c.pipelines.updatePipeline(ctx, id, yaml)
}

// update replaces the pipeline with d (Client.UpdatePipeline).
func (p *pipelineAPI) update(ctx context.Context, d *desired) error {
	return p.updatePipeline(ctx, d.ref.Identifier, d.yaml)
}

// updatePipeline is Client.UpdatePipeline.
func (p *pipelineAPI) updatePipeline(ctx context.Context, id string, yaml []byte) error {
	if err := checkID(id); err != nil {
		return err
	}
	var saved saveResponse
	err := p.do(ctx, call{
		op: "update_pipeline", method: http.MethodPut, path: pathUpdateV2 + url.PathEscape(id),
		body: yaml, contentType: "application/yaml", mode: retryIdempotent,
		decode: decodeSave(&saved),
		// The server answers an update of a missing pipeline with 400
		// INVALID_REQUEST, not 404 (see missingOnWrite).
		reclassify: reclassifyWrite(KindPipeline, true),
		settled:    settledUpdate(p, Ref{Kind: KindPipeline, Identifier: id}, yaml),
	})
	if err != nil {
		return fmt.Errorf("updating pipeline %q: %w", id, err)
	}
	return nil
}

// DeletePipeline deletes the pipeline id (a hard delete in Harness). It is
// retried on every retryable failure; after an ambiguous failure the
// pipeline is read back first, and one that is gone ends the call with
// success. Harness does not handle a delete of a missing pipeline
// explicitly; use DeleteIfExists for an idempotent delete.
func (c *Client) DeletePipeline(ctx context.Context, id string) error {
	return c.pipelines.deletePipeline(ctx, id)
}

// remove deletes the pipeline ref (Client.DeletePipeline).
func (p *pipelineAPI) remove(ctx context.Context, ref Ref) error {
	return p.deletePipeline(ctx, ref.Identifier)
}

// deletePipeline is Client.DeletePipeline.
func (p *pipelineAPI) deletePipeline(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	err := p.do(ctx, call{
		op: "delete_pipeline", method: http.MethodDelete, path: pathPipelines + url.PathEscape(id),
		decode: decodeTrue, settled: settledDelete(p, Ref{Kind: KindPipeline, Identifier: id}),
	})
	if err != nil {
		return fmt.Errorf("deleting pipeline %q: %w", id, err)
	}
	return nil
}

// ListPipelines returns every pipeline of the project, reading all pages of
// POST /pipeline/api/pipelines/list (filterType PipelineSetup). The call is
// read-only, so it is retried like a GET. Pages are sorted by identifier so
// that paging is stable while pipelines change; a pipeline seen twice is
// returned once.
func (c *Client) ListPipelines(ctx context.Context) ([]PipelineSummary, error) {
	return c.pipelines.listPipelines(ctx)
}

// list lists the pipelines as Summaries (Client.ListPipelines).
func (p *pipelineAPI) list(ctx context.Context, _ Kind, _ string) ([]Summary, error) {
	ps, err := p.listPipelines(ctx)
	var out []Summary
	for _, pl := range ps {
		out = append(out, Summary{Kind: KindPipeline, Identifier: pl.Identifier, Name: pl.Name, Tags: pl.Tags})
	}
	return out, err
}

// listPipelines is Client.ListPipelines.
func (p *pipelineAPI) listPipelines(ctx context.Context) ([]PipelineSummary, error) {
	var out []PipelineSummary
	seen := make(map[string]bool)
	for page := 0; ; page++ {
		var data struct {
			Content []struct {
				Identifier string            `json:"identifier"`
				Name       string            `json:"name"`
				Tags       map[string]string `json:"tags"`
			} `json:"content"`
			TotalPages *int  `json:"totalPages"`
			Last       *bool `json:"last"`
		}
		err := p.do(ctx, call{
			op: "list_pipelines", method: http.MethodPost, path: pathList,
			query: url.Values{
				"page": {strconv.Itoa(page)},
				"size": {strconv.Itoa(listPageSize)},
				"sort": {"identifier,ASC"},
			},
			body: []byte(`{"filterType":"PipelineSetup"}`), contentType: "application/json",
			mode: retryIdempotent,
			decode: func(raw json.RawMessage) error {
				if err := json.Unmarshal(raw, &data); err != nil {
					return unexpected("list answer is not a page")
				}
				return nil
			},
		})
		if err != nil {
			return nil, fmt.Errorf("listing pipelines (page %d): %w", page, err)
		}
		for _, pl := range data.Content {
			if seen[pl.Identifier] {
				continue
			}
			seen[pl.Identifier] = true
			out = append(out, PipelineSummary{Identifier: pl.Identifier, Name: pl.Name, Tags: pl.Tags})
		}
		switch {
		case len(data.Content) == 0,
			data.Last != nil && *data.Last,
			data.TotalPages != nil && page+1 >= *data.TotalPages:
			return out, nil
		}
	}
}
