package render

import (
	"bytes"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"
)

// yaml11Resolves is a YAML 1.1 reader's plain-scalar resolution, written
// from the type definitions of yaml.org/type (bool, null, int, float,
// merge, value), with what SnakeYAML, under Harness's Jackson, adds (a
// float with an exponent and no point, 1e3) and YAML 1.2's octal (0o17),
// independently of yaml11NonString: whether the plain text s is read as
// something other than a string.
func yaml11Resolves(s string) bool {
	for _, re := range yaml11TypeRegexps {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

var yaml11TypeRegexps = []*regexp.Regexp{
	regexp.MustCompile(`^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`), // yaml.org/type/bool
	regexp.MustCompile(`^(~|null|Null|NULL|)$`), // yaml.org/type/null
	regexp.MustCompile(`^[-+]?0b[0-1_]+$`),      // yaml.org/type/int
	regexp.MustCompile(`^[-+]?0[0-7_]+$`),
	regexp.MustCompile(`^[-+]?(0|[1-9][0-9_]*)$`),
	regexp.MustCompile(`^[-+]?0x[0-9a-fA-F_]+$`),
	regexp.MustCompile(`^[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+$`),
	regexp.MustCompile(`^[-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?$`), // yaml.org/type/float
	regexp.MustCompile(`^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*$`),
	regexp.MustCompile(`^[-+]?\.(inf|Inf|INF)$`),
	regexp.MustCompile(`^\.(nan|NaN|NAN)$`),
	regexp.MustCompile(`^(<<|=)$`),                           // yaml.org/type/merge, yaml.org/type/value
	regexp.MustCompile(`^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$`), // SnakeYAML's float (its resolver needs a digit, sign or point first)
	regexp.MustCompile(`^[-+]?0o[0-7_]+$`),                   // YAML 1.2's octal
}

// TestCanonicalFormQuotesYAML11 encodes strings that YAML 1.1 would read
// as booleans, nulls or numbers, as values and as keys, with the fast
// emitter and with yaml.v3's encoder: both double-quote them, and what
// they write reads back as the same string.
func TestCanonicalFormQuotesYAML11(t *testing.T) {
	quoted := []string{
		"on", "On", "ON", "off", "no", "No", "NO", "n", "N", "y", "Y", "yes", "Yes", "true", "False",
		"~", "null", "Null", "NULL", "0x1F", "0x1f", "1e3", "1E3", ".inf", "-.Inf", ".NaN", "0777", "0o17", "0b101",
		"1_000", "1:20", "-1:30:00", "190:20:30.15", "1.5", ".5", "+1", "-2", "0", "1.2.3", "<<", "=",
	}
	unquoted := []string{"one", "yesterday", "nope", "offline", "onboarding", "v1", "a1e3", "x0x1f", "inf", "nan", "payment-service", "1-2"}
	mustQuote := map[string]bool{}
	for _, s := range quoted {
		mustQuote[s] = true
	}
	for _, s := range append(quoted, unquoted...) {
		want := s
		if mustQuote[s] {
			want = `"` + s + `"`
		}
		if got := yaml11Resolves(s); got != (want != s) {
			t.Errorf("%q: the YAML 1.1 resolver of this test says %t; the case is listed the other way", s, got)
		}
		for name, encode := range map[string]func(*bytes.Buffer, *yaml.Node) error{
			"emitter": func(b *bytes.Buffer, d *yaml.Node) error {
				plain(d, false)
				if !emitCanonical(b, d) {
					t.Fatalf("%q: the emitter declined", s)
				}
				return nil
			},
			"yaml.v3": func(b *bytes.Buffer, d *yaml.Node) error { plain(d, false); return encodeYAMLv3(b, d) },
		} {
			var b bytes.Buffer
			value := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "k"}, {Kind: yaml.ScalarNode, Tag: "!!str", Value: s},
			}}}}
			if err := encode(&b, value); err != nil {
				t.Fatal(err)
			}
			if got, wantLine := b.String(), "k: "+want+"\n"; got != wantLine {
				t.Errorf("%s: %q encodes as %q, want %q", name, s, got, wantLine)
			}
			var back map[string]string
			if err := yaml.Unmarshal(b.Bytes(), &back); err != nil || back["k"] != s {
				t.Errorf("%s: %q reads back as %q (%v)", name, s, back["k"], err)
			}
			b.Reset()
			key := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}, {Kind: yaml.ScalarNode, Tag: "!!str", Value: "v"},
			}}}}
			if err := encode(&b, key); err != nil {
				t.Fatal(err)
			}
			if got, wantLine := b.String(), want+": v\n"; got != wantLine {
				t.Errorf("%s: the key %q encodes as %q, want %q", name, s, got, wantLine)
			}
		}
	}
}

// TestGoldenFilesReadAsYAML11 reads every golden file as YAML 1.1 would:
// no string is written plain where a YAML 1.1 reader would take it for a
// boolean, a null or a number.
func TestGoldenFilesReadAsYAML11(t *testing.T) {
	for _, c := range goldenCases(t) {
		for p, file := range wantFiles(t, c.dir) {
			var doc yaml.Node
			if err := yaml.Unmarshal(Body(file), &doc); err != nil {
				t.Fatal(err)
			}
			var walk func(n *yaml.Node)
			walk = func(n *yaml.Node) {
				if n.Kind == yaml.ScalarNode && n.Style == 0 && n.ShortTag() == "!!str" && yaml11Resolves(n.Value) {
					t.Errorf("%s/%s:%d: %q is written plain; YAML 1.1 does not read it as a string", c.name, p, n.Line, n.Value)
				}
				for _, k := range n.Content {
					walk(k)
				}
			}
			walk(&doc)
		}
	}
}
