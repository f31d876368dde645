package identity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"mime"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// GetCallerIdentityBody is the only body an AWS proof may carry.
const GetCallerIdentityBody = "Action=GetCallerIdentity&Version=2011-06-15"

// forwarded are the headers sent on to STS; every other header of the
// proof is dropped, and every other X-Amz-* header refuses the proof.
var forwarded = map[string]bool{
	"Authorization":        true,
	"Content-Type":         true,
	"X-Amz-Date":           true,
	"X-Amz-Security-Token": true,
	"X-Amz-Content-Sha256": true,
	"X-Airlock-Challenge":  true,
}

// checkedNotForwarded are allowed in the proof, checked, and left to the
// Fetcher to set (from the URL and the body).
var checkedNotForwarded = map[string]bool{"Host": true, "Content-Length": true}

// signable are the headers SignedHeaders may list: what we forward plus
// what the transport sets identically.
var signable = map[string]bool{
	"authorization": false, // never signed
	"content-type":  true, "host": true, "content-length": true,
	"x-amz-date": true, "x-amz-security-token": true, "x-amz-content-sha256": true,
	"x-airlock-challenge": true,
}

var (
	headerName   = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]{1,64}$`)
	accessKeyID  = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	scopeDate    = regexp.MustCompile(`^[0-9]{8}$`)
	scopeRegion  = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	signatureHex = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

const amzDateLayout = "20060102T150405Z"

func (v *Verifier) verifyAWS(ctx context.Context, p *Proof, challenge string, now time.Time) (Identity, error) {
	req, err := v.rebuildSTSRequest(p.AWS, challenge, now)
	if err != nil {
		return Identity{}, err
	}
	resp, err := v.fetch.Fetch(ctx, req)
	if err != nil {
		return Identity{}, unavailable("asking STS at %s: %v", req.URL, err)
	}
	arn, err := readCallerIdentity(resp, req.URL)
	if err != nil {
		return Identity{}, err
	}
	canonical, err := CanonicalARN(arn)
	if err != nil {
		return Identity{}, refused("STS answered an ARN that cannot be used: %v", err)
	}
	id := Identity{Kind: KindAWS, Subject: canonical, Expires: now.Add(MaxSessionLifetime)}
	pool, ok := v.cfg.MatchRole(canonical)
	if !ok {
		return Identity{}, noPool(canonical)
	}
	return v.withPool(id, pool), nil
}

// rebuildSTSRequest turns the agent's signed request into the request the
// edge sends, built from parts the edge controls; anything else in the
// proof refuses it.
func (v *Verifier) rebuildSTSRequest(s *SignedRequest, challenge string, now time.Time) (HTTPRequest, error) {
	if s.Method != "POST" {
		return HTTPRequest{}, refused("aws: method %s; expected POST", quote(s.Method))
	}
	endpoint, err := v.stsEndpoint(s.URL)
	if err != nil {
		return HTTPRequest{}, err
	}
	if s.Body != GetCallerIdentityBody {
		return HTTPRequest{}, refused("aws: body %s; expected exactly %q", quote(s.Body), GetCallerIdentityBody)
	}

	headers := map[string]string{}
	for name, vals := range s.Headers {
		if !headerName.MatchString(name) {
			return HTTPRequest{}, refused("aws: header name %s is not a valid HTTP header name", quote(name))
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if _, dup := headers[canon]; dup {
			return HTTPRequest{}, refused("aws: header %s appears twice (names differ only in case)", canon)
		}
		if len(vals) != 1 {
			return HTTPRequest{}, refused("aws: header %s has %d values; expected one", canon, len(vals))
		}
		val := vals[0]
		if strings.ContainsAny(val, "\r\n\x00") || len(val) > 8<<10 {
			return HTTPRequest{}, refused("aws: header %s has a control character or is too long", canon)
		}
		if strings.HasPrefix(canon, "X-Amz-") && !forwarded[canon] {
			return HTTPRequest{}, refused("aws: header %s is not allowed; expected only X-Amz-Date, X-Amz-Security-Token and X-Amz-Content-Sha256", canon)
		}
		headers[canon] = val
	}

	u, _ := url.Parse(s.URL) // stsEndpoint parsed it already
	if h, ok := headers["Host"]; ok && !strings.EqualFold(h, u.Host) {
		return HTTPRequest{}, refused("aws: Host header %s differs from the URL's host %s", quote(h), quote(u.Host))
	}
	if n, ok := headers["Content-Length"]; ok && n != fmt.Sprint(len(GetCallerIdentityBody)) {
		return HTTPRequest{}, refused("aws: Content-Length %s; expected %d", quote(n), len(GetCallerIdentityBody))
	}
	if ct, ok := headers["Content-Type"]; ok {
		mt, params, err := mime.ParseMediaType(ct)
		cs, hasCS := params["charset"]
		if err != nil || mt != "application/x-www-form-urlencoded" || len(params) > 1 || (len(params) == 1 && (!hasCS || !strings.EqualFold(cs, "utf-8"))) {
			return HTTPRequest{}, refused("aws: Content-Type %s; expected application/x-www-form-urlencoded", quote(ct))
		}
	}
	if h, ok := headers["X-Amz-Content-Sha256"]; ok {
		sum := sha256.Sum256([]byte(GetCallerIdentityBody))
		if h != hex.EncodeToString(sum[:]) {
			return HTTPRequest{}, refused("aws: X-Amz-Content-Sha256 does not match the body")
		}
	}

	rawDate, ok := headers["X-Amz-Date"]
	if !ok {
		return HTTPRequest{}, refused("aws: no X-Amz-Date header; expected the signing time")
	}
	signedAt, err := time.Parse(amzDateLayout, rawDate)
	if err != nil {
		return HTTPRequest{}, refused("aws: X-Amz-Date %s; expected YYYYMMDDTHHMMSSZ", quote(rawDate))
	}
	if d := now.Sub(signedAt); d > MaxClockSkew || d < -MaxClockSkew {
		return HTTPRequest{}, &ClockSkewError{SignedAt: signedAt, ServerTime: now}
	}

	auth, ok := headers["Authorization"]
	if !ok {
		return HTTPRequest{}, refused("aws: no Authorization header; expected an AWS4-HMAC-SHA256 signature")
	}
	signed, err := checkAuthorization(auth, rawDate[:8])
	if err != nil {
		return HTTPRequest{}, err
	}
	for _, h := range signed {
		if !signable[h] {
			return HTTPRequest{}, refused("aws: signed header %s is not one the control plane forwards", quote(h))
		}
		if h == "host" || h == "content-length" {
			continue
		}
		if _, ok := headers[textproto.CanonicalMIMEHeaderKey(h)]; !ok {
			return HTTPRequest{}, refused("aws: signed header %s is missing from the request", quote(h))
		}
	}

	got, ok := headers[ChallengeHeader]
	if !ok {
		return HTTPRequest{}, refused("aws: no %s header; expected the challenge in a signed header", ChallengeHeader)
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(challenge)) != 1 {
		return HTTPRequest{}, refused("aws: the signed %s header holds another challenge; expected the one issued for this connection", ChallengeHeader)
	}

	out := HTTPRequest{
		Method: "POST",
		URL:    endpoint + "/",
		Header: map[string][]string{},
		Body:   []byte(GetCallerIdentityBody),
	}
	for name, val := range headers {
		if forwarded[name] {
			out.Header[name] = []string{val}
		}
	}
	out.Header["Accept"] = []string{"text/xml"}
	return out, nil
}

// checkAuthorization parses "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/
// sts/aws4_request, SignedHeaders=a;b, Signature=HEX" and returns the
// signed headers. STS checks the signature; this checks that what is
// signed is what the control plane needs signed.
func checkAuthorization(h, date string) ([]string, error) {
	const algo = "AWS4-HMAC-SHA256 "
	rest, ok := strings.CutPrefix(h, algo)
	if !ok {
		return nil, refused("aws: Authorization must be AWS4-HMAC-SHA256 (SigV4)")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || (k != "Credential" && k != "SignedHeaders" && k != "Signature") {
			return nil, refused("aws: Authorization part %s; expected Credential, SignedHeaders and Signature", quote(part))
		}
		if _, dup := fields[k]; dup {
			return nil, refused("aws: Authorization has %s twice", k)
		}
		fields[k] = v
	}
	if len(fields) != 3 {
		return nil, refused("aws: Authorization needs Credential, SignedHeaders and Signature")
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || !accessKeyID.MatchString(scope[0]) || !scopeDate.MatchString(scope[1]) ||
		!scopeRegion.MatchString(scope[2]) || scope[3] != "sts" || scope[4] != "aws4_request" {
		return nil, refused("aws: Credential %s; expected ACCESS_KEY_ID/YYYYMMDD/REGION/sts/aws4_request", quote(fields["Credential"]))
	}
	if scope[1] != date {
		return nil, refused("aws: the Credential's date %s is not X-Amz-Date's %s", scope[1], date)
	}
	if !signatureHex.MatchString(fields["Signature"]) {
		return nil, refused("aws: Signature is not 64 lower-case hex digits")
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.IsSorted(signed) || len(slices.Compact(slices.Clone(signed))) != len(signed) {
		return nil, refused("aws: SignedHeaders %s is not sorted or has duplicates", quote(fields["SignedHeaders"]))
	}
	for _, need := range []string{"host", "x-amz-date", strings.ToLower(ChallengeHeader)} {
		if !slices.Contains(signed, need) {
			return nil, refused("aws: SignedHeaders %s does not include %s; expected host, x-amz-date and %s signed",
				quote(fields["SignedHeaders"]), need, strings.ToLower(ChallengeHeader))
		}
	}
	return signed, nil
}

// stsEndpoint returns the allow-listed endpoint the URL names, refusing
// anything but scheme://host[:port] with path "/" (or none) and nothing
// else.
func (v *Verifier) stsEndpoint(raw string) (string, error) {
	if err := asciiURL(raw); err != nil {
		return "", refused("aws: url: %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", refused("aws: url %s is not a URL", quote(raw))
	}
	if u.User != nil || strings.Contains(u.Host, "@") {
		return "", refused("aws: url %s has user info; expected https://STS-HOST/", quote(raw))
	}
	if u.RawQuery != "" || u.ForceQuery || strings.Contains(raw, "?") {
		return "", refused("aws: url %s has a query string; expected none", quote(raw))
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "", refused("aws: url %s has a fragment; expected none", quote(raw))
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawPath != "" {
		return "", refused("aws: url %s has path %s; expected /", quote(raw), quote(u.Path))
	}
	ep := u.Scheme + "://" + u.Host
	if slices.Contains(v.cfg.STSEndpoints, ep) {
		return ep, nil
	}
	return "", refused("aws: url %s is not an allowed STS endpoint; expected https://sts.amazonaws.com/ or https://sts.REGION.amazonaws.com/", quote(raw))
}

// readCallerIdentity accepts only a 200 with a small XML (or JSON)
// GetCallerIdentityResponse holding one non-empty Arn and Account, the
// Account being the ARN's.
func readCallerIdentity(resp HTTPResponse, endpoint string) (string, error) {
	if resp.Status >= 300 && resp.Status < 400 {
		loc := ""
		if l := headerValue(resp.Header, "Location"); l != "" {
			loc = " to " + quote(l)
		}
		return "", refused("STS at %s answered a redirect (%d%s); redirects are never followed", endpoint, resp.Status, loc)
	}
	if len(resp.Body) > maxResponseBody {
		return "", refused("STS at %s answered %d bytes or more; expected at most %d", endpoint, len(resp.Body), maxResponseBody)
	}
	if resp.Status >= 500 || resp.Status == 429 {
		return "", unavailable("STS at %s answered %d", endpoint, resp.Status)
	}
	mt, _, _ := mime.ParseMediaType(headerValue(resp.Header, "Content-Type"))
	isXML := mt == "text/xml" || mt == "application/xml"
	isJSON := mt == "application/json"
	if resp.Status != 200 {
		if code, msg, ok := stsError(resp.Body, isXML); ok {
			return "", refused("STS at %s refused the proof (%d %s): %s", endpoint, resp.Status, code, quote(msg))
		}
		return "", refused("STS at %s answered %d", endpoint, resp.Status)
	}
	var arn, account string
	switch {
	case isXML:
		var r struct {
			XMLName xml.Name `xml:"GetCallerIdentityResponse"`
			Result  []struct {
				Arn     []string `xml:"Arn"`
				Account []string `xml:"Account"`
			} `xml:"GetCallerIdentityResult"`
		}
		dec := xml.NewDecoder(bytes.NewReader(resp.Body))
		dec.Strict = true
		if err := dec.Decode(&r); err != nil {
			return "", refused("STS at %s answered XML that is not a GetCallerIdentityResponse: %v", endpoint, err)
		}
		if len(r.Result) != 1 || len(r.Result[0].Arn) != 1 || len(r.Result[0].Account) != 1 {
			return "", refused("STS at %s answered a GetCallerIdentityResponse without exactly one Arn and Account", endpoint)
		}
		arn, account = r.Result[0].Arn[0], r.Result[0].Account[0]
	case isJSON:
		if err := checkJSON(resp.Body); err != nil {
			return "", refused("STS at %s answered bad JSON: %v", endpoint, err)
		}
		var r struct {
			GetCallerIdentityResponse *struct {
				GetCallerIdentityResult *struct {
					Arn     *string
					Account *string
					UserId  *string
				}
				ResponseMetadata json.RawMessage
			}
		}
		dec := json.NewDecoder(bytes.NewReader(resp.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil || r.GetCallerIdentityResponse == nil || r.GetCallerIdentityResponse.GetCallerIdentityResult == nil {
			return "", refused("STS at %s answered JSON that is not a GetCallerIdentityResponse", endpoint)
		}
		res := r.GetCallerIdentityResponse.GetCallerIdentityResult
		if res.Arn == nil || res.Account == nil {
			return "", refused("STS at %s answered a GetCallerIdentityResponse without Arn and Account", endpoint)
		}
		arn, account = *res.Arn, *res.Account
	default:
		return "", refused("STS at %s answered %s; expected text/xml or application/json", endpoint, quote(headerValue(resp.Header, "Content-Type")))
	}
	arn, account = strings.TrimSpace(arn), strings.TrimSpace(account)
	if arn == "" {
		return "", refused("STS at %s answered an empty Arn", endpoint)
	}
	if account == "" {
		return "", refused("STS at %s answered an empty Account", endpoint)
	}
	if parts := strings.SplitN(arn, ":", 6); len(parts) != 6 || parts[4] != account {
		return "", refused("STS at %s answered Arn %s that is not in Account %s", endpoint, quote(arn), quote(account))
	}
	return arn, nil
}

// stsError reads STS's ErrorResponse.
func stsError(body []byte, isXML bool) (code, msg string, ok bool) {
	if isXML {
		var e struct {
			Error struct{ Code, Message string }
		}
		if xml.Unmarshal(body, &e) == nil && e.Error.Code != "" {
			return e.Error.Code, e.Error.Message, true
		}
		return "", "", false
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return e.Error.Code, e.Error.Message, true
	}
	return "", "", false
}

func headerValue(h map[string][]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
