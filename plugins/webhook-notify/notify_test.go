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
