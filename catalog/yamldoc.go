package catalog

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// This file holds what the catalog and settings parsers share: reading one
// YAML document with positions, the hygiene rules that apply at any depth
// (duplicate keys, anchors, aliases, merge keys), and small functions that
// read typed values from yaml.Node while reporting what is wrong with them.

// reporter collects the diagnostics of one file.
type reporter struct {
	file  string
	diags Diagnostics
}

// add records a diagnostic at pos.
func (r *reporter) add(pos Pos, service, field, format string, args ...any) {
	r.diags = append(r.diags, Diagnostic{
		File:    r.file,
		Pos:     pos,
		Service: service,
		Field:   field,
		Message: fmt.Sprintf(format, args...),
	})
}

// sorted returns the diagnostics in file order. Diagnostics at the same
// position keep the order in which they were found.
func (r *reporter) sorted() Diagnostics {
	if len(r.diags) == 0 {
		return nil
	}
	slices.SortStableFunc(r.diags, func(a, b Diagnostic) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Column, b.Column)
	})
	return r.diags
}

// posOf returns where n starts.
func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

// loadDocument checks that src is printable UTF-8 text and parses it as one
// YAML document. It returns the document's root node, or nil when src holds
// no document at all (empty, or only comments). ok is false when src could
// not be parsed; the reason has been reported and there is nothing to
// validate. Hygiene problems (duplicate keys, anchors, aliases, merge keys,
// more than one document) are reported without making ok false, so that the
// caller can go on and report every other problem too.
func loadDocument(r *reporter, src []byte) (root *yaml.Node, ok bool) {
	if !checkText(r, src) {
		return nil, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	found, err := decodeNext(dec, &doc)
	if err != nil {
		r.diags = append(r.diags, syntaxDiagnostic(r.file, src, err))
		return nil, false
	}
	if !found {
		return nil, true
	}
	var next yaml.Node
	more, err := decodeNext(dec, &next)
	switch {
	case err != nil:
		r.diags = append(r.diags, syntaxDiagnostic(r.file, src, err))
		return nil, false
	case more:
		r.add(posOf(&next), "", "", "the file holds more than one YAML document; remove the `---` separator and everything after it, or merge the documents")
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	root = doc.Content[0]
	checkHygiene(r, root)
	return root, true
}

// decodeNext decodes the next document of dec into n. It reports found=false
// at the end of the stream. A panic inside the YAML library is turned into an
// error, so malformed input can never crash the caller.
func decodeNext(dec *yaml.Decoder, n *yaml.Node) (found bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			found, err = false, fmt.Errorf("yaml: the YAML parser could not read this file (%v)", p)
		}
	}()
	err = dec.Decode(n)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	return err == nil, err
}

