package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/airlockci/airlock/internal/identity"
	"github.com/airlockci/airlock/internal/wire"
)

// Prover proves the agent's identity by answering a challenge with its
// workload identity (see agent/identity).
type Prover interface {
	Prove(ctx context.Context, challenge string) (*identity.Proof, error)
}

// WebSocketDialer dials the control plane's agent endpoint: it asks for a
// challenge, answers it with the Prover, and opens the WebSocket with the
// proof in the upgrade request.
type WebSocketDialer struct {
	// Server is the control plane's base URL (http or https).
	Server string
	Prover Prover
	// Header is added to the upgrade request.
	Header http.Header
}

// Dial opens the WebSocket. A 401 or 403 answer is a *FatalError: the
// control plane refused the identity and retrying will not change that.
func (d *WebSocketDialer) Dial(ctx context.Context) (Conn, error) {
	u, err := ConnectURL(d.Server)
	if err != nil {
		return nil, &FatalError{err}
	}
	header := d.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if d.Prover != nil {
		proof, err := d.prove(ctx)
		if err != nil {
			return nil, err
		}
		header.Set(identity.ProofHeader, proof)
	}
	dialer := websocket.Dialer{HandshakeTimeout: 15 * time.Second, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	c, resp, err := dialer.DialContext(ctx, u, header)
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			var e struct{ Error string }
			_ = json.Unmarshal(body, &e)
			return nil, &FatalError{fmt.Errorf("control plane refused the agent's identity (%s): %s", resp.Status, e.Error)}
		}
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %s", u, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	c.SetReadLimit(wire.MaxFrameSize)
	return &wsConn{c: c}, nil
}

// prove gets a challenge from the control plane and answers it.
func (d *WebSocketDialer) prove(ctx context.Context) (string, error) {
	ch, err := Challenge(ctx, d.Server)
	if err != nil {
		return "", err
	}
	p, err := d.Prover.Prove(ctx, ch)
	if err != nil {
		return "", fmt.Errorf("proving the agent's identity: %w", err)
	}
	return identity.EncodeProof(p)
}

// Challenge asks the control plane for a single-use identity challenge.
func Challenge(ctx context.Context, server string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(server, "/")+"/v1/agents/challenge", nil)
	if err != nil {
		return "", &FatalError{err}
	}
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("getting a challenge: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("getting a challenge: %s %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var out struct {
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Challenge == "" {
		return "", fmt.Errorf("getting a challenge: unexpected answer %q", body)
	}
	return out.Challenge, nil
}

// ConnectURL turns a server base URL into the agent endpoint's WebSocket URL.
func ConnectURL(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("server URL %q: want http(s)://host[:port]", server)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("server URL %q: scheme %q, want http or https", server, u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/agents/connect"
	return u.String(), nil
}

type wsConn struct {
	c  *websocket.Conn
	mu sync.Mutex // one writer at a time
}

func (w *wsConn) Read(ctx context.Context) ([]byte, error) {
	for {
		typ, b, err := w.c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return nil, fmt.Errorf("connection closed by the control plane: %d %s", ce.Code, ce.Text)
			}
			return nil, err
		}
		if typ == websocket.BinaryMessage {
			return b, nil
		}
	}
}

func (w *wsConn) Write(frame []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return w.c.WriteMessage(websocket.BinaryMessage, frame)
}

func (w *wsConn) Close() error {
	w.mu.Lock()
	_ = w.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	w.mu.Unlock()
	return w.c.Close()
}
