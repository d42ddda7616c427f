package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Entity types whose YAML schema Harness serves: EntityType.PIPELINES and
// EntityType.TRIGGERS, by their YAML names (harness-core 970-ng-commons
// io/harness/common/EntityTypeConstants.java).
const (
	SchemaPipelines = "Pipelines"
	SchemaTriggers  = "Triggers"
)

// pathYAMLSchema is the pipeline service's schema endpoint:
// PmsYamlSchemaResource, @Path("/yaml-schema"), GET getYamlSchema
// (harness-core pipeline-service/contracts/src/main/java/io/harness/pms/
// schema/PmsYamlSchemaResource.java).
const pathYAMLSchema = "/pipeline/api/yaml-schema"

// YAMLSchema fetches the JSON Schema with which Harness validates the YAML
// of entityType (SchemaPipelines or SchemaTriggers) in the client's
// account, so that it matches that account's Harness version. It returns
// the schema as compact JSON.
//
// The call is GET /pipeline/api/yaml-schema?entityType=…&accountIdentifier=…;
// both parameters are required (@NotNull), while orgIdentifier,
// projectIdentifier, scope and identifier are optional and not sent: the
// schema asked for is the account's. Harness answers a ResponseDTO whose
// data is the schema (PmsYamlSchemaResourceImpl.getYamlSchema,
// harness-core pipeline-service/service/src/main/java/io/harness/pms/
// schema/PmsYamlSchemaResourceImpl.java). It refuses other entity types
// with 415 MEDIA_NOT_SUPPORTED, and answers 400 UNEXPECTED_SCHEMA_EXCEPTION
// when it cannot produce the schema; both come back as an *APIError
// (ErrInvalidRequest). A success whose data is not a JSON object is
// ErrUnexpectedResponse.
func (c *Client) YAMLSchema(ctx context.Context, entityType string) ([]byte, error) {
	return c.schemas.get(ctx, entityType)
}

// schemaAPI is the pipeline service's YAML schema endpoint: account-wide
// calls that need no org or project.
type schemaAPI struct {
	endpoint
}

// get is Client.YAMLSchema.
func (s *schemaAPI) get(ctx context.Context, entityType string) ([]byte, error) {
	if entityType == "" {
		return nil, fmt.Errorf("harness: yaml schema: no entity type: %w", ErrInvalidRequest)
	}
	var schema []byte
	err := s.do(ctx, call{
		op:           "get_yaml_schema",
		method:       http.MethodGet,
		path:         pathYAMLSchema,
		query:        url.Values{"entityType": {entityType}},
		mode:         retryIdempotent,
		accountScope: true,
		decode: func(data json.RawMessage) error {
			if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
				return unexpected("the %s schema is not a JSON object", entityType)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, data); err != nil {
				return unexpected("the %s schema is not valid JSON: %v", entityType, err)
			}
			schema = buf.Bytes()
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return schema, nil
}
