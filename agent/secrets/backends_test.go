package secrets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/airlockci/airlock/internal/identity/idtest"
	"github.com/airlockci/airlock/internal/secretref"
	"github.com/airlockci/airlock/internal/wire"
)

func mustRef(t *testing.T, s string) secretref.Ref {
	t.Helper()
	r, err := secretref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// verifySigV4 checks r's SigV4 signature for service with key, as AWS does:
// it re-signs exactly the signed headers and compares.
func verifySigV4(r *http.Request, body []byte, key aws.Credentials, service string) error {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 Credential="
	if !strings.HasPrefix(auth, algo) {
		return errors.New("not SigV4")
	}
	parts := strings.Split(strings.TrimPrefix(auth, algo), ", ")
	if len(parts) != 3 {
		return errors.New("malformed Authorization")
	}
	scope := strings.Split(parts[0], "/")
	if len(scope) != 5 || scope[0] != key.AccessKeyID || scope[3] != service {
		return fmt.Errorf("credential scope %q", parts[0])
	}
	signed := strings.Split(strings.TrimPrefix(parts[1], "SignedHeaders="), ";")
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return err
	}
	if r.Header.Get("X-Amz-Security-Token") != key.SessionToken {
		return errors.New("wrong session token")
	}
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	re := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: http.Header{}}
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			re.ContentLength = r.ContentLength
		default:
			re.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), key, re, hex.EncodeToString(sum[:]), service, scope[2], at); err != nil {
		return err
	}
	if re.Header.Get("Authorization") != auth {
		return errors.New("signature does not match")
	}
	return nil
}

// fakeSecretsManager speaks Secrets Manager's JSON 1.1 protocol for
// GetSecretValue and refuses requests not signed with key.
func fakeSecretsManager(t *testing.T, key aws.Credentials, secrets map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if err := verifySigV4(r, body, key, "secretsmanager"); err != nil {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"__type":"InvalidSignatureException","message":%q}`, err.Error())
			return
		}
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"__type":"UnknownOperationException"}`)
			return
		}
		var in struct{ SecretId string }
		if err := json.Unmarshal(body, &in); err != nil {
			w.WriteHeader(400)
			return
		}
		v, ok := secrets[in.SecretId]
		if !ok {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"__type":"ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:" + in.SecretId + "-AbCdEf",
			"Name": in.SecretId, "SecretString": v, "VersionId": "v1", "CreatedDate": 1.7e9})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAWSSecretsManager(t *testing.T) {
	key := idtest.NewAWSKey("arn:aws:sts::123456789012:assumed-role/agent/i-1").Credentials()
	srv := fakeSecretsManager(t, key, map[string]string{
		"ci/npm":  "npm-secret-value",
		"prod/db": `{"user":"app","password":"db-secret","port":5432}`,
		"arn:aws:secretsmanager:us-west-2:123456789012:secret:x-AbCdEf": "by-arn",
	})
	cfg := aws.Config{Region: "eu-west-1", Credentials: aws.NewCredentialsCache(staticCreds(key))}
	b := &AWS{Config: &cfg, Endpoint: srv.URL}
	for ref, want := range map[string]string{
		"aws-sm://ci/npm":           "npm-secret-value",
		"aws-sm://prod/db#password": "db-secret",
		"aws-sm://prod/db#port":     "5432",
		"aws-sm://arn:aws:secretsmanager:us-west-2:123456789012:secret:x-AbCdEf": "by-arn",
	} {
		got, err := b.Resolve(context.Background(), mustRef(t, ref), Job{})
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", ref, got, err, want)
		}
	}
	for ref, want := range map[string]string{
		"aws-sm://missing":      "not found",
		"aws-sm://prod/db#nope": `key "nope" is not found`,
		"aws-sm://ci/npm#key":   "not a JSON object",
	} {
		_, err := b.Resolve(context.Background(), mustRef(t, ref), Job{})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret-value") {
			t.Errorf("%s: got error %v, want one containing %q and no value", ref, err, want)
		}
	}
	// Signed with another key: the fake refuses it.
	other := idtest.NewAWSKey("arn:aws:sts::123456789012:assumed-role/other/i-2").Credentials()
	cfg2 := aws.Config{Region: "eu-west-1", Credentials: staticCreds(other)}
	_, err := (&AWS{Config: &cfg2, Endpoint: srv.URL}).Resolve(context.Background(), mustRef(t, "aws-sm://ci/npm"), Job{})
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Errorf("wrong key: got %v, want InvalidSignatureException", err)
	}
}

