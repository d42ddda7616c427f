package catalog

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// canonical returns the value of n as one line of flow-style YAML, written
// the same way whatever the layout of the source: block and flow
// collections are written alike, mapping keys are sorted, strings are
// quoted only when they must be, and numbers, booleans and nulls take one
// spelling (0x10 → 16, True → true, ~ → null). Two values that YAML reads as
// equal get the same text.
func canonical(n *yaml.Node) string {
	var b strings.Builder
	writeCanonical(&b, n)
	return b.String()
}

func writeCanonical(b *strings.Builder, n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			writeCanonical(b, n.Content[0])
		} else {
			b.WriteString("null")
		}
	case yaml.AliasNode:
		b.WriteString("*" + n.Value)
	case yaml.SequenceNode:
		writeTag(b, n)
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteString(", ")
			}
			writeCanonical(b, c)
		}
		b.WriteByte(']')
	case yaml.MappingNode:
		writeTag(b, n)
		// Sort by key, then write each entry straight into b: building the
		// text of each entry apart would copy deeply nested values once per
		// level.
		ps := pairs(n)
		keys := make([]string, len(ps))
		for i, p := range ps {
			if p.key.Kind == yaml.ScalarNode {
				keys[i] = canonicalScalar(p.key)
			} else {
				// Lists, mappings and aliases as keys are errors (see
				// hygiene.walk), so a valid file never gets here.
				keys[i] = keyText(p.key)
			}
		}
		order := make([]int, len(ps))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(i, j int) int { return strings.Compare(keys[i], keys[j]) })
		b.WriteByte('{')
		for n, i := range order {
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString(keys[i])
			b.WriteString(": ")
			writeCanonical(b, ps[i].value)
		}
		b.WriteByte('}')
	case yaml.ScalarNode:
		b.WriteString(canonicalScalar(n))
	}
}

// writeTag writes the explicit tag of a collection, if any.
func writeTag(b *strings.Builder, n *yaml.Node) {
	if tagged(n) {
		tag := n.ShortTag()
		if tag != "!!seq" && tag != "!!map" {
			b.WriteString(tag + " ")
		}
	}
}

func canonicalScalar(n *yaml.Node) string {
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return quoteString(n.Value)
	case "!!null":
		return "null"
	case "!!bool":
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return strconv.FormatBool(b)
		}
	case "!!int":
		digits := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(digits, 0, 64); err == nil {
			return strconv.FormatInt(i, 10)
		}
		if u, err := strconv.ParseUint(strings.TrimPrefix(digits, "+"), 0, 64); err == nil {
			return strconv.FormatUint(u, 10)
		}
	case "!!float":
		return canonicalFloat(n.Value)
	}
	// Timestamps, explicitly tagged values (!!binary, !custom) and numbers
	// too large to parse keep their text.
	if tagged(n) {
		return n.ShortTag() + " " + quoteString(n.Value)
	}
	return n.Value
}

// canonicalFloat spells a YAML float one way: .inf, -.inf, .nan, or the
// shortest decimal that reads back the same, always with a '.' or exponent
// so that it does not read as an integer.
func canonicalFloat(s string) string {
	switch strings.ToLower(strings.TrimPrefix(s, "+")) {
	case ".inf":
		return ".inf"
	case "-.inf":
		return "-.inf"
	case ".nan":
		return ".nan"
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return s
	}
	out := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(out, ".e") {
		out += ".0"
	}
	return out
}

// quoteString writes s as a YAML string: plain when that is safe and reads
// back as the same string, double-quoted otherwise.
func quoteString(s string) string {
	if plainSafe(s) {
		return s
	}
	return strconv.Quote(s)
}

// plainSafe reports whether s can be written as a plain (unquoted) flow
// scalar and still read back as the string s. It is conservative: only
// letters, digits and _ . / - are allowed, and s must not start with '-' or
// '.' nor read as a number, boolean, null or timestamp.
func plainSafe(s string) bool {
	if s == "" || s[0] == '-' || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '/', c == '-':
		default:
			return false
		}
	}
	if c := s[0]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '/' {
		// Of the strings that start with a letter, only these read as
		// something else (yaml.v3 resolve.go).
		switch s {
		case "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL":
			return false
		}
		if len(s) > 1 || !strings.ContainsRune("yYnNtTfFoO", rune(c)) {
			return true
		}
	}
	probe := yaml.Node{Kind: yaml.ScalarNode, Value: s}
	return probe.ShortTag() == "!!str"
}
