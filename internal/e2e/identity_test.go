//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/gorilla/websocket"

	"github.com/airlockci/airlock/agent"
	agentid "github.com/airlockci/airlock/agent/identity"
	"github.com/airlockci/airlock/internal/devstack"
	"github.com/airlockci/airlock/internal/identity"
	"github.com/airlockci/airlock/internal/identity/idtest"
)

// Agents prove who they are with workload identity and nothing else: the
// real edge build on workerd checks each proof against the local STS or
// OIDC issuer, and every bad proof is refused with 401 and a reason.
func TestWorkloadIdentity(t *testing.T) {
	s := shared(t)
	intruder := idtest.NewAWSKey("arn:aws:sts::" + devstack.DevAccount + ":assumed-role/intruder/x")
	s.cloud.STS.AddKey(intruder)
	static := func(k idtest.AWSKey) *agentid.AWS {
		return &agentid.AWS{Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, k.SessionToken)),
			Endpoint: s.cloud.STSEndpoint(), Region: "us-east-1"}
	}
	encode := func(t *testing.T, p *identity.Proof) http.Header {
		h, err := identity.EncodeProof(p)
		if err != nil {
			t.Fatal(err)
		}
		return http.Header{identity.ProofHeader: []string{h}}
	}
	challenge := func(t *testing.T) string {
		ch, err := agent.Challenge(context.Background(), s.cp.URL)
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	prove := func(t *testing.T, p agentid.Prover, ch string) *identity.Proof {
		proof, err := p.Prove(context.Background(), ch)
		if err != nil {
			t.Fatal(err)
		}
		return proof
	}
	k8sToken := func(sub, aud string) *identity.Proof {
		tok := s.cloud.Issuer.MustMint(idtest.Claims{Subject: sub, Audience: []string{aud}})
		return &identity.Proof{Kind: "oidc", OIDC: &identity.OIDCToken{Provider: "kubernetes", Token: tok}}
	}
	dial := func(t *testing.T, h http.Header) (int, string) {
		c, resp, err := websocket.DefaultDialer.Dial(strings.Replace(s.cp.URL, "http", "ws", 1)+"/v1/agents/connect", h)
		if err == nil {
			c.Close()
			return 101, ""
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		var body strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		body.Write(buf[:n])
		return resp.StatusCode, body.String()
	}

	t.Run("aws role in a pool", func(t *testing.T) {
		if code, body := dial(t, encode(t, prove(t, s.prover(), challenge(t)))); code != 101 {
			t.Fatalf("got %d %s, want admitted", code, body)
		}
	})
	t.Run("kubernetes service account in a pool", func(t *testing.T) {
		p := k8sToken("system:serviceaccount:airlock:builder", devstack.DevAudience)
		p.Challenge = challenge(t)
		if code, body := dial(t, encode(t, p)); code != 101 {
			t.Fatalf("got %d %s, want admitted", code, body)
		}
	})
	for _, tc := range []struct {
		name  string
		proof func(t *testing.T) http.Header
		want  string
	}{
		{"no proof", func(t *testing.T) http.Header { return nil }, "no Airlock-Identity-Proof header"},
		{"garbage", func(t *testing.T) http.Header { return http.Header{identity.ProofHeader: []string{"!!"}} }, "not proven"},
		{"role in no pool", func(t *testing.T) http.Header { return encode(t, prove(t, static(intruder), challenge(t))) }, "not proven"},
		{"unknown challenge", func(t *testing.T) http.Header {
			return encode(t, prove(t, s.prover(), "ach_not_issued_here"))
		}, "unknown, already used or expired"},
		{"challenge swapped after signing", func(t *testing.T) http.Header {
			p := prove(t, s.prover(), challenge(t))
			p.Challenge = challenge(t)
			return encode(t, p)
		}, "not proven"},
		{"oidc wrong audience", func(t *testing.T) http.Header {
			p := k8sToken("system:serviceaccount:airlock:builder", "someone-else")
			p.Challenge = challenge(t)
			return encode(t, p)
		}, "not proven"},
		{"oidc subject in no pool", func(t *testing.T) http.Header {
			p := k8sToken("system:serviceaccount:default:x", devstack.DevAudience)
			p.Challenge = challenge(t)
			return encode(t, p)
		}, "not proven"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := dial(t, tc.proof(t))
			if code != 401 || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %s, want 401 with %q", code, body, tc.want)
			}
		})
	}
	t.Run("replayed proof", func(t *testing.T) {
		h := encode(t, prove(t, s.prover(), challenge(t)))
		if code, body := dial(t, h); code != 101 {
			t.Fatalf("first use: got %d %s", code, body)
		}
		if code, body := dial(t, h); code != 401 || !strings.Contains(body, "already used") {
			t.Fatalf("replay: got %d %s, want 401", code, body)
		}
	})
}
