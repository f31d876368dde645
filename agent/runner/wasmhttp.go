package runner

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	extism "github.com/extism/go-sdk"
)

// DefaultMaxHTTPResponseBytes caps the body of one response a plugin
// receives when Wasm.MaxHTTPResponseBytes is zero.
const DefaultMaxHTTPResponseBytes = 16 << 20

// DefaultHTTPTimeout bounds one plugin HTTP request, from dialling to the
// last byte of the body, when Wasm.HTTPTimeout is zero.
const DefaultHTTPTimeout = 30 * time.Second

// ErrHTTPRefused is wrapped by the errors for a plugin HTTP request that
// the step's capabilities do not allow: not https, a host not on the
// step's allow_hosts, or an address that is not public.
var ErrHTTPRefused = errors.New("plugin http request refused")

// airlockHostModule is the host module Airlock's own implementations of
// Extism host functions live in. A plugin's imports of the functions in
// redirectedHTTP are moved there from extism:host/env before compiling.
const airlockHostModule = "airlock:host/env"

// extismEnvModule is the Extism kernel's host module.
const extismEnvModule = "extism:host/env"

// redirectedHTTP are the Extism functions Airlock implements itself.
var redirectedHTTP = map[string]bool{"http_request": true, "http_status_code": true, "http_headers": true}

// netPolicy is how plugin traffic (and https module downloads) reach the
// network. The zero value is the production policy; tests set the hooks.
type netPolicy struct {
	// allowAddr says whether an address may be dialled; nil means
	// publicAddr. Tests allow loopback to reach an httptest server.
	allowAddr func(netip.Addr) bool
	// lookup resolves a host name; nil means the system resolver.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// roots are the trusted CAs; nil means the system's.
	roots *x509.CertPool
}

// publicAddr refuses every address that leads somewhere other than the
// public internet: loopback, private (RFC 1918, unique local), link-local
// (including the cloud metadata endpoint 169.254.169.254), unspecified,
// multicast, carrier-grade NAT, and the other special-purpose ranges.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() {
		return false
	}
	for _, p := range specialPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

var specialPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: could reach a private IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds an IPv4
	netip.MustParsePrefix("2001::/32"),      // Teredo: embeds an IPv4
	netip.MustParsePrefix("100::/64"),       // discard
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("::ffff:0:0/96"),  // mapped, if Unmap missed one
	netip.MustParsePrefix("::/128"),         // unspecified
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
	netip.MustParsePrefix("ff00::/8"),       // multicast
	netip.MustParsePrefix("169.254.0.0/16"), // link-local (again, explicitly)
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback (again, explicitly)
	netip.MustParsePrefix("255.255.255.255/32"),
}

// addrRefusedError is a dial refused by the address policy.
type addrRefusedError struct {
	host string
	addr netip.Addr
}

func (e *addrRefusedError) Error() string {
	if e.host == e.addr.String() {
		return fmt.Sprintf("%s is not a public address (loopback, private, link-local and other special addresses are refused)", e.addr)
	}
	return fmt.Sprintf("%s resolves to %s, which is not a public address (loopback, private, link-local and other special addresses are refused)", e.host, e.addr)
}

func (e *addrRefusedError) Unwrap() error { return ErrHTTPRefused }

