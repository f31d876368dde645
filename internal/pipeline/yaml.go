package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxSize is the largest pipeline file Parse reads. Real pipelines are a few
// KiB; the cap keeps a hostile upload from costing the edge much memory.
const MaxSize = 1 << 20

// maxAliasNodes bounds how many nodes may be reached through aliases. Each
// alias is expanded into a copy, so without a bound a "billion laughs"
// document of a few hundred bytes expands to billions of nodes.
const maxAliasNodes = 100_000

// node is a YAML node after aliases and merge keys are resolved. Scalars keep
// their text exactly as written; tag is the YAML 1.2 core-schema resolution
// ("!!str", "!!int", "!!bool", "!!null", "!!float", ...), used only to tell
// what kind of value the user meant, never to change its text.
type node struct {
	kind      yaml.Kind // ScalarNode, MappingNode or SequenceNode
	tag       string
	value     string
	anchor    string // the anchor (&name) the node was written with
	line, col int
	pairs     []pair  // MappingNode, in file order
	items     []*node // SequenceNode
}

type pair struct {
	key, val *node
}

func (n *node) isNull() bool { return n.kind == yaml.ScalarNode && n.tag == "!!null" }

// get returns the value of key k in mapping n, or nil.
func (n *node) get(k string) *node {
	for _, p := range n.pairs {
		if p.key.value == k {
			return p.val
		}
	}
	return nil
}

// getPair returns the pair of key k in mapping n.
func (n *node) getPair(k string) (pair, bool) {
	for _, p := range n.pairs {
		if p.key.value == k {
			return p, true
		}
	}
	return pair{}, false
}

// describe names what kind of value n is, for "expected X, got Y" messages.
func describe(n *node) string {
	switch n.kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.tag {
	case "!!null":
		return "null"
	case "!!bool":
		return fmt.Sprintf("boolean %s", n.value)
	case "!!int", "!!float":
		return fmt.Sprintf("number %s", n.value)
	}
	return fmt.Sprintf("string %q", truncate(n.value, 40))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// load reads src into a resolved node tree. It returns nil when the file has
// problems that make further checks pointless; they are in c.
func load(c *collector, src []byte) *node {
	if len(src) > MaxSize {
		c.add(0, 0, "file is %d bytes; the limit is %d bytes (1 MiB)", len(src), MaxSize)
		return nil
	}
	docs, err := decode(src)
	if err != nil {
		line, col, msg := locateSyntaxError(src, err)
		c.add(line, col, "%s", msg)
		return nil
	}
	if len(docs) == 0 {
		c.add(1, 1, "pipeline is empty; expected a mapping with a \"steps\" list")
		return nil
	}
	if len(docs) > 1 {
		d := docs[1]
		c.add(d.Line, d.Column, "a second YAML document (after \"---\"); a pipeline file holds exactly one")
		return nil
	}
	x := &expander{c: c, active: make(map[*yaml.Node]bool)}
	root := x.convert(docs[0], false)
	if x.bombed {
		return nil
	}
	if root == nil || root.isNull() {
		c.add(1, 1, "pipeline is empty; expected a mapping with a \"steps\" list")
		return nil
	}
	return root
}

// decode parses every YAML document in src (stopping after the second: one
// more than a pipeline may have). yaml.v3 is well fuzzed, but a panic in it
// must not take down the edge, so it is turned into an error.
func decode(src []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: internal parser error: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for len(docs) < 2 {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, err
		}
		docs = append(docs, &doc)
	}
	return docs, nil
}

