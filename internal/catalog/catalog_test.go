package catalog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/airlockci/airlock/internal/catalog"
)

const valid = `version: 1
services:
  - id: web
    name: Web shop
    description: The shop.
    owner: storefront
    repository: github.com/acme/web
    lifecycle: production
    tier: 2
    tags: [go, public]
    links:
      - {title: Runbook, url: "https://wiki.example.com/web/runbook"}
    pipelines:
      - {name: ci, file: .airlock/pipeline.yml, branch: main}
      - {name: deploy, file: deploy/pipeline.yaml}
  - id: api
    name: API
    description: The API.
    owner: storefront
    repository: github.com/acme/api
    lifecycle: experimental
    pipelines:
      - {name: ci, file: .airlock/pipeline.yml}
`

func TestLoad(t *testing.T) {
	c, err := catalog.Load("catalog.yml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(c.Services), 2; got != want {
		t.Fatalf("got %d services, want %d", got, want)
	}
	web := c.Services[0]
	if web.ID != "web" || web.Owner != "storefront" || web.Tier != 2 || web.Lifecycle != "production" {
		t.Errorf("got %+v", web)
	}
	if got, want := web.Links, []catalog.Link{{Title: "Runbook", URL: "https://wiki.example.com/web/runbook"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("links: got %+v, want %+v", got, want)
	}
	if got := web.Pipelines[1]; got.Name != "deploy" || got.File != "deploy/pipeline.yaml" || got.Branch != "" {
		t.Errorf("pipelines[1]: got %+v", got)
	}
	if c.Services[1].Tier != 0 || c.Services[1].Tags != nil {
		t.Errorf("optional fields: got %+v", c.Services[1])
	}
}

// replace returns valid with old replaced by new, once (and fails if old is absent).
func replace(t testing.TB, old, new string) string {
	if !strings.Contains(valid, old) {
		t.Fatalf("%q is not in the valid catalog", old)
	}
	return strings.Replace(valid, old, new, 1)
}

var badCases = []struct {
	name, old, new string
	src            string // instead of old → new
	want           string // in the error, after file:line:column
	line, column   int
	schemaToo      bool // the schema alone refuses it too
}{
	{name: "empty", src: "", want: "empty file", line: 0},
	{name: "comments only", src: "# nothing\n", want: "empty file", line: 0},
	{name: "not a mapping", src: "- 1\n", want: "the file is a list; expected object", line: 1, column: 1, schemaToo: true},
	{name: "syntax", src: "version: 1\nservices: [\n", want: "invalid YAML", line: 2, column: 1},
	{name: "two documents", src: valid + "---\nversion: 1\n", want: "a second YAML document", line: 24, column: 1},
	{name: "wrong version", old: "version: 1", new: "version: 2", want: "version is 2; expected 1", line: 1, column: 10, schemaToo: true},
	{name: "no version", old: "version: 1\n", new: "", want: "the file has no version", line: 1, column: 1, schemaToo: true},
	{name: "unknown top-level key", old: "version: 1", new: "version: 1\nteams: []", want: `unknown key "teams" in the file; expected one of services, version`, line: 2, column: 1, schemaToo: true},
	{name: "unknown service key", old: "    tier: 2", new: "    tier: 2\n    oncall: bob", want: `unknown key "oncall" in services[0]; expected one of description, id, `, line: 10, column: 5, schemaToo: true},
	{name: "unknown pipeline key", old: "branch: main}", new: "branch: main, env: {}}", want: `unknown key "env" in services[0].pipelines[0]`, line: 14, column: 63, schemaToo: true},
	{name: "duplicate key", old: "    tier: 2", new: "    tier: 2\n    tier: 3", want: `duplicate key "tier" in services[0] (first at line 9)`, line: 10, column: 5},
	{name: "duplicate id", old: "  - id: api", new: "  - id: web", want: `services[1].id "web" is already the ID of services[0]`, line: 16, column: 9},
	{name: "duplicate pipeline name", old: "name: deploy", new: "name: ci", want: `services[0].pipelines[1].name "ci" is already used by pipelines[0] of web`, line: 15, column: 16},
	{name: "missing owner", old: "    owner: storefront\n    repository: github.com/acme/web", new: "    repository: github.com/acme/web", want: "services[0] has no owner; it is required", line: 3, column: 5, schemaToo: true},
	{name: "no pipelines", old: "      - {name: ci, file: .airlock/pipeline.yml}\n", new: "", src: strings.Replace(valid, "    pipelines:\n      - {name: ci, file: .airlock/pipeline.yml}\n", "    pipelines: []\n", 1), want: "services[1].pipelines is empty; expected at least 1", line: 22, column: 16, schemaToo: true},
	{name: "bad id", old: "id: web", new: "id: Web_Shop", want: `services[0].id is "Web_Shop"; expected lower-case letters`, line: 3, column: 9, schemaToo: true},
	{name: "bad lifecycle", old: "lifecycle: production", new: "lifecycle: prod", want: `services[0].lifecycle is "prod"; expected one of experimental, production, deprecated`, line: 8, column: 16, schemaToo: true},
	{name: "tier too high", old: "tier: 2", new: "tier: 4", want: "services[0].tier is 4; expected 1, 2 or 3", line: 9, column: 11, schemaToo: true},
	{name: "tier a string", old: "tier: 2", new: `tier: "2"`, want: "services[0].tier is a string; expected integer", line: 9, column: 11, schemaToo: true},
	{name: "repository with scheme", old: "repository: github.com/acme/web", new: "repository: https://github.com/acme/web.git", want: "services[0].repository", line: 7, column: 17, schemaToo: true},
	{name: "http link", old: "https://wiki.example.com", new: "http://wiki.example.com", want: "services[0].links[0].url", line: 12, column: 31, schemaToo: true},
	{name: "javascript link", old: `"https://wiki.example.com/web/runbook"`, new: `"javascript:alert(1)"`, want: "expected an https:// URL", line: 12, column: 31, schemaToo: true},
	{name: "absolute pipeline file", old: "file: deploy/pipeline.yaml", new: "file: /etc/pipeline.yaml", want: `services[0].pipelines[1].file is "/etc/pipeline.yaml"; expected a path from the repository root`, line: 15, column: 30, schemaToo: true},
	{name: "pipeline file outside the repository", old: "file: deploy/pipeline.yaml", new: "file: deploy/../../pipeline.yaml", want: "services[0].pipelines[1].file", line: 15, column: 30, schemaToo: true},
	{name: "pipeline file not yaml", old: "file: deploy/pipeline.yaml", new: "file: deploy/pipeline.json", want: "services[0].pipelines[1].file", line: 15, column: 30, schemaToo: true},
	{name: "duplicate tag", old: "tags: [go, public]", new: "tags: [go, go]", want: "services[0].tags lists items 0 and 1 twice", line: 10, column: 11, schemaToo: true},
	{name: "anchor", old: "tags: [go, public]", new: "tags: &t [go, public]", want: "anchor &t", line: 10, column: 11},
	{name: "alias", src: strings.Replace(strings.Replace(valid, "owner: storefront", "owner: &o storefront", 1), "owner: storefront", "owner: *o", 1), want: "anchor &o", line: 6, column: 12},
	{name: "merge key", old: "  - id: api\n", new: "  - <<: {id: x}\n    id: api\n", want: "merge key <<", line: 16, column: 5},
	{name: "custom tag", old: "name: API", new: "name: !secret API", want: "custom tags are not allowed", line: 17, column: 11},
	{name: "non-string key", old: "    tier: 2", new: "    tier: 2\n    1: x", want: "a key is a number; expected a string", line: 10, column: 5},
	{name: "too big", src: "version: 1\n" + strings.Repeat("#", catalog.MaxSize), want: "bytes; expected at most", line: 0},
}

func srcOf(t testing.TB, i int) string {
	tc := badCases[i]
	if tc.src != "" || tc.old == "" {
		return tc.src
	}
	return replace(t, tc.old, tc.new)
}

func TestLoadErrors(t *testing.T) {
	for i, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := catalog.Load("catalog.yml", []byte(srcOf(t, i)))
			if err == nil {
				t.Fatalf("got %+v, want an error containing %q", c, tc.want)
			}
			if c != nil {
				t.Errorf("got a catalog and an error")
			}
			var e *catalog.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T (%v), want a *catalog.Error", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if e.File != "catalog.yml" || e.Line != tc.line || (tc.column != 0 && e.Column != tc.column) {
				t.Errorf("first error at %s:%d:%d, want catalog.yml:%d:%d (%v)", e.File, e.Line, e.Column, tc.line, tc.column, err)
			}
		})
	}
}

