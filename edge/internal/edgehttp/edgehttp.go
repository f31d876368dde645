// Package edgehttp holds the HTTP request as the Worker's shim hands it to
// a Durable Object's Go code. The Scheduler and Sessions objects take the
// same request (scheduler.Request and sessions.Request are aliases of
// Request), so the shim's descriptor is read into one type.
package edgehttp

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
