package identity

// ProofHeader is the request header of the WebSocket upgrade (and the
// payload of a re-proof frame) that carries an encoded Proof.
const ProofHeader = "Airlock-Identity-Proof"

// ChallengeHeader is the signed header of the AWS proof that carries the
// control plane's challenge.
const ChallengeHeader = "X-Airlock-Challenge"

// Proof is what an agent presents. It is encoded as JSON, then base64url
// without padding, in the ProofHeader.
type Proof struct {
	// Kind is "aws" or "oidc".
	Kind string `json:"kind"`
	// Challenge is the single-use challenge this proof answers (for AWS it
	// must also be in the signed ChallengeHeader).
	Challenge string `json:"challenge"`
	// AWS is the signed sts:GetCallerIdentity request, for Kind "aws".
	AWS *SignedRequest `json:"aws,omitempty"`
	// OIDC is the platform-issued token, for Kind "oidc".
	OIDC *OIDCToken `json:"oidc,omitempty"`
	// ExpiresUnix is when the agent's credentials expire, as the agent
	// knows it (AWS session credentials); the control plane never lets the
	// connection outlive the earlier of this and its own cap.
	ExpiresUnix int64 `json:"expires,omitempty"`
}

// SignedRequest is an HTTP request the agent signed but did not send.
type SignedRequest struct {
	Method  string              `json:"method"`
	URL     string              `json:"url"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

// OIDCToken is a JWT from the agent's platform.
type OIDCToken struct {
	// Provider is "gcp", "azure", "kubernetes" or "github".
	Provider string `json:"provider"`
	Token    string `json:"token"`
}
