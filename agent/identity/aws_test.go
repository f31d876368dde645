package identity

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/airlockci/airlock/internal/identity"
)

// credsEndpoint is a local ECS/EKS-style container-credentials endpoint.
type credsEndpoint struct {
	t     *testing.T
	token string // expected Authorization header

	mu      sync.Mutex
	creds   aws.Credentials
	fetches int
	refuse  bool // answer 403 without failing the test
}

func (e *credsEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.refuse {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if got := r.Header.Get("Authorization"); got != e.token {
		e.t.Errorf("credentials endpoint: Authorization %q, want %q", got, e.token)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	e.fetches++
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"AccessKeyId":     e.creds.AccessKeyID,
		"SecretAccessKey": e.creds.SecretAccessKey,
		"Token":           e.creds.SessionToken,
		"Expiration":      e.creds.Expires.UTC().Format(time.RFC3339),
	})
}

func (e *credsEndpoint) set(c aws.Credentials) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.creds = c
}

func (e *credsEndpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fetches
}

// isolateAWS clears every AWS setting the test machine might have and points
// the SDK's container-credentials provider at a local endpoint.
func isolateAWS(t *testing.T, c aws.Credentials) *credsEndpoint {
	t.Helper()
	clearAWSEnv(t)
	e := &credsEndpoint{t: t, token: "container-auth-token", creds: c}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", e.token)
	return e
}

// clearAWSEnv leaves the SDK's default chain nothing but what the test sets.
func clearAWSEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_STS"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
}

// resign rebuilds the request the way the control plane does and signs it
// again with the same key pair and time; the Authorization must match.
func resign(t *testing.T, sr *identity.SignedRequest, creds aws.Credentials, region string) string {
	t.Helper()
	req, err := http.NewRequest(sr.Method, sr.URL, strings.NewReader(sr.Body))
	if err != nil {
		t.Fatal(err)
	}
	var date time.Time
	for k, v := range sr.Headers {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "Content-Length":
		case "Host":
			req.Host = v[0]
		case "X-Amz-Date":
			if date, err = time.Parse("20060102T150405Z", v[0]); err != nil {
				t.Fatalf("X-Amz-Date %q: %v", v[0], err)
			}
		default:
			req.Header[k] = v
		}
	}
	if date.IsZero() {
		t.Fatal("no X-Amz-Date header")
	}
	const bodyHash = "ab821ae955788b0e33ebd34c208442ccfc2d406e2edc5e7a39bd6458fbb4f843" // sha256 of STSBody
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, bodyHash, "sts", region, date); err != nil {
		t.Fatal(err)
	}
	return req.Header.Get("Authorization")
}

func TestAWSProveWithContainerCredentials(t *testing.T) {
	expiration := time.Now().Add(time.Hour).Truncate(time.Second)
	creds := aws.Credentials{AccessKeyID: "ASIAEXAMPLEKEY000001", SecretAccessKey: "secret/key+one",
		SessionToken: "session-token-one", Expires: expiration, CanExpire: true}

	tests := []struct {
		name       string
		region     string
		endpoint   string
		wantURL    string
		wantRegion string
		wantHost   string
	}{
		{"regional default", "eu-west-1", "", "https://sts.eu-west-1.amazonaws.com/", "eu-west-1", "sts.eu-west-1.amazonaws.com"},
		{"global without region", "", "", "https://sts.amazonaws.com/", "us-east-1", "sts.amazonaws.com"},
		{"global endpoint signs for us-east-1", "eu-west-1", "https://sts.amazonaws.com", "https://sts.amazonaws.com/", "us-east-1", "sts.amazonaws.com"},
		{"china region", "cn-north-1", "", "https://sts.cn-north-1.amazonaws.com.cn/", "cn-north-1", "sts.cn-north-1.amazonaws.com.cn"},
		{"local endpoint signs for the region", "ap-south-2", "http://127.0.0.1:8443/", "http://127.0.0.1:8443/", "ap-south-2", "127.0.0.1:8443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWS(t, creds)
			p, err := NewAWS(context.Background(), tt.region, tt.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			const challenge = "ch4llenge-AbC_123"
			proof, err := p.Prove(context.Background(), challenge)
			if err != nil {
				t.Fatal(err)
			}
			if proof.Kind != "aws" || proof.Challenge != challenge || proof.OIDC != nil || proof.AWS == nil {
				t.Fatalf("got proof %+v, want kind aws with the challenge and a signed request", proof)
			}
			sr := proof.AWS
			if sr.Method != "POST" || sr.URL != tt.wantURL || sr.Body != "Action=GetCallerIdentity&Version=2011-06-15" {
				t.Errorf("got %s %s %q, want POST %s and the exact GetCallerIdentity body", sr.Method, sr.URL, sr.Body, tt.wantURL)
			}
			h := http.Header(sr.Headers)
			for k, want := range map[string]string{
				"Host":                 tt.wantHost,
				"Content-Type":         "application/x-www-form-urlencoded; charset=utf-8",
				"Content-Length":       "43",
				"X-Airlock-Challenge":  challenge,
				"X-Amz-Security-Token": "session-token-one",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			auth := h.Get("Authorization")
			wantPrefix := "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEY000001/" + h.Get("X-Amz-Date")[:8] + "/" + tt.wantRegion + "/sts/aws4_request, " +
				"SignedHeaders=content-length;content-type;host;x-airlock-challenge;x-amz-date;x-amz-security-token, Signature="
			if !strings.HasPrefix(auth, wantPrefix) {
				t.Errorf("Authorization: got %q, want prefix %q", auth, wantPrefix)
			}
			if got := resign(t, sr, creds, tt.wantRegion); got != auth {
				t.Errorf("re-signed Authorization: got %q, want the proof's %q", got, auth)
			}
			// The SDK's cache of container credentials reports them as
			// expiring 5 minutes early (its expiry window), so the proof
			// never claims longer than the cache will hand them out.
			if want := expiration.Add(-5 * time.Minute).Unix(); proof.ExpiresUnix != want {
				t.Errorf("ExpiresUnix: got %d, want %d (the credentials' Expiration less the cache's 5-minute window)", proof.ExpiresUnix, want)
			}
			if len(sr.Headers) != 7 {
				t.Errorf("got headers %v, want exactly the 7 signed ones and Authorization", sr.Headers)
			}
			b, _ := json.Marshal(proof)
			if strings.Contains(string(b), creds.SecretAccessKey) {
				t.Errorf("proof contains the secret access key")
			}
		})
	}
}

func TestAWSExpiresMatchesCredentials(t *testing.T) {
	expires := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	p := &AWS{Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET", SessionToken: "TOKEN", CanExpire: true, Expires: expires}, nil
	}), Region: "us-west-2"}
	proof, err := p.Prove(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if proof.ExpiresUnix != expires.Unix() {
		t.Errorf("ExpiresUnix: got %d, want %d", proof.ExpiresUnix, expires.Unix())
	}

	static := &AWS{Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"}, nil
	})}
	proof, err = static.Prove(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if proof.ExpiresUnix != 0 || proof.AWS.Headers["X-Amz-Security-Token"] != nil {
		t.Errorf("static credentials: got expires %d and token header %v, want neither", proof.ExpiresUnix, proof.AWS.Headers["X-Amz-Security-Token"])
	}
}

