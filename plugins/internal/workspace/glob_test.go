package workspace

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func testFS() fstest.MapFS {
	return fstest.MapFS{
		"a.txt":                {Data: []byte("a")},
		"b.txt":                {Data: []byte("b")},
		"dist/app.tar.gz":      {Data: []byte("app")},
		"dist/app.zip":         {Data: []byte("zip")},
		"reports/unit.xml":     {Data: []byte("<x/>")},
		"reports/a/b/deep.xml": {Data: []byte("<x/>")},
		"reports/dir.xml/x":    {Data: []byte("not a report")},
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		patterns []string
		want     []string
	}{
		{[]string{"*.txt"}, []string{"a.txt", "b.txt"}},
		{[]string{"dist/*"}, []string{"dist/app.tar.gz", "dist/app.zip"}},
		{[]string{"b.txt", "*.txt"}, []string{"a.txt", "b.txt"}},
		{[]string{"reports/*.xml"}, []string{"reports/unit.xml"}}, // the directory dir.xml is left out
		{[]string{"reports/**/*.xml"}, []string{"reports/a/b/deep.xml", "reports/unit.xml"}},
		{[]string{"**/app.*"}, []string{"dist/app.tar.gz", "dist/app.zip"}},
		{[]string{"**"}, []string{"a.txt", "b.txt", "dist/app.tar.gz", "dist/app.zip", "reports/a/b/deep.xml", "reports/dir.xml/x", "reports/unit.xml"}},
	}
	for _, tt := range tests {
		got, err := Glob(testFS(), tt.patterns)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Glob(%q) = %q, %v; want %q", tt.patterns, got, err, tt.want)
		}
	}
}

func TestGlobErrors(t *testing.T) {
	tests := []struct {
		patterns []string
		wantErr  string
		bad      bool
	}{
		{[]string{"*.none"}, `pattern "*.none" matches no file`, false},
		{[]string{"missing/**/*.xml"}, `matches no file`, false},
		{[]string{"/etc/passwd"}, "not an absolute one", true},
		{[]string{"../x"}, `".." is not allowed`, true},
		{[]string{"a//b"}, `"" is not allowed`, true},
		{[]string{"[a"}, "syntax error", true},
		{[]string{""}, "empty pattern", true},
	}
	for _, tt := range tests {
		_, err := Glob(testFS(), tt.patterns)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Glob(%q) error = %v, want one containing %q", tt.patterns, err, tt.wantErr)
			continue
		}
		if errors.Is(err, ErrBadPattern) != tt.bad {
			t.Errorf("Glob(%q): errors.Is(ErrBadPattern) = %v, want %v", tt.patterns, !tt.bad, tt.bad)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("a/**/b/*.go", "a/x/y/b/c.go")
	f.Add("[", "x")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		Match(pattern, name) // must not panic
	})
}
