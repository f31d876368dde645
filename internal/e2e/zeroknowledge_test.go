//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/airlockci/airlock/agent"
	"github.com/airlockci/airlock/agent/secrets"
	"github.com/airlockci/airlock/edge/scheduler"
)

// recorder keeps every byte an agent sends the control plane.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) add(b []byte) {
	r.mu.Lock()
	r.buf.Write(b)
	r.buf.WriteByte(0)
	r.mu.Unlock()
}

type recordingDialer struct {
	inner agent.Dialer
	rec   *recorder
}

func (d *recordingDialer) Dial(ctx context.Context) (agent.Conn, error) {
	c, err := d.inner.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, rec: d.rec}, nil
}

type recordingConn struct {
	agent.Conn
	rec *recorder
}

func (c *recordingConn) Write(frame []byte) error {
	c.rec.add(frame)
	return c.Conn.Write(frame)
}

// encodings are the forms of a secret a leak could take.
func encodings(secret string) map[string]string {
	out := map[string]string{"raw": secret}
	for _, v := range []struct {
		name string
		in   string
	}{{"", secret}, {"+newline ", secret + "\n"}} {
		out["base64 "+v.name+"std"] = base64.StdEncoding.EncodeToString([]byte(v.in))
		out["base64 "+v.name+"raw"] = base64.RawStdEncoding.EncodeToString([]byte(v.in))
		out["base64 "+v.name+"url"] = base64.RawURLEncoding.EncodeToString([]byte(v.in))
	}
	out["hex"] = hex.EncodeToString([]byte(secret))
	out["HEX"] = strings.ToUpper(hex.EncodeToString([]byte(secret)))
	out["base32"] = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(secret))
	out["url query"] = url.QueryEscape(secret)
	out["url path"] = url.PathEscape(secret)
	j, _ := json.Marshal(secret)
	out["json"] = strings.Trim(string(j), `"`)
	return out
}

// The zero-knowledge proof: pipelines that print canary secrets in many
// forms run through the real control plane; then everything the control
// plane has or saw — every frame the agent sent it, every request body, its
// Durable Object storage on disk, its log, its API answers — is searched for
// every canary in every encoding. One hit fails the test. The stored
// pipeline must hold the references.
func TestZeroKnowledge(t *testing.T) {
	s := shared(t)
	rnd := func() string { b := make([]byte, 12); rand.Read(b); return hex.EncodeToString(b) }
	envCanary := "zk-env-" + rnd() + "-p@ss/w%rd+ä"
	ageCanary := "zk-age-" + rnd() + "-s3cr3t=="
	t.Setenv("AIRLOCK_E2E_CANARY", envCanary)

	// The age backend: ciphertext in the repository, the key on the agent host.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var cipher bytes.Buffer
	w, err := age.Encrypt(&cipher, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "DEPLOY_TOKEN=%s\n", ageCanary)
	w.Close()
	keyFile := filepath.Join(t.TempDir(), "age.key")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	resolver, err := secrets.Local(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	print := `
      echo "raw: $CANARY"
      printf '%s' "$CANARY" | base64
      echo "$CANARY" | base64
      printf '%s' "$CANARY" | od -An -tx1 | tr -d ' \n'; echo
      printf '{"token": "%s"}\n' "$CANARY"
      echo "age: $DEPLOY"
      printf '%s' "$DEPLOY" | base64`
	pipeline := `
secrets:
  DEPLOY: age://.airlock/secrets.age#DEPLOY_TOKEN
steps:
  - key: leak-everything
    secrets:
      CANARY: env://AIRLOCK_E2E_CANARY
    command: |` + print + `
  - key: fail-with-secret
    secrets: {CANARY: env://AIRLOCK_E2E_CANARY}
    command: 'echo "about to fail with $CANARY" >&2; exit 7'
  - key: missing-secret
    secrets: {NOPE: env://AIRLOCK_E2E_NOT_SET}
    command: echo never
`
	repo, commit := gitRepo(t, map[string]string{".airlock/secrets.age": cipher.String(), "README": "zk\n"})
	rec := &recorder{}
	startAgent(t, s, "e2e-zk", 2, func(a *agent.Agent) {
		a.Secrets = resolver
		a.Dialer = &recordingDialer{inner: a.Dialer, rec: rec}
	})
	req := scheduler.SubmitRequest{Pipeline: pipeline, Filename: ".airlock/pipeline.yml", Repository: repo, Commit: commit}
	body, _ := json.Marshal(req)
	rec.add(body)
	v := s.submit(req)
	v = s.wait(v.ID, 2*time.Minute)
	if got := states(v); got["leak-everything"] != "passed" || got["fail-with-secret"] != "failed" || got["missing-secret"] != "failed" {
		t.Fatalf("states: %v", got)
	}
	// The steps did print the secrets: the agent masked them.
	leak := s.log(v.ID, "leak-everything")
	if strings.Count(leak, "[REDACTED:") < 7 {
		t.Errorf("expected every printed form masked, log:\n%s", leak)
	}
	if m := job(v, "missing-secret"); !strings.Contains(m.Reason, "env://AIRLOCK_E2E_NOT_SET") {
		t.Errorf("missing secret: reason %q, want it to name the reference", m.Reason)
	}

	// Everything the control plane has or saw.
	var seen bytes.Buffer
	seen.Write(rec.buf.Bytes())
	for _, path := range []string{"/v1/runs/" + v.ID, "/v1/agents", "/v1/runs"} {
		_, b, _ := s.do("GET", path, nil)
		seen.Write(b)
	}
	for _, j := range v.Jobs {
		seen.WriteString(s.log(v.ID, j.Key))
	}
	stored := 0
	err = filepath.WalkDir(s.stateDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		stored += len(b)
		seen.Write(b)
		seen.WriteByte(0)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored == 0 || !bytes.Contains(seen.Bytes(), []byte("env://AIRLOCK_E2E_CANARY")) {
		t.Fatalf("the control plane's storage (%d bytes) does not hold the pipeline's references: the search would prove nothing", stored)
	}
	all := seen.Bytes()
	for name, canary := range map[string]string{"env canary": envCanary, "age canary": ageCanary} {
		for form, enc := range encodings(canary) {
			if i := bytes.Index(all, []byte(enc)); i >= 0 {
				lo, hi := max(0, i-60), min(len(all), i+len(enc)+60)
				t.Errorf("%s (%s) reached the control plane: …%q…", name, form, all[lo:hi])
			}
		}
	}
}