// transport returns an http.Transport that dials only addresses the policy
// allows. It resolves names itself and checks each address it dials, and
// the dialer checks again the address of the socket it actually connects
// (net.Dialer.Control), so neither a DNS answer that changes between
// lookups (rebinding) nor an IP literal gets through. It ignores proxy
// settings from the environment: a proxy would dial for it, unchecked.
func (n netPolicy) transport() *http.Transport {
	allow := n.allowAddr
	if allow == nil {
		allow = publicAddr
	}
	dialer := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: dial %s: %v", ErrHTTPRefused, address, err)
			}
			if !allow(ap.Addr()) {
				return &addrRefusedError{host: ap.Addr().String(), addr: ap.Addr()}
			}
			return nil
		},
	}
	lookup := n.lookup
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		var addrs []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{ip}
		} else if addrs, err = lookup(ctx, host); err != nil {
			return nil, err
		}
		var errs []error
		for _, ip := range addrs {
			if !allow(ip) {
				errs = append(errs, &addrRefusedError{host: host, addr: ip.Unmap()})
				continue
			}
			conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
		}
		if len(errs) == 0 {
			return nil, fmt.Errorf("%s: no address", host)
		}
		return nil, errors.Join(errs...)
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		TLSClientConfig:       &tls.Config{RootCAs: n.roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          32,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

// pluginHTTP sends a plugin's requests.
type pluginHTTP struct {
	client   *http.Client
	maxBytes int64
	timeout  time.Duration
}

// httpRequest is Extism's request, as the PDKs encode it.
type httpRequest struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
}

// do sends one request for a plugin allowed to reach allowHosts. A
// redirect is not followed: the plugin gets the 3xx and its Location.
func (h *pluginHTTP) do(ctx context.Context, allowHosts map[string]bool, r httpRequest, body []byte) (int, http.Header, []byte, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: bad URL %q: %v", ErrHTTPRefused, r.URL, err)
	}
	if u.Scheme != "https" {
		return 0, nil, nil, fmt.Errorf("%w: %s: only https URLs are allowed", ErrHTTPRefused, redactURL(u))
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if !allowHosts[host] {
		return 0, nil, nil, fmt.Errorf("%w: %s: host %q is not in the step's allow_hosts %s", ErrHTTPRefused, redactURL(u), host, hostList(allowHosts))
	}
	method := strings.ToUpper(r.Method)
	if method == "" {
		method = http.MethodGet
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var rb io.Reader
	if len(body) > 0 {
		rb = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rb)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %v", ErrHTTPRefused, err)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return 0, nil, nil, fmt.Errorf("plugin http: %s %s: no complete answer within %v", method, redactURL(u), h.timeout)
		}
		return 0, nil, nil, fmt.Errorf("plugin http: %s %s: %w", method, redactURL(u), unwrapURLError(err))
	}
	defer resp.Body.Close()
	tooLarge := func() error {
		return fmt.Errorf("plugin http: %s %s: the response body is larger than the cap of %d bytes (%s); the agent's MaxHTTPResponseBytes sets it", method, redactURL(u), h.maxBytes, mib(h.maxBytes))
	}
	if resp.ContentLength > h.maxBytes {
		return 0, nil, nil, tooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, h.maxBytes+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("plugin http: %s %s: read the response: %w", method, redactURL(u), err)
	}
	if int64(len(data)) > h.maxBytes {
		return 0, nil, nil, tooLarge()
	}
	return resp.StatusCode, resp.Header, data, nil
}

// redactURL drops the query and user info, which may hold tokens, from a
// URL shown in the log.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery, c.ForceQuery, c.Fragment = "", false, ""
	return c.String()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func hostList(hosts map[string]bool) string {
	if len(hosts) == 0 {
		return "(empty: the step allows no host)"
	}
	list := make([]string, 0, len(hosts))
	for h := range hosts {
		list = append(list, h)
	}
	slices.Sort(list)
	return "[" + strings.Join(list, " ") + "]"
}

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// runState is what the host functions know of the step whose plugin is
// calling them. It travels in the call's context; a plugin instance runs
// one call at a time, so it needs no lock.
type runState struct {
	allowHosts map[string]bool
	secrets    map[string]string
	http       *pluginHTTP

	lastStatus  int32
	lastHeaders http.Header
	// hostErr is why a host function stopped the plugin, for the step's
	// result.
	hostErr error
}

type runStateKey struct{}

