package catalog

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"

	"github.com/airlockci/airlock/internal/yamlconf"
)

// Schema is the JSON Schema (draft 2020-12) of the catalog file.
//
//go:embed catalog.schema.json
var Schema []byte

// DefaultPath is where the catalog lives, relative to the repository root.
const DefaultPath = ".airlock/catalog.yml"

// MaxSize caps the catalog file.
const MaxSize = 1 << 20

// Catalog is a loaded catalog file.
type Catalog struct {
	Version  int       `yaml:"version"`
	Services []Service `yaml:"services"`
}

// Service is one thing that is built and owned.
type Service struct {
	// ID is unique and stable: the dashboard's /services/<id>/.
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Owner is the owning team.
	Owner string `yaml:"owner"`
	// Repository is host/owner/name, such as github.com/airlockci/airlock.
	Repository string `yaml:"repository"`
	// Lifecycle is experimental, production or deprecated.
	Lifecycle string `yaml:"lifecycle"`
	// Tier is 1 (most critical) to 3, or 0 when not given.
	Tier      int        `yaml:"tier"`
	Tags      []string   `yaml:"tags"`
	Links     []Link     `yaml:"links"`
	Pipelines []Pipeline `yaml:"pipelines"`
}

// Link is a titled https URL: docs, dashboards, runbooks.
type Link struct {
	Title string `yaml:"title"`
	URL   string `yaml:"url"`
}

// Pipeline is a pipeline file of the service's repository.
type Pipeline struct {
	Name string `yaml:"name"`
	// File is relative to the repository root, such as .airlock/pipeline.yml.
	File string `yaml:"file"`
	// Branch is the branch it builds by default; "" when not given.
	Branch string `yaml:"branch"`

	at *yaml.Node // where File is written, for LoadRepo's errors
}

// Error is one problem at one place in the catalog file; Line and Column
// are 0 when the problem is the file as a whole.
type Error = yamlconf.Error

// maxErrors bounds a report: past it more errors tell nothing new.
const maxErrors = 50

// Load parses and validates a catalog. filename is used only in errors. It
// returns a valid *Catalog, or nil and every problem found (each an
// *Error, joined, in file order).
func Load(filename string, src []byte) (*Catalog, error) {
	l := &loader{file: filename}
	c := l.load(src)
	if len(l.errs) > 0 {
		return nil, l.err()
	}
	return c, nil
}

// LoadRepo loads the catalog at name in repo (the repository's root, such as
// os.DirFS(root)) and also checks that every pipeline file exists in repo.
func LoadRepo(repo fs.FS, name string) (*Catalog, error) {
	src, err := fs.ReadFile(repo, name)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	l := &loader{file: name}
	c := l.load(src)
	if len(l.errs) > 0 {
		return nil, l.err()
	}
	for i, s := range c.Services {
		for j, p := range s.Pipelines {
			info, err := fs.Stat(repo, p.File)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				l.errorf(p.at, "services[%d].pipelines[%d].file %q does not exist in the repository; expected a path from the repository root", i, j, p.File)
			case err != nil:
				l.errorf(p.at, "services[%d].pipelines[%d].file %q: %v", i, j, p.File, err)
			case info.IsDir():
				l.errorf(p.at, "services[%d].pipelines[%d].file %q is a directory; expected a pipeline file", i, j, p.File)
			}
		}
	}
	if len(l.errs) > 0 {
		return nil, l.err()
	}
	return c, nil
}

type loader struct {
	file string
	errs []*Error
	// nodes maps a JSON pointer (/services/0/id) to the YAML value there,
	// keys to the key written for it ("/services/0/id" → the node "id").
	nodes, keys map[string]*yaml.Node
}

func (l *loader) errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{File: l.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	for _, prev := range l.errs {
		if *prev == *e {
			return
		}
	}
	l.errs = append(l.errs, e)
}

func (l *loader) err() error {
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i], l.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	list := l.errs
	if len(list) > maxErrors {
		list = append(list[:maxErrors:maxErrors], &Error{File: l.file, Msg: fmt.Sprintf("and %d more problems", len(l.errs)-maxErrors)})
	}
	errs := make([]error, len(list))
	for i, e := range list {
		errs[i] = e
	}
	return errors.Join(errs...)
}

