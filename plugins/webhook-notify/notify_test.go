package main

import (
	"strings"
	"testing"
)

func TestBuild(t *testing.T) {
	tests := []struct {
		input, wantURL, wantBody, wantErr string
	}{
		{`{"config":{"url":"https://h.example.com/x","message":"deployed ${SHA} by ${WHO} ${NOPE}"},"env":{"SHA":"abc","WHO":"\"ci\""}}`,
			"https://h.example.com/x", `{"text":"deployed abc by \"ci\" ${NOPE}"}`, ""},
		{`{"config":{"url":"http://h.example.com/x","message":"m"}}`, "", "", `want an https URL`},
		{`{"config":{"message":"m"}}`, "", "", `config needs "url"`},
		{`{"config":{"url":"https://h.example.com"}}`, "", "", `and "message"`},
		{`{`, "", "", "bad input"},
	}
	for _, tt := range tests {
		req, err := Build([]byte(tt.input))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Build(%s) error = %v, want %q", tt.input, err, tt.wantErr)
			}
			continue
		}
		if err != nil || req.URL != tt.wantURL || string(req.Body) != tt.wantBody {
			t.Errorf("Build(%s) = %q %s, %v; want %q %s", tt.input, req.URL, req.Body, err, tt.wantURL, tt.wantBody)
		}
	}
}

func TestOutcome(t *testing.T) {
	if line, st := Outcome("h", 204, nil); st != 0 || line != "webhook-notify: h accepted the message (204)" {
		t.Errorf("204: %q %d", line, st)
	}
	if line, st := Outcome("h", 500, []byte("down")); st != 1 || line != "webhook-notify: h answered 500: down" {
		t.Errorf("500: %q %d", line, st)
	}
}

func TestDryRun(t *testing.T) {
	req, err := Build([]byte(`{"config":{"url":"https://hooks.example.com/T0/B0/secret-token?x=1","message":"run ${AIRLOCK_RUN_ID} passed","dry_run":true},"env":{"AIRLOCK_RUN_ID":"r1"}}`))
	if err != nil || !req.DryRun {
		t.Fatalf("Build = %+v, %v; want a dry run", req, err)
	}
	got := strings.Join(DryRunLines(req), "\n")
	want := "webhook-notify: dry run (dry_run: true): nothing was sent\n" +
		"webhook-notify: would POST to https://hooks.example.com/… (path withheld) with content-type application/json:\n" +
		`{"text":"run r1 passed"}`
	if got != want {
		t.Errorf("DryRunLines:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(got, "secret-token") {
		t.Error("the dry run shows the URL's path")
	}
	// A dry run still checks the config.
	if _, err := Build([]byte(`{"config":{"url":"http://hooks.example.com/x","message":"m","dry_run":"true"}}`)); err == nil {
		t.Error("a dry run accepted an http URL")
	}
	// Without dry_run the request is sent.
	if req, _ := Build([]byte(`{"config":{"url":"https://h.example.com/x","message":"m"}}`)); req.DryRun {
		t.Error("DryRun set without dry_run")
	}
	req, _ = Build([]byte(`{"config":{"url":"https://h.example.com","message":"m","dry_run":true}}`))
	if got := DryRunLines(req)[1]; !strings.Contains(got, "https://h.example.com/ (path withheld)") {
		t.Errorf("no path: %q", got)
	}
}