type staticCreds aws.Credentials

func (c staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials(c), nil
}

// fakeVault is Vault's AWS auth login (checking the signed request by
// sending it to STS, as Vault does) and a KV v2 read that checks the token.
type fakeVault struct {
	sts      string
	role     string
	arn      string
	serverID string
	token    string
	logins   int
	data     map[string]map[string]any
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"errors": []string{msg}})
	}
	switch {
	case r.Method == http.MethodPut || r.Method == http.MethodPost && r.URL.Path == "/v1/auth/aws/login":
		if r.URL.Path != "/v1/auth/aws/login" {
			fail(404, "no handler")
			return
		}
		var in map[string]string
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in["role"] != f.role || in["iam_http_request_method"] != "POST" {
			fail(400, "bad login")
			return
		}
		dec := func(k string) []byte { b, _ := base64.StdEncoding.DecodeString(in[k]); return b }
		var headers http.Header
		if err := json.Unmarshal(dec("iam_request_headers"), &headers); err != nil {
			fail(400, "bad headers")
			return
		}
		if f.serverID != "" && (headers.Get("X-Vault-AWS-IAM-Server-ID") != f.serverID ||
			!strings.Contains(strings.ToLower(headers.Get("Authorization")), "x-vault-aws-iam-server-id")) {
			fail(400, "missing or unsigned server ID header")
			return
		}
		req, _ := http.NewRequest("POST", f.sts, bytes.NewReader(dec("iam_request_body")))
		req.Header = headers
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fail(500, err.Error())
			return
		}
		defer resp.Body.Close()
		var out struct {
			GetCallerIdentityResponse struct {
				GetCallerIdentityResult struct{ Arn string }
			}
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
			fail(400, fmt.Sprintf("error making upstream request: received error code %d", resp.StatusCode))
			return
		}
		if out.GetCallerIdentityResponse.GetCallerIdentityResult.Arn != f.arn {
			fail(400, "entry for role not found")
			return
		}
		f.logins++
		json.NewEncoder(w).Encode(map[string]any{"auth": map[string]any{"client_token": f.token, "lease_duration": 3600, "renewable": true}})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/"):
		if r.Header.Get("X-Vault-Token") != f.token {
			fail(403, "permission denied")
			return
		}
		d, ok := f.data[r.URL.Path]
		if !ok {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"errors":[]}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"data": d, "metadata": map[string]any{"version": 3}}})
	default:
		fail(405, "unsupported")
	}
}