func (l *loader) load(src []byte) *Catalog {
	if len(src) > MaxSize {
		l.errorf(nil, "file is %d bytes; expected at most %d", len(src), MaxSize)
		return nil
	}
	root := l.decode(src)
	if root == nil {
		return nil
	}
	l.nodes, l.keys = map[string]*yaml.Node{}, map[string]*yaml.Node{}
	value, ok := l.toJSON(root, "")
	if !ok {
		return nil
	}
	if err := compiled().Validate(value); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			l.errorf(root, "%v", err)
			return nil
		}
		l.schemaErrors(ve)
		return nil
	}
	var c Catalog
	if err := root.Decode(&c); err != nil { // the schema has vouched for every type
		l.errorf(root, "%v", err)
		return nil
	}
	ids := map[string]int{}
	for i := range c.Services {
		s := &c.Services[i]
		if first, dup := ids[s.ID]; dup {
			l.errorf(l.nodes[fmt.Sprintf("/services/%d/id", i)], "services[%d].id %q is already the ID of services[%d]; IDs must be unique", i, s.ID, first)
		} else {
			ids[s.ID] = i
		}
		names := map[string]int{}
		for j := range s.Pipelines {
			p := &s.Pipelines[j]
			p.at = l.nodes[fmt.Sprintf("/services/%d/pipelines/%d/file", i, j)]
			if first, dup := names[p.Name]; dup {
				l.errorf(l.nodes[fmt.Sprintf("/services/%d/pipelines/%d/name", i, j)], "services[%d].pipelines[%d].name %q is already used by pipelines[%d] of %s; names must be unique within a service", i, j, p.Name, first, s.ID)
			} else {
				names[p.Name] = j
			}
		}
	}
	return &c
}

// decode reads the one YAML document in src. yaml.v3 is well fuzzed, but a
// panic in it must still be an error.
func (l *loader) decode(src []byte) (root *yaml.Node) {
	defer func() {
		if r := recover(); r != nil {
			l.errorf(nil, "invalid YAML: internal parser error: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.errorf(nil, "empty file; expected a mapping with version and services")
			return nil
		}
		line, msg, ok := yamlconf.SyntaxError(err)
		if !ok {
			l.errorf(nil, "invalid YAML: %v", err)
			return nil
		}
		l.errs = append(l.errs, &Error{File: l.file, Line: line, Column: min(line, 1), Msg: "invalid YAML: " + msg})
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		l.errorf(&extra, "a second YAML document; expected one")
		return nil
	}
	if len(doc.Content) != 1 {
		l.errorf(&doc, "empty file; expected a mapping with version and services")
		return nil
	}
	return doc.Content[0]
}

// toJSON converts a YAML value to what jsonschema validates (map[string]any,
// []any, string, json-like numbers, bool, nil), recording where each value
// is. It refuses what YAML can do but a catalog must not: anchors, aliases,
// merge keys, custom tags, non-string keys and duplicate keys.
func (l *loader) toJSON(n *yaml.Node, ptr string) (any, bool) {
	l.nodes[ptr] = n
	where := describePath(ptr)
	switch {
	case n.Kind == yaml.AliasNode:
		l.errorf(n, "%s: alias *%s; aliases are not allowed, write the value out", where, n.Value)
		return nil, false
	case n.Anchor != "":
		l.errorf(n, "%s: anchor &%s; anchors are not allowed", where, n.Anchor)
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				if k.ShortTag() == "!!merge" {
					l.errorf(k, "%s: merge key <<; merge keys are not allowed", where)
				} else {
					l.errorf(k, "%s: a key is %s; expected a string", where, yamlconf.KindName(k))
				}
				ok = false
				continue
			}
			child := ptr + "/" + escapePointer(k.Value)
			if prev, dup := l.keys[child]; dup {
				l.errorf(k, "duplicate key %q in %s (first at line %d)", k.Value, where, prev.Line)
				ok = false
				continue
			}
			l.keys[child] = k
			val, good := l.toJSON(v, child)
			ok = ok && good
			out[k.Value] = val
		}
		return out, ok
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, item := range n.Content {
			val, good := l.toJSON(item, ptr+"/"+strconv.Itoa(i))
			ok = ok && good
			out = append(out, val)
		}
		return out, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return n.Value, true
		case "!!null":
			return nil, true
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				l.errorf(n, "%s: %v", where, err)
				return nil, false
			}
			return b, true
		case "!!int", "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				l.errorf(n, "%s: %v", where, err)
				return nil, false
			}
			return f, true
		}
		l.errorf(n, "%s: tag %s; custom tags are not allowed", where, n.Tag)
		return nil, false
	}
	l.errorf(n, "%s: unexpected YAML node", where)
	return nil, false
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// describePath turns a JSON pointer into what a person reads:
// /services/0/links/1 → services[0].links[1]; "" → the file.
func describePath(ptr string) string {
	if ptr == "" {
		return "the file"
	}
	var b strings.Builder
	for _, tok := range strings.Split(ptr[1:], "/") {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(unescapePointer(tok))
	}
	return b.String()
}

var (
	compileOnce sync.Once
	schema      *jsonschema.Schema
)

// compiled is the embedded schema, compiled once. It is part of the
// binary and tested, so a failure to compile is a bug: it panics.
func compiled() *jsonschema.Schema {
	compileOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
		if err != nil {
			panic("catalog: catalog.schema.json: " + err.Error())
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("catalog.schema.json", doc); err != nil {
			panic("catalog: catalog.schema.json: " + err.Error())
		}
		schema = c.MustCompile("catalog.schema.json")
	})
	return schema
}

