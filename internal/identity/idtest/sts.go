package idtest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// AWSKey is a key pair the STS knows and the identity it belongs to.
type AWSKey struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, must accompany every request signed with
	// this key (X-Amz-Security-Token), as for any temporary credentials.
	SessionToken string
	// ARN is what GetCallerIdentity answers, e.g.
	// "arn:aws:sts::123456789012:assumed-role/airlock-agent/i-0abc".
	ARN string
	// UserID is GetCallerIdentity's UserId; derived from the key when empty.
	UserID string
}

// Credentials returns the key as the SDK's credentials, for signing.
func (k AWSKey) Credentials() aws.Credentials {
	return aws.Credentials{
		AccessKeyID:     k.AccessKeyID,
		SecretAccessKey: k.SecretAccessKey,
		SessionToken:    k.SessionToken,
		Source:          "idtest",
	}
}

// Account is the account ID in the key's ARN ("" when the ARN has none).
func (k AWSKey) Account() string {
	parts := strings.SplitN(k.ARN, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// NewAWSKey makes a random temporary key pair (ASIA… access key ID, secret
// and session token) for the given caller ARN.
func NewAWSKey(arn string) AWSKey {
	return AWSKey{
		AccessKeyID:     "ASIA" + strings.ToUpper(randomHex(8)),
		SecretAccessKey: randomHex(20),
		SessionToken:    "IQoJb3JpZ2luX2VjE" + randomHex(32),
		ARN:             arn,
	}
}

// STSMode selects how the STS answers a correctly signed request.
type STSMode int

const (
	// STSNormal answers like AWS STS.
	STSNormal STSMode = iota
	// STSRedirect answers 307 with a Location on the same server.
	STSRedirect
	// STSHTML answers 200 with an HTML page (a captive portal, a proxy).
	STSHTML
	// STSOversized answers 200 with a well-formed GetCallerIdentityResponse
	// padded to 1 MiB.
	STSOversized
	// STSEmptyARN answers 200 with an empty Arn.
	STSEmptyARN
)

// STS is a local AWS STS endpoint that answers GetCallerIdentity for
// requests correctly signed (SigV4, service "sts") with one of its keys.
//
// It accepts POST with a form body, or GET with the parameters in the
// query, on any path: the path takes part in the signature check but not in
// the routing, so signature edge cases (escaped paths, queries) can be
// tested on it. Unknown parameters are ignored.
type STS struct {
	// Now is the STS clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is how far X-Amz-Date may be from Now; AWS allows 15 min,
	// which is the default.
	MaxSkew time.Duration
	// Region, when set, is the only signing region accepted (AWS's global
	// endpoint wants us-east-1); empty accepts any region.
	Region string

	mu       sync.Mutex
	keys     map[string]AWSKey
	mode     STSMode
	requests int
	srv      server
}

// NewSTS returns an unstarted STS that knows keys.
func NewSTS(keys ...AWSKey) *STS {
	s := &STS{MaxSkew: 15 * time.Minute, keys: map[string]AWSKey{}}
	for _, k := range keys {
		s.keys[k.AccessKeyID] = k
	}
	return s
}

// StartSTS is NewSTS followed by Start.
func StartSTS(keys ...AWSKey) (*STS, error) {
	s := NewSTS(keys...)
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start serves on a fresh 127.0.0.1 port.
func (s *STS) Start() error { return s.srv.start(http.HandlerFunc(s.serveHTTP)) }

// Close stops the server; see the package comment.
func (s *STS) Close() error { return s.srv.close() }

// URL is "http://127.0.0.1:PORT", the endpoint to sign requests for.
func (s *STS) URL() string { return s.srv.baseURL() }

// AddKey makes the STS accept (and answer for) another key.
func (s *STS) AddKey(k AWSKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[k.AccessKeyID] = k
}

// SetMode changes how correctly signed requests are answered.
func (s *STS) SetMode(m STSMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// Requests is how many requests the STS has received.
func (s *STS) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *STS) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// stsError is an STS error answer.
type stsError struct {
	status  int
	code    string
	message string
}

func (e *stsError) Error() string { return e.code + ": " + e.message }

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

const maxSTSBody = 64 << 10

func (s *STS) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()

	reqID := requestID()
	asJSON := strings.Contains(r.Header.Get("Accept"), "application/json")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSTSBody+1))
	if err != nil {
		writeSTSError(w, asJSON, reqID, &stsError{http.StatusBadRequest, "InvalidRequest", "could not read the request body"})
		return
	}
	if len(body) > maxSTSBody {
		writeSTSError(w, asJSON, reqID, &stsError{http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "request body too large"})
		return
	}
	key, serr := s.verify(r, body)
	if serr != nil {
		writeSTSError(w, asJSON, reqID, serr)
		return
	}
	params, serr := stsParams(r, body)
	if serr != nil {
		writeSTSError(w, asJSON, reqID, serr)
		return
	}
	if params.Get("Action") != "GetCallerIdentity" {
		writeSTSError(w, asJSON, reqID, &stsError{http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("Could not find operation %s for version %s", params.Get("Action"), params.Get("Version"))})
		return
	}
	if params.Get("Version") != "2011-06-15" {
		writeSTSError(w, asJSON, reqID, &stsError{http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("Could not find operation GetCallerIdentity for version %s", params.Get("Version"))})
		return
	}

	s.mu.Lock()
	mode := s.mode
	s.mu.Unlock()
	result := callerIdentity{Arn: key.ARN, UserID: key.UserID, Account: key.Account()}
	if result.UserID == "" {
		result.UserID = "AROA" + strings.ToUpper(key.AccessKeyID[min(4, len(key.AccessKeyID)):])
	}
	switch mode {
	case STSRedirect:
		http.Redirect(w, r, s.URL()+"/elsewhere", http.StatusTemporaryRedirect)
		return
	case STSHTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><html><head><title>Sign in</title></head><body><h1>Welcome to the network</h1></body></html>\n")
		return
	case STSEmptyARN:
		result.Arn = ""
	}
	var out []byte
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
		out = marshalJSONResult(result, reqID)
	} else {
		w.Header().Set("Content-Type", "text/xml")
		out = marshalXMLResult(result, reqID)
	}
	if mode == STSOversized {
		// Keep the document well-formed so only its size is wrong.
		pad := strings.Repeat("x", 1<<20)
		if asJSON {
			out = append(out[:len(out)-1], []byte(`,"Padding":"`+pad+`"}`)...)
		} else {
			out = append(out, []byte("<!-- "+pad+" -->\n")...)
		}
	}
	_, _ = w.Write(out)
}

