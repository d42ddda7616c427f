package render

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// hostileStrings are values that would change YAML's structure if
// inserted unquoted.
var hostileStrings = []string{
	"x\n  injected: true",
	`payments" injected: "yes`,
	"a: b",
	"# not a comment",
	"{{.Service.Name}}",
	"}}{{",
	"multi\nline\n- item",
	"'single'",
	"- dash",
	"&anchor *alias",
	"!!int 12",
	"true",
	"null",
	"123",
	"\ttab",
	"nul\x00byte",
	"line\u2028separator",
	"next\u0085line",
	"trailing space ",
	" leading space",
	"back\\slash",
	`<+secrets.getValue("x")>`,
	"[flow, list]",
	"{flow: map}",
	"emoji 🚀",
	"%percent",
	"@at `tick`",
	"? key",
	"|",
	">",
	"---",
	"...",
}

func TestQuoteRoundTrips(t *testing.T) {
	for _, s := range append(hostileStrings, "", "plain") {
		q := quote(s)
		if strings.ContainsAny(q, "\n\r") {
			t.Errorf("quote(%q) = %s spans lines", s, q)
		}
		var got map[string]any
		if err := yaml.Unmarshal([]byte("k: "+q+"\n"), &got); err != nil {
			t.Errorf("quote(%q) = %s does not parse: %v", s, q, err)
			continue
		}
		if len(got) != 1 || got["k"] != s {
			t.Errorf("quote(%q) = %s parses back as %#v", s, q, got)
		}
	}
}

func TestQuoteReplacesInvalidUTF8(t *testing.T) {
	var got map[string]string
	if err := yaml.Unmarshal([]byte("k: "+quote("a\xffb")), &got); err != nil {
		t.Fatal(err)
	}
	if got["k"] != "a\uFFFDb" {
		t.Errorf("got %q, want %q", got["k"], "a\uFFFDb")
	}
}

func TestQuoteList(t *testing.T) {
	var got map[string][]string
	in := []string{"account.a", `b", "c`, "d\ne"}
	if err := yaml.Unmarshal([]byte("k: "+quoteList(in)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got["k"]) != 3 || got["k"][1] != in[1] || got["k"][2] != in[2] {
		t.Errorf("quoteList(%q) parses back as %q", in, got["k"])
	}
}
