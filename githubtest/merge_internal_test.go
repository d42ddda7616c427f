package githubtest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMerge3(t *testing.T) {
	tests := []struct {
		name, base, ours, theirs string
		want                     string
		conflict                 bool
	}{
		{name: "both sides unchanged", base: "a\nb\n", ours: "a\nb\n", theirs: "a\nb\n", want: "a\nb\n"},
		{name: "one side changed", base: "a\nb\n", ours: "a\nB\n", theirs: "a\nb\n", want: "a\nB\n"},
		{name: "separate regions", base: "1\n2\n3\n4\n5\n", ours: "one\n2\n3\n4\n5\n", theirs: "1\n2\n3\n4\nfive\n", want: "one\n2\n3\n4\nfive\n"},
		{name: "same change on both sides", base: "a\nb\n", ours: "a\nc\n", theirs: "a\nc\n", want: "a\nc\n"},
		{name: "insertions at different places", base: "a\nb\nc\n", ours: "x\na\nb\nc\n", theirs: "a\nb\nc\ny\n", want: "x\na\nb\nc\ny\n"},
		{name: "same line changed differently", base: "a\nb\nc\n", ours: "a\nB1\nc\n", theirs: "a\nB2\nc\n", conflict: true},
		{name: "adjacent lines changed", base: "a\nb\nc\n", ours: "A\nb\nc\n", theirs: "a\nB\nc\n", conflict: true},
		{name: "no final newline kept", base: "a\nb", ours: "A\nb", theirs: "a\nb", want: "A\nb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := merge3(splitLines(tc.base), splitLines(tc.ours), splitLines(tc.theirs))
			if ok == tc.conflict {
				t.Fatalf("clean = %v, want %v (result %q)", ok, !tc.conflict, strings.Join(got, ""))
			}
			if ok {
				if diff := cmp.Diff(tc.want, strings.Join(got, "")); diff != "" {
					t.Errorf("merge (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestLineStats(t *testing.T) {
	adds, dels := lineStats("a\nb\nc\n", "a\nB\nc\nd\n")
	if adds != 2 || dels != 1 {
		t.Errorf("lineStats = +%d -%d, want +2 -1", adds, dels)
	}
}

func TestMergeBase(t *testing.T) {
	o := newObjectStore()
	tree := o.buildTree(nil)
	commit := func(msg string, parents ...string) string {
		return o.putCommit(&gitCommit{Tree: tree, Parents: parents, Message: msg})
	}
	root := commit("root")
	a := commit("a", root)
	b := commit("b", a)
	c := commit("c", a)
	m := commit("merge c into b", b, c)
	d := commit("d", c)
	tests := []struct {
		name, x, y, want string
	}{
		{"diverged", b, c, a},
		{"ancestor", a, b, a},
		{"same", b, b, b},
		{"after a merge", m, d, c},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := o.mergeBase(tc.x, tc.y); got != tc.want {
				t.Errorf("mergeBase = %s, want %s", got, tc.want)
			}
		})
	}
	if got := o.commitsBetween([]string{b}, d); len(got) != 2 || got[0] != c || got[1] != d {
		t.Errorf("commitsBetween(b, d) = %v, want [c d]", got)
	}
}
