package render

import (
	"bytes"
	"strings"

	"gopkg.in/yaml.v3"
)

// yaml.v3's encoder is the reference for the canonical form, but it is
// slow on pipeline-sized documents: its emitter re-allocates its event
// queue on every event, about 1 MB and 2 ms per pipeline. emitCanonical
// writes the same bytes directly for the documents pipelines are made of:
// block mappings and sequences of plain-tagged scalars whose text is
// printable ASCII, and multi-line strings that yaml.v3 writes as simple
// literal blocks. For anything else it reports false and the caller uses
// yaml.v3. TestEmitMatchesYAMLv3 and FuzzEmitMatchesYAMLv3 hold the two to
// the same output.

// emitCanonical appends doc to buf as yaml.v3 would encode it with
// 2-space indentation, after plain(doc). It returns false, with buf
// unchanged, when doc is outside the subset it handles.
func emitCanonical(buf *bytes.Buffer, doc *yaml.Node) bool {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return false
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode || len(root.Content) == 0 {
		return false
	}
	start := buf.Len()
	e := emitter{buf: buf}
	if !e.mapping(root, 0, false) {
		buf.Truncate(start)
		return false
	}
	return true
}

type emitter struct {
	buf *bytes.Buffer
}

func (e *emitter) indent(n int) {
	for range n {
		e.buf.WriteByte(' ')
	}
}

// mapping writes the entries of m at indentation ind. With inline, the
// first entry continues the current line (after "- ").
func (e *emitter) mapping(m *yaml.Node, ind int, inline bool) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key, ok := keyText(k)
		if !ok {
			return false
		}
		if i > 0 || !inline {
			e.indent(ind)
		}
		e.buf.WriteString(key)
		e.buf.WriteByte(':')
		if !e.value(v, ind) {
			return false
		}
	}
	return true
}

// sequence writes the items of s at indentation ind.
func (e *emitter) sequence(s *yaml.Node, ind int, inline bool) bool {
	for i, item := range s.Content {
		if i > 0 || !inline {
			e.indent(ind)
		}
		e.buf.WriteByte('-')
		if !e.value(item, ind) {
			return false
		}
	}
	return true
}

// value writes v after a "key:" or "-" at indentation ind, through the end
// of its last line.
func (e *emitter) value(v *yaml.Node, ind int) bool {
	if v.Anchor != "" || v.Alias != nil {
		return false
	}
	switch v.Kind {
	case yaml.MappingNode:
		if len(v.Content) == 0 {
			e.buf.WriteString(" {}\n")
			return true
		}
		if e.inSequenceItem() {
			e.buf.WriteByte(' ')
			return e.mapping(v, ind+2, true)
		}
		e.buf.WriteByte('\n')
		return e.mapping(v, ind+2, false)
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			e.buf.WriteString(" []\n")
			return true
		}
		if e.inSequenceItem() {
			e.buf.WriteByte(' ')
			return e.sequence(v, ind+2, true)
		}
		e.buf.WriteByte('\n')
		return e.sequence(v, ind+2, false)
	case yaml.ScalarNode:
		if strings.Contains(v.Value, "\n") {
			return e.literal(v, ind+2)
		}
		text, ok := scalarText(v)
		if !ok {
			return false
		}
		if text != "" {
			e.buf.WriteByte(' ')
			e.buf.WriteString(text)
		}
		e.buf.WriteByte('\n')
		return true
	}
	return false
}

// inSequenceItem reports whether the last thing written is a sequence
// item's "-": a collection then starts on the same line.
func (e *emitter) inSequenceItem() bool {
	b := e.buf.Bytes()
	return len(b) > 0 && b[len(b)-1] == '-'
}

// literal writes a multi-line string as a literal block scalar whose lines
// are indented by ind.
func (e *emitter) literal(v *yaml.Node, ind int) bool {
	s := v.Value
	if v.ShortTag() != "!!str" || !literalOK(s) {
		return false
	}
	body := s
	if strings.HasSuffix(s, "\n") {
		e.buf.WriteString(" |\n")
		body = s[:len(s)-1]
	} else {
		e.buf.WriteString(" |-\n")
	}
	for line := range strings.SplitSeq(body, "\n") {
		if line != "" {
			e.indent(ind)
			e.buf.WriteString(line)
		}
		e.buf.WriteByte('\n')
	}
	return true
}

// literalOK reports whether yaml.v3 writes s as a plain literal block
// ("|" or "|-", no indentation indicator): printable ASCII lines, the
// first not starting with a space, no line ending in a space, and at most
// one newline at the end.
func literalOK(s string) bool {
	if s == "" || s[0] == ' ' || s[0] == '\n' || strings.HasSuffix(s, "\n\n") || s == "\n" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			if i > 0 && s[i-1] == ' ' {
				return false
			}
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return s[len(s)-1] != ' '
}

// keyText returns a mapping key as yaml.v3 writes it in block context.
func keyText(k *yaml.Node) (string, bool) {
	if k.Kind != yaml.ScalarNode || k.Anchor != "" || len(k.Value) > 128 || k.Value == "" {
		return "", false
	}
	return scalarText(k)
}

// scalarText returns a one-line scalar as yaml.v3 writes it in block
// context, after quoteYAML11: plain when that reads back as the same
// value in YAML 1.1 and 1.2, else single quoted, else double quoted (only
// for a string that plain text would read as another type).
func scalarText(n *yaml.Node) (string, bool) {
	s := n.Value
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return "", false
		}
	}
	tag := n.ShortTag()
	resolved := resolvedTag(s)
	switch {
	case tag == "!!str" && yaml11NonString(s):
		// A YAML 1.1 reader (Harness's) would take it for a boolean,
		// number or null: see yaml11.go.
		return `"` + doubleQuoteEscaper.Replace(s) + `"`, true
	case tag == resolved:
		// Plain, if the text allows it.
	case tag == "!!str":
		// Plain text would read as another type: yaml.v3 forces double
		// quotes.
		return `"` + doubleQuoteEscaper.Replace(s) + `"`, true
	default:
		return "", false
	}
	if s == "" {
		return "", tag == "!!null" // "key:" with nothing after it
	}
	if plainAllowed(s) {
		return s, true
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", true
}

// resolvedTag is the tag yaml.v3 resolves plain text s to. Most scalars
// of an entity start with a letter and are not one of YAML's words, which
// resolve to !!str without asking yaml.v3 (that takes a node on the heap).
func resolvedTag(s string) string {
	if s != "" && (s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		switch s {
		case "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL":
		default:
			return "!!str"
		}
	}
	return (&yaml.Node{Kind: yaml.ScalarNode, Value: s}).ShortTag()
}

// doubleQuoteEscaper escapes printable ASCII for a double-quoted scalar.
var doubleQuoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// plainAllowed is yaml.v3's block_plain_allowed for a one-line printable
// ASCII string (yaml_emitter_analyze_scalar).
func plainAllowed(s string) bool {
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		return false
	}
	blank := func(i int) bool { return i >= len(s) || s[i] == ' ' }
	switch s[0] {
	case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		return false
	case '?', ':', '-':
		if blank(1) {
			return false
		}
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case ':':
			if blank(i + 1) {
				return false
			}
		case '#':
			if s[i-1] == ' ' {
				return false
			}
		}
	}
	return true
}
