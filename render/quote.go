package render

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// quote returns v as a YAML double-quoted scalar that holds exactly v's
// text. Everything outside printable ASCII is escaped (\n, \t, \x..,
// \u...., \U........), as are " and \, so the result is one line of ASCII
// and no value can end the scalar, start a comment or a new key, or change
// indentation. Invalid UTF-8 bytes become U+FFFD.
func quote(v any) string {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case fmt.Stringer:
		s = v.String()
	default:
		s = fmt.Sprint(v)
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteList returns a YAML flow sequence of quoted strings: ["a", "b"].
func quoteList(vs []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(v))
	}
	b.WriteByte(']')
	return b.String()
}

// safeWordRE matches the values a seed placeholder may insert unquoted:
// text that means the same in a plain, single-quoted or double-quoted YAML
// scalar, in block or flow context, and cannot start a new YAML token.
var safeWordRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// placeholder returns a template function for a seed placeholder such as
// {{SERVICE_NAME}}. Seed templates write placeholders inside quotes or
// bare, so the function cannot quote for them: it inserts the values as
// they are, comma-joined, and fails the render when one is not a safe word.
func placeholder(name string, values ...string) func() (string, error) {
	return func() (string, error) {
		for _, v := range values {
			if !safeWordRE.MatchString(v) {
				return "", fmt.Errorf("{{%s}} cannot insert %s unquoted: a placeholder takes only letters, digits, '.', '_' and '-'; use {{quote ...}} with the template data instead", name, quote(v))
			}
		}
		return strings.Join(values, ","), nil
	}
}

// checkValue returns why a catalog value cannot be rendered, or "".
//
// A catalog value must not hold a Harness expression ("<+"): Harness
// evaluates expressions anywhere in a pipeline's strings, including
// quoted ones, so a service's team of <+secrets.getValue("x")> would put a
// secret in a tag. Quoting cannot neutralise that, and rewriting the value
// would render something other than what the catalog says, so it is an
// error. Invalid UTF-8 is an error for the same reason.
func checkValue(v string) string {
	switch {
	case !utf8.ValidString(v):
		return "is not valid UTF-8"
	case strings.Contains(v, "<+"):
		return "holds a Harness expression (<+...>), which Harness would evaluate"
	}
	return ""
}