func TestVault(t *testing.T) {
	const arn = "arn:aws:sts::123456789012:assumed-role/airlock-agent/i-1"
	key := idtest.NewAWSKey(arn)
	sts, err := idtest.StartSTS(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sts.Close() })
	fv := &fakeVault{sts: sts.URL(), role: "ci", arn: arn, serverID: "vault.example.com", token: "hvs.test-token",
		data: map[string]map[string]any{"/v1/secret/data/ci/npm": {"token": "npm-vault-value", "n": 3}}}
	srv := httptest.NewServer(fv)
	t.Cleanup(srv.Close)
	v := &Vault{Address: srv.URL, Role: "ci", ServerID: "vault.example.com", STSEndpoint: sts.URL(), Credentials: staticCreds(key.Credentials())}
	for i := 0; i < 2; i++ {
		got, err := v.Resolve(context.Background(), mustRef(t, "vault://secret/ci/npm#token"), Job{})
		if err != nil || got != "npm-vault-value" {
			t.Fatalf("got %q, %v; want the value", got, err)
		}
	}
	if got, err := v.Resolve(context.Background(), mustRef(t, "vault://secret/ci/npm#n"), Job{}); err != nil || got != "3" {
		t.Errorf("number: got %q, %v", got, err)
	}
	if fv.logins != 1 {
		t.Errorf("got %d logins, want 1 (the token is cached)", fv.logins)
	}
	for ref, want := range map[string]string{"vault://secret/ci/npm#nope": `key "nope" is not found`, "vault://secret/ci/other#token": "not found"} {
		if _, err := v.Resolve(context.Background(), mustRef(t, ref), Job{}); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "npm-vault-value") {
			t.Errorf("%s: got %v, want %q", ref, err, want)
		}
	}
	// A revoked token: one fresh login, then the read succeeds.
	fv.token = "hvs.rotated"
	if got, err := v.Resolve(context.Background(), mustRef(t, "vault://secret/ci/npm#token"), Job{}); err != nil || got != "npm-vault-value" || fv.logins != 2 {
		t.Errorf("after revocation: got %q, %v, %d logins", got, err, fv.logins)
	}
	// Credentials STS does not know: the login fails, naming the role.
	bad := &Vault{Address: srv.URL, Role: "ci", ServerID: "vault.example.com", STSEndpoint: sts.URL(),
		Credentials: staticCreds(idtest.NewAWSKey(arn).Credentials())}
	if _, err := bad.Resolve(context.Background(), mustRef(t, "vault://secret/ci/npm#token"), Job{}); err == nil || !strings.Contains(err.Error(), "vault login (aws auth, role ci)") {
		t.Errorf("unknown key: got %v", err)
	}
	// Without the server ID header Vault refuses the login.
	noID := &Vault{Address: srv.URL, Role: "ci", STSEndpoint: sts.URL(), Credentials: staticCreds(key.Credentials())}
	if _, err := noID.Resolve(context.Background(), mustRef(t, "vault://secret/ci/npm#token"), Job{}); err == nil || !strings.Contains(err.Error(), "server ID") {
		t.Errorf("no server ID: got %v", err)
	}
}

func TestAzureKeyVault(t *testing.T) {
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Header.Get("Metadata") != "true" || q.Get("resource") != "https://vault.azure.net" || q.Get("client_id") != "cid" || r.URL.Path != "/metadata/identity/oauth2/token" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"invalid_request","error_description":"bad request"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"azure-token","expires_in":"3599","token_type":"Bearer"}`)
	}))
	t.Cleanup(imds.Close)
	kv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer azure-token" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}`)
			return
		}
		if r.URL.Query().Get("api-version") != "7.4" {
			w.WriteHeader(400)
			return
		}
		switch r.URL.Path {
		case "/secrets/npm-token", "/secrets/npm-token/0123456789abcdef0123456789abcdef":
			fmt.Fprint(w, `{"value":"azure-secret-value","id":"https://ci-vault.vault.azure.net/secrets/npm-token/0123"}`)
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":"SecretNotFound","message":"A secret with (name/id) x was not found in this key vault."}}`)
		}
	}))
	t.Cleanup(kv.Close)
	var asked string
	a := &Azure{IMDS: imds.URL, ClientID: "cid", VaultURL: func(v string) string { asked = v; return kv.URL }}
	for _, ref := range []string{"azure-kv://ci-vault/npm-token", "azure-kv://ci-vault/npm-token/0123456789abcdef0123456789abcdef"} {
		if got, err := a.Resolve(context.Background(), mustRef(t, ref), Job{}); err != nil || got != "azure-secret-value" || asked != "ci-vault" {
			t.Errorf("%s: got %q, %v (vault %q)", ref, got, err, asked)
		}
	}
	if _, err := a.Resolve(context.Background(), mustRef(t, "azure-kv://ci-vault/other"), Job{}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "SecretNotFound") {
		t.Errorf("missing: got %v", err)
	}
	wrong := &Azure{IMDS: imds.URL, ClientID: "other", VaultURL: func(string) string { return kv.URL }}
	if _, err := wrong.Resolve(context.Background(), mustRef(t, "azure-kv://ci-vault/npm-token"), Job{}); err == nil || !strings.Contains(err.Error(), "managed identity token") {
		t.Errorf("bad identity: got %v", err)
	}
}

