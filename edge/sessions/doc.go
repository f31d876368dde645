// Package sessions signs people in with their company's OpenID Connect
// provider and keeps stateful, instantly revocable sessions. See Service.
package sessions
