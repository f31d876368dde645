package idtest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/airlockci/airlock/internal/identity/idtest"
)

const getCallerIdentity = "Action=GetCallerIdentity&Version=2011-06-15"

const agentARN = "arn:aws:sts::123456789012:assumed-role/airlock-agent/i-0abc"

func startSTS(t *testing.T, keys ...idtest.AWSKey) *idtest.STS {
	t.Helper()
	s, err := idtest.StartSTS(keys...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close STS: %v", err)
		}
	})
	return s
}

// signedRequest builds and signs a GetCallerIdentity request to rawURL.
func signedRequest(t *testing.T, creds aws.Credentials, rawURL, body string, at time.Time, headers map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "sts", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	// The signer read nothing, but make the body re-readable regardless.
	req.Body = io.NopCloser(strings.NewReader(body))
	return req
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestSTSAnswersCorrectlySignedRequest(t *testing.T) {
	key := idtest.NewAWSKey(agentARN)
	s := startSTS(t, key)
	status, body := do(t, signedRequest(t, key.Credentials(), s.URL()+"/", getCallerIdentity, time.Now(), nil))
	if status != 200 {
		t.Fatalf("got status %d (%s), want 200", status, body)
	}
	var got struct {
		Result struct {
			Arn, UserId, Account string
		} `xml:"GetCallerIdentityResult"`
	}
	if err := xml.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Result.Arn != agentARN || got.Result.Account != "123456789012" || got.Result.UserId == "" {
		t.Errorf("got %+v, want Arn %s and Account 123456789012", got.Result, agentARN)
	}
}

func TestSTSAnswersJSONWhenAsked(t *testing.T) {
	key := idtest.NewAWSKey(agentARN)
	s := startSTS(t, key)
	req := signedRequest(t, key.Credentials(), s.URL()+"/", getCallerIdentity, time.Now(), map[string]string{"Accept": "application/json"})
	status, body := do(t, req)
	var got struct {
		GetCallerIdentityResponse struct {
			GetCallerIdentityResult struct{ Arn, Account string }
		}
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || status != 200 {
		t.Fatalf("got %d %s (%v), want 200 JSON", status, body, err)
	}
	if got.GetCallerIdentityResponse.GetCallerIdentityResult.Arn != agentARN {
		t.Errorf("got %s, want %s", body, agentARN)
	}
}

func TestSTSRefuses(t *testing.T) {
	key := idtest.NewAWSKey(agentARN)
	other := idtest.NewAWSKey(agentARN) // unknown to the STS
	wrongSecret := key
	wrongSecret.SecretAccessKey = "not-the-secret"
	noToken := key
	noToken.SessionToken = ""
	s := startSTS(t, key)
	cases := []struct {
		name     string
		req      func() *http.Request
		wantCode string
		status   int
	}{
		{"unknown key", func() *http.Request {
			return signedRequest(t, other.Credentials(), s.URL()+"/", getCallerIdentity, time.Now(), nil)
		}, "InvalidClientTokenId", 403},
		{"wrong secret", func() *http.Request {
			return signedRequest(t, wrongSecret.Credentials(), s.URL()+"/", getCallerIdentity, time.Now(), nil)
		}, "SignatureDoesNotMatch", 403},
		{"missing session token", func() *http.Request {
			return signedRequest(t, noToken.Credentials(), s.URL()+"/", getCallerIdentity, time.Now(), nil)
		}, "InvalidClientTokenId", 403},
		{"expired signature", func() *http.Request {
			return signedRequest(t, key.Credentials(), s.URL()+"/", getCallerIdentity, time.Now().Add(-16*time.Minute), nil)
		}, "SignatureDoesNotMatch", 403},
		{"body changed after signing", func() *http.Request {
			r := signedRequest(t, key.Credentials(), s.URL()+"/", getCallerIdentity, time.Now(), nil)
			r.Body = io.NopCloser(strings.NewReader(getCallerIdentity + "&X=1"))
			r.ContentLength += 4
			return r
		}, "SignatureDoesNotMatch", 403},
		{"signed header changed", func() *http.Request {
			r := signedRequest(t, key.Credentials(), s.URL()+"/", getCallerIdentity, time.Now(), map[string]string{"X-Airlock-Challenge": "abc"})
			r.Header.Set("X-Airlock-Challenge", "abd")
			return r
		}, "SignatureDoesNotMatch", 403},
		{"no signature", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(getCallerIdentity))
			return r
		}, "MissingAuthenticationToken", 403},
		{"other action", func() *http.Request {
			return signedRequest(t, key.Credentials(), s.URL()+"/", "Action=AssumeRole&Version=2011-06-15", time.Now(), nil)
		}, "InvalidAction", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, tc.req())
			if status != tc.status || !strings.Contains(body, "<Code>"+tc.wantCode+"</Code>") {
				t.Errorf("got %d %s, want %d with code %s", status, body, tc.status, tc.wantCode)
			}
		})
	}
}

