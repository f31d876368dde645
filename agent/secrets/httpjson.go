package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxResponse caps every response body a backend reads.
const maxResponse = 1 << 20

// getJSON sends req and decodes a 200 answer into out. A non-200 answer
// becomes an error with the status and, when describe finds one in the
// body, the service's own error code or message (which never holds a
// secret value); the body itself is never echoed, as a token endpoint's
// answer may hold a credential.
func getJSON(client *http.Client, req *http.Request, out any, describe func([]byte) string) error {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, redactURL(req), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", req.Method, redactURL(req), err)
	}
	if len(body) > maxResponse {
		return fmt.Errorf("%s %s: answer larger than %d bytes", req.Method, redactURL(req), maxResponse)
	}
	if resp.StatusCode != http.StatusOK {
		msg := ""
		if describe != nil {
			msg = describe(body)
		}
		var err error = &statusError{code: resp.StatusCode, status: resp.Status}
		if resp.StatusCode == http.StatusNotFound {
			err = fmt.Errorf("%w: %w", err, ErrNotFound)
		}
		if msg != "" {
			return fmt.Errorf("%s %s: %w: %s", req.Method, redactURL(req), err, shorten(msg, 200))
		}
		return fmt.Errorf("%s %s: %w", req.Method, redactURL(req), err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON", req.Method, redactURL(req))
	}
	return nil
}

func redactURL(req *http.Request) string {
	u := *req.URL
	u.RawQuery = ""
	return u.String()
}

func shorten(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// token is a cached bearer token.
type token struct {
	value   string
	expires time.Time
}

// tokenCache holds one token and fetches a new one shortly before it expires.
type tokenCache struct {
	mu  sync.Mutex
	tok token
}

func (c *tokenCache) get(ctx context.Context, now time.Time, fetch func(context.Context) (token, error)) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.value != "" && now.Before(c.tok.expires.Add(-time.Minute)) {
		return c.tok.value, nil
	}
	t, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	c.tok = t
	return t.value, nil
}

func (c *tokenCache) drop() {
	c.mu.Lock()
	c.tok = token{}
	c.mu.Unlock()
}

// getWithToken GETs u with a bearer token from the cache (fetched by fetch
// when it is missing or about to expire) and decodes the JSON answer into
// out. A 401 drops the cached token, so the next call fetches a fresh one.
func (c *tokenCache) getWithToken(ctx context.Context, now time.Time, fetch func(context.Context) (token, error),
	client *http.Client, u string, out any, describe func([]byte) string) error {
	tok, err := c.get(ctx, now, fetch)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if err := getJSON(client, req, out, describe); err != nil {
		if isStatus(err, http.StatusUnauthorized) {
			c.drop()
		}
		return err
	}
	return nil
}

type statusError struct {
	code   int
	status string
}

func (e *statusError) Error() string { return e.status }

func isStatus(err error, code int) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == code
}
