package identity

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/airlockci/airlock/internal/identity"
	"github.com/airlockci/airlock/internal/identity/idtest"
)

// TestAWSProofAcceptedByLocalSTS: credentials come from idtest's
// container-credentials endpoint through the SDK's default chain, and the
// signed request, sent as the control plane would send it, gets the key's ARN
// back from idtest's STS, which verifies the SigV4 signature.
func TestAWSProofAcceptedByLocalSTS(t *testing.T) {
	const arn = "arn:aws:sts::123456789012:assumed-role/airlock-agent/i-0abc"
	key := idtest.NewAWSKey(arn)
	creds := idtest.NewCredentials(key)
	if err := creds.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { creds.Close() })
	sts := idtest.NewSTS(key)
	sts.Region = "eu-west-3"
	if err := sts.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sts.Close() })

	clearAWSEnv(t)
	for _, kv := range creds.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	p, err := NewAWS(context.Background(), "eu-west-3", sts.URL()+"/")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		tamper     func(*identity.SignedRequest)
		wantStatus int
		wantARN    string
		wantCode   string
	}{
		{"as signed", func(*identity.SignedRequest) {}, http.StatusOK, arn, ""},
		{"challenge swapped", func(sr *identity.SignedRequest) {
			sr.Headers[identity.ChallengeHeader] = []string{"another-challenge"}
		}, http.StatusForbidden, "", "SignatureDoesNotMatch"},
		{"challenge dropped", func(sr *identity.SignedRequest) {
			delete(sr.Headers, identity.ChallengeHeader)
		}, http.StatusForbidden, "", "SignatureDoesNotMatch"},
		{"body changed", func(sr *identity.SignedRequest) {
			sr.Body += "&RoleArn=x"
			sr.Headers["Content-Length"] = nil
		}, http.StatusForbidden, "", "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proof, err := p.Prove(context.Background(), "challenge-"+strings.ReplaceAll(tt.name, " ", "-"))
			if err != nil {
				t.Fatal(err)
			}
			if proof.ExpiresUnix == 0 {
				t.Errorf("ExpiresUnix is 0, want the container credentials' expiry")
			}
			tt.tamper(proof.AWS)
			status, body := send(t, proof.AWS)
			if status != tt.wantStatus {
				t.Fatalf("STS answered %d %s, want %d", status, body, tt.wantStatus)
			}
			var res struct {
				Arn  string `xml:"GetCallerIdentityResult>Arn"`
				Code string `xml:"Error>Code"`
			}
			if err := xml.Unmarshal(body, &res); err != nil {
				t.Fatalf("STS answer %q: %v", body, err)
			}
			if res.Arn != tt.wantARN || res.Code != tt.wantCode {
				t.Errorf("got Arn %q, error code %q; want %q, %q", res.Arn, res.Code, tt.wantARN, tt.wantCode)
			}
		})
	}
	if got := creds.Requests(); got != 1 {
		t.Errorf("credentials endpoint: got %d requests, want 1 (the SDK caches)", got)
	}
}

// send rebuilds the signed request the way the control plane does and sends
// it, without following redirects.
func send(t *testing.T, sr *identity.SignedRequest) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(sr.Method, sr.URL, strings.NewReader(sr.Body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range sr.Headers {
		switch http.CanonicalHeaderKey(k) {
		case "Host":
			req.Host = v[0]
		case "Content-Length":
		default:
			req.Header[k] = v
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
