package render

import (
	"regexp"

	"gopkg.in/yaml.v3"
)

// Harness reads YAML as YAML 1.1 (SnakeYAML and Jackson), while yaml.v3,
// which writes our files, follows YAML 1.2: it writes the string "on"
// plain, and Harness reads `team: on` as the boolean true. The canonical
// form therefore double-quotes every string that some YAML 1.1 or 1.2
// reader would take for another type: the booleans of YAML 1.1 (y, yes,
// on, off, n, no in their three cases), its nulls, integers (binary,
// octal, hexadecimal, sexagesimal, with '_'), floats (with or without a
// fraction, sexagesimal, .inf, .nan), and the merge and value keys. A
// string that needs no quotes may get them where the readers disagree;
// that costs nothing.

// yaml11Patterns match, whole, the plain scalars some YAML reader resolves
// to a type other than string.
var yaml11Patterns = regexp.MustCompile(`^(?:` +
	`y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF` + // booleans
	`|~|null|Null|NULL` + // nulls
	`|[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+` + // integers
	`|[-+]?(?:[0-9][0-9_]*)?\.[0-9._]*(?:[eE][-+]?[0-9]+)?` + // floats with a point (YAML 1.1 allows several)
	`|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+` + // floats with an exponent only (YAML 1.2)
	`|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*` + // sexagesimal floats
	`|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)` +
	`|<<|=` + // merge and value keys
	`)$`)

// yaml11NonString reports whether s, written plain, would not read back as
// the string s in YAML 1.1 or 1.2.
func yaml11NonString(s string) bool {
	if s == "" {
		return true
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == '~', c == '<', c == '=':
	case c == 'y' || c == 'Y' || c == 'n' || c == 'N' || c == 'o' || c == 'O' || c == 't' || c == 'T' || c == 'f' || c == 'F':
		if len(s) > 5 {
			return false
		}
	default:
		return false
	}
	return yaml11Patterns.MatchString(s)
}

// quoteYAML11 marks, under n, every string scalar that yaml11NonString
// holds as double-quoted, so that yaml.v3's encoder quotes it as the
// canonical emitter does.
func quoteYAML11(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Style == 0 && yaml11NonString(n.Value) {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		quoteYAML11(c)
	}
}
