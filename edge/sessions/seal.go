package sessions

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
)

// A sign-in in progress is not stored: it travels sealed, in the login
// cookie (browser) or in the device_request handle (CLI), and only the
// Sessions object can open it. Sealing is AES-256-GCM under a key derived
// for each message, with the message's purpose as additional data, so that
// a login cookie never opens as a device handle nor the other way round.
//
// Format, base64url without padding:
//
//	salt (16 bytes) || nonce (12 bytes) || ciphertext || tag (16 bytes)
//
// The message key is HKDF-SHA256(master key, salt, purpose). One master
// key seals every anonymous /auth/login and POST /auth/device, which
// anyone may ask for as often as they like: deriving a fresh AES key per
// message keeps GCM's random-nonce bound (2^32 messages per key) out of
// an attacker's reach.
const (
	sealPurposeLogin  = "airlock login v1"
	sealPurposeDevice = "airlock device v1"

	sealKeyName  = "seal" // the row of table keys holding the master key
	sealKeyBytes = 32     // AES-256
	sealSaltLen  = 16
	sealNonceLen = 12
	sealTagLen   = 16
	// maxSealed caps what unseal decodes: a sealed device request holds a
	// device code of at most 4096 bytes; a login cookie at most a
	// return_to of 2048.
	maxSealed = 8 << 10
)

var errUnseal = errors.New("not sealed by this control plane for this purpose")

// seal encrypts v's JSON under key for purpose.
func seal(key []byte, purpose string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	buf := make([]byte, sealSaltLen+sealNonceLen, sealSaltLen+sealNonceLen+len(plain)+sealTagLen)
	if _, err := rand.Read(buf); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	aead, err := sealAEAD(key, buf[:sealSaltLen], purpose)
	if err != nil {
		return "", err
	}
	out := aead.Seal(buf, buf[sealSaltLen:], plain, []byte(purpose))
	return b64.EncodeToString(out), nil
}

// unseal decrypts s, sealed by seal under key for purpose, into v. Any
// failure — malformed, truncated, tampered, another key, another purpose —
// is errUnseal, and says nothing more.
func unseal(key []byte, purpose, s string, v any) error {
	if len(s) > maxSealed {
		return errUnseal
	}
	raw, err := b64.DecodeString(s)
	if err != nil || len(raw) < sealSaltLen+sealNonceLen+sealTagLen {
		return errUnseal
	}
	aead, err := sealAEAD(key, raw[:sealSaltLen], purpose)
	if err != nil {
		return errUnseal
	}
	plain, err := aead.Open(nil, raw[sealSaltLen:sealSaltLen+sealNonceLen], raw[sealSaltLen+sealNonceLen:], []byte(purpose))
	if err != nil || json.Unmarshal(plain, v) != nil {
		return errUnseal
	}
	return nil
}

func sealAEAD(key, salt []byte, purpose string) (cipher.AEAD, error) {
	if len(key) != sealKeyBytes {
		return nil, fmt.Errorf("sealing key of %d bytes; expected %d", len(key), sealKeyBytes)
	}
	k, err := hkdf.Key(sha256.New, key, salt, purpose, sealKeyBytes)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealKey is the master sealing key, made from crypto/rand on first use
// and kept in table keys, which only this object reads. It is read on
// every use (one row, no cache), so deleting the row rotates it at once:
// sign-ins in progress then fail and start again; sessions are unaffected.
func (s *Service) sealKey() ([]byte, error) {
	var key []byte
	err := s.tx(func() error {
		if rows := s.exec(`SELECT key FROM keys WHERE name = ?`, sealKeyName); len(rows) == 1 {
			key = asBytes(rows[0][0])
			return nil
		}
		key = make([]byte, sealKeyBytes)
		if _, err := rand.Read(key); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err))
		}
		s.exec(`INSERT INTO keys (name, key, created_ms) VALUES (?, ?, ?)`, sealKeyName, key, s.now().UnixMilli())
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(key) != sealKeyBytes {
		return nil, fmt.Errorf("storage: the sealing key (table keys, name %q) has %d bytes, expected %d; delete the row to make a new one", sealKeyName, len(key), sealKeyBytes)
	}
	return key, nil
}

// loginSeal is a browser sign-in in progress, sealed in the login cookie.
type loginSeal struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Expires  int64  `json:"e"` // Unix ms
}

// deviceSeal is a CLI device sign-in in progress, sealed in the
// device_request handle.
type deviceSeal struct {
	Provider   string `json:"p"`
	DeviceCode string `json:"d"`
	Interval   int64  `json:"i"` // seconds
	Expires    int64  `json:"e"` // Unix ms
}
