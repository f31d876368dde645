// Package yamlconf reads small YAML configuration files strictly, with
// every problem reported at its file:line:column in words that say what was
// expected.
//
// It is shared by the loaders of .airlock/sso.yml (edge/sessions),
// .airlock/pools.yml (internal/identity) and, for its error type and
// wording, the service catalog (internal/catalog). It depends on yaml.v3
// only: edge/sessions is compiled into the js/wasm edge binary, which has
// a size budget and bans net/http and jsonschema (edge/budget_test.go).
//
// A loader decodes with Decode, then walks the tree with a Loader: Fields
// for mappings, List for sequences, Str and Scalar for values. Each refuses
// anchors, aliases and merge keys (a trust file is read as written, never
// expanded), records what is wrong with Errorf, and carries on, so that one
// run reports every problem; Err joins them at the end.
package yamlconf

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a problem at one place in a YAML file.
type Error struct {
	File         string
	Line, Column int // 1-based; 0 when unknown
	Msg          string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Decode reads the one YAML document in src and returns its root node
// (the document node itself when it does not hold exactly one node). A
// file larger than maxSize, an empty file, a syntax error and a second
// document are each an *Error; expected says what the file should hold,
// for the empty file's message ("a mapping with audience and pools").
func Decode(file string, src []byte, maxSize int, expected string) (*yaml.Node, error) {
	if len(src) > maxSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("file is %d bytes; expected at most %d", len(src), maxSize)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(src)))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "empty file; expected " + expected}
		}
		return nil, syntaxError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(file, err)
		}
		return nil, &Error{File: file, Line: extra.Line, Column: extra.Column, Msg: "a second YAML document; expected one"}
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// SyntaxError splits an error of yaml.v3's decoder into the line it names
// (0 when none) and the message after it. ok is false when err is not in
// yaml.v3's "yaml: line N: ..." form.
func SyntaxError(err error) (line int, msg string, ok bool) {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, "", false
	}
	line, _ = strconv.Atoi(m[1])
	return line, m[2], true
}

func syntaxError(file string, err error) *Error {
	line, msg, ok := SyntaxError(err)
	if !ok {
		return &Error{File: file, Msg: err.Error()}
	}
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// KindName says what n is, for "… is X; expected Y" messages: "a mapping",
// "a list", "a string", "a number", "null", ….
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a " + strings.TrimPrefix(n.Tag, "!!")
	}
	return "nothing"
}

// MaxErrors bounds a Loader's report: after it, one "too many errors" and
// nothing more.
const MaxErrors = 20

// Loader walks a decoded file, collecting every problem as an *Error. The
// zero value with File set is ready to use. where, in every method, names
// the value in messages ("providers[0].scopes").
type Loader struct {
	File string
	errs []error
}

// Errorf records a problem at n (nil: the file as a whole).
func (l *Loader) Errorf(n *yaml.Node, format string, args ...any) {
	if len(l.errs) == MaxErrors {
		l.errs = append(l.errs, &Error{File: l.File, Msg: "too many errors"})
	}
	if len(l.errs) > MaxErrors {
		return
	}
	e := &Error{File: l.File, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	l.errs = append(l.errs, e)
}

// NumErrors is how many problems have been recorded so far: a caller
// compares it before and after a walk to tell whether that part was sound.
func (l *Loader) NumErrors() int { return len(l.errs) }

// Err returns every problem recorded, joined in the order found, or nil.
func (l *Loader) Err() error { return errors.Join(l.errs...) }

// Plain refuses what YAML can do but a configuration file must not:
// anchors, aliases and merge keys. It reports whether n may be used.
func (l *Loader) Plain(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		l.Errorf(n, "alias *%s; aliases are not allowed, write the value out", n.Value)
		return false
	}
	if n.Anchor != "" {
		l.Errorf(n, "anchor &%s; anchors are not allowed", n.Anchor)
		return false
	}
	if n.Tag == "!!merge" {
		l.Errorf(n, "merge key <<; merge keys are not allowed")
		return false
	}
	return true
}