// checkText reports the first byte that is not valid UTF-8, or the first
// character that YAML does not allow in a stream, with its line and column.
// Columns count characters, as yaml.v3's do.
func checkText(r *reporter, src []byte) bool {
	line, col := 1, 1
	for i := 0; i < len(src); {
		c, size := utf8.DecodeRune(src[i:])
		if c == utf8.RuneError && size <= 1 {
			r.add(Pos{Line: line, Column: col}, "", "", "the file is not valid UTF-8 text: invalid byte 0x%02X", src[i])
			return false
		}
		if !yamlPrintable(c) {
			r.add(Pos{Line: line, Column: col}, "", "", "control character %U is not allowed in YAML", c)
			return false
		}
		i += size
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return true
}

// yamlPrintable reports whether c may appear in a YAML stream (YAML 1.2
// c-printable, the set yaml.v3's reader accepts).
func yamlPrintable(c rune) bool {
	switch {
	case c == '\t', c == '\n', c == '\r':
	case c >= 0x20 && c <= 0x7E:
	case c == 0x85:
	case c >= 0xA0 && c <= 0xD7FF:
	case c >= 0xE000 && c <= 0xFFFD:
	case c >= 0x10000 && c <= 0x10FFFF:
	default:
		return false
	}
	return true
}

var (
	yamlErrLine       = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	yamlUnknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// parserProblems are the yaml.v3 messages raised by its parser rather than
// its scanner. yaml.v3 prints the 0-based line of the parser's mark for
// those, and the 1-based line for scanner errors (yaml.v3 decode.go,
// parser.fail), so the line of a parser error is one more than printed.
var parserProblems = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found duplicate %YAML directive",
	"found duplicate %TAG directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// syntaxDiagnostic turns a yaml.v3 parse error into a diagnostic. yaml.v3
// reports a line but no column, so Column is 0 unless the problem is a tab
// used for indentation, which is located exactly.
func syntaxDiagnostic(file string, src []byte, err error) Diagnostic {
	if m := yamlUnknownAnchor.FindStringSubmatch(err.Error()); m != nil {
		// yaml.v3 gives no position for this one; find the alias.
		return Diagnostic{File: file, Pos: findAlias(src, m[1]),
			Message: fmt.Sprintf("alias *%s refers to an anchor that is not defined; aliases are not allowed anyway: write the value out in full", m[1])}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
		msg = m[2]
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			line = n
			if slices.Contains(parserProblems, msg) {
				line++
			}
		}
	}
	line = locateSyntaxError(src, line)
	if tl, tc, found := tabIndent(src, line-1, line+1); found {
		return Diagnostic{File: file, Pos: Pos{Line: tl, Column: tc},
			Message: "tab character used for indentation; YAML indentation must use spaces"}
	}
	return Diagnostic{File: file, Pos: Pos{Line: line}, Message: "invalid YAML: " + msg}
}

// maxLocateSize bounds the files for which locateSyntaxError searches: the
// search parses the file several times, which is quick for any realistic
// catalog but takes seconds for one of several megabytes.
const maxLocateSize = 1 << 20

// locateSyntaxError returns the line that makes src fail to parse, given
// the line yaml.v3 reported. For an error inside a block or flow
// collection, yaml.v3 reports where the collection starts (its "context"),
// not the offending line. The offending line is found by parsing prefixes
// of src, whole lines at a time: it is the first line whose prefix fails.
// The search gallops from the reported line, since the offending line is
// usually near it, then bisects, so it costs a few parses and not one per
// line. When the prefixes do not behave as expected, or src is larger than
// maxLocateSize, the reported line is kept.
func locateSyntaxError(src []byte, reported int) int {
	if len(src) > maxLocateSize {
		return reported
	}
	ends := lineEnds(src)
	fails := func(k int) bool { return k > 0 && parseFails(src[:ends[k-1]]) }
	lo := max(reported-1, 0) // fails(lo) is expected false
	if lo >= len(ends) || fails(lo) {
		return reported
	}
	hi := -1 // the first prefix known to fail
	for step := 1; ; step *= 2 {
		k := min(lo+step, len(ends))
		if fails(k) {
			hi = k
			break
		}
		if k == len(ends) {
			return reported // the whole file parses line by line: nothing better to say
		}
		lo = k
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// lineEnds returns, for each line of src, the offset just past its end
// (including its newline).
func lineEnds(src []byte) []int {
	var ends []int
	for i, c := range src {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(src) > 0 && src[len(src)-1] != '\n' {
		ends = append(ends, len(src))
	}
	return ends
}

// parseFails reports whether some document of src does not parse.
func parseFails(src []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		found, err := decodeNext(dec, &n)
		if err != nil {
			return true
		}
		if !found {
			return false
		}
	}
}

// findAlias returns the position of the first alias *name in src, or 1:1
// when it cannot be found. It may be fooled by the same text in a quoted
// string or a comment, which only moves the diagnostic.
func findAlias(src []byte, name string) Pos {
	token := []byte("*" + name)
	for off := 0; ; {
		i := bytes.Index(src[off:], token)
		if i < 0 {
			return Pos{Line: 1, Column: 1}
		}
		at := off + i
		end := at + len(token)
		if end == len(src) || bytes.IndexByte([]byte(" \t\r\n,]}"), src[end]) >= 0 {
			before := src[:at]
			line := bytes.Count(before, []byte("\n")) + 1
			col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
			return Pos{Line: line, Column: col}
		}
		off = end
	}
}

// tabIndent finds the first line in [from, to] (1-based, inclusive) whose
// indentation holds a tab, and returns its line and the tab's column.
// Blank lines and comment lines are skipped: a tab there is harmless.
func tabIndent(src []byte, from, to int) (line, col int, found bool) {
	line = 1
	for rest := src; len(rest) > 0 && line <= to; line++ {
		text := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			text, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if line < from {
			continue
		}
		indent := len(text) - len(bytes.TrimLeft(text, " \t"))
		content := bytes.TrimSpace(text)
		if len(content) == 0 || content[0] == '#' {
			continue
		}
		if i := bytes.IndexByte(text[:indent], '\t'); i >= 0 {
			return line, i + 1, true
		}
	}
	return 0, 0, false
}

// checkHygiene reports, anywhere under root, the YAML features that hide or
// repeat values: anchors, aliases, merge keys and duplicate mapping keys.
func checkHygiene(r *reporter, root *yaml.Node) {
	h := hygiene{r: r}
	h.walk(root)
}

// hygiene walks a document for checkHygiene. path is the field path of the
// current node, kept as segments and formatted only when a problem is
// reported, since the walk visits every node of the file.
type hygiene struct {
	r    *reporter
	path []pathSegment
}

// pathSegment is one step of a field path: a mapping key, or a list index
// when key is nil.
type pathSegment struct {
	key   *yaml.Node
	index int
}

// maxPathSegments bounds the length of a formatted field path. Real paths
// are a few segments long; deeply nested values would otherwise make every
// diagnostic under them as long as the nesting is deep.
const maxPathSegments = 16

// fieldPath formats segments as a field path such as services[2].name.
// A path longer than maxPathSegments keeps its ends around a "…".
func fieldPath(segments []pathSegment) string {
	if len(segments) > maxPathSegments {
		head, tail := segments[:maxPathSegments/2], segments[len(segments)-maxPathSegments/2+1:]
		rest := fieldPath(tail)
		if !strings.HasPrefix(rest, "[") {
			rest = "." + rest
		}
		return fieldPath(head) + ".…" + rest
	}
	var b strings.Builder
	for _, s := range segments {
		if s.key == nil {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(keyText(s.key))
	}
	return b.String()
}

func (h *hygiene) errorf(n *yaml.Node, format string, args ...any) {
	h.r.add(posOf(n), "", fieldPath(h.path), format, args...)
}

func (h *hygiene) walk(n *yaml.Node) {
	if n.Anchor != "" {
		h.errorf(n, "anchors (&%s) are not allowed: write each value out in full", n.Anchor)
	}
	switch n.Kind {
	case yaml.AliasNode:
		h.errorf(n, "aliases (*%s) are not allowed: write the value out in full", n.Value)
	case yaml.SequenceNode:
		for i, c := range n.Content {
			h.path = append(h.path, pathSegment{index: i})
			h.walk(c)
			h.path = h.path[:len(h.path)-1]
		}
	case yaml.MappingNode:
		scanPairs(n, func(k, v, first *yaml.Node) {
			h.path = append(h.path, pathSegment{key: k})
			defer func() { h.path = h.path[:len(h.path)-1] }()
			if isMergeKey(k) {
				h.errorf(k, "merge keys (<<) are not allowed: write each field out in full")
				if v.Kind != yaml.AliasNode { // the merge key error covers its alias
					h.walk(v)
				}
				return
			}
			switch {
			case k.Kind == yaml.MappingNode || k.Kind == yaml.SequenceNode:
				// Reported once; what is inside the key does not matter.
				h.errorf(k, "a list or a mapping cannot be a key: keys must be plain strings")
			case first != nil:
				h.errorf(k, "duplicate key %q (first defined at line %d)", keyText(k), first.Line)
				h.walk(k)
			default:
				h.walk(k)
			}
			h.walk(v)
		})
	}
}

// keyID identifies a mapping key: two keys are duplicates when their IDs
// are equal. String keys, by far the most common, need no formatting.
type keyID struct {
	tag, text string
}

func idOf(k *yaml.Node) keyID {
	switch {
	case k.Kind == yaml.ScalarNode && k.Tag == "!!str":
		return keyID{tag: "!!str", text: k.Value}
	case k.Kind == yaml.ScalarNode:
		return keyID{text: canonicalScalar(k)}
	}
	// A list, mapping or alias key is an error of its own (see hygiene.walk);
	// it is never taken for a duplicate. Comparing such keys by value would
	// cost time exponential in their nesting depth.
	return keyID{tag: "node", text: fmt.Sprintf("%p", k)}
}

// scanPairs calls fn for each key/value entry of mapping m, in file order,
// with the earlier key equal to k when k is a duplicate (nil otherwise).
// Merge keys are passed as they are, never as duplicates.
func scanPairs(m *yaml.Node, fn func(k, v, first *yaml.Node)) {
	n := len(m.Content) / 2
	ids := make([]keyID, n)
	var index map[keyID]int // for large mappings; small ones are scanned
	if n > 16 {
		index = make(map[keyID]int, n)
	}
	for i := range n {
		k, v := m.Content[2*i], m.Content[2*i+1]
		if isMergeKey(k) {
			fn(k, v, nil)
			continue
		}
		ids[i] = idOf(k)
		first := -1
		if index != nil {
			if j, ok := index[ids[i]]; ok {
				first = j
			} else {
				index[ids[i]] = i
			}
		} else {
			for j := range i {
				if ids[j] == ids[i] && !isMergeKey(m.Content[2*j]) {
					first = j
					break
				}
			}
		}
		if first >= 0 {
			fn(k, v, m.Content[2*first])
		} else {
			fn(k, v, nil)
		}
	}
}

// isMergeKey reports whether k is the YAML merge key `<<`.
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && (k.Tag == "!!merge" || k.Tag == "tag:yaml.org,2002:merge")
}

// joinPath appends a mapping key to a field path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// keyText is a mapping key as it appears in a field path.
func keyText(k *yaml.Node) string {
	switch k.Kind {
	case yaml.ScalarNode:
		return k.Value
	case yaml.AliasNode:
		return "*" + k.Value
	case yaml.SequenceNode:
		return "(list key)"
	}
	return "(mapping key)"
}

// pair is one key/value entry of a mapping.
type pair struct {
	key, value *yaml.Node
}

// pairs returns the entries of mapping m in file order. Only the first of
// duplicate keys is returned: the others were reported by checkHygiene.
// Merge keys are skipped for the same reason.
func pairs(m *yaml.Node) []pair {
	out := make([]pair, 0, len(m.Content)/2)
	scanPairs(m, func(k, v, first *yaml.Node) {
		if first == nil && !isMergeKey(k) {
			out = append(out, pair{key: k, value: v})
		}
	})
	return out
}

// describe names the kind of value n holds, for messages such as
// "must be a string, got an integer (123)".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!null":
		return "an empty value"
	case "!!bool":
		return fmt.Sprintf("a boolean (%s)", n.Value)
	case "!!int":
		return fmt.Sprintf("an integer (%s)", n.Value)
	case "!!float":
		return fmt.Sprintf("a number (%s)", n.Value)
	case "!!timestamp":
		return fmt.Sprintf("a timestamp (%s)", n.Value)
	case "!!str":
		return fmt.Sprintf("a string (%s)", quoteString(n.Value))
	}
	return fmt.Sprintf("a %s value", n.Tag)
}

// tagged reports whether n carries an explicit YAML tag such as !!binary.
func tagged(n *yaml.Node) bool { return n.Style&yaml.TaggedStyle != 0 }

// valueReader reads typed values out of nodes, reporting problems with a
// fixed service name (empty for settings).
type valueReader struct {
	r       *reporter
	service string
}

// errorf reports a problem at n.
func (v valueReader) errorf(n *yaml.Node, field, format string, args ...any) {
	v.r.add(posOf(n), v.service, field, format, args...)
}

// str returns the text of a plain string scalar. Anything else (a list, a
// mapping, a number, a boolean, an empty value, a tagged value) is reported
// and ok is false. Aliases are not reported again.
func (v valueReader) str(n *yaml.Node, field string) (s string, ok bool) {
	switch {
	case n.Kind == yaml.AliasNode:
		return "", false
	case n.Kind != yaml.ScalarNode:
		v.errorf(n, field, "must be a string, got %s", describe(n))
		return "", false
	case tagged(n):
		v.errorf(n, field, "YAML tags (%s) are not allowed here: write a plain string", n.Tag)
		return "", false
	case n.ShortTag() != "!!str":
		v.errorf(n, field, "must be a string, got %s; quote it if you mean the text", describe(n))
		return "", false
	}
	return n.Value, true
}

// item is one string element of a list, with its node and index.
type item struct {
	value string
	node  *yaml.Node
	index int
}

// field returns the field path of the item in list, e.g. "regions[1]".
// Callers format it only for an error: most items have none.
func (it item) field(list string) string { return fmt.Sprintf("%s[%d]", list, it.index) }

// strList returns the string elements of sequence n. A value that is not a
// sequence is reported and ok is false; elements that are not strings are
// reported and left out (ok stays true so that the caller checks the rest).
func (v valueReader) strList(n *yaml.Node, field string) (items []item, ok bool) {
	switch {
	case n.Kind == yaml.AliasNode:
		return nil, false
	case n.Kind != yaml.SequenceNode:
		v.errorf(n, field, "must be a list of strings, got %s", describe(n))
		return nil, false
	case tagged(n):
		v.errorf(n, field, "YAML tags (%s) are not allowed here: write a plain list", n.Tag)
		return nil, false
	}
	items = make([]item, 0, len(n.Content))
	for i, c := range n.Content {
		if c.Kind == yaml.ScalarNode && c.Tag == "!!str" && !tagged(c) {
			items = append(items, item{value: c.Value, node: c, index: i}) // the common case, without formatting a path
		} else if s, ok := v.str(c, fmt.Sprintf("%s[%d]", field, i)); ok {
			items = append(items, item{value: s, node: c, index: i})
		}
	}
	return items, true
}

// boolean returns the value of a boolean scalar, reporting anything else.
func (v valueReader) boolean(n *yaml.Node, field string) (b, ok bool) {
	switch {
	case n.Kind == yaml.AliasNode:
		return false, false
	case n.Kind == yaml.ScalarNode && tagged(n):
		v.errorf(n, field, "YAML tags (%s) are not allowed here: write true or false", n.Tag)
		return false, false
	case n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool":
		v.errorf(n, field, "must be true or false, got %s", describe(n))
		return false, false
	}
	b, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		v.errorf(n, field, "must be true or false, got %s", describe(n))
		return false, false
	}
	return b, true
}

