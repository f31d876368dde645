package oidcjwt_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airlockci/airlock/internal/identity/httpfetch"
	"github.com/airlockci/airlock/internal/identity/idtest"
	"github.com/airlockci/airlock/internal/oidcjwt"
)

func startIssuer(t *testing.T, now time.Time) *idtest.Issuer {
	t.Helper()
	iss, err := idtest.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	iss.Now = func() time.Time { return now }
	if err := iss.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = iss.Close() })
	return iss
}

func TestVerify(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	iss := startIssuer(t, now)
	other := startIssuer(t, now)
	is := oidcjwt.NewIssuers(httpfetch.New(0, 0))
	ctx := context.Background()
	want := oidcjwt.Expect{Audience: "client-1", MaxLifetime: time.Hour}

	tok := iss.MustMint(idtest.Claims{Subject: "u1", Audience: []string{"client-1", "other"}, Extra: map[string]any{"email": "a@example.com", "email_verified": true, "groups": []string{"eng", "ops"}}})
	got, err := is.Verify(ctx, tok, iss.URL(), now, want)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := got.String("email"); got.Subject != "u1" || e != "a@example.com" || !got.Bool("email_verified") || strings.Join(got.Strings("groups"), ",") != "eng,ops" || len(got.Audiences) != 2 {
		t.Errorf("got %+v", got)
	}

	cases := []struct {
		name, token, issuer, message string
		want                         error
	}{
		{"other issuer", other.MustMint(idtest.Claims{Subject: "u1", Audience: []string{"client-1"}}), iss.URL(), "expected " + `"` + iss.URL(), oidcjwt.ErrInvalid},
		{"forged iss", other.MustMint(idtest.Claims{Issuer: iss.URL(), Subject: "u1", Audience: []string{"client-1"}}), iss.URL(), "has no key", oidcjwt.ErrInvalid},
		{"wrong audience", iss.MustMint(idtest.Claims{Subject: "u1", Audience: []string{"client-2"}}), iss.URL(), "audience", oidcjwt.ErrInvalid},
		{"too long-lived", iss.MustMint(idtest.Claims{Subject: "u1", Audience: []string{"client-1"}, Expiry: now.Add(3 * time.Hour)}), iss.URL(), "valid for another", oidcjwt.ErrInvalid},
		{"garbage", "a.b", iss.URL(), "2 parts", oidcjwt.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := is.Verify(ctx, tc.token, tc.issuer, now, want)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("got %v, want %v containing %q", err, tc.want, tc.message)
			}
		})
	}
	if n := other.DiscoveryRequests(); n != 0 {
		t.Errorf("the other issuer got %d discovery requests, want 0 (issuers are pinned before fetching)", n)
	}

	d, err := is.Discovery(ctx, iss.URL(), now)
	if err != nil || d.Issuer != iss.URL() || d.JWKSURI != iss.URL()+"/keys" {
		t.Errorf("Discovery: got %+v, %v", d, err)
	}
	if iss.DiscoveryRequests() != 1 {
		t.Errorf("got %d discovery requests, want 1 (cached)", iss.DiscoveryRequests())
	}
	if _, err := is.Discovery(ctx, "http://127.0.0.1:1", now); !errors.Is(err, oidcjwt.ErrUnavailable) {
		t.Errorf("unreachable issuer: got %v, want ErrUnavailable", err)
	}
}

func TestCheckEndpoint(t *testing.T) {
	cases := []struct {
		iss, endpoint string
		ok            bool
	}{
		{"https://id.example.com", "https://id.example.com/token", true},
		{"https://accounts.google.com", "https://oauth2.googleapis.com/token", true},
		{"https://id.example.com", "http://id.example.com/token", false},
		{"https://id.example.com", "http://127.0.0.1:9/token", false},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/token", true},
		{"http://127.0.0.1:8080", "http://evil.example.com/token", false},
		{"https://id.example.com", "https://user@id.example.com/token", false},
		{"https://id.example.com", "https://id.example.com/token#x", false},
		{"https://id.example.com", "/token", false},
		{"https://id.example.com", "", false},
		{"https://id.example.com", "https://id.exämple.com/token", false},
		{"https://id.example.com", "javascript:alert(1)", false},
	}
	for _, tc := range cases {
		err := oidcjwt.CheckEndpoint(tc.iss, "token_endpoint", tc.endpoint)
		if (err == nil) != tc.ok {
			t.Errorf("CheckEndpoint(%q, %q) = %v, want ok=%v", tc.iss, tc.endpoint, err, tc.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJ4In0.c2ln")
	f.Add("a.b.c")
	f.Add(`{"payload":""}`)
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := oidcjwt.Parse(s)
		if err == nil && (tok.Issuer == "" || tok.Kid == "") {
			t.Fatalf("Parse(%q) accepted a token without iss or kid", s)
		}
		if err != nil && !errors.Is(err, oidcjwt.ErrInvalid) {
			t.Fatalf("Parse(%q): error %v is not ErrInvalid", s, err)
		}
	})
}
