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
// gets a random handle for the device code, never the code itself.
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
	handle := randomString(32)
	now := s.now()
	err = s.tx(func() error {
		s.exec(`DELETE FROM device_requests WHERE expires_ms <= ?`, now.UnixMilli())
		if n := asInt(s.exec(`SELECT COUNT(*) FROM device_requests`)[0][0]); n >= MaxPending {
			return errorf(503, "too many device sign-ins in progress; try again in a few minutes")
		}
		s.exec(`INSERT INTO device_requests (handle_hash, provider, device_code, interval_s, next_poll_ms, created_ms, expires_ms, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			hashKey(handle), p.ID, d.DeviceCode, interval, now.UnixMilli(), now.UnixMilli(), now.Add(ttl).UnixMilli(), truncate(req.Header["user-agent"], 256))
		return nil
	})
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

// deviceToken polls the provider once for a device request. Pending and
// slow_down are passed through (400, as RFC 8628 answers them); success
// creates a CLI session and consumes the handle.
func (s *Service) deviceToken(ctx context.Context, req Request) (Response, error) {
	var in struct {
		Handle string `json:"device_request"`
	}
	if err := decodeJSON(req.Body, &in, `{"device_request": "<handle from POST /auth/device>"}`); err != nil {
		return Response{}, err
	}
	unknown := errorf(400, "unknown or already used device_request; start again with POST /auth/device")
	if !validHandle(in.Handle) {
		return Response{}, unknown
	}
	key := hashKey(in.Handle)
	now := s.now()
	var providerID, deviceCode string
	var interval int64
	var refusal error
	err := s.tx(func() error {
		rows := s.exec(`SELECT provider, device_code, interval_s, next_poll_ms, expires_ms FROM device_requests WHERE handle_hash = ?`, key)
		if len(rows) == 0 {
			return unknown
		}
		r := rows[0]
		providerID, deviceCode, interval = asString(r[0]), asString(r[1]), asInt(r[2])
		switch {
		case now.UnixMilli() >= asInt(r[4]):
			s.exec(`DELETE FROM device_requests WHERE handle_hash = ?`, key)
			refusal = &httpError{Status: 400, Code: "expired_token", Message: "the device sign-in expired; start again with POST /auth/device"}
		case now.UnixMilli() < asInt(r[3]):
			// Polling faster than the interval: answer for the provider
			// rather than spend its rate limit.
			return &httpError{Status: 400, Code: "slow_down", Message: "polling faster than the interval", Extra: map[string]any{"interval": interval}}
		default:
			// A second of slack for the client's timer.
			s.exec(`UPDATE device_requests SET next_poll_ms = ? WHERE handle_hash = ?`, now.UnixMilli()+interval*1000-1000, key)
		}
		return nil
	})
	if err != nil {
		return Response{}, err
	}
	if refusal != nil {
		return Response{}, refusal
	}
	p, ok := s.cfg.Provider(providerID)
	if !ok {
		s.dropDevice(key)
		return Response{}, errorf(400, "identity provider %s is no longer configured; start again with POST /auth/device", oidcjwt.Quote(providerID))
	}
	disc, err := s.discovery(ctx, p)
	if err != nil {
		return Response{}, err
	}
	body, err := s.postForm(ctx, p, "token_endpoint", disc.TokenEndpoint, url.Values{
		"grant_type":  {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {deviceCode},
	})
	var pe *providerError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "authorization_pending":
			return Response{}, &httpError{Status: 400, Code: pe.Code, Extra: map[string]any{"interval": interval}}
		case "slow_down":
			interval = min(interval+5, 60)
			_ = s.tx(func() error {
				s.exec(`UPDATE device_requests SET interval_s = ?, next_poll_ms = ? WHERE handle_hash = ?`, interval, now.UnixMilli()+interval*1000, key)
				return nil
			})
			return Response{}, &httpError{Status: 400, Code: pe.Code, Extra: map[string]any{"interval": interval}}
		}
		// expired_token, access_denied and anything else end the request.
		s.dropDevice(key)
		return Response{}, &httpError{Status: 400, Code: pe.Code, Message: pe.Description}
	}
	if err != nil {
		return Response{}, err
	}
	u, err := s.verifyIDToken(ctx, p, body, "")
	if err != nil {
		s.dropDevice(key)
		return Response{}, err
	}
	var token string
	var pr *Principal
	err = s.tx(func() error {
		if len(s.exec(`DELETE FROM device_requests WHERE handle_hash = ? RETURNING 1`, key)) == 0 {
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

func (s *Service) dropDevice(key string) {
	_ = s.tx(func() error {
		s.exec(`DELETE FROM device_requests WHERE handle_hash = ?`, key)
		return nil
	})
}