type callerIdentity struct {
	Arn     string `xml:"Arn" json:"Arn"`
	UserID  string `xml:"UserId" json:"UserId"`
	Account string `xml:"Account" json:"Account"`
}

func marshalXMLResult(r callerIdentity, reqID string) []byte {
	type response struct {
		XMLName  xml.Name       `xml:"GetCallerIdentityResponse"`
		Xmlns    string         `xml:"xmlns,attr"`
		Result   callerIdentity `xml:"GetCallerIdentityResult"`
		Metadata struct {
			RequestID string `xml:"RequestId"`
		} `xml:"ResponseMetadata"`
	}
	v := response{Xmlns: stsNamespace, Result: r}
	v.Metadata.RequestID = reqID
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err) // fixed types; cannot fail
	}
	return append(out, '\n')
}

func marshalJSONResult(r callerIdentity, reqID string) []byte {
	v := map[string]any{"GetCallerIdentityResponse": map[string]any{
		"GetCallerIdentityResult": r,
		"ResponseMetadata":        map[string]string{"RequestId": reqID},
	}}
	out, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return out
}

func writeSTSError(w http.ResponseWriter, asJSON bool, reqID string, e *stsError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	w.Header().Set("X-Amzn-Requestid", reqID)
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.status)
		out, _ := json.Marshal(map[string]any{
			"Error":     map[string]string{"Type": typ, "Code": e.code, "Message": e.message},
			"RequestId": reqID,
		})
		_, _ = w.Write(out)
		return
	}
	type errorResponse struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		Error   struct {
			Type    string
			Code    string
			Message string
		}
		RequestID string `xml:"RequestId"`
	}
	v := errorResponse{Xmlns: stsNamespace, RequestID: reqID}
	v.Error.Type, v.Error.Code, v.Error.Message = typ, e.code, e.message
	out, _ := xml.MarshalIndent(v, "", "  ")
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	_, _ = w.Write(append(out, '\n'))
}