func TestGCPSecretManager(t *testing.T) {
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" || r.URL.Path != "/computeMetadata/v1/instance/service-accounts/default/token" {
			w.WriteHeader(403)
			return
		}
		fmt.Fprint(w, `{"access_token":"gcp-token","expires_in":3599,"token_type":"Bearer"}`)
	}))
	t.Cleanup(meta.Close)
	payload := []byte("gcp-secret-value")
	crc := crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli))
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gcp-token" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`)
			return
		}
		switch r.URL.Path {
		case "/v1/projects/my-project/secrets/npm/versions/latest:access":
			fmt.Fprintf(w, `{"name":"projects/1/secrets/npm/versions/4","payload":{"data":%q,"dataCrc32c":"%d"}}`, base64.StdEncoding.EncodeToString(payload), crc)
		case "/v1/projects/my-project/secrets/corrupt/versions/1:access":
			fmt.Fprintf(w, `{"payload":{"data":%q,"dataCrc32c":"%d"}}`, base64.StdEncoding.EncodeToString(payload), crc+1)
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":404,"message":"Secret [projects/1/secrets/x] not found or has no versions.","status":"NOT_FOUND"}}`)
		}
	}))
	t.Cleanup(api.Close)
	g := &GCP{Metadata: meta.URL, API: api.URL}
	if got, err := g.Resolve(context.Background(), mustRef(t, "gcp-sm://projects/my-project/secrets/npm/versions/latest"), Job{}); err != nil || got != string(payload) {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := g.Resolve(context.Background(), mustRef(t, "gcp-sm://projects/my-project/secrets/corrupt/versions/1"), Job{}); err == nil || !strings.Contains(err.Error(), "CRC32C") {
		t.Errorf("corrupt: got %v", err)
	}
	if _, err := g.Resolve(context.Background(), mustRef(t, "gcp-sm://projects/my-project/secrets/x/versions/1"), Job{}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "NOT_FOUND") {
		t.Errorf("missing: got %v", err)
	}
	noMeta := &GCP{Metadata: api.URL, API: api.URL}
	if _, err := noMeta.Resolve(context.Background(), mustRef(t, "gcp-sm://projects/my-project/secrets/npm/versions/latest"), Job{}); err == nil || !strings.Contains(err.Error(), "metadata server token") || strings.Contains(err.Error(), "gcp-token") {
		t.Errorf("no metadata server: got %v", err)
	}
}

// ageFile encrypts content to a fresh X25519 identity into ws/path.
func ageFile(t *testing.T, ws, path, content string) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, content)
	w.Close()
	full := filepath.Join(ws, path)
	os.MkdirAll(filepath.Dir(full), 0o755)
	if err := os.WriteFile(full, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestAge(t *testing.T) {
	ws := t.TempDir()
	id := ageFile(t, ws, ".airlock/secrets.age", "# dev secrets\nNPM_TOKEN=age-npm=value\n\nEMPTY=\n")
	jsonID := ageFile(t, ws, "j.age", `{"CERT":"line1\nline2"}`)
	// The identity file as age-keygen writes it.
	idFile := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(idFile, []byte("# created: now\n"+id.String()+"\n"+jsonID.String()+"\n"), 0o600)
	ids, err := LoadAgeIdentities(idFile)
	if err != nil {
		t.Fatal(err)
	}
	a := &Age{Identities: ids}
	job := Job{Workspace: ws}
	for ref, want := range map[string]string{"age://.airlock/secrets.age#NPM_TOKEN": "age-npm=value", "age://.airlock/secrets.age#EMPTY": "", "age://j.age#CERT": "line1\nline2"} {
		if got, err := a.Resolve(context.Background(), mustRef(t, ref), job); err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", ref, got, err, want)
		}
	}
	other, _ := age.GenerateX25519Identity()
	ageFile(t, ws, "bad.age", "NOT A LINE\n")
	os.Symlink(filepath.Join(t.TempDir()), filepath.Join(ws, "out"))
	for _, tt := range []struct {
		a    *Age
		ref  string
		want string
	}{
		{a, "age://.airlock/secrets.age#OTHER", "key OTHER is not found"},
		{a, "age://missing.age#K", "not found in the repository"},
		{a, "age://out/x.age#K", "reading out/x.age"},
		{&Age{Identities: []age.Identity{other}}, "age://.airlock/secrets.age#NPM_TOKEN", "decrypting .airlock/secrets.age with the agent's age identity"},
		{&Age{}, "age://.airlock/secrets.age#NPM_TOKEN", "--age-identity"},
	} {
		_, err := tt.a.Resolve(context.Background(), mustRef(t, tt.ref), job)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "age-npm") {
			t.Errorf("%s: got %v, want %q", tt.ref, err, tt.want)
		}
	}
	a2 := &Age{Identities: []age.Identity{ids[0], ids[1], mustIdentityFor(t, ws)}}
	if _, err := a2.Resolve(context.Background(), mustRef(t, "age://bad.age#K"), job); err == nil || !strings.Contains(err.Error(), "line 1 is not KEY=value") || strings.Contains(err.Error(), "NOT A LINE") {
		t.Errorf("bad content: got %v", err)
	}
}

