package yamlconf_test

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/airlockci/airlock/internal/yamlconf"
)

// load reads a small file of the shape name / tags / labels / limits with
// every Loader method, the way a configuration loader does.
func load(src string) error {
	root, err := yamlconf.Decode("c.yml", []byte(src), 1<<10, "a mapping with name")
	if err != nil {
		return err
	}
	l := &yamlconf.Loader{File: "c.yml"}
	l.Fields(root, "the file", map[string]func(k, v *yaml.Node){
		"name": func(_, v *yaml.Node) { l.Str(v, "name") },
		"tags": func(_, v *yaml.Node) {
			l.StringList(v, "tags", func(s string) error {
				if s != strings.ToLower(s) {
					return errors.New("expected lower case")
				}
				return nil
			})
		},
		"labels": func(_, v *yaml.Node) { l.StringMap(v, "labels") },
		"limits": func(_, v *yaml.Node) {
			l.List(v, "limits", func(i int, item *yaml.Node) { l.Scalar(item, "limits[]") })
		},
	})
	return l.Err()
}

func TestLoaderErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "c.yml: empty file; expected a mapping with name"},
		{strings.Repeat("#", 1<<10+1), "c.yml: file is 1025 bytes; expected at most 1024"},
		{"name: [a\n", "c.yml:1: invalid YAML: did not find expected ',' or ']'"},
		{"name: a\n---\nname: b\n", "c.yml:2:1: a second YAML document; expected one"},
		{"- a\n", "c.yml:1:1: the file is a list; expected a mapping"},
		{"name: a\nname: b\n", `c.yml:2:1: duplicate key "name" in the file (first at line 1)`},
		{"nam: a\n", `c.yml:1:1: unknown key "nam" in the file; expected one of labels, limits, name, tags`},
		{"1: a\n", "c.yml:1:1: key in the file is a number; expected a string"},
		{"name: 3\n", "c.yml:1:7: name is a number; expected a string"},
		{"name: ''\n", "c.yml:1:7: name is empty; expected a value"},
		{"name: &x a\n", "c.yml:1:7: anchor &x; anchors are not allowed"},
		{"labels: &x {a: b}\nname: *x\n", "c.yml:1:9: anchor &x; anchors are not allowed\nc.yml:2:7: alias *x; aliases are not allowed, write the value out"},
		{"<<: {name: a}\n", "c.yml:1:1: merge key <<; merge keys are not allowed"},
		{"tags: []\n", "c.yml:1:7: tags is empty; expected at least one entry, or leave it out"},
		{"tags: [a, a]\n", `c.yml:1:11: tags[1]: "a" is listed twice`},
		{"tags: [A]\n", `c.yml:1:8: tags[0] "A": expected lower case`},
		{"tags: a\n", "c.yml:1:7: tags is a string; expected a list"},
		{"labels: [a]\n", "c.yml:1:9: labels is a list; expected a mapping"},
		{"labels: {a: 1, a: 2}\n", `c.yml:1:16: duplicate key "a" in labels`},
		{"labels: {a: [1]}\n", "c.yml:1:13: labels.a is a list; expected a string, number or boolean"},
		{"limits: [null]\n", "c.yml:1:10: limits[] is null; expected a string, number or boolean"},
		{"limits: [!!binary aGk=]\n", "c.yml:1:10: limits[] is a binary; expected a string, number or boolean"},
	} {
		err := load(tc.src)
		if err == nil {
			t.Errorf("%q: got no error, want %q", tc.src, tc.want)
			continue
		}
		if got := err.Error(); got != tc.want {
			t.Errorf("%q:\ngot  %s\nwant %s", tc.src, got, tc.want)
		}
	}
}

func TestLoaderGood(t *testing.T) {
	if err := load("name: a\ntags: [a, b]\nlabels: {a: 1, b: true, c: x}\nlimits: [1, x]\n"); err != nil {
		t.Fatalf("got %v, want no error", err)
	}
}

func TestTooManyErrors(t *testing.T) {
	var src strings.Builder
	for range yamlconf.MaxErrors + 5 {
		src.WriteString("nam: a\n")
	}
	err := load(src.String())
	msgs := strings.Split(err.Error(), "\n")
	if len(msgs) != yamlconf.MaxErrors+1 || msgs[len(msgs)-1] != "c.yml: too many errors" {
		t.Fatalf("got %d errors ending %q, want %d ending %q", len(msgs), msgs[len(msgs)-1], yamlconf.MaxErrors+1, "c.yml: too many errors")
	}
}

// FuzzLoader: no input makes the walk panic, and every problem is an
// *Error naming the file.
func FuzzLoader(f *testing.F) {
	for _, s := range []string{"name: a\ntags: [a]\n", "labels: {a: *b}\n", "- [\n", "<<: *a\n", "limits: [{a: b}]\n---\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		err := load(src)
		if err == nil {
			return
		}
		for _, e := range unjoin(err) {
			var ye *yamlconf.Error
			if !errors.As(e, &ye) || ye.File != "c.yml" {
				t.Fatalf("got %T %v, want a *yamlconf.Error for c.yml", e, e)
			}
		}
	})
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
