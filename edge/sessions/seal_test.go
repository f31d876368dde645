package sessions

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

func testKey(t testing.TB) []byte {
	k := make([]byte, sealKeyBytes)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSeal(t *testing.T) {
	key := testKey(t)
	in := loginSeal{Provider: "acme", State: randomString(32), Nonce: randomString(32), Verifier: randomString(32), ReturnTo: "/runs/42?x=<y>", Expires: 1234567890123}
	sealed, err := seal(key, sealPurposeLogin, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{in.State, in.Nonce, in.Verifier, in.ReturnTo, in.Provider} {
		if strings.Contains(sealed, secret) {
			t.Errorf("the sealed value shows %q", secret)
		}
	}
	var out loginSeal
	if err := unseal(key, sealPurposeLogin, sealed, &out); err != nil || out != in {
		t.Fatalf("unseal = %+v, %v; want %+v", out, err, in)
	}
	// Sealing again gives another value (a fresh salt and nonce).
	if again, _ := seal(key, sealPurposeLogin, in); again == sealed {
		t.Error("two seals of the same attempt are equal")
	}

	refused := func(what, s string, key []byte, purpose string) {
		t.Helper()
		var v loginSeal
		if err := unseal(key, purpose, s, &v); err == nil {
			t.Errorf("%s: opened", what)
		} else if err != errUnseal {
			t.Errorf("%s: error %v, want errUnseal", what, err)
		}
	}
	refused("another purpose", sealed, key, sealPurposeDevice)
	refused("another key", sealed, testKey(t), sealPurposeLogin)
	refused("a short key", sealed, key[:16], sealPurposeLogin)
	refused("empty", "", key, sealPurposeLogin)
	refused("not base64url", "+"+sealed[1:], key, sealPurposeLogin)
	refused("padded", sealed+"=", key, sealPurposeLogin)
	refused("over the size cap", strings.Repeat("A", maxSealed+4), key, sealPurposeLogin)
	refused("salt, nonce and tag only", b64.EncodeToString(make([]byte, sealSaltLen+sealNonceLen+sealTagLen)), key, sealPurposeLogin)
	raw, _ := b64.DecodeString(sealed)
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			c := bytes.Clone(raw)
			c[i] ^= bit
			refused("a flipped bit", b64.EncodeToString(c), key, sealPurposeLogin)
		}
	}
	for n := 0; n < len(raw); n++ {
		refused("truncated", b64.EncodeToString(raw[:n]), key, sealPurposeLogin)
	}
	refused("extended", b64.EncodeToString(append(bytes.Clone(raw), 0)), key, sealPurposeLogin)

	// A device handle and a login cookie never open as each other.
	dev, err := seal(key, sealPurposeDevice, deviceSeal{Provider: "acme", DeviceCode: "dc", Interval: 5, Expires: 1})
	if err != nil {
		t.Fatal(err)
	}
	refused("a device handle as a login", dev, key, sealPurposeLogin)
	var d deviceSeal
	if err := unseal(key, sealPurposeDevice, dev, &d); err != nil || d.DeviceCode != "dc" {
		t.Errorf("device: %+v, %v", d, err)
	}
}

// TestLoginCookieFits: the largest attempt (the longest return_to) still
// fits in one cookie (browsers keep 4096 bytes of name and value).
func TestLoginCookieFits(t *testing.T) {
	sealed, err := seal(testKey(t), sealPurposeLogin, loginSeal{Provider: strings.Repeat("p", 64), State: randomString(32), Nonce: randomString(32),
		Verifier: randomString(32), ReturnTo: "/" + strings.Repeat("a", 2047), Expires: 1 << 50})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(LoginCookie) + 1 + len(sealed); n > 4096 {
		t.Errorf("the login cookie is %d bytes, over 4096", n)
	}
	// And the largest device handle fits under unseal's cap.
	h, _ := seal(testKey(t), sealPurposeDevice, deviceSeal{Provider: strings.Repeat("p", 64), DeviceCode: strings.Repeat("d", 4096), Interval: 60, Expires: 1 << 50})
	if len(h) > maxSealed {
		t.Errorf("the largest device handle is %d bytes, over maxSealed %d", len(h), maxSealed)
	}
}

func FuzzUnseal(f *testing.F) {
	key := make([]byte, sealKeyBytes)
	good, _ := seal(key, sealPurposeLogin, loginSeal{Provider: "acme", State: "s"})
	f.Add(good)
	f.Add("")
	f.Add(strings.Repeat("A", 60))
	f.Fuzz(func(t *testing.T, s string) {
		// Sealing is randomised, so a fuzzing worker's own seed differs
		// from the coordinator's: what may open is what seal was given.
		var v loginSeal
		if err := unseal(key, sealPurposeLogin, s, &v); err == nil && (v.Provider != "acme" || v.State != "s") {
			t.Fatalf("unseal(%q) opened a value seal did not make: %+v", s, v)
		}
	})
}
