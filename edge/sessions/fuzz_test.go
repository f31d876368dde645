package sessions

import (
	"strings"
	"testing"
)

func TestParseToken(t *testing.T) {
	good, id, _ := newToken()
	if gotID, secret, err := parseToken(good); err != nil || gotID != id || len(secret) != secretBytes {
		t.Fatalf("parseToken(fresh token) = %q, %d bytes, %v", gotID, len(secret), err)
	}
	bad := []string{
		"", ".", good + "A", good[:len(good)-1], strings.Replace(good, ".", "_", 1),
		good[:idLen] + "=" + good[idLen+1:],                      // wrong separator
		"+" + good[1:],                                           // not base64url
		good[:idLen+1] + strings.Repeat("A", secretLen-1) + "B",  // non-canonical last character
		good[:5] + " " + good[6:],                                // space
		good[:idLen+1] + strings.Repeat("Ä", secretLen/2) + "AA", // non-ASCII
	}
	for _, s := range bad {
		if _, _, err := parseToken(s); err == nil {
			t.Errorf("parseToken(%q) accepted it", s)
		}
	}
}

func TestCookies(t *testing.T) {
	cases := []struct {
		header, want string
		err          bool
	}{
		{"", "", false},
		{"a=1; __Host-airlock_session=tok; b=2", "tok", false},
		{"__Host-airlock_session=tok", "tok", false},
		{"__host-airlock_session=tok", "", false}, // names are case-sensitive
		{"x__Host-airlock_session=tok", "", false},
		{"__Host-airlock_session=a; __Host-airlock_session=b", "", true},
		{"__Host-airlock_session=", "", false},
		{";;; =; __Host-airlock_session=t=x", "t=x", false},
	}
	for _, tc := range cases {
		got, err := singleCookie(tc.header, SessionCookie)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("singleCookie(%q) = %q, %v; want %q, error %v", tc.header, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	good, _, _ := newToken()
	f.Add(good)
	f.Add("AAAAAAAAAAAAAAAA." + strings.Repeat("A", 43))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := parseToken(s)
		if err != nil {
			return
		}
		// Whatever is accepted is exactly what newToken makes.
		if len(s) != tokenLen || !validID(id) || len(secret) != secretBytes || id+"."+b64.EncodeToString(secret) != s {
			t.Fatalf("parseToken(%q) accepted a token newToken cannot make", s)
		}
	})
}

func FuzzCookieHeader(f *testing.F) {
	good, _, _ := newToken()
	f.Add("a=1; " + SessionCookie + "=" + good)
	f.Add(SessionCookie + "=x; " + SessionCookie + "=y")
	f.Add(";=;")
	f.Fuzz(func(t *testing.T, header string) {
		v, err := singleCookie(header, SessionCookie)
		if err != nil {
			return
		}
		if v != "" && !strings.Contains(header, SessionCookie+"="+v) {
			t.Fatalf("singleCookie(%q) = %q, not in the header", header, v)
		}
		if v != "" {
			// A value that parses is a well-formed token, nothing else.
			if _, _, err := parseToken(v); err == nil && len(v) != tokenLen {
				t.Fatalf("accepted %q", v)
			}
		}
	})
}
