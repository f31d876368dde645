package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeJWT is a compact JWS with the given claims and a dummy signature: the
// agent never verifies tokens, the control plane does.
func fakeJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"}) + "." + enc(claims) + ".c2lnbmF0dXJlLW5vdC1jaGVja2VkLWhlcmU"
}

// fakeEndpoint serves one canned answer after checking the request with
// check; a check failure answers 400 so the prover's error shows it too.
func fakeEndpoint(t *testing.T, check func(*http.Request) error, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := check(r); err != nil {
			t.Errorf("fake endpoint: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func checkRequest(path string, headers map[string]string, query map[string]string) func(*http.Request) error {
	return func(r *http.Request) error {
		if r.Method != http.MethodGet || r.URL.Path != path {
			return errors.New("got " + r.Method + " " + r.URL.Path + ", want GET " + path)
		}
		for k, want := range headers {
			if got := r.Header.Get(k); got != want {
				return errors.New("header " + k + ": got " + got + ", want " + want)
			}
		}
		q := r.URL.Query()
		for k, want := range query {
			if got := q.Get(k); got != want {
				return errors.New("query " + k + ": got " + got + ", want " + want)
			}
		}
		if len(q) != len(query) {
			return errors.New("query " + r.URL.RawQuery + " has unexpected parameters")
		}
		return nil
	}
}

const audience = "https://airlock.example.com/agents"

func TestOIDCProviders(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	token := fakeJWT(t, map[string]any{"iss": "https://issuer.example", "aud": audience, "sub": "agent", "exp": exp})
	const ghRequestToken = "gh-request-token-secret"

	gcp := func(url string) Prover { return &GCP{Audience: audience, MetadataURL: url} }
	gcpCheck := checkRequest("/computeMetadata/v1/instance/service-accounts/default/identity",
		map[string]string{"Metadata-Flavor": "Google"}, map[string]string{"audience": audience, "format": "full"})
	azure := func(url string) Prover { return &Azure{Resource: audience, MetadataURL: url + "/"} }
	azureCheck := checkRequest("/metadata/identity/oauth2/token",
		map[string]string{"Metadata": "true"}, map[string]string{"api-version": "2018-02-01", "resource": audience})
	azureUser := func(url string) Prover { return &Azure{Resource: audience, ClientID: "client-1", MetadataURL: url} }
	azureUserCheck := checkRequest("/metadata/identity/oauth2/token", map[string]string{"Metadata": "true"},
		map[string]string{"api-version": "2018-02-01", "resource": audience, "client_id": "client-1"})
	github := func(url string) Prover {
		t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", url+"/_apis/token?api-version=2.0")
		t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", ghRequestToken)
		p, err := New(KindGitHub, Options{Audience: audience})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	githubCheck := checkRequest("/_apis/token", map[string]string{"Authorization": "bearer " + ghRequestToken},
		map[string]string{"api-version": "2.0", "audience": audience})
	jsonBody := func(field, v string) string {
		b, _ := json.Marshal(map[string]any{field: v, "expires_in": "3599"})
		return string(b)
	}
	oversized := strings.Repeat("a", maxResponse+1)

	tests := []struct {
		name     string
		prover   func(url string) Prover
		check    func(*http.Request) error
		status   int
		body     string
		provider string
		wantErr  string // empty: success
	}{
		{"gcp", gcp, gcpCheck, 200, token + "\n", "gcp", ""},
		{"gcp 500", gcp, gcpCheck, 500, "internal error " + token, "", `identity gcp: metadata server http://127.0.0.1:`},
		{"gcp oversized", gcp, gcpCheck, 200, oversized, "", "answer larger than 65536 bytes"},
		{"gcp not a jwt", gcp, gcpCheck, 200, "<html>captive portal</html>", "", "token: not a JWT"},
		{"gcp no exp", gcp, gcpCheck, 200, fakeJWT(t, map[string]any{"aud": audience}), "", "token: no exp claim"},

		{"azure", azure, azureCheck, 200, jsonBody("access_token", token), "azure", ""},
		{"azure user-assigned", azureUser, azureUserCheck, 200, jsonBody("access_token", token), "azure", ""},
		{"azure 400", azure, azureCheck, 400, `{"error":"invalid_request","error_description":"Identity not found"}`, "", `400 Bad Request: "{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}"`},
		{"azure malformed json", azure, azureCheck, 200, `{"access_token":"` + token, "", "answer is not a JSON object"},
		{"azure missing field", azure, azureCheck, 200, jsonBody("token", token), "", `answer has no "access_token" field`},
		{"azure oversized", azure, azureCheck, 200, oversized, "", "answer larger than"},

		{"github", github, githubCheck, 200, jsonBody("value", token), "github", ""},
		{"github 500", github, githubCheck, 500, "", "", "identity github: ACTIONS_ID_TOKEN_REQUEST_URL (http://127.0.0.1:"},
		{"github malformed json", github, githubCheck, 200, "value=" + token, "", "answer is not a JSON object"},
		{"github empty value", github, githubCheck, 200, jsonBody("value", ""), "", `answer's "value" is empty`},
		{"github oversized", github, githubCheck, 200, oversized, "", "answer larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := fakeEndpoint(t, tt.check, tt.status, tt.body)
			proof, err := tt.prover(url).Prove(context.Background(), "the-challenge")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				if msg := err.Error(); strings.Contains(msg, token) || strings.Contains(msg, ghRequestToken) {
					t.Errorf("error %q contains a token", msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if proof.Kind != "oidc" || proof.Challenge != "the-challenge" || proof.AWS != nil || proof.OIDC == nil {
				t.Fatalf("got proof %+v, want kind oidc with the challenge and a token", proof)
			}
			if proof.OIDC.Provider != tt.provider || proof.OIDC.Token != token || proof.ExpiresUnix != exp {
				t.Errorf("got provider %q, token ok %v, expires %d; want %q, true, %d",
					proof.OIDC.Provider, proof.OIDC.Token == token, proof.ExpiresUnix, tt.provider, exp)
			}
		})
	}
}

func TestOIDCRedactsTokensInErrorBodies(t *testing.T) {
	token := fakeJWT(t, map[string]any{"exp": 1})
	url := fakeEndpoint(t, func(*http.Request) error { return nil }, http.StatusBadGateway, "upstream said: "+token)
	_, err := (&GCP{Audience: audience, MetadataURL: url}).Prove(context.Background(), "c")
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("got %v, want the token redacted", err)
	}
}

func TestOIDCUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	for _, p := range []Prover{&GCP{Audience: audience, MetadataURL: url}, &Azure{Resource: audience, MetadataURL: url}} {
		_, err := p.Prove(context.Background(), "c")
		if err == nil || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%T: got %v, want an error naming %s and the refused connection", p, err, url)
		}
	}
}

func TestOIDCContextCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := (&GCP{Audience: audience, MetadataURL: srv.URL}).Prove(ctx, "c")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestKubernetesReadsRotatedToken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	k := &Kubernetes{TokenFile: path}
	// The kubelet swaps the file atomically; do the same.
	write := func(content string) {
		tmp := filepath.Join(dir, "token.tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	for i, exp := range []int64{time.Now().Add(time.Hour).Unix(), time.Now().Add(2 * time.Hour).Unix()} {
		token := fakeJWT(t, map[string]any{"aud": audience, "exp": exp, "n": i})
		write(token + "\n")
		proof, err := k.Prove(context.Background(), "c")
		if err != nil {
			t.Fatal(err)
		}
		if proof.OIDC.Provider != "kubernetes" || proof.OIDC.Token != token || proof.ExpiresUnix != exp {
			t.Errorf("read %d: got provider %q, token current %v, expires %d; want kubernetes, true, %d",
				i, proof.OIDC.Provider, proof.OIDC.Token == token, proof.ExpiresUnix, exp)
		}
	}
}

func TestKubernetesErrors(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secretish := "not-a-jwt-but-secret"
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "absent"), "no such file or directory (is a projected service-account token mounted there?)"},
		{"oversized", file("big", strings.Repeat("x", maxResponse+1)), "larger than 65536 bytes"},
		{"not a jwt", file("plain", secretish), "token: not a JWT: 1 dot-separated parts, want 3"},
		{"bad payload", file("badpayload", "a.!!!.c"), "token: not a JWT: payload is not base64url"},
		{"payload not json", file("notjson", "a."+base64.RawURLEncoding.EncodeToString([]byte("[1"))+".c"), "payload is not a JSON object"},
		{"exp not a number", file("badexp", fakeJWT(t, map[string]any{"exp": "soon"})), "exp claim is not a positive number"},
		{"empty", file("empty", ""), "not a JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&Kubernetes{TokenFile: tt.path}).Prove(context.Background(), "c")
			want := "identity kubernetes: token file " + tt.path + ": "
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q…%q", err, want, tt.want)
			}
			if strings.Contains(err.Error(), secretish) {
				t.Errorf("error %q contains the file's content", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "")
	tests := []struct {
		kind    string
		opts    Options
		want    string // the Prover's type, or an error substring
		wantErr bool
	}{
		{"gcp", Options{Audience: audience}, "*identity.GCP", false},
		{"azure", Options{Audience: audience}, "*identity.Azure", false},
		{"kubernetes", Options{}, "*identity.Kubernetes", false},
		{"gcp", Options{}, "identity gcp: an audience is required", true},
		{"azure", Options{Audience: " "}, "identity azure: an audience is required", true},
		{"github", Options{}, "identity github: an audience is required", true},
		{"github", Options{Audience: audience}, "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN not set", true},
		{"gce", Options{}, `unknown identity kind "gce"; want one of aws, gcp, azure, kubernetes, github`, true},
		{"", Options{}, "unknown identity kind: none given", true},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.want, func(t *testing.T) {
			p, err := New(tt.kind, tt.opts)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, want an error containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := typeName(p); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := New("nope", Options{}); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("got %v, want ErrUnknownKind", err)
	}
}

func TestFromFlags(t *testing.T) {
	clearAWSEnv(t)
	t.Setenv("AIRLOCK_IDENTITY", "")
	t.Setenv("AIRLOCK_IDENTITY_AUDIENCE", "")
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	build := FromFlags(fs)
	if err := fs.Parse([]string{"--identity", "aws", "--identity-region", "eu-north-1"}); err != nil {
		t.Fatal(err)
	}
	p, err := build()
	if err != nil {
		t.Fatal(err)
	}
	a, ok := p.(*AWS)
	if !ok || a.Region != "eu-north-1" {
		t.Fatalf("got %#v, want *AWS in eu-north-1", p)
	}
	if endpoint, region, _ := a.endpoint(); endpoint != "https://sts.eu-north-1.amazonaws.com/" || region != "eu-north-1" {
		t.Errorf("got endpoint %s region %s, want the eu-north-1 regional endpoint", endpoint, region)
	}

	t.Setenv("AIRLOCK_IDENTITY", "kubernetes")
	fs = flag.NewFlagSet("agent", flag.ContinueOnError)
	build = FromFlags(fs)
	if err := fs.Parse([]string{"--identity-token-file", "/tmp/tok"}); err != nil {
		t.Fatal(err)
	}
	if p, err := build(); err != nil || p.(*Kubernetes).TokenFile != "/tmp/tok" {
		t.Errorf("got %#v, %v; want Kubernetes reading /tmp/tok (kind from $AIRLOCK_IDENTITY)", p, err)
	}

	t.Setenv("AIRLOCK_IDENTITY", "")
	fs = flag.NewFlagSet("agent", flag.ContinueOnError)
	build = FromFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := build(); err == nil || err.Error() != "--identity is required: one of aws, gcp, azure, kubernetes, github" {
		t.Errorf("no --identity: got %v, want the flag named with every kind", err)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *GCP:
		return "*identity.GCP"
	case *Azure:
		return "*identity.Azure"
	case *Kubernetes:
		return "*identity.Kubernetes"
	case *GitHub:
		return "*identity.GitHub"
	case *AWS:
		return "*identity.AWS"
	}
	return "?"
}