func TestLoadRepoChecksPipelineFiles(t *testing.T) {
	repo := fstest.MapFS{
		".airlock/catalog.yml":  {Data: []byte(valid)},
		".airlock/pipeline.yml": {Data: []byte("steps: []\n")},
		"deploy":                {Mode: 0o755 | 1<<31}, // a directory, not deploy/pipeline.yaml
	}
	_, err := catalog.LoadRepo(repo, ".airlock/catalog.yml")
	want := `.airlock/catalog.yml:15:30: services[0].pipelines[1].file "deploy/pipeline.yaml" does not exist in the repository`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %s", err, want)
	}
	repo["deploy/pipeline.yaml"] = &fstest.MapFile{Data: []byte("steps: []\n")}
	if _, err := catalog.LoadRepo(repo, ".airlock/catalog.yml"); err != nil {
		t.Fatalf("with every file present: %v", err)
	}
	if _, err := catalog.LoadRepo(repo, "nope.yml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing catalog: got %v, want fs.ErrNotExist", err)
	}
}

// TestCommittedCatalog validates the repository's own .airlock/catalog.yml,
// so that CI (make test) refuses a pull request that breaks it.
func TestCommittedCatalog(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.LoadRepo(os.DirFS(root), catalog.DefaultPath)
	if err != nil {
		t.Fatalf("%s:\n%v", catalog.DefaultPath, err)
	}
	if len(c.Services) == 0 {
		t.Fatal("the catalog lists no service")
	}
	// The schema itself accepts it too (what editors check).
	if err := compileSchema(t).Validate(yamlToJSON(t, readFile(t, filepath.Join(root, catalog.DefaultPath)))); err != nil {
		t.Errorf("the schema refuses %s: %v", catalog.DefaultPath, err)
	}
}

