package render

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	udiff "github.com/aymanbagabas/go-udiff"
	"gopkg.in/yaml.v3"
)

// checkEmit compares emitCanonical with yaml.v3's encoder on doc (after
// plain). It returns whether emitCanonical handled doc.
func checkEmit(tb testing.TB, doc *yaml.Node) bool {
	tb.Helper()
	plain(doc, false)
	var want, got bytes.Buffer
	if err := encodeYAMLv3(&want, doc); err != nil {
		tb.Fatal(err)
	}
	if !emitCanonical(&got, doc) {
		if got.Len() != 0 {
			tb.Errorf("emitCanonical declined but wrote %q", got.String())
		}
		return false
	}
	if !bytes.Equal(want.Bytes(), got.Bytes()) {
		tb.Errorf("emitCanonical differs from yaml.v3:\n%s", udiff.Unified("yaml.v3", "emitCanonical", want.String(), got.String()))
	}
	return true
}

func parseDoc(tb testing.TB, src string) *yaml.Node {
	tb.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		tb.Fatalf("%v\n%s", err, src)
	}
	return &doc
}

func TestEmitMatchesYAMLv3(t *testing.T) {
	t.Run("golden files", func(t *testing.T) {
		for _, c := range goldenCases(t) {
			for p, file := range wantFiles(t, c.dir) {
				if !checkEmit(t, parseDoc(t, string(Body(file)))) {
					t.Errorf("%s/%s: emitCanonical declined a golden pipeline", c.name, p)
				}
			}
		}
	})
	t.Run("shapes", func(t *testing.T) {
		for _, src := range []string{
			"a: 1\n",
			"a: {}\nb: []\n",
			"a:\n  - - x\n    - y\n  - z\n",
			"a:\n  - b: 1\n    c: [1, 2]\n  - {}\n  - []\n",
			"a: [[], {}, [[x]]]\n",
			"a:\nb: ~\nc: null\n",
			"- a\n",
			"a: |\n  one\n  two\n",
			"a: |-\n  one\n\n  three\n",
			"a:\n  - |\n    x\n",
			"a: \"true\"\nb: \"1\"\nc: \"\"\nd: \"null\"\ne: \"2001-12-14\"\nf: \"1e3\"\ng: \"0x1F\"\n",
			"\"true\": 1\n\"1\": x\n",
			"<<: {a: 1}\n",
			"a: 1.5\nb: .inf\nc: -.Inf\nd: 0o17\ne: +1\nf: 1_000\n",
		} {
			checkEmit(t, parseDoc(t, src))
		}
	})
	t.Run("strings", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		values := append([]string{}, hostileStrings...)
		for range 3000 {
			values = append(values, randomString(r))
		}
		handled := 0
		for _, v := range values {
			if checkEmit(t, stringDoc(v)) {
				handled++
			}
		}
		t.Logf("emitCanonical handled %d of %d documents; yaml.v3 wrote the rest", handled, len(values))
	})
}

// stringDoc puts s in every place a string can take in a pipeline: a
// mapping key and value, a sequence item, nested.
func stringDoc(s string) *yaml.Node {
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	mapping := func(kv ...*yaml.Node) *yaml.Node {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: kv}
	}
	seq := func(items ...*yaml.Node) *yaml.Node {
		return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
	}
	root := mapping(
		str("a"), str(s),
		str("b"), seq(str(s), mapping(str("c"), str(s), str("d"), seq(str(s)))),
		str(s), str("x"),
		str("e"), seq(seq(str(s))),
	)
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
}

// randomString returns short strings rich in YAML's special characters.
func randomString(r *rand.Rand) string {
	const alphabet = "ab1 -:#'\"\\{}[],&*!|>%@`?.\n\t~0xe<+"
	n := r.IntN(12)
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	words := []string{"true", "null", "~", "1", "0o7", "1e5", ".nan", "---", "...", "- ", ": ", " #", "<<", "yes", "No", "2020-01-01"}
	if r.IntN(3) == 0 {
		return words[r.IntN(len(words))] + b.String()
	}
	return b.String()
}

func FuzzEmitMatchesYAMLv3(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s)
	}
	f.Add("line one\nline two\n")
	f.Fuzz(func(t *testing.T, s string) {
		doc := stringDoc(s)
		var want bytes.Buffer
		plain(doc, false)
		if err := encodeYAMLv3(&want, doc); err != nil {
			t.Skip(fmt.Sprint(err))
		}
		checkEmit(t, doc)
	})
}