// Fields walks the mapping n, refusing non-string, duplicate and unknown
// keys (the message lists the known ones), and calls the handler of each
// key present, in file order.
func (l *Loader) Fields(n *yaml.Node, where string, handlers map[string]func(key, val *yaml.Node)) {
	if !l.Plain(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.Errorf(n, "%s is %s; expected a mapping", where, KindName(n))
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !l.Plain(k) || !l.Plain(v) {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			l.Errorf(k, "key in %s is %s; expected a string", where, KindName(k))
			continue
		}
		if prev, ok := seen[k.Value]; ok {
			l.Errorf(k, "duplicate key %q in %s (first at line %d)", k.Value, where, prev.Line)
			continue
		}
		seen[k.Value] = k
		h, ok := handlers[k.Value]
		if !ok {
			l.Errorf(k, "unknown key %q in %s; expected one of %s", k.Value, where, keyList(handlers))
			continue
		}
		h(k, v)
	}
}

// keyList is the handlers' keys, sorted, comma-separated.
func keyList(handlers map[string]func(key, val *yaml.Node)) string {
	var keys []string
	for k := range handlers {
		keys = append(keys, k)
	}
	// small maps: insertion sort keeps the message stable
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return strings.Join(keys, ", ")
}

// Str returns n's text if it is a non-empty string.
func (l *Loader) Str(n *yaml.Node, where string) (string, bool) {
	if !l.Plain(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		l.Errorf(n, "%s is %s; expected a string", where, KindName(n))
		return "", false
	}
	if n.Value == "" {
		l.Errorf(n, "%s is empty; expected a value", where)
		return "", false
	}
	return n.Value, true
}

// Scalar returns n's text if it is a string, number or boolean.
func (l *Loader) Scalar(n *yaml.Node, where string) (string, bool) {
	if !l.Plain(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!bool" && n.Tag != "!!float") {
		l.Errorf(n, "%s is %s; expected a string, number or boolean", where, KindName(n))
		return "", false
	}
	return n.Value, true
}

// List calls each for every item of the sequence n.
func (l *Loader) List(n *yaml.Node, where string, each func(i int, item *yaml.Node)) {
	if !l.Plain(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		l.Errorf(n, "%s is %s; expected a list", where, KindName(n))
		return
	}
	for i, item := range n.Content {
		each(i, item)
	}
}

// StringList is a non-empty list of unique non-empty strings, each passing
// check (when given); it returns the good ones.
func (l *Loader) StringList(n *yaml.Node, where string, check func(string) error) []string {
	var out []string
	seen := map[string]bool{}
	l.List(n, where, func(i int, item *yaml.Node) {
		w := fmt.Sprintf("%s[%d]", where, i)
		s, ok := l.Str(item, w)
		if !ok {
			return
		}
		if check != nil {
			if err := check(s); err != nil {
				l.Errorf(item, "%s %q: %v", w, s, err)
				return
			}
		}
		if seen[s] {
			l.Errorf(item, "%s: %q is listed twice", w, s)
			return
		}
		seen[s] = true
		out = append(out, s)
	})
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		l.Errorf(n, "%s is empty; expected at least one entry, or leave it out", where)
	}
	return out
}

// StringMap is a mapping of string keys to scalar values (Scalar), as
// text. It is never nil.
func (l *Loader) StringMap(n *yaml.Node, where string) map[string]string {
	out := map[string]string{}
	if !l.Plain(n) {
		return out
	}
	if n.Kind != yaml.MappingNode {
		l.Errorf(n, "%s is %s; expected a mapping", where, KindName(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key, ok := l.Str(k, "key in "+where)
		if !ok {
			continue
		}
		if _, dup := out[key]; dup {
			l.Errorf(k, "duplicate key %q in %s", key, where)
			continue
		}
		if val, ok := l.Scalar(v, where+"."+key); ok {
			out[key] = val
		}
	}
	return out
}
