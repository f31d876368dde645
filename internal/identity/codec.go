package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/airlockci/airlock/internal/oidcjwt"
)

// MaxProofSize caps a proof's JSON. An AWS proof is about 2 KiB, a
// platform token at most a few; the cap keeps a hostile header cheap.
const MaxProofSize = 16 << 10

// Providers of OIDC tokens.
const (
	ProviderGitHub     = "github"
	ProviderGCP        = "gcp"
	ProviderAzure      = "azure"
	ProviderKubernetes = "kubernetes"
)

// Kinds of proof.
const (
	KindAWS  = "aws"
	KindOIDC = "oidc"
)

const maxChallengeLen = 256

var b64 = base64.RawURLEncoding.Strict()

// EncodeProof encodes p for the ProofHeader: JSON, then base64url without
// padding. It refuses proofs DecodeProof would refuse.
func EncodeProof(p *Proof) (string, error) {
	if p == nil {
		return "", fmt.Errorf("%w: no proof", ErrMalformedProof)
	}
	if err := p.validate(); err != nil {
		return "", err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformedProof, err)
	}
	if len(raw) > MaxProofSize {
		return "", fmt.Errorf("%w: %d bytes of JSON; expected at most %d", ErrMalformedProof, len(raw), MaxProofSize)
	}
	return b64.EncodeToString(raw), nil
}

// DecodeProof decodes the ProofHeader's value strictly: base64url without
// padding, at most MaxProofSize bytes of JSON, no unknown, misspelt or
// duplicate fields, and exactly the part (aws or oidc) its kind says. It
// checks the proof's shape, not what it proves; that is Verify's job.
func DecodeProof(header string) (*Proof, error) {
	if header == "" {
		return nil, fmt.Errorf("%w: empty %s header", ErrMalformedProof, ProofHeader)
	}
	if len(header) > b64.EncodedLen(MaxProofSize) {
		return nil, fmt.Errorf("%w: %s header is %d bytes; expected at most %d", ErrMalformedProof, ProofHeader, len(header), b64.EncodedLen(MaxProofSize))
	}
	raw, err := b64.DecodeString(header)
	if err != nil {
		return nil, fmt.Errorf("%w: %s header is not base64url without padding: %v", ErrMalformedProof, ProofHeader, err)
	}
	if err := checkJSON(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedProof, err)
	}
	if err := exactKeys(raw, "", "kind", "challenge", "aws", "oidc", "expires"); err != nil {
		return nil, err
	}
	var p Proof
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedProof, err)
	}
	var parts struct {
		AWS  json.RawMessage `json:"aws"`
		OIDC json.RawMessage `json:"oidc"`
	}
	_ = json.Unmarshal(raw, &parts) // the same document decoded above
	if p.AWS != nil {
		if err := exactKeys(parts.AWS, "aws.", "method", "url", "headers", "body"); err != nil {
			return nil, err
		}
	}
	if p.OIDC != nil {
		if err := exactKeys(parts.OIDC, "oidc.", "provider", "token"); err != nil {
			return nil, err
		}
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// validate checks the shape DecodeProof promises.
func (p *Proof) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformedProof, fmt.Sprintf(format, args...))
	}
	if p.Challenge == "" {
		return bad("no challenge; expected the challenge the control plane issued")
	}
	if len(p.Challenge) > maxChallengeLen {
		return bad("challenge is %d bytes; expected at most %d", len(p.Challenge), maxChallengeLen)
	}
	if p.ExpiresUnix < 0 {
		return bad("expires is %d; expected a Unix time or nothing", p.ExpiresUnix)
	}
	switch p.Kind {
	case KindAWS:
		if p.AWS == nil || p.OIDC != nil {
			return bad(`kind "aws" needs the "aws" part and no "oidc" part`)
		}
		if p.AWS.Method == "" || p.AWS.URL == "" {
			return bad("aws: method and url are required")
		}
		for name, vals := range p.AWS.Headers {
			if name == "" || vals == nil {
				return bad("aws: header %s has no name or no values", quote(name))
			}
		}
	case KindOIDC:
		if p.OIDC == nil || p.AWS != nil {
			return bad(`kind "oidc" needs the "oidc" part and no "aws" part`)
		}
		switch p.OIDC.Provider {
		case ProviderGitHub, ProviderGCP, ProviderAzure, ProviderKubernetes:
		default:
			return bad("oidc: provider %s; expected github, gcp, azure or kubernetes", quote(p.OIDC.Provider))
		}
		if p.OIDC.Token == "" {
			return bad("oidc: no token")
		}
	case "":
		return bad(`no kind; expected "aws" or "oidc"`)
	default:
		return bad(`kind %s; expected "aws" or "oidc"`, quote(p.Kind))
	}
	return nil
}

// exactKeys refuses object keys that encoding/json would match only
// case-insensitively ("Kind" for "kind"): a strict parser accepts one
// spelling.
func exactKeys(raw json.RawMessage, prefix string, allowed ...string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%w: %s: expected an object", ErrMalformedProof, strings.TrimSuffix(prefix, "."))
	}
next:
	for k := range m {
		for _, a := range allowed {
			if k == a {
				continue next
			}
		}
		return fmt.Errorf("%w: unknown field %s; expected one of %s", ErrMalformedProof, quote(prefix+k), strings.Join(allowed, ", "))
	}
	return nil
}

// checkJSON: see oidcjwt.CheckJSON.
func checkJSON(data []byte) error { return oidcjwt.CheckJSON(data) }

// quote quotes an untrusted value for an error message, cut to a length
// that keeps messages readable and logs small.
func quote(s string) string {
	const maxLen = 96
	if len(s) > maxLen {
		return fmt.Sprintf("%q…", s[:maxLen])
	}
	return fmt.Sprintf("%q", s)
}