func stateOf(ctx context.Context) *runState {
	st, _ := ctx.Value(runStateKey{}).(*runState)
	if st == nil {
		// Only a call the runner made has a state; nothing else calls.
		panic("airlock host function called outside a run")
	}
	return st
}

// fail records err as the reason the plugin stops, and traps the guest
// (a panic in a host function becomes a Wasm trap; the host is unharmed).
func (st *runState) fail(err error) {
	if st.hostErr == nil {
		st.hostErr = err
	}
	panic(err)
}

// hostFunctions are the functions Airlock gives plugins beyond the
// Extism kernel: http_request, http_status_code and http_headers (moved to
// airlockHostModule), and airlock_secret in extism:host/user.
func hostFunctions() []extism.HostFunction {
	i64, i32 := extism.ValueTypeI64, extism.ValueTypeI32
	request := extism.NewHostFunctionWithStack("http_request", func(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
		st := stateOf(ctx)
		st.lastStatus, st.lastHeaders = 0, nil
		raw, err := p.ReadBytes(stack[0])
		if err != nil {
			st.fail(fmt.Errorf("plugin http: read the request: %w", err))
		}
		p.Free(stack[0])
		var r httpRequest
		if err := json.Unmarshal(raw, &r); err != nil {
			st.fail(fmt.Errorf("plugin http: the request is not Extism's JSON: %w", err))
		}
		var body []byte
		if stack[1] != 0 {
			if body, err = p.ReadBytes(stack[1]); err != nil {
				st.fail(fmt.Errorf("plugin http: read the request body: %w", err))
			}
			p.Free(stack[1])
		}
		status, header, data, err := st.http.do(ctx, st.allowHosts, r, body)
		if err != nil {
			st.fail(err)
		}
		st.lastStatus, st.lastHeaders = int32(status), header
		stack[0] = 0
		if len(data) > 0 {
			off, err := p.WriteBytes(data)
			if err != nil {
				st.fail(fmt.Errorf("plugin http: hand the %d-byte response to the plugin: %w", len(data), err))
			}
			stack[0] = off
		}
	}, []extism.ValueType{i64, i64}, []extism.ValueType{i64})
	status := extism.NewHostFunctionWithStack("http_status_code", func(ctx context.Context, _ *extism.CurrentPlugin, stack []uint64) {
		stack[0] = uint64(uint32(stateOf(ctx).lastStatus))
	}, nil, []extism.ValueType{i32})
	headers := extism.NewHostFunctionWithStack("http_headers", func(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
		st := stateOf(ctx)
		stack[0] = 0
		if st.lastHeaders == nil {
			return
		}
		m := make(map[string]string, len(st.lastHeaders))
		for k, v := range st.lastHeaders {
			m[strings.ToLower(k)] = strings.Join(v, ",")
		}
		b, _ := json.Marshal(m)
		off, err := p.WriteBytes(b)
		if err != nil {
			st.fail(fmt.Errorf("plugin http: hand the headers to the plugin: %w", err))
		}
		stack[0] = off
	}, nil, []extism.ValueType{i64})
	for _, f := range []*extism.HostFunction{&request, &status, &headers} {
		f.SetNamespace(airlockHostModule)
	}
	secret := extism.NewHostFunctionWithStack("airlock_secret", func(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
		st := stateOf(ctx)
		name, err := p.ReadString(stack[0])
		if err != nil {
			st.fail(fmt.Errorf("airlock_secret: read the name: %w", err))
		}
		p.Free(stack[0])
		value, ok := st.secrets[name]
		if !ok {
			st.fail(fmt.Errorf("plugin asked for secret %q, which the step does not declare", name))
		}
		stack[0] = 0
		if value != "" {
			off, err := p.WriteString(value)
			if err != nil {
				st.fail(fmt.Errorf("airlock_secret: hand the value to the plugin: %w", err))
			}
			stack[0] = off
		}
	}, []extism.ValueType{i64}, []extism.ValueType{i64})
	return []extism.HostFunction{request, status, headers, secret}
}
