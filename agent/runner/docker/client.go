// Package docker is a small client for the part of the Docker Engine API that
// Airlock's container steps use: ping and version, image inspect and pull,
// container create, attach, start, wait, stop, kill, remove and list. It
// speaks HTTP over a unix socket with net/http only, and works with dockerd
// and with `podman system service`.
//
// Why not the Docker SDK: it pulls in dozens of modules for a dozen calls;
// see RATIONALE.md.
//
// A Client is safe for concurrent use. Every call takes a context; a
// streaming call (Attach) is bound to its context for its whole life.
package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultHost is where dockerd listens unless configured otherwise.
const DefaultHost = "unix:///var/run/docker.sock"

// maxAPIVersion is the newest API version this client asks for. Engines
// that speak an older one (podman 4 speaks 1.41) are addressed in theirs;
// every field used here exists since 1.25.
const maxAPIVersion = "1.44"

// ErrNotFound is returned (wrapped) when the engine answers 404: no such
// image or container.
var ErrNotFound = errors.New("not found")

// APIError is an error answer from the engine.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("engine answered %d: %s", e.Status, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Client talks to one engine.
type Client struct {
	host string // as given, for messages
	http *http.Client

	mu      sync.Mutex
	version string // negotiated API version, "" until the first call
}

// New returns a client for host, a "unix:///path/to.sock" URL (or a bare
// socket path). It does not connect; the first call does.
func New(host string) (*Client, error) {
	path, err := socketPath(host)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableCompression:    true,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 0, // wait and attach answer when the container ends
	}
	return &Client{host: host, http: &http.Client{Transport: tr}}, nil
}

// Host is the engine address the client was made with.
func (c *Client) Host() string { return c.host }

func socketPath(host string) (string, error) {
	switch {
	case strings.HasPrefix(host, "unix://"):
		p := strings.TrimPrefix(host, "unix://")
		if p == "" || p[0] != '/' {
			return "", fmt.Errorf("docker host %q: want unix:///absolute/path.sock", host)
		}
		return p, nil
	case strings.HasPrefix(host, "/"):
		return host, nil
	case strings.Contains(host, "://"):
		return "", fmt.Errorf("docker host %q: only unix sockets are supported (unix:///path.sock)", host)
	default:
		return "", fmt.Errorf("docker host %q: want unix:///absolute/path.sock", host)
	}
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Ping checks that the engine answers.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodGet, "/_ping", nil, nil, false)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Version is the part of GET /version that Airlock reads.
type Version struct {
	Version       string `json:"Version"`
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion"`
	Os            string `json:"Os"`
	Arch          string `json:"Arch"`
}

// Version asks the engine which version it is (unversioned endpoint).
func (c *Client) Version(ctx context.Context) (Version, error) {
	var v Version
	resp, err := c.do(ctx, http.MethodGet, "/version", nil, nil, false)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v); err != nil {
		return v, fmt.Errorf("decode engine version: %w", err)
	}
	return v, nil
}

// apiVersion negotiates once: the engine's version when older than ours.
func (c *Client) apiVersion(ctx context.Context) (string, error) {
	c.mu.Lock()
	v := c.version
	c.mu.Unlock()
	if v != "" {
		return v, nil
	}
	ver, err := c.Version(ctx)
	if err != nil {
		return "", err
	}
	v = maxAPIVersion
	if ver.APIVersion != "" && versionLess(ver.APIVersion, maxAPIVersion) {
		v = ver.APIVersion
	}
	c.mu.Lock()
	c.version = v
	c.mu.Unlock()
	return v, nil
}

// versionLess compares "1.41" < "1.44" numerically per component.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// do sends one request; versioned prefixes the path with /vX.Y. A non-2xx
// answer is returned as *APIError with the body closed.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any, versioned bool) (*http.Response, error) {
	if versioned {
		v, err := c.apiVersion(ctx)
		if err != nil {
			return nil, err
		}
		path = "/v" + v + path
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://docker" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("container engine at %s: %w", c.host, err)
	}
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		return nil, readAPIError(resp)
	}
	return resp, nil
}

