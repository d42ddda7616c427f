package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"

	"gopkg.in/yaml.v3"
)

// encodeCanonical writes doc in the one form pipeline files have: block
// style, 2-space indentation, keys in document order, no comments, and
// strings quoted only where YAML needs it to keep them strings.
func encodeCanonical(w *bytes.Buffer, doc *yaml.Node) error {
	plain(doc, false)
	if emitCanonical(w, doc) {
		return nil
	}
	return encodeYAMLv3(w, doc)
}

// encodeYAMLv3 writes doc with yaml.v3's encoder, 2-space indentation,
// quoting what YAML 1.1 would not read as a string (see quoteYAML11).
func encodeYAMLv3(w io.Writer, doc *yaml.Node) error {
	quoteYAML11(doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return enc.Close()
}

// plain drops comments and presentation styles under n, in place, so the
// encoder chooses them; the tags stay, so "true" stays a string. With
// sortKeys, it also sorts every mapping's keys.
func plain(n *yaml.Node, sortKeys bool) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	n.Style = 0
	for _, c := range n.Content {
		plain(c, sortKeys)
	}
	if sortKeys && n.Kind == yaml.MappingNode {
		pairs := make([][2]*yaml.Node, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			pairs = append(pairs, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
		}
		sort.SliceStable(pairs, func(i, j int) bool { return pairs[i][0].Value < pairs[j][0].Value })
		for i, p := range pairs {
			n.Content[2*i], n.Content[2*i+1] = p[0], p[1]
		}
	}
}

// Normalize returns a structural canonical form of a YAML document, for
// comparing two texts of the same pipeline (the file in Git and the YAML
// Harness holds) whatever their layout: comments are dropped, aliases
// expanded, every mapping's keys sorted, and the result encoded like a
// pipeline file body. Two documents with equal values normalize to equal
// bytes. Normalize(Normalize(x)) == Normalize(x).
func Normalize(src []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("normalizing YAML: no document")
		}
		return nil, fmt.Errorf("normalizing YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("normalizing YAML: more than one document")
	}
	budget := maxExpandedNodes
	expanded, err := expandAliases(&doc, 0, &budget)
	if err != nil {
		return nil, fmt.Errorf("normalizing YAML: %w", err)
	}
	plain(expanded, true)
	var buf bytes.Buffer
	if err := encodeYAMLv3(&buf, expanded); err != nil {
		return nil, fmt.Errorf("normalizing YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// Alias expansion limits, against alias bombs ("billion laughs").
const (
	maxAliasDepth    = 64
	maxExpandedNodes = 1 << 20
)

// expandAliases returns a copy of n with every alias replaced by a copy of
// what it names, and no anchors.
func expandAliases(n *yaml.Node, depth int, budget *int) (*yaml.Node, error) {
	if depth > maxAliasDepth {
		return nil, fmt.Errorf("aliases nested more than %d deep", maxAliasDepth)
	}
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("aliases expand to more than %d nodes", maxExpandedNodes)
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: alias to nothing", n.Line)
		}
		return expandAliases(n.Alias, depth+1, budget)
	}
	c := *n
	c.Anchor = ""
	c.Alias = nil
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, child := range n.Content {
			var err error
			if c.Content[i], err = expandAliases(child, depth, budget); err != nil {
				return nil, err
			}
		}
	}
	return &c, nil
}
