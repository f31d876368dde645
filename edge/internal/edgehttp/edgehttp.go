// Package edgehttp holds the HTTP request as the Worker's shim hands it to
// a Durable Object's Go code, and the routing both objects do on it. The
// Scheduler and Sessions objects take the same request (scheduler.Request
// and sessions.Request are aliases of Request), so the shim's descriptor
// is read into one type.
package edgehttp

import (
	"fmt"
	"net/url"
	"strings"
)

// Request is an HTTP request as the Durable Object hands it over. Body
// holds at most the object's limit plus one byte: one more than allowed
// tells that it was cut.
type Request struct {
	Method string
	// URL is the full request URL.
	URL    string
	Header map[string]string // lower-case names
	Body   []byte
}

// Segments splits u's path into its segments, each unescaped:
// "/v1/runs/a%2Fb/" → ["v1", "runs", "a/b"]; "/" → [""].
func Segments(u *url.URL) ([]string, error) {
	parts := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	for i, p := range parts {
		var err error
		if parts[i], err = url.PathUnescape(p); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// Router tells which route a request is for. Try the routes with Route in
// order; when none matches, NotAllowed says whether the path matched a
// route of another method (405) rather than none (404).
type Router struct {
	Method   string   // the request's
	Segments []string // the path's, from Segments
	allowed  []string
}

// Route reports whether the request is for pattern ("*" matches any one
// segment) with method (a GET route also serves HEAD); a path match with
// another method is remembered for NotAllowed.
func (r *Router) Route(method string, pattern ...string) bool {
	if len(r.Segments) != len(pattern) {
		return false
	}
	for i, p := range pattern {
		if p != "*" && p != r.Segments[i] {
			return false
		}
	}
	if r.Method != method && !(method == "GET" && r.Method == "HEAD") {
		r.allowed = append(r.allowed, method)
		return false
	}
	return true
}

// NotAllowed reports whether a route tried so far matched the path with
// another method; if so msg is the 405 answer's message for path and allow
// its Allow header.
func (r *Router) NotAllowed(path string) (msg, allow string, ok bool) {
	if len(r.allowed) == 0 {
		return "", "", false
	}
	msg = fmt.Sprintf("%s %s: method not allowed, want %s", r.Method, path, strings.Join(r.allowed, " or "))
	return msg, strings.Join(r.allowed, ", "), true
}
