package idtest

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Credentials is a container-credentials endpoint: what ECS (and EKS Pod
// Identity) serve at AWS_CONTAINER_CREDENTIALS_FULL_URI. It hands out Key
// with an Expiration to requests carrying the right Authorization token,
// so an agent's config.LoadDefaultConfig picks the key up through the
// SDK's ordinary provider chain (see Env).
type Credentials struct {
	// Key is handed out; give the STS the same key.
	Key AWSKey
	// Token is the Authorization header value required on every request
	// (AWS_CONTAINER_AUTHORIZATION_TOKEN). NewCredentials makes a random one.
	Token string
	// Path is the URL path served; default "/v2/credentials/airlock".
	Path string
	// Lifetime is how long handed-out credentials are valid; default 1 h.
	Lifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	requests int
	srv      server
}

// NewCredentials returns an unstarted endpoint handing out key.
func NewCredentials(key AWSKey) *Credentials {
	return &Credentials{
		Key:      key,
		Token:    "airlock-dev-" + randomHex(16),
		Path:     "/v2/credentials/airlock",
		Lifetime: time.Hour,
	}
}

// StartCredentials is NewCredentials followed by Start.
func StartCredentials(key AWSKey) (*Credentials, error) {
	c := NewCredentials(key)
	if err := c.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

// Start serves on a fresh 127.0.0.1 port.
func (c *Credentials) Start() error { return c.srv.start(http.HandlerFunc(c.serveHTTP)) }

// Close stops the server; see the package comment.
func (c *Credentials) Close() error { return c.srv.close() }

// URL is the full URI to put in AWS_CONTAINER_CREDENTIALS_FULL_URI.
func (c *Credentials) URL() string { return c.srv.baseURL() + c.path() }

// Env is the environment that points the SDK at this endpoint, as
// "NAME=value" strings (for exec.Cmd.Env or t.Setenv).
func (c *Credentials) Env() []string {
	return []string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + c.URL(),
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=" + c.Token,
	}
}

// Requests is how many requests the endpoint has received.
func (c *Credentials) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

func (c *Credentials) path() string {
	if c.Path == "" {
		return "/v2/credentials/airlock"
	}
	return c.Path
}

// Expiration is when credentials handed out now expire.
func (c *Credentials) Expiration() time.Time {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	life := c.Lifetime
	if life <= 0 {
		life = time.Hour
	}
	return now.Add(life).UTC().Truncate(time.Second)
}

func (c *Credentials) serveHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.requests++
	c.mu.Unlock()

	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
	}
	if r.Method != http.MethodGet {
		fail(http.StatusMethodNotAllowed, "MethodNotAllowed", "only GET is supported")
		return
	}
	if r.URL.Path != c.path() {
		fail(http.StatusNotFound, "NotFound", "no credentials at "+r.URL.Path)
		return
	}
	got := r.Header.Get("Authorization")
	if c.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.Token)) != 1 {
		fail(http.StatusUnauthorized, "Unauthorized", "missing or wrong Authorization token")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
		Token           string `json:"Token"`
		Expiration      string `json:"Expiration"`
		AccountID       string `json:"AccountId,omitempty"`
		RoleArn         string `json:"RoleArn,omitempty"`
	}{
		AccessKeyID:     c.Key.AccessKeyID,
		SecretAccessKey: c.Key.SecretAccessKey,
		Token:           c.Key.SessionToken,
		Expiration:      c.Expiration().Format(time.RFC3339),
		AccountID:       c.Key.Account(),
		RoleArn:         c.Key.ARN,
	})
}