// schemaErrors reports the leaves of a schema validation error at the YAML
// node each is about, in words that say what was expected.
func (l *loader) schemaErrors(ve *jsonschema.ValidationError) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			l.schemaErrors(c)
		}
		return
	}
	ptr := ""
	for _, tok := range ve.InstanceLocation {
		ptr += "/" + escapePointer(tok)
	}
	at, where := l.nodes[ptr], describePath(ptr)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			l.errorf(at, "%s has no %s; it is required (%s)", where, m, expectation(m))
		}
	case *kind.AdditionalProperties:
		allowed := strings.Join(keysAt(ptr), ", ")
		for _, p := range k.Properties {
			child := ptr + "/" + escapePointer(p)
			l.errorf(l.keys[child], "unknown key %q in %s; expected one of %s", p, where, allowed)
		}
	case *kind.Type:
		l.errorf(at, "%s is %s; expected %s", where, yamlconf.KindName(at), strings.Join(k.Want, " or "))
	case *kind.Enum:
		l.errorf(at, "%s is %s; expected one of %s", where, shown(at), strings.Join(enumText(k.Want), ", "))
	case *kind.Const:
		l.errorf(at, "%s is %s; expected %v", where, shown(at), k.Want)
	case *kind.Pattern, *kind.Not:
		l.errorf(at, "%s is %s; expected %s", where, shown(at), expectation(lastName(ptr)))
	case *kind.MinItems:
		l.errorf(at, "%s is empty; expected at least %d", where, k.Want)
	case *kind.UniqueItems:
		l.errorf(at, "%s lists items %d and %d twice; expected each once", where, k.Duplicates[0], k.Duplicates[1])
	case *kind.MinLength:
		l.errorf(at, "%s is empty; expected text", where)
	case *kind.MaxLength:
		l.errorf(at, "%s is %d characters long; expected at most %d", where, k.Got, k.Want)
	case *kind.Minimum, *kind.Maximum:
		l.errorf(at, "%s is %s; expected %s", where, shown(at), expectation(lastName(ptr)))
	default:
		// A kind this file does not word itself: jsonschema's own words.
		msg := (&jsonschema.ValidationError{ErrorKind: ve.ErrorKind}).Error()
		if _, after, ok := strings.Cut(msg, ": "); ok {
			msg = after
		}
		l.errorf(at, "%s: %s", where, msg)
	}
}

func shown(n *yaml.Node) string {
	if n == nil {
		return "missing"
	}
	if n.Kind == yaml.ScalarNode {
		if n.ShortTag() == "!!str" {
			v := n.Value
			if len(v) > 60 {
				v = v[:60] + "…"
			}
			return strconv.Quote(v)
		}
		return n.Value
	}
	return yamlconf.KindName(n)
}

func enumText(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = fmt.Sprint(v)
	}
	return out
}

func lastName(ptr string) string {
	toks := strings.Split(ptr, "/")
	for i := len(toks) - 1; i >= 0; i-- {
		if _, err := strconv.Atoi(toks[i]); err != nil {
			return unescapePointer(toks[i])
		}
	}
	return ""
}

// expectation says in words what a field must be.
func expectation(field string) string {
	switch field {
	case "version":
		return "1"
	case "services":
		return "a list of services"
	case "id", "owner", "tags":
		return "lower-case letters, digits and '-', starting with a letter or digit, at most 63"
	case "name":
		return "a name; a pipeline's: lower-case letters, digits and '-', starting with a letter or digit"
	case "description":
		return "a sentence or two about the service"
	case "repository":
		return "host/owner/name without a scheme or .git, such as github.com/airlockci/airlock"
	case "lifecycle":
		return "experimental, production or deprecated"
	case "tier":
		return "1, 2 or 3"
	case "pipelines":
		return "a list of pipelines, each with name and file"
	case "file":
		return "a path from the repository root ending in .yml or .yaml, such as .airlock/pipeline.yml (no .., no leading /)"
	case "branch":
		return "a branch name such as main"
	case "url":
		return "an https:// URL"
	case "title":
		return "the link's text"
	}
	return "a valid value"
}

// keysAt lists the keys allowed in the mapping at ptr, from the Go types
// (TestSchemaMatchesTypes keeps them and the schema the same).
func keysAt(ptr string) []string {
	toks := strings.Split(ptr, "/")[1:]
	var t reflect.Type
	switch {
	case ptr == "":
		t = reflect.TypeFor[Catalog]()
	case len(toks) == 2 && toks[0] == "services":
		t = reflect.TypeFor[Service]()
	case len(toks) == 4 && toks[2] == "links":
		t = reflect.TypeFor[Link]()
	case len(toks) == 4 && toks[2] == "pipelines":
		t = reflect.TypeFor[Pipeline]()
	default:
		return nil
	}
	return yamlKeys(t)
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if tag := f.Tag.Get("yaml"); tag != "" {
			keys = append(keys, strings.Split(tag, ",")[0])
		}
	}
	slices.Sort(keys)
	return keys
}
