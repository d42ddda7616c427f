package render

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// Harness identifier rules (pipeline, stage and step identifiers), from
// Harness's NGRegexValidatorConstants and the pipeline JSON Schema.
var identifierRE = regexp.MustCompile(`^[a-zA-Z_][0-9a-zA-Z_]{0,127}$`)

// MaxIdentifierLen is the longest identifier Identifier returns. Harness's
// v0 pipeline schema allows 128 characters, but its v1 API caps entity
// identifiers at 64, so we stay within both.
const MaxIdentifierLen = 64

// Identifier turns any name into a Harness identifier: lower case, every
// character outside [a-z0-9_] replaced by "_" ("payment-service" →
// "payment_service"), a "_" prefix when it would start with a digit, "_"
// for the empty name, and a "_" suffix for a Harness reserved word
// ("null" → "null_"). A result longer than MaxIdentifierLen keeps its
// first 55 characters and appends "_" and 8 hex digits of the name's
// SHA-256, so distinct long names stay distinct.
//
// Identifier is not injective on arbitrary input ("a-b" and "a_b" both give
// "a_b"); callers that need distinct identifiers check for collisions.
func Identifier(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 1)
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	id := b.String()
	if id == "" || (id[0] >= '0' && id[0] <= '9') {
		id = "_" + id
	}
	if catalog.ReservedIdentifier(id) {
		id += "_"
	}
	if len(id) > MaxIdentifierLen {
		sum := sha256.Sum256([]byte(name))
		id = id[:MaxIdentifierLen-9] + "_" + hex.EncodeToString(sum[:4])
	}
	return id
}

// checkIdentifier returns why id is not a usable Harness identifier, or ""
// when it is.
func checkIdentifier(id string, maxLen int) string {
	switch {
	case !identifierRE.MatchString(id):
		return "must start with a letter or _ and hold only letters, digits and _ (pattern ^[a-zA-Z_][0-9a-zA-Z_]{0,127}$)"
	case len(id) > maxLen:
		return "is longer than " + strconv.Itoa(maxLen) + " characters"
	case catalog.ReservedIdentifier(id):
		return "is a word Harness reserves"
	}
	return ""
}
