package pipeline

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update rewrites the "# want:" headers of testdata/bad/*.yml from what Parse
// reports. Review the diff before committing it.
var update = flag.Bool("update", false, "rewrite # want: headers in testdata/bad")

const wantPrefix = "# want: "

// wantHeader returns the "# want:" lines at the top of a fixture, and whether
// it says "# schema: reject".
func wantHeader(src []byte) (want []string, schemaReject bool) {
	for _, line := range strings.Split(string(src), "\n") {
		switch {
		case strings.HasPrefix(line, wantPrefix):
			want = append(want, strings.TrimPrefix(line, wantPrefix))
		case line == "# schema: reject":
			schemaReject = true
		case strings.HasPrefix(line, "#"):
		default:
			return want, schemaReject
		}
	}
	return want, schemaReject
}

// errorLines formats err as "line:col: message" lines, without the file name.
func errorLines(t *testing.T, err error) []string {
	t.Helper()
	var list *Errors
	if !errors.As(err, &list) {
		t.Fatalf("got error %T %v, want *Errors", err, err)
	}
	var out []string
	for _, e := range list.List {
		if e.Line == 0 {
			out = append(out, e.Message)
			continue
		}
		out = append(out, fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message))
	}
	return out
}

func TestBadFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				src = rewriteWant(t, file, src)
			}
			want, _ := wantHeader(src)
			if len(want) == 0 {
				t.Fatalf("%s has no %q header", file, wantPrefix)
			}
			p, err := Parse(file, src)
			if err == nil {
				t.Fatalf("Parse succeeded with %d steps, want errors:\n%s", len(p.Steps), strings.Join(want, "\n"))
			}
			got := errorLines(t, err)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// rewriteWant replaces the fixture's "# want:" header with what Parse
// reports. The header shifts every line, so it parses until stable.
func rewriteWant(t *testing.T, file string, src []byte) []byte {
	var body []string
	for _, line := range strings.SplitAfter(string(src), "\n") {
		if !strings.HasPrefix(line, wantPrefix) {
			body = append(body, line)
		}
	}
	header := ""
	for range 5 {
		full := []byte(header + strings.Join(body, ""))
		_, err := Parse(file, full)
		if err == nil {
			t.Fatalf("%s parses; it is not a bad case", file)
		}
		next := ""
		for _, l := range errorLines(t, err) {
			next += wantPrefix + l + "\n"
		}
		if next == header {
			break
		}
		header = next
	}
	out := []byte(header + strings.Join(body, ""))
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSharedBadCases checks the shared bad-*.yml cases name the line (and
// column) and the problem.
func TestSharedBadCases(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"bad-cycle.yml", []string{"4:17: dependency cycle: a -> c -> b -> a"}},
		{"bad-duplicate-key.yml", []string{`4:5: duplicate key "command" (first at line 3, column 5)`}},
		{"bad-missing-dependency.yml", []string{`4:25: depends on "lint", but no step has that key`}},
		{"bad-tab-indent.yml", []string{"3:1: tab character in indentation; YAML indentation must use spaces"}},
		{"bad-unknown-key.yml", []string{`4:5: unknown key "timeout_in_minuts"; did you mean "timeout_in_minutes"?`}},
	}
	files, _ := filepath.Glob("testdata/cases/bad-*.yml")
	if len(files) != len(tests) {
		t.Errorf("got %d bad-*.yml cases, want %d: a new shared case needs a row here", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata/cases", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(tt.file, src)
			if err == nil {
				t.Fatalf("Parse succeeded, want %q", tt.want)
			}
			got := errorLines(t, err)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if full := err.Error(); !strings.HasPrefix(full, tt.file+":"+tt.want[0]) {
				t.Errorf("got Error() %q, want it to start with %q", full, tt.file+":"+tt.want[0])
			}
		})
	}
}

// TestBuildkiteValidPipelines parses Buildkite's own schema test pipelines:
// each must parse, or fail only with "not supported yet" errors, or with the
// errors of an incomplete pipeline (these are schema tests: some depend on
// steps they do not define, or have no runnable step).
func TestBuildkiteValidPipelines(t *testing.T) {
	files, err := filepath.Glob("testdata/buildkite/valid-pipelines/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	incomplete := []string{
		"but no step has that key",
		"pipeline has no steps",
		"step has nothing to run",
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(file, src)
			if err == nil {
				checkValid(t, p)
				return
			}
			var list *Errors
			if !errors.As(err, &list) {
				t.Fatalf("got %T, want *Errors", err)
			}
			for _, e := range list.List {
				if e.Line == 0 {
					t.Errorf("got %q without a line", e.Message)
				}
				if strings.HasPrefix(e.Message, "not supported yet: ") && !strings.Contains(e.Message[len("not supported yet: "):], " ") {
					continue
				}
				ok := false
				for _, s := range incomplete {
					ok = ok || strings.Contains(e.Message, s)
				}
				if !ok {
					t.Errorf("got %v, want only \"not supported yet: <key>\" errors", e)
				}
			}
		})
	}
}