// mustIdentityFor re-encrypts bad.age to a new identity and returns it.
func mustIdentityFor(t *testing.T, ws string) age.Identity {
	return ageFile(t, ws, "bad.age", "NOT A LINE\n")
}

func TestResolver(t *testing.T) {
	env := map[string]string{"A": "a-value"}
	r := &Resolver{Backends: map[secretref.Scheme]Backend{
		secretref.Env: &Env{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
		secretref.Age: blockingBackend{},
	}, Timeout: 50 * time.Millisecond}
	got, err := r.Resolve(context.Background(), []wire.SecretRef{{Env: "X", Ref: "env://A"}, {Env: "Y", Ref: "env://A"}}, "")
	if err != nil || len(got) != 2 || got[0] != (Secret{"X", "env://A", "a-value"}) || got[1].Value != "a-value" {
		t.Errorf("got %+v, %v", got, err)
	}
	for _, tt := range []struct {
		refs []wire.SecretRef
		want string
	}{
		{[]wire.SecretRef{{Env: "X", Ref: "env://A"}, {Env: "Y", Ref: "env://B"}}, "secret Y (env://B): B is not set (not found) in the agent's environment"},
		{[]wire.SecretRef{{Env: "X", Ref: "vault://secret/a#b"}}, "secret X (vault://secret/a#b): this agent has no backend for this kind of secret (vault://)"},
		{[]wire.SecretRef{{Env: "X", Ref: "nope"}}, `secret X (nope): secret reference "nope": has no scheme`},
		{[]wire.SecretRef{{Env: "1X", Ref: "env://A"}}, "invalid environment variable name"},
		{[]wire.SecretRef{{Env: "X", Ref: "age://f#K"}}, "secret X (age://f#K): timed out after 50ms"},
	} {
		got, err := r.Resolve(context.Background(), tt.refs, "")
		var e *Error
		if got != nil || !errors.As(err, &e) || err.Error() != tt.want && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %+v, %v; want an *Error %q", got, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "a-value") {
			t.Errorf("error %v holds a value", err)
		}
	}
	var nilR *Resolver
	if _, err := nilR.Resolve(context.Background(), []wire.SecretRef{{Env: "X", Ref: "env://A"}}, ""); !errors.Is(err, ErrNoBackend) {
		t.Errorf("nil resolver: got %v", err)
	}
	if got, err := nilR.Resolve(context.Background(), nil, ""); got != nil || err != nil {
		t.Errorf("nil resolver, no refs: got %v, %v", got, err)
	}
}

type blockingBackend struct{}

func (blockingBackend) Resolve(ctx context.Context, _ secretref.Ref, _ Job) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}