// integer returns the value of an integer scalar, reporting anything else.
func (v valueReader) integer(n *yaml.Node, field string) (i int, ok bool) {
	switch {
	case n.Kind == yaml.AliasNode:
		return 0, false
	case n.Kind == yaml.ScalarNode && tagged(n):
		v.errorf(n, field, "YAML tags (%s) are not allowed here: write a whole number", n.Tag)
		return 0, false
	case n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int":
		v.errorf(n, field, "must be a whole number, got %s", describe(n))
		return 0, false
	}
	i64, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 0)
	if err != nil {
		v.errorf(n, field, "the number %s is too large", n.Value)
		return 0, false
	}
	return int(i64), true
}

// mapping returns the entries of mapping n, keyed by field name. A value that
// is not a mapping is reported and ok is false. Keys that are not plain
// strings are reported and left out. When known is not nil, keys not in it
// are reported as unknown and left out.
func (v valueReader) mapping(n *yaml.Node, field string, known []string) (entries map[string]pair, order []string, ok bool) {
	switch {
	case n.Kind == yaml.AliasNode:
		return nil, nil, false
	case n.Kind != yaml.MappingNode:
		v.errorf(n, field, "must be a mapping, got %s", describe(n))
		return nil, nil, false
	case tagged(n):
		v.errorf(n, field, "YAML tags (%s) are not allowed here: write a plain mapping", n.Tag)
		return nil, nil, false
	}
	ps := pairs(n)
	entries = make(map[string]pair, len(ps))
	order = make([]string, 0, len(ps))
	for _, p := range ps {
		if p.key.Kind != yaml.ScalarNode || tagged(p.key) || p.key.ShortTag() != "!!str" {
			if p.key.Kind == yaml.ScalarNode { // other keys were reported by checkHygiene
				v.errorf(p.key, joinPath(field, keyText(p.key)), "field names must be plain strings, got %s", describe(p.key))
			}
			continue
		}
		name := p.key.Value
		if known != nil && !slices.Contains(known, name) {
			v.errorf(p.key, joinPath(field, name), "unknown field %q; known fields: %s", name, strings.Join(known, ", "))
			continue
		}
		entries[name] = p
		order = append(order, name)
	}
	return entries, order, true
}

// isDNSLabelText reports whether s is made of lower-case letters, digits
// and '-', starting and ending with a letter or digit (RFC 1123 label
// characters; the length is checked separately).
func isDNSLabelText(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// checkLabel returns "" when s is a DNS-1123 label of at most 63 characters,
// or a message saying why it is not; what names the value, as in
// "service name".
func checkLabel(what, s string) string {
	switch {
	case s == "":
		return what + " must not be empty"
	case len(s) > 63:
		return fmt.Sprintf("%s %q is %d characters long; the limit is 63", what, s, len(s))
	case !isDNSLabelText(s):
		return fmt.Sprintf("%s %q is not a DNS-1123 label: use lower-case letters, digits and '-', starting and ending with a letter or digit", what, s)
	}
	return ""
}