func TestSTSModes(t *testing.T) {
	key := idtest.NewAWSKey(agentARN)
	s := startSTS(t, key)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cases := []struct {
		mode   idtest.STSMode
		status int
		check  func(h http.Header, body []byte) bool
	}{
		{idtest.STSRedirect, 307, func(h http.Header, _ []byte) bool { return h.Get("Location") != "" }},
		{idtest.STSHTML, 200, func(h http.Header, b []byte) bool { return strings.HasPrefix(h.Get("Content-Type"), "text/html") }},
		{idtest.STSOversized, 200, func(_ http.Header, b []byte) bool { return len(b) > 1<<20 }},
		{idtest.STSEmptyARN, 200, func(_ http.Header, b []byte) bool { return strings.Contains(string(b), "<Arn></Arn>") }},
	}
	for _, tc := range cases {
		s.SetMode(tc.mode)
		resp, err := client.Do(signedRequest(t, key.Credentials(), s.URL()+"/", getCallerIdentity, time.Now(), nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !tc.check(resp.Header, b) {
			t.Errorf("mode %d: got %d %.200s", tc.mode, resp.StatusCode, b)
		}
	}
}

// TestCredentialsThroughTheSDK is the agent's path: the SDK's default chain
// finds the container-credentials endpoint, and what it hands out signs
// requests the STS accepts.
func TestCredentialsThroughTheSDK(t *testing.T) {
	key := idtest.NewAWSKey(agentARN)
	s := startSTS(t, key)
	c, err := idtest.StartCredentials(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	isolateAWSEnv(t)
	for _, kv := range c.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != key.AccessKeyID || creds.SecretAccessKey != key.SecretAccessKey || creds.SessionToken != key.SessionToken {
		t.Fatalf("got %s/%s, want the fixture's key %s", creds.AccessKeyID, creds.Source, key.AccessKeyID)
	}
	if !creds.CanExpire || creds.Expires.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("got expiry %v (can expire %v), want about an hour ahead", creds.Expires, creds.CanExpire)
	}
	if c.Requests() == 0 {
		t.Error("the endpoint saw no request")
	}
	status, body := do(t, signedRequest(t, creds, s.URL()+"/", getCallerIdentity, time.Now(), nil))
	if status != 200 || !strings.Contains(body, agentARN) {
		t.Errorf("got %d %s, want 200 with %s", status, body, agentARN)
	}
}

func TestCredentialsRefusesWrongToken(t *testing.T) {
	c, err := idtest.StartCredentials(idtest.NewAWSKey(agentARN))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, token := range []string{"", "wrong"} {
		req, _ := http.NewRequest(http.MethodGet, c.URL(), nil)
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		if status, body := do(t, req); status != 401 {
			t.Errorf("token %q: got %d %s, want 401", token, status, body)
		}
	}
}

// isolateAWSEnv keeps the developer's AWS configuration out of the test.
func isolateAWSEnv(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestIssuerServesDiscoveryAndVerifiableTokens(t *testing.T) {
	iss, err := idtest.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	iss.Path = "/id/cluster-1"
	if err := iss.Start(); err != nil {
		t.Fatal(err)
	}
	defer iss.Close()

	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, iss.URL()+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != iss.URL() || disc.JWKSURI != iss.URL()+"/keys" {
		t.Fatalf("got discovery %+v, want issuer %s", disc, iss.URL())
	}
	var set jose.JSONWebKeySet
	getJSON(t, disc.JWKSURI, &set)

	for _, alg := range []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"} {
		tok, err := iss.Mint(idtest.Claims{Subject: "system:serviceaccount:ci:agent", Audience: []string{"airlock"}, Alg: alg,
			Extra: map[string]any{"kubernetes.io": map[string]any{"namespace": "ci"}}})
		if err != nil {
			t.Fatal(err)
		}
		obj, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		keys := set.Key(obj.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatalf("%s: kid %q not in the JWKS", alg, obj.Signatures[0].Header.KeyID)
		}
		payload, err := obj.Verify(keys[0].Key)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		var claims map[string]any
		_ = json.Unmarshal(payload, &claims)
		if claims["iss"] != iss.URL() || claims["aud"] != "airlock" || claims["sub"] != "system:serviceaccount:ci:agent" || claims["exp"] == nil {
			t.Errorf("%s: got claims %v", alg, claims)
		}
	}
	if iss.DiscoveryRequests() != 1 || iss.JWKSRequests() != 1 {
		t.Errorf("got %d discovery and %d JWKS requests, want 1 and 1", iss.DiscoveryRequests(), iss.JWKSRequests())
	}
}

func TestIssuerMalformedTokens(t *testing.T) {
	iss, err := idtest.StartIssuer()
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	c := idtest.Claims{Subject: "s", Audience: []string{"a"}}
	for m, check := range map[idtest.Malformation]func(string) bool{
		idtest.AlgNone:       func(tok string) bool { return strings.HasSuffix(tok, ".") && strings.Count(tok, ".") == 2 },
		idtest.HMAC:          func(tok string) bool { return strings.Count(tok, ".") == 2 },
		idtest.UnknownKey:    func(tok string) bool { return strings.Count(tok, ".") == 2 },
		idtest.ForeignKey:    func(tok string) bool { return strings.Count(tok, ".") == 2 },
		idtest.BadSignature:  func(tok string) bool { return strings.Count(tok, ".") == 2 },
		idtest.TwoSignatures: func(tok string) bool { return strings.Count(tok, `"signature"`) == 2 },
		idtest.Flattened:     func(tok string) bool { return strings.HasPrefix(tok, "{") },
	} {
		tok, err := iss.MintMalformed(c, m)
		if err != nil || !check(tok) {
			t.Errorf("malformation %d: got %q, %v", m, tok, err)
		}
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
