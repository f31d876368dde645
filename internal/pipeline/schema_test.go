package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("compile schema.json: %v", err)
	}
	return s
}

// yamlToJSON converts a pipeline to the JSON value an editor validates: YAML
// resolves scalar types, aliases and merge keys.
func yamlToJSON(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemaAgreesWithParser checks schema.json against the parser: what
// Parse accepts the schema accepts, and fixtures marked "# schema: reject"
// (unknown keys, wrong types, unsupported keys, bad values) are refused by
// both.
func TestSchemaAgreesWithParser(t *testing.T) {
	schema := compileSchema(t)
	var files []string
	for _, pattern := range []string{"testdata/*/*.yml", "testdata/buildkite/valid-pipelines/*.yml"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	accepted, rejected := 0, 0
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, schemaReject := wantHeader(src)
		_, parseErr := Parse(file, src)
		if parseErr != nil && !schemaReject {
			continue // e.g. a YAML syntax error, a cycle: beyond a schema
		}
		t.Run(file, func(t *testing.T) {
			err := schema.Validate(yamlToJSON(t, src))
			switch {
			case parseErr == nil && err != nil:
				t.Errorf("Parse accepts it, the schema does not: %v", err)
			case schemaReject && err == nil:
				t.Errorf("Parse refuses it (%v), the schema accepts it", parseErr)
			case schemaReject && parseErr == nil:
				t.Errorf("marked \"# schema: reject\", but Parse accepts it")
			}
		})
		if parseErr == nil {
			accepted++
		} else {
			rejected++
		}
	}
	if accepted < 6 || rejected < 40 {
		t.Errorf("got %d accepted and %d rejected fixtures checked, want at least 6 and 40", accepted, rejected)
	}
}

// TestDependencies keeps the package small for the js/wasm edge binary:
// only the standard library, the YAML parser and secretref (itself standard
// library only; the JSON Schema validator is for tests only).
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	for _, target := range []string{"js/wasm", "wasip1/wasm", ""} {
		cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
		if target != "" {
			goos, goarch, _ := strings.Cut(target, "/")
			cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch)
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list (%s): %v", target, err)
		}
		for _, pkg := range strings.Fields(string(out)) {
			switch pkg {
			case "github.com/airlockci/airlock/internal/pipeline", "go.yaml.in/yaml/v3", "github.com/airlockci/airlock/internal/secretref":
			default:
				t.Errorf("%s imports %s; got a dependency beyond go.yaml.in/yaml/v3", fmt.Sprint(target), pkg)
			}
		}
	}
}
