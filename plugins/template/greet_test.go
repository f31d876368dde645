package main

import (
	"slices"
	"testing"
)

func TestGreet(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		wantLines  []string
		wantStatus int32
	}{
		{"greets", `{"config":{"name":"Ada"},"env":{"B":"2","A":"1"}}`, []string{"hello, Ada", "env A", "env B"}, 0},
		{"name missing", `{"config":{},"env":{}}`, []string{`template: config "name" is required`}, 1},
		{"bad json", `{`, []string{"template: bad input: unexpected end of JSON input"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, status := greet([]byte(tt.input))
			if !slices.Equal(lines, tt.wantLines) || status != tt.wantStatus {
				t.Errorf("greet(%s) = %q, %d; want %q, %d", tt.input, lines, status, tt.wantLines, tt.wantStatus)
			}
		})
	}
}