func readFile(t testing.TB, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compileSchema(t testing.TB) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(catalog.Schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("catalog.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("catalog.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlToJSON is what an editor validates: YAML decoded the ordinary way.
func yamlToJSON(t testing.TB, src []byte) any {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemaAgreesWithLoader: what Load accepts the schema accepts, and
// the cases marked schemaToo are refused by the schema on its own.
func TestSchemaAgreesWithLoader(t *testing.T) {
	s := compileSchema(t)
	if err := s.Validate(yamlToJSON(t, []byte(valid))); err != nil {
		t.Fatalf("the schema refuses the valid catalog: %v", err)
	}
	for i, tc := range badCases {
		if !tc.schemaToo {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			v := yamlToJSON(t, []byte(srcOf(t, i)))
			if err := s.Validate(v); err == nil {
				t.Errorf("the schema accepts a catalog Load refuses (%s)", tc.want)
			}
		})
	}
}

// TestSchemaMatchesTypes: every key the schema allows is a field of the Go
// types and the other way round (the error messages list keys from the types).
func TestSchemaMatchesTypes(t *testing.T) {
	var doc struct {
		Properties map[string]any `json:"properties"`
		Defs       map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(catalog.Schema, &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		props map[string]any
		typ   reflect.Type
	}{
		{doc.Properties, reflect.TypeFor[catalog.Catalog]()},
		{doc.Defs["service"].Properties, reflect.TypeFor[catalog.Service]()},
		{doc.Defs["link"].Properties, reflect.TypeFor[catalog.Link]()},
		{doc.Defs["pipeline"].Properties, reflect.TypeFor[catalog.Pipeline]()},
	} {
		var schemaKeys, typeKeys []string
		for k := range tc.props {
			schemaKeys = append(schemaKeys, k)
		}
		for f := range tc.typ.Fields() {
			if tag := f.Tag.Get("yaml"); tag != "" {
				typeKeys = append(typeKeys, tag)
			}
		}
		slices.Sort(schemaKeys)
		slices.Sort(typeKeys)
		if !slices.Equal(schemaKeys, typeKeys) {
			t.Errorf("%s: schema keys %v, type keys %v", tc.typ.Name(), schemaKeys, typeKeys)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(valid)
	for i := range badCases {
		f.Add(srcOf(f, i))
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := catalog.Load("f.yml", []byte(src))
		if (c == nil) == (err == nil) {
			t.Fatalf("got catalog %v and error %v; want exactly one", c, err)
		}
		if err != nil {
			var e *catalog.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T, want *catalog.Error", err)
			}
			return
		}
		// Whatever Load accepts, the schema accepts.
		if err := compileSchema(t).Validate(yamlToJSON(t, []byte(src))); err != nil {
			t.Fatalf("Load accepts what the schema refuses: %v\n%s", err, src)
		}
	})
}
