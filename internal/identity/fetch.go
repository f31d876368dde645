package identity

import "github.com/airlockci/airlock/internal/oidcjwt"

// HTTPRequest, HTTPResponse and Fetcher live in oidcjwt, which edge/sessions
// shares; these aliases keep every caller of identity unchanged. See
// oidcjwt.Fetcher for the contract: Fetch sends a request once, never
// follows redirects, may cap the body, and is safe for concurrent use.
type (
	HTTPRequest  = oidcjwt.HTTPRequest
	HTTPResponse = oidcjwt.HTTPResponse
	Fetcher      = oidcjwt.Fetcher
)