var yamlLinePrefix = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// locateSyntaxError turns a yaml.v3 error into a line, a column and a
// message that says what was expected. yaml.v3's messages carry a line that
// is often the start of the enclosing construct rather than the offending
// line, and no column, so the line is found by parsing ever longer prefixes
// of the file (binary search): the first line whose inclusion produces the
// same error is where the problem is.
func locateSyntaxError(src []byte, err error) (line, col int, msg string) {
	raw := err.Error()
	m := yamlLinePrefix.FindStringSubmatch(raw)
	msg = raw
	if m != nil {
		msg = raw[len(m[0]):]
		line, _ = strconv.Atoi(m[1])
	}
	lineEnds := lineEndOffsets(src)
	same := func(n int) bool {
		_, err := decode(src[:lineEnds[n-1]])
		if err == nil {
			return false
		}
		got := yamlLinePrefix.ReplaceAllString(err.Error(), "")
		return got == msg
	}
	// yaml.v3's line is at or before the offending one, and usually close:
	// gallop forward from it, then binary-search the last stretch. Each try
	// parses a prefix, so few tries keep a 1 MiB file cheap.
	if n := len(lineEnds); n > 0 {
		lo := min(max(line, 1), n) // same(lo-1) is assumed false
		hi, step := lo, 1
		for !same(hi) {
			if hi == n {
				hi = 0 // not found: keep yaml.v3's line
				break
			}
			lo = hi + 1
			hi = min(hi+step, n)
			step *= 2
		}
		if hi > 0 {
			line = lo + sort.Search(hi-lo, func(i int) bool { return same(lo + i) })
		}
	}
	if line < 1 {
		line = 1
	}
	text := lineText(src, lineEnds, line)
	col = 1 + len(text) - len(strings.TrimLeft(text, " "))
	indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
	if i := strings.IndexByte(indent, '\t'); i >= 0 {
		return line, i + 1, "tab character in indentation; YAML indentation must use spaces"
	}
	if strings.Contains(msg, "tab character") {
		if i := strings.IndexByte(text, '\t'); i >= 0 {
			col = i + 1
		}
		return line, col, "tab character where indentation is expected; YAML indentation must use spaces"
	}
	switch {
	case strings.HasPrefix(msg, "mapping values are not allowed"):
		// "a: b: c": point at the second ": ".
		if i := strings.Index(text, ": "); i >= 0 {
			if j := strings.Index(text[i+2:], ": "); j >= 0 {
				col = i + 2 + j + 1
			}
		}
		msg = `unexpected ":" in a value; expected a plain value here (quote it if the ":" is part of the text)`
	case msg == "did not find expected key":
		msg = `expected a "key: value" line at the indentation of the mapping above (check this line's indentation)`
	case msg == "did not find expected '-' indicator":
		msg = `expected a list item ("- ...") at the indentation of the list above (check this line's indentation)`
	case msg == "found unexpected end of stream":
		msg = "unexpected end of file; expected a closing quote or bracket"
	case strings.HasPrefix(msg, "did not find expected"):
		msg = "expected" + strings.TrimPrefix(msg, "did not find expected")
	case strings.HasPrefix(msg, "found character that cannot start any token"):
		msg = "found a character that cannot start a YAML value (quote the value?)"
	}
	return line, col, "YAML syntax error: " + msg
}