// TestAWSReproveUsesRenewedCredentials: the SDK cache serves the same
// credentials until shortly before they expire; a re-proof close to expiry
// must fetch renewed ones.
func TestAWSReproveUsesRenewedCredentials(t *testing.T) {
	first := aws.Credentials{AccessKeyID: "ASIAFIRST", SecretAccessKey: "s1", SessionToken: "t1",
		Expires: time.Now().Add(time.Hour).Truncate(time.Second)}
	e := isolateAWS(t, first)
	p, err := NewAWS(context.Background(), "eu-central-1", "")
	if err != nil {
		t.Fatal(err)
	}
	keyOf := func(proof *identity.Proof) string {
		cred := strings.TrimPrefix(proof.AWS.Headers["Authorization"][0], "AWS4-HMAC-SHA256 Credential=")
		key, _, _ := strings.Cut(cred, "/")
		return key
	}
	proof1, err := p.Prove(context.Background(), "one")
	if err != nil {
		t.Fatal(err)
	}
	second := aws.Credentials{AccessKeyID: "ASIASECOND", SecretAccessKey: "s2", SessionToken: "t2",
		Expires: time.Now().Add(2 * time.Hour).Truncate(time.Second)}
	e.set(second)

	proof2, err := p.Prove(context.Background(), "two")
	if err != nil {
		t.Fatal(err)
	}
	if got := keyOf(proof2); got != "ASIAFIRST" || e.count() != 1 {
		t.Errorf("re-proof far from expiry: got key %s after %d fetches, want the cached ASIAFIRST after 1", got, e.count())
	}

	// Shortly before the first proof expires.
	p.Now = func() time.Time { return time.Unix(proof1.ExpiresUnix, 0).Add(-2 * time.Minute) }
	proof3, err := p.Prove(context.Background(), "three")
	if err != nil {
		t.Fatal(err)
	}
	if got := keyOf(proof3); got != "ASIASECOND" {
		t.Errorf("re-proof near expiry: got key %s, want the renewed ASIASECOND", got)
	}
	if proof3.ExpiresUnix <= proof1.ExpiresUnix {
		t.Errorf("re-proof near expiry: ExpiresUnix %d, want after the first proof's %d", proof3.ExpiresUnix, proof1.ExpiresUnix)
	}
	if got := proof3.AWS.Headers["X-Amz-Security-Token"]; len(got) != 1 || got[0] != "t2" {
		t.Errorf("re-proof near expiry: security token %v, want t2", got)
	}
}

func TestAWSErrors(t *testing.T) {
	ok := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"}, nil
	})
	tests := []struct {
		name      string
		p         *AWS
		challenge string
		want      string
	}{
		{"empty challenge", &AWS{Credentials: ok}, "", "empty challenge"},
		{"challenge with newline", &AWS{Credentials: ok}, "a\r\nX-Evil: 1", "printable ASCII"},
		{"challenge with space", &AWS{Credentials: ok}, "a b", "printable ASCII"},
		{"endpoint with query", &AWS{Credentials: ok, Endpoint: "https://sts.amazonaws.com/?Action=AssumeRole"}, "c", "no query"},
		{"endpoint not http", &AWS{Credentials: ok, Endpoint: "ftp://sts.amazonaws.com/"}, "c", "http(s) URL"},
		{"no provider", &AWS{}, "c", "no credentials provider"},
		{"no keys", &AWS{Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{Source: "test"}, nil
		})}, "c", "no key pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.Prove(context.Background(), tt.challenge)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "identity aws: ") {
				t.Errorf("got error %v, want one starting %q containing %q", err, "identity aws: ", tt.want)
			}
		})
	}
}

func TestAWSCredentialEndpointDown(t *testing.T) {
	e := isolateAWS(t, aws.Credentials{})
	e.mu.Lock()
	e.refuse = true
	e.mu.Unlock()
	p, err := NewAWS(context.Background(), "us-east-1", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Prove(context.Background(), "c")
	if err == nil || !strings.Contains(err.Error(), "identity aws: retrieving credentials") {
		t.Errorf("got %v, want an error retrieving credentials", err)
	}
}
