package pipeline

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// checkValid fails t unless p keeps Parse's promises: at least one step,
// unique keys, dependencies that exist, no cycle, commands or wasm.
func checkValid(t testing.TB, p *Pipeline) {
	t.Helper()
	if p == nil || len(p.Steps) == 0 {
		t.Fatalf("got a pipeline with no steps")
	}
	index := make(map[string]int)
	for i, s := range p.Steps {
		if s.Key == "" {
			t.Fatalf("step %d has no key", i+1)
		}
		if _, dup := index[s.Key]; dup {
			t.Fatalf("duplicate step key %q", s.Key)
		}
		index[s.Key] = i
		containerCommand := s.Container != nil && len(s.Container.Command) > 0
		if (len(s.Commands) > 0 || containerCommand) == (s.Wasm != nil) {
			t.Fatalf("step %q: got %d commands and wasm %v, want exactly one of them", s.Key, len(s.Commands), s.Wasm)
		}
		if s.Wasm != nil && s.Container != nil {
			t.Fatalf("step %q: got a wasm step with an image", s.Key)
		}
		if s.Wasm != nil && s.Wasm.SHA256 != "" && !sha256Pattern.MatchString(s.Wasm.SHA256) {
			t.Fatalf("step %q: bad sha256 %q", s.Key, s.Wasm.SHA256)
		}
		if s.Line < 1 || s.Column < 1 {
			t.Fatalf("step %q has no position", s.Key)
		}
	}
	// Kahn's algorithm: every step must be reachable in dependency order.
	pending := make([]int, len(p.Steps))
	dependents := make([][]int, len(p.Steps))
	for i, s := range p.Steps {
		seen := make(map[string]bool)
		for _, d := range s.DependsOn {
			j, ok := index[d.Key]
			if !ok {
				t.Fatalf("step %q depends on missing %q", s.Key, d.Key)
			}
			if seen[d.Key] {
				t.Fatalf("step %q depends on %q twice", s.Key, d.Key)
			}
			seen[d.Key] = true
			pending[i]++
			dependents[j] = append(dependents[j], i)
		}
	}
	var ready []int
	for i, n := range pending {
		if n == 0 {
			ready = append(ready, i)
		}
	}
	done := 0
	for len(ready) > 0 {
		i := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		done++
		for _, j := range dependents[i] {
			if pending[j]--; pending[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	if done != len(p.Steps) {
		t.Fatalf("dependency cycle among %d steps", len(p.Steps)-done)
	}
}

func mustParse(t *testing.T, file string) *Pipeline {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(filepath.Base(file), src)
	if err != nil {
		t.Fatalf("Parse(%s): %v", file, err)
	}
	checkValid(t, p)
	return p
}

func TestOKFixtures(t *testing.T) {
	config := json.RawMessage(`{"files":["dist/*","*.tar.gz"],"level":"010","strict":"NO","nested":{"on":"on","empty":""}}`)
	tests := []struct {
		file string
		want *Pipeline
	}{
		{"cases/ok-implicit-types.yml", &Pipeline{
			Env: []EnvVar{{"REGION", "NO"}, {"DEBUG", "on"}, {"BUILD", "010"}, {"RATIO", "1.10"}},
			Steps: []*Step{{
				Key: "show", Label: "show values",
				Commands: []string{`echo "$REGION $DEBUG $BUILD $RATIO"`},
				Line:     8, Column: 5,
			}},
		}},
		{"cases/ok-wait-and-depends.yml", &Pipeline{
			Steps: []*Step{
				{Key: "lint", Commands: []string{"make lint"}, Line: 2, Column: 5},
				{Key: "unit", Commands: []string{"make test"}, Agents: map[string]string{"queue": "linux"}, Line: 4, Column: 5},
				{
					Key: "package", Label: ":package: package",
					Commands: []string{"make dist", "ls -la dist"},
					// unit's allow_failure is overruled by the wait before
					// package: a failed unit stops the wait.
					DependsOn:        []Dependency{{"lint", false}, {"unit", false}},
					Retry:            []RetryRule{{Limit: 2}},
					TimeoutInMinutes: 15,
					SoftFail:         SoftFail{All: true},
					Line:             9, Column: 5,
				},
			},
		}},
		{"ok/merge.yml", &Pipeline{
			Env: []EnvVar{{"CI", "true"}, {"GOFLAGS", "-mod=mod"}},
			Steps: []*Step{
				{
					Key: "test", Label: "Test", Commands: []string{"go test ./..."},
					Env:              []EnvVar{{"GOOS", "linux"}, {"GOARCH", "arm64"}, {"CGO_ENABLED", "0"}},
					Agents:           map[string]string{"queue": "linux"},
					TimeoutInMinutes: 30,
					Line:             16, Column: 5,
				},
				{
					Key: "step-2", Label: "Build", Commands: []string{"go build ./..."},
					Env:              []EnvVar{{"GOOS", "darwin"}, {"GOARCH", "amd64"}},
					Agents:           map[string]string{"queue": "mac"},
					TimeoutInMinutes: 10,
					Line:             22, Column: 5,
				},
				{
					Key: "step-3", Commands: []string{"make lint"},
					Env:              []EnvVar{{"GOOS", "plan9"}, {"GOARCH", "amd64"}},
					TimeoutInMinutes: 10,
					Line:             29, Column: 5,
				},
			},
		}},
		{"ok/forms.yml", &Pipeline{
			Steps: []*Step{
				{Key: "nested", Commands: []string{"make"}, Line: 2, Column: 5},
				{Key: "script", Label: "Script", Commands: []string{"make script"}, Line: 5, Column: 5},
				{Key: "typed", Commands: []string{"make typed"}, Line: 9, Column: 5},
				{
					Key: "step-5", Label: "named", Commands: []string{"a", "b"},
					DependsOn: []Dependency{{"nested", true}, {"script", true}, {"typed", true}},
					Agents:    map[string]string{"queue": "linux", "os": "linux=yes"},
					Retry:     []RetryRule{{ExitStatuses: []int{-1}, Limit: 2}, {ExitStatuses: []int{1, 2}, Limit: 0}, {Limit: 5}},
					SoftFail:  SoftFail{ExitStatuses: []int{1, 42}},
					Line:      13, Column: 5,
				},
				{Key: "step-7", Commands: []string{"make x"}, DependsOn: []Dependency{{"nested", false}, {"script", false}, {"typed", false}, {"step-5", false}}, SoftFail: SoftFail{All: true}, Line: 30, Column: 5},
				{Key: "step-8", Commands: []string{"make y"}, DependsOn: []Dependency{{"nested", false}, {"script", false}, {"typed", false}, {"step-5", false}}, SoftFail: SoftFail{All: true}, Line: 33, Column: 5},
				{Key: "last", Commands: []string{"true"}, DependsOn: []Dependency{{"nested", true}, {"script", true}, {"typed", true}, {"step-5", true}, {"step-7", true}, {"step-8", true}}, Line: 37, Column: 5},
			},
		}},
		{"ok/wasm.yml", &Pipeline{
			Steps: []*Step{
				{
					Key: "checksums", Label: "Checksums",
					Wasm: &WasmStep{
						Module:   "checksum.wasm",
						SHA256:   "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
						Function: "run",
						Config:   config,
					},
					Line: 2, Column: 5,
				},
				{
					Key: "step-3", Wasm: &WasmStep{Module: "https://plugins.example.com/lint.wasm", SHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", Function: "lint"},
					DependsOn: []Dependency{{"checksums", false}},
					Line:      15, Column: 5,
				},
				{
					Key: "notify", Wasm: &WasmStep{
						Module:      "tools/webhook-notify.wasm",
						SHA256:      "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9",
						Function:    "run",
						Workspace:   WorkspaceReadWrite,
						AllowHosts:  []string{"hooks.example.com", "203.0.113.7"},
						Timeout:     90 * time.Second,
						MemoryBytes: 64 << 20,
					},
					DependsOn: []Dependency{{"checksums", false}},
					Line:      19, Column: 5,
				},
				{
					Key: "ro", Wasm: &WasmStep{Module: "lint.wasm", Function: "run", Workspace: WorkspaceReadOnly},
					DependsOn: []Dependency{{"checksums", false}},
					Line:      27, Column: 5,
				},
				{
					Key: "none", Wasm: &WasmStep{Module: "lint.wasm", Function: "run"},
					DependsOn: []Dependency{{"checksums", false}},
					Line:      32, Column: 5,
				},
			},
		}},
		{"ok/top-anchors.yml", &Pipeline{
			Steps: []*Step{{Key: "step-1", Label: "Test", Commands: []string{"make test"}, Line: 5, Column: 5}},
		}},
		{"ok/container.yml", &Pipeline{
			Steps: []*Step{
				{Key: "image", Commands: []string{"go test ./..."}, Container: &ContainerStep{Image: "golang:1.26"}, Line: 2, Column: 5},
				{
					Key: "docker-list", Commands: []string{"make dist"}, Env: []EnvVar{{"FOO", "bar"}},
					Container: &ContainerStep{
						Image:       "registry.example.com/team/builder@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
						Workdir:     "/app",
						Environment: []string{"GOFLAGS=-mod=readonly", "NPM_TOKEN"},
						Entrypoint:  "/bin/bash",
					},
					Line: 5, Column: 5,
				},
				{Key: "docker-map", Commands: []string{"echo hi"}, Container: &ContainerStep{Image: "alpine", Workdir: "/workdir"}, Line: 18, Column: 5},
				{
					Key:       "docker-command",
					Container: &ContainerStep{Image: "alpine:3.20", Workdir: "/workdir", Command: []string{"echo", "hello world"}},
					Line:      23, Column: 5,
				},
			},
		}},
		{"ok/secrets.yml", &Pipeline{
			Env:     []EnvVar{{"REGION", "eu-west-1"}},
			Secrets: []Secret{{"GITHUB_TOKEN", "env://GITHUB_TOKEN", 5, 11}, {"SHARED", "env://SHARED", 5, 25}},
			Steps: []*Step{
				{Key: "publish", Commands: []string{"npm publish"}, Line: 7, Column: 5, Secrets: []Secret{
					{"NPM_TOKEN", "vault://secret/ci/npm#token", 10, 7},
					{"DB_PASSWORD", "aws-sm://prod/db#password", 11, 7},
					{"SHARED", "azure-kv://ci-vault/shared-token", 12, 7},
					{"SIGNING_KEY", "gcp-sm://projects/my-project/secrets/signing/versions/latest", 13, 7},
					{"LEGACY", "env://LEGACY_TOKEN", 14, 7},
					{"DEV_ONLY", "age://.airlock/secrets.age#DEV_ONLY", 15, 7},
				}},
				{Key: "plain", Commands: []string{"make"}, Line: 16, Column: 5},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := mustParse(t, filepath.Join("testdata", tt.file))
			if !reflect.DeepEqual(got, tt.want) {
				g, _ := json.MarshalIndent(got, "", "  ")
				w, _ := json.MarshalIndent(tt.want, "", "  ")
				t.Errorf("got\n%s\nwant\n%s", g, w)
			}
		})
	}
	files, _ := filepath.Glob("testdata/ok/*.yml")
	if len(files)+2 != len(tests) {
		t.Errorf("got %d ok fixtures, want a row for each of them", len(files))
	}
}

// TestMergeKeys covers the merge-key rules, including the order of several
// merges.
func TestMergeKeys(t *testing.T) {
	tests := []struct {
		name, src string
		wantEnv   []EnvVar
	}{
		{"override wins", "a: &a {X: 1, Y: 2}\nsteps:\n  - command: x\n    env:\n      <<: *a\n      Y: 3\n",
			[]EnvVar{{"X", "1"}, {"Y", "3"}}},
		{"override before merge still wins", "a: &a {X: 1, Y: 2}\nsteps:\n  - command: x\n    env:\n      Y: 3\n      <<: *a\n",
			[]EnvVar{{"Y", "3"}, {"X", "1"}}},
		{"two merge keys apply left to right", "a: &a {X: a, Y: a}\nb: &b {Y: b, Z: b}\nsteps:\n  - command: x\n    env:\n      <<: *a\n      <<: *b\n",
			[]EnvVar{{"X", "a"}, {"Y", "b"}, {"Z", "b"}}},
		{"merge list: earlier wins (YAML spec)", "a: &a {X: a, Y: a}\nb: &b {Y: b, Z: b}\nsteps:\n  - command: x\n    env:\n      <<: [*a, *b]\n",
			[]EnvVar{{"X", "a"}, {"Y", "a"}, {"Z", "b"}}},
		{"inline merge", "steps:\n  - command: x\n    env:\n      <<: {X: 1}\n",
			[]EnvVar{{"X", "1"}}},
		{"merge of a merge", "a: &a {X: a}\nb: &b {<<: *a, Y: b}\nsteps:\n  - command: x\n    env: {<<: *b, Z: c}\n",
			[]EnvVar{{"X", "a"}, {"Y", "b"}, {"Z", "c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("merge.yml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Steps[0].Env; !reflect.DeepEqual(got, tt.wantEnv) {
				t.Errorf("got env %v, want %v", got, tt.wantEnv)
			}
		})
	}
}

// generated are inputs too big or too repetitive to keep as files.
func generated() map[string]string {
	var bomb strings.Builder
	bomb.WriteString("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 'b'; i <= 'j'; i++ {
		bomb.WriteString(string(i) + ": &" + string(i) + " [")
		for j := range 10 {
			if j > 0 {
				bomb.WriteString(", ")
			}
			bomb.WriteString("*" + string(i-1))
		}
		bomb.WriteString("]\n")
	}
	bomb.WriteString("steps:\n  - command: x\n    wasm: {module: m, config: {x: *j}}\n")

	var waits strings.Builder
	waits.WriteString("steps:\n")
	for range 2000 {
		waits.WriteString("  - command: x\n  - wait\n")
	}
	var big strings.Builder
	big.WriteString("steps:\n")
	for big.Len() < MaxSize-200 {
		big.WriteString("  - command: make test with a fairly long command line\n    env: {A: b}\n")
	}
	return map[string]string{
		"big-valid":      big.String(),
		"big-syntax-end": big.String() + "  - a: b: c\n",
		"big-dup-keys":   "steps:\n  - command: x\n    env:\n" + strings.Repeat("      A: 1\n", 90000),
		"alias-bomb":     bomb.String(),
		"huge":           "steps:\n  - command: x\n" + "#" + strings.Repeat("x", MaxSize),
		"deep":           "steps:\n  - command: x\n    wasm: {module: m, config: {x: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}}\n",
		"many-waits":     waits.String(),
		"many-errors":    "steps:\n" + strings.Repeat("  - comand: x\n", 200),
	}
}

func TestHostileInput(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"big-valid", ""},
		{"big-syntax-end", `29534:9: YAML syntax error: unexpected ":" in a value; expected a plain value here (quote it if the ":" is part of the text)`},
		{"big-dup-keys", "too many errors; only the first 100 are shown"},
		{"alias-bomb", `5:36: aliases expand to more than 100000 nodes (reached at alias *d); refusing a document that grows this much (a "billion laughs" attack?)`},
		{"huge", "file is 1048599 bytes; the limit is 1048576 bytes (1 MiB)"},
		{"deep", "3:5: YAML syntax error: exceeded max depth of 10000"},
		{"many-waits", "1415:5: waits imply more than 250000 dependencies; use depends_on instead of so many waits"},
		{"many-errors", "too many errors; only the first 100 are shown"},
	}
	inputs := generated()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			p, err := Parse(tt.name+".yml", []byte(inputs[tt.name]))
			// Generous: the machine may be busy. Typical is under 0.3s.
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("took %v, want well under 5s", elapsed)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkValid(t, p)
				return
			}
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			got := errorLines(t, err)
			if !strings.HasSuffix(got[len(got)-1], tt.want) && !strings.HasSuffix(got[0], tt.want) {
				t.Errorf("got errors %q, want one ending %q", got, tt.want)
			}
		})
	}
}

func TestErrorsFormat(t *testing.T) {
	_, err := Parse("p.yml", []byte("steps:\n  - key: a\n    comand: x\n  - key: a\n    command: y\n"))
	want := "p.yml:3:5: unknown key \"comand\"; did you mean \"command\"?\n" +
		"p.yml:4:10: duplicate step key \"a\" (first at line 2, column 10)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want\n%s", err, want)
	}
	var one *Error
	if !errors.As(err, &one) || one.Line != 3 || one.File != "p.yml" {
		t.Errorf("errors.As: got %+v, want the first *Error", one)
	}
}

func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*/*.yml", "testdata/buildkite/valid-pipelines/*.yml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse("fuzz.yml", src)
		if err != nil {
			if p != nil {
				t.Fatalf("got a pipeline and an error")
			}
			var list *Errors
			if !errors.As(err, &list) || len(list.List) == 0 {
				t.Fatalf("got %T %v, want a non-empty *Errors", err, err)
			}
			return
		}
		checkValid(t, p)
	})
}