// lineEndOffsets returns, for each line, the offset just past its newline.
func lineEndOffsets(src []byte) []int {
	var ends []int
	for i, b := range src {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(src) > 0 && src[len(src)-1] != '\n' {
		ends = append(ends, len(src))
	}
	return ends
}

func lineText(src []byte, ends []int, line int) string {
	if line < 1 || line > len(ends) {
		return ""
	}
	start := 0
	if line > 1 {
		start = ends[line-2]
	}
	return strings.TrimRight(string(src[start:ends[line-1]]), "\r\n")
}

// expander copies the yaml.v3 tree into nodes, expanding aliases and merge
// keys and reporting duplicate keys.
type expander struct {
	c *collector
	// aliasNodes counts nodes copied through aliases, against maxAliasNodes.
	aliasNodes int
	bombed     bool
	// outerAlias is the alias, written outside any alias expansion, whose
	// expansion is in progress: the one to blame for a bomb.
	outerAlias *yaml.Node
	// active holds the anchored nodes being expanded, to refuse an alias
	// inside the node it refers to.
	active map[*yaml.Node]bool
}

func (x *expander) convert(n *yaml.Node, viaAlias bool) *node {
	if x.bombed {
		return nil
	}
	if viaAlias {
		x.aliasNodes++
		if x.aliasNodes > maxAliasNodes {
			x.bombed = true
			a := x.outerAlias
			x.c.add(a.Line, a.Column, "aliases expand to more than %d nodes (reached at alias *%s); refusing a document that grows this much (a \"billion laughs\" attack?)", maxAliasNodes, a.Value)
			return nil
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return x.convert(n.Content[0], viaAlias)
	case yaml.AliasNode:
		if n.Alias == nil {
			x.c.add(n.Line, n.Column, "alias *%s refers to no anchor", n.Value)
			return &node{kind: yaml.ScalarNode, tag: "!!null", line: n.Line, col: n.Column}
		}
		if x.active[n.Alias] {
			x.c.add(n.Line, n.Column, "alias *%s refers to a node that contains it", n.Value)
			return &node{kind: yaml.ScalarNode, tag: "!!null", line: n.Line, col: n.Column}
		}
		if !viaAlias {
			x.outerAlias = n
		}
		x.active[n.Alias] = true
		out := x.convert(n.Alias, true)
		delete(x.active, n.Alias)
		return out
	case yaml.ScalarNode:
		return &node{kind: yaml.ScalarNode, tag: n.ShortTag(), value: n.Value, anchor: n.Anchor, line: n.Line, col: n.Column}
	case yaml.SequenceNode:
		out := &node{kind: yaml.SequenceNode, tag: "!!seq", anchor: n.Anchor, line: n.Line, col: n.Column}
		for _, item := range n.Content {
			c := x.convert(item, viaAlias)
			if c == nil {
				return nil
			}
			out.items = append(out.items, c)
		}
		return out
	case yaml.MappingNode:
		return x.mapping(n, viaAlias)
	}
	x.c.add(n.Line, n.Column, "unexpected YAML node")
	return nil
}

// mapping converts a mapping. Merge keys (<<) follow the YAML merge-key
// spec: keys written in the mapping win over merged ones, and within one
// `<<: [*a, *b]` list the earlier mapping wins. Several `<<` entries in one
// mapping are applied left to right, a later one overriding an earlier one.
func (x *expander) mapping(n *yaml.Node, viaAlias bool) *node {
	out := &node{kind: yaml.MappingNode, tag: "!!map", anchor: n.Anchor, line: n.Line, col: n.Column}
	explicit := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if isMergeKey(k) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			x.c.add(k.Line, k.Column, "mapping key must be a plain string, got a %s", kindName(k))
			continue
		}
		if first, ok := explicit[k.Value]; ok {
			x.c.add(k.Line, k.Column, "duplicate key %q (first at line %d, column %d)", k.Value, first.Line, first.Column)
			continue
		}
		explicit[k.Value] = k
	}
	// A merged key takes its place where the merge is written; a key
	// written in the mapping replaces its value there, or takes its own
	// place if no merge brought it.
	index := make(map[string]int) // key → position in out.pairs
	put := func(p pair) {
		if i, ok := index[p.key.value]; ok {
			out.pairs[i] = p
			return
		}
		index[p.key.value] = len(out.pairs)
		out.pairs = append(out.pairs, p)
	}
	placed := make(map[string]bool) // explicit keys already placed
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			sources := x.mergeSources(v, viaAlias)
			if x.bombed {
				return nil
			}
			fromThis := make(map[string]bool)
			for _, src := range sources {
				for _, p := range src.pairs {
					if placed[p.key.value] || fromThis[p.key.value] {
						continue
					}
					fromThis[p.key.value] = true
					put(p)
				}
			}
			continue
		}
		if k.Kind != yaml.ScalarNode || explicit[k.Value] != k || placed[k.Value] {
			continue
		}
		placed[k.Value] = true
		key := x.convert(k, viaAlias)
		val := x.convert(v, viaAlias)
		if key == nil || val == nil {
			return nil
		}
		put(pair{key: key, val: val})
	}
	return out
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}

// mergeSources returns the mappings that the value of a `<<` key merges in.
func (x *expander) mergeSources(v *yaml.Node, viaAlias bool) []*node {
	m := x.convert(v, viaAlias)
	if m == nil {
		return nil
	}
	list := []*node{m}
	if m.kind == yaml.SequenceNode {
		list = m.items
	}
	var out []*node
	for _, item := range list {
		if item.kind != yaml.MappingNode {
			// Point at the alias, not at the anchor it names.
			line, col := item.line, item.col
			if v.Kind == yaml.AliasNode {
				line, col = v.Line, v.Column
			}
			x.c.add(line, col, "merge key << expects a mapping or a list of mappings, got %s", describe(item))
			continue
		}
		out = append(out, item)
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "scalar"
}
