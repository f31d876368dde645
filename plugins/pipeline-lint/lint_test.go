package main

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestRun(t *testing.T) {
	fsys := fstest.MapFS{
		"good.yml":     {Data: []byte("steps:\n  - key: a\n    command: make\n")},
		"bad.yml":      {Data: []byte("steps:\n  - key: a\n    command: make\n    command: all\n")},
		"ci/other.yml": {Data: []byte("steps:\n  - command: x\n    timeout_in_minuts: 3\n")},
	}
	for _, tc := range []struct {
		name     string
		in       string
		want     int32
		wantLogs []string
	}{
		{"good", `{"config":{"files":["good.yml"]}}`, 0, []string{"good.yml: ok, 1 steps"}},
		{"duplicate key", `{"config":{"files":["bad.yml"]}}`, 1, []string{"bad.yml:4:5:", "duplicate"}},
		{"glob, misspelt key", `{"config":{"files":["**/other.yml"]}}`, 1, []string{"ci/other.yml:3:5:", "timeout_in_minutes"}},
		{"no match", `{"config":{"files":["nothing.yml"]}}`, 2, []string{"nothing.yml"}},
		{"no files", `{"config":{}}`, 2, []string{"config.files is empty"}},
		{"not json", `nope`, 2, []string{"not the expected JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs []string
			got := Run([]byte(tc.in), fsys, func(_ bool, l string) { logs = append(logs, l) })
			all := strings.Join(logs, "\n")
			if got != tc.want {
				t.Errorf("exit: got %d, want %d (logs: %s)", got, tc.want, all)
			}
			for _, w := range tc.wantLogs {
				if !strings.Contains(all, w) {
					t.Errorf("logs %q lack %q", all, w)
				}
			}
		})
	}
}
