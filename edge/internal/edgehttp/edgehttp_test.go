package edgehttp_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/airlockci/airlock/edge/internal/edgehttp"
)

func TestSegments(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want []string
	}{
		{"https://x/", []string{""}},
		{"https://x/v1/runs/", []string{"v1", "runs"}},
		{"https://x/v1/runs/a%2Fb?q=1", []string{"v1", "runs", "a/b"}},
	} {
		u, _ := url.Parse(tc.url)
		got, err := edgehttp.Segments(u)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, %v; want %q", tc.url, got, err, tc.want)
		}
	}
}

func TestRouter(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         string // the route that matches, or the 405 message
		allow        string
	}{
		{"GET", "v1/runs", "GET v1/runs", ""},
		{"HEAD", "v1/runs", "GET v1/runs", ""},
		{"POST", "v1/runs", "POST v1/runs", ""},
		{"DELETE", "v1/runs/r1", "DELETE v1/runs/*", ""},
		{"PUT", "v1/runs", "PUT /x: method not allowed, want GET or POST", "GET, POST"},
		{"GET", "v1/nothing", "404", ""},
	} {
		r := &edgehttp.Router{Method: tc.method, Segments: splitSlash(tc.path)}
		got := "404"
		for _, route := range [][]string{{"GET", "v1", "runs"}, {"POST", "v1", "runs"}, {"DELETE", "v1", "runs", "*"}} {
			if r.Route(route[0], route[1:]...) {
				got = route[0] + " " + strings.Join(route[1:], "/")
				break
			}
		}
		allow := ""
		if msg, a, ok := r.NotAllowed("/x"); ok && got == "404" {
			got, allow = msg, a
		}
		if got != tc.want || allow != tc.allow {
			t.Errorf("%s %s: got %q (Allow %q), want %q (Allow %q)", tc.method, tc.path, got, allow, tc.want, tc.allow)
		}
	}
}

func splitSlash(p string) []string {
	u, _ := url.Parse("https://x/" + p)
	s, _ := edgehttp.Segments(u)
	return s
}
