package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/airlockci/airlock/plugins/internal/plog"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

type logLine struct {
	level plog.Level
	text  string
}

func runPlugin(t *testing.T, fsys fstest.MapFS, input string) ([]logLine, int32) {
	t.Helper()
	var lines []logLine
	status := Run([]byte(input), fsys, func(level plog.Level, text string) {
		lines = append(lines, logLine{level, text})
	})
	return lines, status
}

func texts(lines []logLine) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%d %s\n", l.level, l.text)
	}
	return b.String()
}

func workspaceFS(sums string) fstest.MapFS {
	fsys := fstest.MapFS{
		"dist/app.tar.gz": {Data: []byte("app")},
		"dist/app.zip":    {Data: []byte("zip")},
		"README":          {Data: []byte("readme")},
	}
	if sums != "" {
		fsys["dist/SHA256SUMS"] = &fstest.MapFile{Data: []byte(sums)}
	}
	return fsys
}

func TestRun(t *testing.T) {
	goodSums := sum("app") + "  app.tar.gz\n" + sum("zip") + " *app.zip\n"
	tests := []struct {
		name       string
		sums       string
		input      string
		wantStatus int32
		want       string // log, "level text" per line
	}{
		{
			name:  "hashes in sha256sum format",
			input: `{"config":{"files":["dist/*.tar.gz","dist/*.zip","README"]}}`,
			want: "0 " + sum("readme") + "  README\n" +
				"0 " + sum("app") + "  dist/app.tar.gz\n" +
				"0 " + sum("zip") + "  dist/app.zip\n",
		},
		{
			name:  "verify passes",
			sums:  goodSums,
			input: `{"config":{"files":["dist/app.*"],"verify":"dist/SHA256SUMS"}}`,
			want: "0 " + sum("app") + "  dist/app.tar.gz\n" +
				"0 " + sum("zip") + "  dist/app.zip\n" +
				"0 dist/app.tar.gz: OK\n" +
				"0 dist/app.zip: OK\n" +
				"0 checksum: all 2 files listed in dist/SHA256SUMS match\n",
		},
		{
			name:  "verify alone",
			sums:  goodSums,
			input: `{"config":{"verify":"dist/SHA256SUMS"}}`,
			want: "0 dist/app.tar.gz: OK\n" +
				"0 dist/app.zip: OK\n" +
				"0 checksum: all 2 files listed in dist/SHA256SUMS match\n",
		},
		{
			name:       "mismatch fails",
			sums:       sum("other") + "  app.tar.gz\n" + sum("zip") + "  app.zip\n",
			input:      `{"config":{"verify":"dist/SHA256SUMS"}}`,
			wantStatus: 1,
			want: "2 dist/app.tar.gz: FAILED (sha256 is " + sum("app") + ", dist/SHA256SUMS lists " + sum("other") + ")\n" +
				"0 dist/app.zip: OK\n",
		},
		{
			name:       "missing file fails",
			sums:       goodSums + sum("gone") + "  gone.tar.gz\n",
			input:      `{"config":{"verify":"dist/SHA256SUMS"}}`,
			wantStatus: 1,
			want: "0 dist/app.tar.gz: OK\n" +
				"0 dist/app.zip: OK\n" +
				"2 dist/gone.tar.gz: FAILED (missing)\n",
		},
		{
			name:       "listed path leaving the workspace fails",
			sums:       sum("x") + "  ../../etc/passwd\n",
			input:      `{"config":{"verify":"dist/SHA256SUMS"}}`,
			wantStatus: 1,
			want:       "2 ../../etc/passwd: FAILED (outside the workspace)\n",
		},
		{
			name:  "file not listed warns",
			sums:  sum("app") + "  app.tar.gz\n",
			input: `{"config":{"files":["dist/app.*"],"verify":"dist/SHA256SUMS"}}`,
			want: "0 " + sum("app") + "  dist/app.tar.gz\n" +
				"0 " + sum("zip") + "  dist/app.zip\n" +
				"0 dist/app.tar.gz: OK\n" +
				"1 dist/app.zip is not listed in dist/SHA256SUMS\n" +
				"0 checksum: all 1 files listed in dist/SHA256SUMS match\n",
		},
		{
			name:       "missing sums file",
			input:      `{"config":{"verify":"dist/SHA256SUMS"}}`,
			wantStatus: 1,
			want:       "2 checksum: verify: read dist/SHA256SUMS: open dist/SHA256SUMS: file does not exist\n",
		},
		{
			name:       "malformed sums file",
			sums:       "not a sum line\n",
			input:      `{"config":{"verify":"dist/SHA256SUMS"}}`,
			wantStatus: 1,
			want:       "2 checksum: verify: dist/SHA256SUMS:1: want \"<64 hex digits>  <path>\", got \"not a sum line\"\n",
		},
		{
			name:       "pattern matching nothing",
			input:      `{"config":{"files":["*.exe"]}}`,
			wantStatus: 1,
			want:       "2 checksum: files: pattern \"*.exe\" matches no file in the workspace\n",
		},
		{
			name:       "empty config",
			input:      `{"config":{},"env":{}}`,
			wantStatus: 2,
			want:       "2 checksum: config needs \"files\" (a list of patterns), \"verify\" (a SHA256SUMS file), or both\n",
		},
		{
			name:       "bad input",
			input:      `{"config":{"files":"*.txt"}}`,
			wantStatus: 2,
			want:       "2 checksum: bad input: json: cannot unmarshal string into Go struct field Config.config.files of type []string\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, status := runPlugin(t, workspaceFS(tt.sums), tt.input)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if got := texts(lines); got != tt.want {
				t.Errorf("log:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestParseSums(t *testing.T) {
	h := sum("x")
	good := []struct {
		text string
		want []SumsEntry
	}{
		{h + "  a b.txt\n", []SumsEntry{{h, "a b.txt"}}},
		{h + " *bin\r\n\n" + strings.ToUpper(h) + "  c\n", []SumsEntry{{h, "bin"}, {h, "c"}}},
		{"", nil},
	}
	for _, tt := range good {
		got, err := ParseSums(tt.text)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ParseSums(%q) = %v, %v; want %v", tt.text, got, err, tt.want)
		}
	}
	bad := []struct{ text, wantErr string }{
		{"abc  file\n", "1: want"},
		{h + "  \n", "1: want"},
		{h + "\tfile\n", "1: want"},
		{h + "  ok\n" + strings.Repeat("g", 64) + "  f\n", "2: \"gggg"},
	}
	for _, tt := range bad {
		if _, err := ParseSums(tt.text); err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
			t.Errorf("ParseSums(%q) error = %v, want one starting %q", tt.text, err, tt.wantErr)
		}
	}
}

func FuzzParseSums(f *testing.F) {
	f.Add(sum("x") + "  file\n")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, text string) {
		entries, err := ParseSums(text)
		if err != nil {
			return
		}
		for _, e := range entries {
			if len(e.SHA256) != 64 || e.Path == "" {
				t.Errorf("ParseSums(%q) returned entry %+v", text, e)
			}
		}
	})
}
