package identity_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/airlockci/airlock/internal/identity"
	"github.com/airlockci/airlock/internal/identity/httpfetch"
	"github.com/airlockci/airlock/internal/identity/idtest"
)

const (
	account  = "123456789012"
	audience = "airlock.test"
	agentARN = "arn:aws:sts::" + account + ":assumed-role/airlock-agent/i-0abc"
)

// world is a Verifier wired to a local STS and a local OIDC issuer through
// real sockets.
type world struct {
	sts    *idtest.STS
	iss    *idtest.Issuer
	key    idtest.AWSKey
	cfg    *identity.Config
	v      *identity.Verifier
	now    time.Time
	fetch  *countingFetcher
	config string
}

type countingFetcher struct {
	identity.Fetcher
	n int
}

func (c *countingFetcher) Fetch(ctx context.Context, req identity.HTTPRequest) (identity.HTTPResponse, error) {
	c.n++
	return c.Fetcher.Fetch(ctx, req)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{key: idtest.NewAWSKey(agentARN), now: time.Now().UTC().Truncate(time.Second)}
	w.sts = idtest.NewSTS(w.key)
	w.sts.Now = func() time.Time { return w.now }
	if err := w.sts.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.sts.Close() })
	iss, err := idtest.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	iss.Now = func() time.Time { return w.now }
	if err := iss.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = iss.Close() })
	w.iss = iss
	w.config = fmt.Sprintf(`audience: %s
aws:
  sts_endpoints: [%s]
pools:
  - name: linux
    tags: {queue: default, os: linux}
    aws:
      roles:
        - arn:aws:iam::%s:role/airlock-agent
        - arn:aws:iam::%s:role/ci-*
  - name: github
    tags: {queue: gh}
    oidc:
      - provider: github
        issuer: %s
        subject: "repo:acme/app:*"
        claims: {repository_owner: acme}
  - name: k8s
    oidc:
      - provider: kubernetes
        issuer: %s
        subject: system:serviceaccount:ci:agent
      - provider: azure
        issuer: %s
        subject: azure-mi
`, audience, w.sts.URL(), account, account, iss.URL(), iss.URL(), iss.URL())
	cfg, err := identity.LoadConfig("pools.yaml", []byte(w.config))
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg
	w.fetch = &countingFetcher{Fetcher: httpfetch.New(5*time.Second, 0)}
	w.v = identity.NewVerifier(cfg, w.fetch, func() time.Time { return w.now })
	return w
}

// signed is what an agent does: build GetCallerIdentity with the
// challenge header, sign it with aws-sdk-go-v2's signer, send nothing.
func signed(t *testing.T, creds aws.Credentials, rawURL, body, challenge string, at time.Time, edit func(*http.Request)) *identity.SignedRequest {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if challenge != "" {
		req.Header.Set(identity.ChallengeHeader, challenge)
	}
	if edit != nil {
		edit(req)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "sts", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return &identity.SignedRequest{Method: req.Method, URL: req.URL.String(), Headers: req.Header, Body: body}
}

func (w *world) awsProof(t *testing.T, challenge string) *identity.Proof {
	t.Helper()
	return &identity.Proof{
		Kind:      identity.KindAWS,
		Challenge: challenge,
		AWS:       signed(t, w.key.Credentials(), w.sts.URL()+"/", identity.GetCallerIdentityBody, challenge, w.now, nil),
	}
}

func oidcProof(provider, token, challenge string) *identity.Proof {
	return &identity.Proof{Kind: identity.KindOIDC, Challenge: challenge, OIDC: &identity.OIDCToken{Provider: provider, Token: token}}
}

func wantErr(t *testing.T, err error, target error, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v containing %q", target, contains)
	}
	if target != nil && !isErr(err, target) {
		t.Errorf("got %v, want errors.Is %v", err, target)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Errorf("got %q, want it to contain %q", err, contains)
	}
}
