package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/airlockci/airlock/internal/wire"
)

// WebSocketDialer dials the control plane's agent endpoint.
type WebSocketDialer struct {
	// Server is the control plane's base URL (http, https, ws or wss).
	Server string
	// Header carries the identity proof.
	Header http.Header
}

// Dial opens the WebSocket. A 401 or 403 answer is a *FatalError: the
// control plane refused the identity and retrying will not change that.
func (d *WebSocketDialer) Dial(ctx context.Context) (Conn, error) {
	u, err := ConnectURL(d.Server)
	if err != nil {
		return nil, &FatalError{err}
	}
	dialer := websocket.Dialer{HandshakeTimeout: 15 * time.Second, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	c, resp, err := dialer.DialContext(ctx, u, d.Header)
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return nil, &FatalError{fmt.Errorf("control plane refused the agent's identity (%s)", resp.Status)}
		}
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %s", u, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	c.SetReadLimit(wire.MaxFrameSize)
	return &wsConn{c: c}, nil
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
