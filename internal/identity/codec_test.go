package identity_test

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/airlockci/airlock/internal/identity"
)

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestProofRoundTrip(t *testing.T) {
	for _, p := range []*identity.Proof{
		{Kind: "aws", Challenge: "c", ExpiresUnix: 1700000000, AWS: &identity.SignedRequest{Method: "POST", URL: "https://sts.amazonaws.com/",
			Headers: map[string][]string{"X-Amz-Date": {"20240101T000000Z"}}, Body: identity.GetCallerIdentityBody}},
		{Kind: "oidc", Challenge: "c", OIDC: &identity.OIDCToken{Provider: "gcp", Token: "a.b.c"}},
	} {
		s, err := identity.EncodeProof(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := identity.DecodeProof(s)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("got %+v, want %+v", got, p)
		}
	}
}

func TestDecodeProofRefuses(t *testing.T) {
	aws := `"aws":{"method":"POST","url":"u","headers":{},"body":"b"}`
	oidc := `"oidc":{"provider":"github","token":"t"}`
	cases := []struct{ name, header, message string }{
		{"empty", "", "empty"},
		{"too big", strings.Repeat("A", 30000), "at most"},
		{"padding", enc(`{"kind":"oidc","challenge":"c",`+oidc+`}`) + "==", "base64url"},
		{"standard base64", base64.StdEncoding.EncodeToString([]byte(`{"kind":"oidc","challenge":"c",` + oidc + `}??>`)), "base64url"},
		{"not JSON", enc("hello"), "invalid JSON"},
		{"array", enc(`[]`), "expected an object"},
		{"trailing data", enc(`{"kind":"oidc","challenge":"c",` + oidc + `} {}`), "after the top-level value"},
		{"unknown field", enc(`{"kind":"oidc","challenge":"c","admin":true,` + oidc + `}`), "unknown field"},
		{"misspelt field", enc(`{"Kind":"oidc","challenge":"c",` + oidc + `}`), "unknown field"},
		{"duplicate field", enc(`{"kind":"aws","kind":"oidc","challenge":"c",` + oidc + `}`), "duplicate"},
		{"duplicate in other case", enc(`{"kind":"oidc","KIND":"oidc","challenge":"c",` + oidc + `}`), "duplicate"},
		{"unknown nested field", enc(`{"kind":"oidc","challenge":"c","oidc":{"provider":"github","token":"t","x":1}}`), "unknown field"},
		{"no kind", enc(`{"challenge":"c",` + oidc + `}`), "no kind"},
		{"other kind", enc(`{"kind":"dev","challenge":"c",` + oidc + `}`), "kind"},
		{"both parts", enc(`{"kind":"oidc","challenge":"c",` + oidc + `,` + aws + `}`), `no "aws" part`},
		{"kind without its part", enc(`{"kind":"aws","challenge":"c",` + oidc + `}`), `needs the "aws" part`},
		{"no challenge", enc(`{"kind":"oidc",` + oidc + `}`), "no challenge"},
		{"unknown provider", enc(`{"kind":"oidc","challenge":"c","oidc":{"provider":"okta","token":"t"}}`), "provider"},
		{"wrong type", enc(`{"kind":"oidc","challenge":"c","expires":"soon",` + oidc + `}`), "cannot unmarshal"},
		{"negative expiry", enc(`{"kind":"oidc","challenge":"c","expires":-1,` + oidc + `}`), "expires"},
		{"deep nesting", enc(`{"kind":"aws","challenge":"c","aws":{"headers":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}}`), "nested"},
		{"header without values", enc(`{"kind":"aws","challenge":"c","aws":{"method":"POST","url":"u","headers":{"A":null},"body":""}}`), "no values"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := identity.DecodeProof(tc.header)
			wantErr(t, err, identity.ErrMalformedProof, tc.message)
		})
	}
}

func FuzzDecodeProof(f *testing.F) {
	for _, s := range []string{
		`{"kind":"oidc","challenge":"c","oidc":{"provider":"github","token":"a.b.c"}}`,
		`{"kind":"aws","challenge":"c","expires":5,"aws":{"method":"POST","url":"https://sts.amazonaws.com/","headers":{"X":["y"]},"body":"b"}}`,
		`{"kind":"aws","kind":"oidc"}`, `[`, `{"a":{"b":[1,2,{"c":null}]}}`,
	} {
		f.Add(enc(s))
	}
	f.Add("")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, header string) {
		p, err := identity.DecodeProof(header)
		if err != nil {
			if p != nil {
				t.Fatal("got a proof and an error")
			}
			return
		}
		// What decodes re-encodes, and decodes to the same.
		again, err := identity.EncodeProof(p)
		if err != nil {
			t.Fatalf("decoded proof does not encode: %v", err)
		}
		p2, err := identity.DecodeProof(again)
		if err != nil || !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip: %+v, %v; want %+v", p2, err, p)
		}
	})
}