// stsParams merges the query and, for POST, the form body.
func stsParams(r *http.Request, body []byte) (url.Values, *stsError) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &stsError{http.StatusBadRequest, "MalformedQueryString", "the query string is malformed"}
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		ct := r.Header.Get("Content-Type")
		if len(body) > 0 && ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return nil, &stsError{http.StatusBadRequest, "InvalidParameterValue", "unsupported Content-Type " + ct}
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, &stsError{http.StatusBadRequest, "MalformedQueryString", "the request body is malformed"}
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	default:
		return nil, &stsError{http.StatusMethodNotAllowed, "InvalidAction", "method " + r.Method + " is not supported"}
	}
	return params, nil
}

const amzDateFormat = "20060102T150405Z"

// verify checks the request's SigV4 signature the way STS does: the key
// must be known, the scope must be for "sts" on the request's date, the
// date must be fresh, and recomputing the signature over exactly the
// signed headers with the key's secret must give the presented one.
func (s *STS) verify(r *http.Request, body []byte) (AWSKey, *stsError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return AWSKey{}, &stsError{http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"}
	}
	a, err := parseAuthorization(auth)
	if err != nil {
		return AWSKey{}, &stsError{http.StatusBadRequest, "IncompleteSignature", err.Error()}
	}
	s.mu.Lock()
	key, ok := s.keys[a.accessKeyID]
	s.mu.Unlock()
	if !ok {
		return AWSKey{}, &stsError{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	if token := r.Header.Get("X-Amz-Security-Token"); subtle.ConstantTimeCompare([]byte(token), []byte(key.SessionToken)) != 1 {
		return AWSKey{}, &stsError{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	rawDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(amzDateFormat, rawDate)
	if err != nil {
		return AWSKey{}, &stsError{http.StatusBadRequest, "IncompleteSignature", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	if a.date != rawDate[:8] {
		return AWSKey{}, &stsError{http.StatusForbidden, "SignatureDoesNotMatch", fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", a.date, rawDate[:8])}
	}
	if a.service != "sts" {
		return AWSKey{}, &stsError{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'sts'. "}
	}
	if s.Region != "" && a.region != s.Region {
		return AWSKey{}, &stsError{http.StatusForbidden, "SignatureDoesNotMatch", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", a.region)}
	}
	now := s.now().UTC()
	if d := now.Sub(signedAt); d > s.MaxSkew || d < -s.MaxSkew {
		return AWSKey{}, &stsError{http.StatusForbidden, "SignatureDoesNotMatch", fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			rawDate, now.Add(-s.MaxSkew).Format(amzDateFormat), now.Format(amzDateFormat), s.MaxSkew)}
	}
	if !containsAll(a.signedHeaders, "host", "x-amz-date") {
		return AWSKey{}, &stsError{http.StatusForbidden, "SignatureDoesNotMatch", "host and x-amz-date must be signed"}
	}

	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return AWSKey{}, &stsError{http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}

	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	re := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: http.Header{}}
	for _, h := range a.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			re.ContentLength = r.ContentLength
		default:
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				return AWSKey{}, &stsError{http.StatusForbidden, "SignatureDoesNotMatch", "signed header " + h + " is missing from the request"}
			}
			re.Header[textproto.CanonicalMIMEHeaderKey(h)] = vals
		}
	}
	signer := v4.NewSigner()
	if err := signer.SignHTTP(context.Background(), key.Credentials(), re, payloadHash, a.service, a.region, signedAt); err != nil {
		return AWSKey{}, &stsError{http.StatusInternalServerError, "InternalFailure", err.Error()}
	}
	want, err := parseAuthorization(re.Header.Get("Authorization"))
	if err != nil {
		return AWSKey{}, &stsError{http.StatusInternalServerError, "InternalFailure", err.Error()}
	}
	if strings.Join(want.signedHeaders, ";") != strings.Join(a.signedHeaders, ";") ||
		subtle.ConstantTimeCompare([]byte(want.signature), []byte(a.signature)) != 1 {
		return AWSKey{}, &stsError{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return key, nil
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, l := range list {
			if l == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

type authorization struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          string
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/
// SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(h string) (authorization, error) {
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(h, algo) {
		return authorization{}, fmt.Errorf("Authorization header must use AWS4-HMAC-SHA256")
	}
	var a authorization
	var cred, signed string
	for _, part := range strings.Split(h[len(algo):], ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return authorization{}, fmt.Errorf("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
		}
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.signature = v
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || signed == "" || a.signature == "" {
		return authorization{}, fmt.Errorf("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	a.accessKeyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	a.signedHeaders = strings.Split(signed, ";")
	return a, nil
}
