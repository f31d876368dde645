package sessions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/airlockci/airlock/internal/oidcjwt"
)

// decodeJSON decodes a request body strictly into v: one JSON object, no
// unknown or duplicate fields.
func decodeJSON(body []byte, v any, want string) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errorf(400, "empty request body; expected a JSON object %s", want)
	}
	if err := oidcjwt.CheckJSON(body); err != nil {
		return errorf(400, "request body: %v; expected a JSON object %s", err, want)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(400, "request body: %v; expected a JSON object %s", err, want)
	}
	return nil
}

// deviceStart begins a CLI sign-in with the provider's device
// authorization grant (RFC 8628). The edge is the OAuth client: the CLI
// gets the device_request handle, the device code sealed with the
// provider, the poll interval and a deadline (see seal.go) — never the
// code itself. It stores nothing: anyone may call it.
func (s *Service) deviceStart(ctx context.Context, req Request) (Response, error) {
	var in struct {
		Provider string `json:"provider"`
	}
	if err := decodeJSON(req.Body, &in, `{"provider": "<id>"}`); err != nil {
		return Response{}, err
	}
	p, ok := s.cfg.Provider(in.Provider)
	if !ok {
		return Response{}, errorf(400, "unknown provider %s; expected one of %s", oidcjwt.Quote(in.Provider), s.providerList())
	}
	disc, err := s.discovery(ctx, p)
	if err != nil {
		return Response{}, err
	}
	if disc.DeviceAuthorizationEndpoint == "" {
		return Response{}, errorf(400, "identity provider %s does not offer the device flow (no device_authorization_endpoint); sign in from the dashboard", p.ID)
	}
	body, err := s.postForm(ctx, p, "device_authorization_endpoint", disc.DeviceAuthorizationEndpoint, url.Values{"scope": {strings.Join(p.Scopes, " ")}})
	var pe *providerError
	if errors.As(err, &pe) {
		return Response{}, errorf(400, "%s refused the device sign-in: %s (is the device flow enabled for client %s?)", p.Name, pe, oidcjwt.Quote(p.ClientID))
	}
	if err != nil {
		return Response{}, err
	}
	var d struct {
		DeviceCode              string  `json:"device_code"`
		UserCode                string  `json:"user_code"`
		VerificationURI         string  `json:"verification_uri"`
		VerificationURL         string  `json:"verification_url"` // Google's name
		VerificationURIComplete string  `json:"verification_uri_complete"`
		ExpiresIn               float64 `json:"expires_in"`
		Interval                float64 `json:"interval"`
	}
	raw, _ := json.Marshal(body)
	if err := json.Unmarshal(raw, &d); err != nil {
		return Response{}, errorf(502, "identity provider %s: device authorization answer: %v", p.ID, err)
	}
	if d.VerificationURI == "" {
		d.VerificationURI = d.VerificationURL
	}
	bad := func(what string) (Response, error) {
		return Response{}, errorf(502, "identity provider %s: device authorization answer has %s", p.ID, what)
	}
	switch {
	case d.DeviceCode == "" || len(d.DeviceCode) > 4096:
		return bad("no usable device_code")
	case d.UserCode == "" || len(d.UserCode) > 64 || !printable(d.UserCode):
		return bad("no usable user_code")
	case oidcjwt.CheckEndpoint(p.Issuer, "verification_uri", d.VerificationURI) != nil:
		return bad("no usable verification_uri (https expected)")
	case d.VerificationURIComplete != "" && oidcjwt.CheckEndpoint(p.Issuer, "verification_uri_complete", d.VerificationURIComplete) != nil:
		return bad("an unusable verification_uri_complete (https expected)")
	case d.ExpiresIn <= 0:
		return bad("no expires_in")
	}
	ttl := min(time.Duration(d.ExpiresIn)*time.Second, MaxDeviceTTL)
	interval := int64(d.Interval)
	if interval <= 0 {
		interval = 5 // RFC 8628 §3.2
	}
	interval = min(max(interval, 1), 60)
	key, err := s.sealKey()
	if err != nil {
		return Response{}, err
	}
	handle, err := seal(key, sealPurposeDevice, deviceSeal{Provider: p.ID, DeviceCode: d.DeviceCode, Interval: interval, Expires: s.now().Add(ttl).UnixMilli()})
	if err != nil {
		return Response{}, err
	}
	out := map[string]any{
		"device_request":   handle,
		"user_code":        d.UserCode,
		"verification_uri": d.VerificationURI,
		"interval":         interval,
		"expires_in":       int64(ttl / time.Second),
	}
	if d.VerificationURIComplete != "" {
		out["verification_uri_complete"] = d.VerificationURIComplete
	}
	return jsonResponse(200, out), nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// deviceToken polls the provider once for a device request. The handle
// is opened (anything not sealed by us for this purpose is unknown);
// authorization_pending and the provider's own slow_down are passed
// through (400, as RFC 8628 answers them), as are its terminal errors.
// Success verifies the ID token and, in one transaction, records the
// handle as used (a reused or concurrently polled handle makes no second
// session) and creates the CLI session.
//
// The edge keeps no per-request state before a sign-in succeeds, so it
// does not rate-limit polls itself: a client polling faster than the
// interval hears the provider's slow_down (RFC 8628 §3.5), passed through
// with the interval raised by 5 seconds.
func (s *Service) deviceToken(ctx context.Context, req Request) (Response, error) {
	var in struct {
		Handle string `json:"device_request"`
	}
	if err := decodeJSON(req.Body, &in, `{"device_request": "<handle from POST /auth/device>"}`); err != nil {
		return Response{}, err
	}
	unknown := errorf(400, "unknown or already used device_request; start again with POST /auth/device")
	key, err := s.sealKey()
	if err != nil {
		return Response{}, err
	}
	var d deviceSeal
	if err := unseal(key, sealPurposeDevice, in.Handle, &d); err != nil {
		return Response{}, unknown
	}
	now := s.now()
	if now.UnixMilli() >= d.Expires {
		return Response{}, &httpError{Status: 400, Code: "expired_token", Message: "the device sign-in expired; start again with POST /auth/device"}
	}
	handleKey := hashKey(in.Handle)
	var seen bool
	if err := s.tx(func() error {
		seen = len(s.exec(`SELECT 1 FROM used_device_requests WHERE handle_hash = ?`, handleKey)) > 0
		return nil
	}); err != nil {
		return Response{}, err
	}
	if seen {
		return Response{}, unknown
	}
	p, ok := s.cfg.Provider(d.Provider)
	if !ok {
		return Response{}, errorf(400, "identity provider %s is no longer configured; start again with POST /auth/device", oidcjwt.Quote(d.Provider))
	}
	disc, err := s.discovery(ctx, p)
	if err != nil {
		return Response{}, err
	}
	body, err := s.postForm(ctx, p, "token_endpoint", disc.TokenEndpoint, url.Values{
		"grant_type":  {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {d.DeviceCode},
	})
	var pe *providerError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "authorization_pending":
			return Response{}, &httpError{Status: 400, Code: pe.Code, Extra: map[string]any{"interval": d.Interval}}
		case "slow_down":
			return Response{}, &httpError{Status: 400, Code: pe.Code, Message: "polling faster than the provider allows; wait 5 seconds more between polls", Extra: map[string]any{"interval": min(d.Interval+5, 60)}}
		}
		// expired_token, access_denied and anything else: the provider
		// has ended the request.
		return Response{}, &httpError{Status: 400, Code: pe.Code, Message: pe.Description}
	}
	if err != nil {
		return Response{}, err
	}
	u, err := s.verifyIDToken(ctx, p, body, "")
	if err != nil {
		return Response{}, err
	}
	var token string
	var pr *Principal
	err = s.tx(func() error {
		if len(s.exec(`INSERT INTO used_device_requests (handle_hash, expires_ms) VALUES (?, ?) ON CONFLICT (handle_hash) DO NOTHING RETURNING 1`, handleKey, d.Expires)) == 0 {
			return unknown // another poll finished it first
		}
		token, pr = s.signIn(u, KindCLI, req.Header["user-agent"], now)
		return nil
	})
	if err != nil {
		return Response{}, err
	}
	sv, err := s.sessionView(pr.SessionID, pr.SessionID)
	if err != nil {
		return Response{}, err
	}
	return jsonResponse(200, map[string]any{"token": token, "session": sv, "user": userViewOf(pr)}), nil
}