func readAPIError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var m struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &APIError{Status: resp.StatusCode, Message: msg}
}

// ImageExists reports whether the engine has image ref locally.
func (c *Client) ImageExists(ctx context.Context, ref string) (bool, error) {
	resp, err := c.do(ctx, http.MethodGet, "/images/"+ref+"/json", nil, nil, true)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return true, nil
}

// ImagePull pulls ref. progress, if not nil, receives one line per status
// change the engine reports. The engine reports a failed pull inside a 200
// answer's stream; that is returned as an error too.
func (c *Client) ImagePull(ctx context.Context, ref string, progress func(string)) error {
	name, tag := SplitRef(ref)
	q := url.Values{"fromImage": {name}}
	if tag != "" {
		q.Set("tag", tag)
	}
	resp, err := c.do(ctx, http.MethodPost, "/images/create", q, nil, true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	last := ""
	for {
		var m struct {
			Status      string `json:"status"`
			ID          string `json:"id"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read pull progress: %w", err)
		}
		if m.Error != "" || m.ErrorDetail.Message != "" {
			msg := m.Error
			if msg == "" {
				msg = m.ErrorDetail.Message
			}
			return errors.New(msg)
		}
		line := m.Status
		if m.ID != "" {
			line = m.ID + ": " + line
		}
		// Layer progress repeats the same status many times; pass changes.
		if progress != nil && line != "" && line != last {
			progress(line)
			last = line
		}
	}
}

// SplitRef splits an image reference into what /images/create takes as
// fromImage and tag. A reference with a digest is passed whole; one without
// tag or digest gets "latest" (without a tag the API would pull every tag).
func SplitRef(ref string) (name, tag string) {
	if strings.Contains(ref, "@") {
		return ref, ""
	}
	slash := strings.LastIndexByte(ref, '/')
	if i := strings.LastIndexByte(ref, ':'); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

// Ulimit is one resource limit of a container.
type Ulimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

// ContainerConfig is the body of POST /containers/create: the subset
// Airlock sets.
type ContainerConfig struct {
	Image        string            `json:"Image"`
	Cmd          []string          `json:"Cmd,omitempty"`
	Entrypoint   []string          `json:"Entrypoint,omitempty"`
	Env          []string          `json:"Env,omitempty"`
	WorkingDir   string            `json:"WorkingDir,omitempty"`
	Labels       map[string]string `json:"Labels,omitempty"`
	Tty          bool              `json:"Tty"`
	OpenStdin    bool              `json:"OpenStdin"`
	AttachStdout bool              `json:"AttachStdout"`
	AttachStderr bool              `json:"AttachStderr"`
	HostConfig   HostConfig        `json:"HostConfig"`
}

// HostConfig is the subset of the container's host configuration Airlock sets.
type HostConfig struct {
	Binds   []string `json:"Binds,omitempty"`
	Ulimits []Ulimit `json:"Ulimits,omitempty"`
	Init    *bool    `json:"Init,omitempty"`
}

// ContainerCreate creates a container named name (empty: the engine picks)
// and returns its ID.
func (c *Client) ContainerCreate(ctx context.Context, name string, cfg ContainerConfig) (string, error) {
	var q url.Values
	if name != "" {
		q = url.Values{"name": {name}}
	}
	resp, err := c.do(ctx, http.MethodPost, "/containers/create", q, cfg, true)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		ID string `json:"Id"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil || out.ID == "" {
		return "", fmt.Errorf("create container: unreadable answer (%v)", err)
	}
	return out.ID, nil
}

// ContainerAttach attaches to stdout and stderr of a created container and
// returns the raw stream. Attach before Start to see every byte. Without a
// TTY the stream is multiplexed: read it with Demux. The stream ends when
// the container stops, or when ctx ends.
func (c *Client) ContainerAttach(ctx context.Context, id string) (io.ReadCloser, error) {
	v, err := c.apiVersion(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{"stream": {"1"}, "stdout": {"1"}, "stderr": {"1"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://docker/v"+v+"/containers/"+url.PathEscape(id)+"/attach?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	// Ask for a hijacked connection, as the docker CLI does; engines answer
	// 101 and then send the raw stream on the connection.
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("container engine at %s: attach: %w", c.host, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readAPIError(resp)
	}
	return resp.Body, nil
}

// ContainerStart starts a created container.
func (c *Client) ContainerStart(ctx context.Context, id string) error {
	return c.simple(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/start", nil)
}

// ContainerWait blocks until the container is not running and returns its
// exit code.
func (c *Client) ContainerWait(ctx context.Context, id string) (int, error) {
	resp, err := c.do(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/wait", nil, nil, true)
	if err != nil {
		return -1, err
	}
	defer resp.Body.Close()
	var out struct {
		StatusCode int `json:"StatusCode"`
		Error      *struct {
			Message string `json:"Message"`
		} `json:"Error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return -1, fmt.Errorf("wait for container: unreadable answer: %w", err)
	}
	if out.Error != nil && out.Error.Message != "" {
		return -1, fmt.Errorf("wait for container: %s", out.Error.Message)
	}
	return out.StatusCode, nil
}

// ContainerStop sends the container its stop signal (SIGTERM by default)
// and, after grace, SIGKILL; it returns once the container has stopped.
func (c *Client) ContainerStop(ctx context.Context, id string, grace time.Duration) error {
	secs := int((grace + time.Second - 1) / time.Second)
	q := url.Values{"t": {strconv.Itoa(secs)}}
	err := c.simple(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/stop", q)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotModified {
		return nil // already stopped
	}
	return err
}

// ContainerKill sends SIGKILL.
func (c *Client) ContainerKill(ctx context.Context, id string) error {
	return c.simple(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/kill", url.Values{"signal": {"KILL"}})
}

// ContainerRemove removes a container, running or not, with its anonymous
// volumes. A container that is already gone is not an error.
func (c *Client) ContainerRemove(ctx context.Context, idOrName string) error {
	err := c.simple(ctx, http.MethodDelete, "/containers/"+url.PathEscape(idOrName), url.Values{"force": {"1"}, "v": {"1"}})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// ContainerSummary is one entry of a container list.
type ContainerSummary struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	Image  string            `json:"Image"`
	State  string            `json:"State"`
	Labels map[string]string `json:"Labels"`
}

// ContainerList lists every container (running or not) carrying label,
// "key" or "key=value".
func (c *Client) ContainerList(ctx context.Context, label string) ([]ContainerSummary, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {label}})
	q := url.Values{"all": {"1"}, "filters": {string(filters)}}
	resp, err := c.do(ctx, http.MethodGet, "/containers/json", q, nil, true)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []ContainerSummary
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return out, nil
}

func (c *Client) simple(ctx context.Context, method, path string, q url.Values) error {
	resp, err := c.do(ctx, method, path, q, nil, true)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return nil
}

// Demux copies a multiplexed attach or logs stream to w, payload only, as
// each frame arrives. Each frame is an 8-byte header — stream (0 stdin,
// 1 stdout, 2 stderr), three zero bytes, payload length as big-endian
// uint32 — then the payload. stdout and stderr both go to w, in the order
// the engine sent them. It returns at the end of the stream: nil, or the
// first error writing to w (after a write error it keeps reading, so the
// container never blocks on a full stream).
func Demux(w io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 32<<10)
	var hdr [8]byte
	buf := make([]byte, 32<<10)
	var werr error
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF {
				return werr
			}
			return fmt.Errorf("read stream header: %w", err)
		}
		if hdr[0] > 2 || hdr[1] != 0 || hdr[2] != 0 || hdr[3] != 0 {
			return fmt.Errorf("malformed stream header % x", hdr)
		}
		n := int64(hdr[4])<<24 | int64(hdr[5])<<16 | int64(hdr[6])<<8 | int64(hdr[7])
		for n > 0 {
			chunk := buf[:min(n, int64(len(buf)))]
			k, err := io.ReadFull(br, chunk)
			if k > 0 && werr == nil {
				_, werr = w.Write(chunk[:k])
			}
			if err != nil {
				return fmt.Errorf("read stream payload: %w", err)
			}
			n -= int64(k)
		}
	}
}
