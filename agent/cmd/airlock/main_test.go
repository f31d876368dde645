package main

import (
	"strings"
	"testing"
)

func TestCheckServer(t *testing.T) {
	for _, tc := range []struct {
		in, want, wantErr string
	}{
		{"http://127.0.0.1:8787", "http://127.0.0.1:8787", ""},
		{"https://ci.example.com/", "https://ci.example.com", ""},
		{" http://[::1]:8787 ", "http://[::1]:8787", ""},
		{"127.0.0.1:8787", "", "--server 127.0.0.1:8787: want a URL like http://127.0.0.1:8787"},
		{"localhost:8787", "", "--server localhost:8787: want a URL like http://localhost:8787"},
		{"ci.example.com", "", "--server ci.example.com: want a URL like http://ci.example.com"},
		{"http://127.0.0.1:8787/v1/runs", "", "--server http://127.0.0.1:8787/v1/runs: want a URL like http://127.0.0.1:8787"},
		{"https://ci.example.com/runs/view/?id=r_1", "", "want a URL like https://ci.example.com"},
		{"ftp://ci.example.com", "", "want a URL like http://ci.example.com"},
		{"http://", "", "want a URL like http://"},
		{"", "", "want a URL like"},
	} {
		got, err := checkServer("--server", tc.in)
		switch {
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: got %q, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
		}
	}
}

func TestServerFlagNamesWhereTheURLCameFrom(t *testing.T) {
	t.Setenv("AIRLOCK_SERVER", "127.0.0.1:9")
	fs := newFlagSet("run", "")
	server := serverFlag(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := server(); err == nil || !strings.HasPrefix(err.Error(), "$AIRLOCK_SERVER 127.0.0.1:9:") {
		t.Errorf("from the environment: got %v, want it to name $AIRLOCK_SERVER", err)
	}
	fs = newFlagSet("run", "")
	server = serverFlag(fs)
	if err := fs.Parse([]string{"--server", "http://h:1/"}); err != nil {
		t.Fatal(err)
	}
	if got, err := server(); got != "http://h:1" || err != nil {
		t.Errorf("--server over the environment: got %q, %v; want http://h:1", got, err)
	}
}

func TestFlagUsageShowsTheSynopsis(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{"run", []string{"usage: airlock run [--server URL]", "   or: airlock run --local ", "         submit a pipeline", "\nflags:\n", "-follow"}},
		{"login", []string{"usage: airlock login [--server URL]", "-provider", "$AIRLOCK_CREDENTIALS", "/airlock/credentials.json", "make dev signs the CLI in"}},
		{"logout", []string{"usage: airlock logout [--server URL]"}},
		{"plugin run", []string{"usage: airlock plugin run FILE.wasm"}},
		{"lint", []string{"usage: airlock lint FILE..."}},
		{"dev", []string{"usage: airlock dev [--port N]", "-slots"}},
	} {
		notes := ""
		if tc.cmd == "login" {
			notes = loginNotes()
		}
		fs := newFlagSet(tc.cmd, notes)
		serverFlag(fs)
		fs.Bool("follow", false, "")
		fs.String("provider", "", "")
		fs.Int("slots", 0, "")
		var b strings.Builder
		fs.SetOutput(&b)
		fs.Usage()
		out := b.String()
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: usage lacks %q:\n%s", tc.cmd, w, out)
			}
		}
		if strings.Contains(out, "Usage of") || (tc.cmd == "login" && strings.Contains(out, "airlock logout")) {
			t.Errorf("%s: usage shows another command or Go's header:\n%s", tc.cmd, out)
		}
	}
}
