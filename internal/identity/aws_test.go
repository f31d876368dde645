package identity_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/airlockci/airlock/internal/identity"
	"github.com/airlockci/airlock/internal/identity/idtest"
)

func isErr(err, target error) bool { return errors.Is(err, target) }

func TestAWSProofEndToEnd(t *testing.T) {
	w := newWorld(t)
	p := w.awsProof(t, "ch-1")
	// Through the wire format, as the edge receives it.
	enc, err := identity.EncodeProof(p)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := identity.DecodeProof(enc)
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.v.Verify(context.Background(), dec, "ch-1")
	if err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:iam::" + account + ":role/airlock-agent"
	if id.Kind != "aws" || id.Subject != want || id.Pool != "linux" || id.Tags["queue"] != "default" {
		t.Errorf("got %+v, want %s in pool linux", id, want)
	}
	if !id.Expires.Equal(w.now.Add(identity.MaxSessionLifetime)) {
		t.Errorf("got expiry %v, want now + %v", id.Expires, identity.MaxSessionLifetime)
	}
	if w.sts.Requests() != 1 {
		t.Errorf("got %d STS requests, want 1", w.sts.Requests())
	}

	// The credentials' own expiry shortens the session.
	p = w.awsProof(t, "ch-2")
	p.ExpiresUnix = w.now.Add(10 * time.Minute).Unix()
	id, err = w.v.Verify(context.Background(), p, "ch-2")
	if err != nil || !id.Expires.Equal(w.now.Add(10*time.Minute)) {
		t.Errorf("got %v, %v; want expiry in 10 min", id.Expires, err)
	}
}

func TestAWSWildcardRoleAndSessionName(t *testing.T) {
	w := newWorld(t)
	k := idtest.NewAWSKey("arn:aws:sts::" + account + ":assumed-role/ci-builder/airlock-agent")
	w.sts.AddKey(k)
	p := w.awsProof(t, "c")
	p.AWS = signed(t, k.Credentials(), w.sts.URL()+"/", identity.GetCallerIdentityBody, "c", w.now, nil)
	id, err := w.v.Verify(context.Background(), p, "c")
	if err != nil || id.Pool != "linux" || id.Subject != "arn:aws:iam::"+account+":role/ci-builder" {
		t.Errorf("got %+v, %v; want ci-builder in linux", id, err)
	}

	// A session named like a trusted role grants nothing.
	k = idtest.NewAWSKey("arn:aws:sts::" + account + ":assumed-role/intruder/airlock-agent")
	w.sts.AddKey(k)
	p.AWS = signed(t, k.Credentials(), w.sts.URL()+"/", identity.GetCallerIdentityBody, "c", w.now, nil)
	_, err = w.v.Verify(context.Background(), p, "c")
	wantErr(t, err, identity.ErrNoPool, "arn:aws:iam::"+account+":role/intruder")
	if strings.Contains(err.Error(), "airlock-agent") || strings.Contains(err.Error(), "linux") {
		t.Errorf("got %q, which leaks the pools' contents", err)
	}
}

// TestAWSBadInput: one case per bad input of the issue. Nothing may reach
// STS for a request the edge refuses to rebuild.
func TestAWSBadInput(t *testing.T) {
	w := newWorld(t)
	creds := w.key.Credentials()
	sts := w.sts.URL()
	cases := []struct {
		name    string
		proof   func() *identity.SignedRequest
		want    error
		message string
	}{
		{"extra body parameter", func() *identity.SignedRequest {
			return signed(t, creds, sts+"/", identity.GetCallerIdentityBody+"&RoleArn=x", "c", w.now, nil)
		}, identity.ErrRefused, "body"},
		{"query string", func() *identity.SignedRequest {
			return signed(t, creds, sts+"/?Action=GetCallerIdentity", identity.GetCallerIdentityBody, "c", w.now, nil)
		}, identity.ErrRefused, "query string"},
		{"empty query string", func() *identity.SignedRequest {
			return signed(t, creds, sts+"/?", identity.GetCallerIdentityBody, "c", w.now, nil)
		}, identity.ErrRefused, "query string"},
		{"fragment", func() *identity.SignedRequest {
			s := signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "c", w.now, nil)
			s.URL += "#x"
			return s
		}, identity.ErrRefused, "fragment"},
		{"path", func() *identity.SignedRequest {
			return signed(t, creds, sts+"/other", identity.GetCallerIdentityBody, "c", w.now, nil)
		}, identity.ErrRefused, "path"},
		{"GET", func() *identity.SignedRequest {
			s := signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "c", w.now, nil)
			s.Method = "GET"
			return s
		}, identity.ErrRefused, "method"},
		{"unsigned challenge header", func() *identity.SignedRequest {
			s := signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "", w.now, nil)
			s.Headers[identity.ChallengeHeader] = []string{"c"}
			return s
		}, identity.ErrRefused, "does not include x-airlock-challenge"},
		{"no challenge header", func() *identity.SignedRequest {
			return signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "", w.now, nil)
		}, identity.ErrRefused, "x-airlock-challenge"},
		{"wrong challenge", func() *identity.SignedRequest {
			return signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "another-deployments-challenge", w.now, nil)
		}, identity.ErrRefused, "another challenge"},
		{"unknown X-Amz header", func() *identity.SignedRequest {
			return signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "c", w.now, func(r *http.Request) {
				r.Header.Set("X-Amz-Target", "AWSSecurityTokenServiceV20110615.AssumeRole")
			})
		}, identity.ErrRefused, "X-Amz-Target is not allowed"},
		{"header twice in different case", func() *identity.SignedRequest {
			s := signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "c", w.now, nil)
			s.Headers["x-amz-date"] = s.Headers["X-Amz-Date"]
			return s
		}, identity.ErrRefused, "appears twice"},
		{"not SigV4", func() *identity.SignedRequest {
			s := signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "c", w.now, nil)
			s.Headers["Authorization"] = []string{"Bearer x"}
			return s
		}, identity.ErrRefused, "AWS4-HMAC-SHA256"},
		{"signed for another service", func() *identity.SignedRequest {
			s := signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "c", w.now, nil)
			s.Headers["Authorization"] = []string{strings.Replace(s.Headers["Authorization"][0], "/sts/", "/iam/", 1)}
			return s
		}, identity.ErrRefused, "Credential"},
		{"signed header the edge drops", func() *identity.SignedRequest {
			return signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "c", w.now, func(r *http.Request) {
				r.Header.Set("X-Forwarded-For", "10.0.0.1")
			})
		}, identity.ErrRefused, "x-forwarded-for"},
		{"Host header differs", func() *identity.SignedRequest {
			s := signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "c", w.now, nil)
			s.Headers["Host"] = []string{"sts.amazonaws.com"}
			return s
		}, identity.ErrRefused, "Host header"},
	}
	for _, host := range []string{
		"https://sts.amazonaws.com.evil.com/", "https://sts-amazonaws.com/", "https://evil.com@sts.amazonaws.com/",
		"https://sts.amazonaws.com@evil.com/", "https://sts.amazonaws.com:8443/", "https://sts.amazonaws.com./",
		"https://xn--sts-amazonaws-xyz.com/", "https://stѕ.amazonaws.com/", "http://sts.amazonaws.com/",
		"https://STS.amazonaws.com/", "https://sts.amazonaws.com\\@evil.com/", "https://127.0.0.1/",
		"https://sts.evil-region.amazonaws.com/", "//sts.amazonaws.com/", "https:sts.amazonaws.com",
	} {
		cases = append(cases, struct {
			name    string
			proof   func() *identity.SignedRequest
			want    error
			message string
		}{"host " + host, func() *identity.SignedRequest {
			s := signed(t, creds, sts+"/", identity.GetCallerIdentityBody, "c", w.now, nil)
			s.URL = host
			return s
		}, identity.ErrRefused, "aws: url"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := w.sts.Requests()
			_, err := w.v.Verify(context.Background(), &identity.Proof{Kind: "aws", Challenge: "c", AWS: tc.proof()}, "c")
			wantErr(t, err, tc.want, tc.message)
			if w.sts.Requests() != before {
				t.Errorf("the refused proof reached STS")
			}
		})
	}
}

func TestAWSProofForAnotherChallenge(t *testing.T) {
	w := newWorld(t)
	p := w.awsProof(t, "mine")
	_, err := w.v.Verify(context.Background(), p, "theirs")
	wantErr(t, err, identity.ErrRefused, "another challenge")
	// Even with the envelope's challenge rewritten, the signed header says otherwise.
	p.Challenge = "theirs"
	_, err = w.v.Verify(context.Background(), p, "theirs")
	wantErr(t, err, identity.ErrRefused, "signed X-Airlock-Challenge header holds another challenge")
}

// TestAWSProofTamperedAfterSigning: what the edge cannot see (the secret),
// STS catches.
func TestAWSProofTamperedAfterSigning(t *testing.T) {
	w := newWorld(t)
	p := w.awsProof(t, "c")
	p.AWS.Headers["X-Amz-Security-Token"] = []string{w.key.SessionToken + "x"}
	_, err := w.v.Verify(context.Background(), p, "c")
	wantErr(t, err, identity.ErrRefused, "InvalidClientTokenId")

	p = w.awsProof(t, "c")
	sig := p.AWS.Headers["Authorization"][0]
	last := sig[len(sig)-1]
	flip := byte('0')
	if last == '0' {
		flip = '1'
	}
	p.AWS.Headers["Authorization"] = []string{sig[:len(sig)-1] + string(flip)}
	_, err = w.v.Verify(context.Background(), p, "c")
	wantErr(t, err, identity.ErrRefused, "SignatureDoesNotMatch")
}

func TestAWSClockSkew(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		offset time.Duration
		skew   bool
	}{
		{-4*time.Minute - 59*time.Second, false},
		{-5 * time.Minute, false},
		{4*time.Minute + 59*time.Second, false},
		{-5*time.Minute - 1*time.Second, true},
		{6 * time.Minute, true},
		{-time.Hour, true},
	}
	for _, tc := range cases {
		t.Run(tc.offset.String(), func(t *testing.T) {
			p := &identity.Proof{Kind: "aws", Challenge: "c",
				AWS: signed(t, w.key.Credentials(), w.sts.URL()+"/", identity.GetCallerIdentityBody, "c", w.now.Add(tc.offset), nil)}
			_, err := w.v.Verify(context.Background(), p, "c")
			if !tc.skew {
				if err != nil {
					t.Fatalf("got %v, want the proof accepted", err)
				}
				return
			}
			var ce *identity.ClockSkewError
			if !errors.As(err, &ce) || !errors.Is(err, identity.ErrClockSkew) || !errors.Is(err, identity.ErrRefused) {
				t.Fatalf("got %v, want a *ClockSkewError", err)
			}
			if !ce.ServerTime.Equal(w.now) || !strings.Contains(err.Error(), w.now.Format(time.RFC3339)) {
				t.Errorf("got %q, want the server time %s in it", err, w.now.Format(time.RFC3339))
			}
		})
	}
}

func TestAWSBadSTSAnswers(t *testing.T) {
	cases := []struct {
		mode    idtest.STSMode
		message string
	}{
		{idtest.STSRedirect, "redirect"},
		{idtest.STSHTML, "text/html"},
		{idtest.STSOversized, "bytes or more"},
		{idtest.STSEmptyARN, "empty Arn"},
	}
	for _, tc := range cases {
		t.Run(tc.message, func(t *testing.T) {
			w := newWorld(t)
			w.sts.SetMode(tc.mode)
			_, err := w.v.Verify(context.Background(), w.awsProof(t, "c"), "c")
			wantErr(t, err, identity.ErrRefused, tc.message)
		})
	}
}

func TestAWSSTSUnavailable(t *testing.T) {
	w := newWorld(t)
	_ = w.sts.Close()
	_, err := w.v.Verify(context.Background(), w.awsProof(t, "c"), "c")
	wantErr(t, err, identity.ErrUnavailable, "asking STS")
}

// fakeSTS answers from a table, for answers the idtest STS does not give.
type fakeSTS struct{ resp identity.HTTPResponse }

func (f fakeSTS) Fetch(context.Context, identity.HTTPRequest) (identity.HTTPResponse, error) {
	return f.resp, nil
}

func TestAWSSTSAnswersParsedStrictly(t *testing.T) {
	w := newWorld(t)
	xmlCT := map[string][]string{"Content-Type": {"text/xml"}}
	jsonCT := map[string][]string{"Content-Type": {"application/json"}}
	ok := func(arn string) string {
		return `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>` + arn + `</Arn><UserId>X</UserId><Account>` + account + `</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`
	}
	cases := []struct {
		name    string
		resp    identity.HTTPResponse
		want    error
		message string
	}{
		{"xml", identity.HTTPResponse{Status: 200, Header: xmlCT, Body: []byte(ok(agentARN))}, nil, ""},
		{"json", identity.HTTPResponse{Status: 200, Header: jsonCT, Body: []byte(`{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Arn":"` + agentARN + `","Account":"` + account + `","UserId":"X"},"ResponseMetadata":{"RequestId":"r"}}}`)}, nil, ""},
		{"two Arns", identity.HTTPResponse{Status: 200, Header: xmlCT, Body: []byte(strings.Replace(ok(agentARN), "<UserId>", "<Arn>arn:aws:sts::"+account+":assumed-role/airlock-agent/x</Arn><UserId>", 1))}, identity.ErrRefused, "exactly one Arn"},
		{"account mismatch", identity.HTTPResponse{Status: 200, Header: xmlCT, Body: []byte(ok("arn:aws:sts::999999999999:assumed-role/airlock-agent/i"))}, identity.ErrRefused, "not in Account"},
		{"other document", identity.HTTPResponse{Status: 200, Header: xmlCT, Body: []byte(`<AssumeRoleResponse/>`)}, identity.ErrRefused, "not a GetCallerIdentityResponse"},
		{"json duplicate key", identity.HTTPResponse{Status: 200, Header: jsonCT, Body: []byte(`{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Arn":"` + agentARN + `","Arn":"x","Account":"` + account + `"}}}`)}, identity.ErrRefused, "duplicate"},
		{"no content type", identity.HTTPResponse{Status: 200, Body: []byte(ok(agentARN))}, identity.ErrRefused, "expected text/xml"},
		{"403", identity.HTTPResponse{Status: 403, Header: xmlCT, Body: []byte(`<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error></ErrorResponse>`)}, identity.ErrRefused, "SignatureDoesNotMatch"},
		{"503", identity.HTTPResponse{Status: 503}, identity.ErrUnavailable, "503"},
		{"user ARN", identity.HTTPResponse{Status: 200, Header: xmlCT, Body: []byte(ok("arn:aws:iam::" + account + ":user/airlock-agent"))}, identity.ErrNoPool, "user/airlock-agent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := identity.NewVerifier(w.cfg, fakeSTS{tc.resp}, func() time.Time { return w.now })
			id, err := v.Verify(context.Background(), w.awsProof(t, "c"), "c")
			if tc.want == nil {
				if err != nil || id.Pool != "linux" {
					t.Fatalf("got %+v, %v; want pool linux", id, err)
				}
				return
			}
			wantErr(t, err, tc.want, tc.message)
		})
	}
}

func TestCanonicalARN(t *testing.T) {
	cases := []struct{ in, want, err string }{
		{"arn:aws:sts::123456789012:assumed-role/airlock-agent/i-0abc", "arn:aws:iam::123456789012:role/airlock-agent", ""},
		{"arn:aws-cn:sts::123456789012:assumed-role/r/s@example.com", "arn:aws-cn:iam::123456789012:role/r", ""},
		{"arn:aws-us-gov:sts::123456789012:assumed-role/AWSReservedSSO_Admin_abc/user", "arn:aws-us-gov:iam::123456789012:role/AWSReservedSSO_Admin_abc", ""},
		{"arn:aws:iam::123456789012:role/team/ci/agent", "arn:aws:iam::123456789012:role/agent", ""},
		{"arn:aws:iam::123456789012:role/agent", "arn:aws:iam::123456789012:role/agent", ""},
		{"arn:aws:iam::123456789012:user/bob", "arn:aws:iam::123456789012:user/bob", ""},
		{"arn:aws:sts::123456789012:federated-user/bob", "arn:aws:sts::123456789012:federated-user/bob", ""},
		{"arn:aws:sts::123456789012:assumed-role/r", "", "expected assumed-role/ROLE/SESSION"},
		{"arn:aws:sts::123456789012:assumed-role/r/s/extra", "", "expected assumed-role/ROLE/SESSION"},
		{"arn:aws:sts::12345678901:assumed-role/r/s", "", "12 digits"},
		{"arn:evil:sts::123456789012:assumed-role/r/s", "", "partition"},
		{"arn:aws:s3:::bucket", "", "account"},
		{"arn:aws:sts::123456789012", "", "not an ARN of a principal"},
		{"arn:aws:ec2::123456789012:instance/i", "", "service"},
		{"", "", "not an ARN"},
	}
	for _, tc := range cases {
		got, err := identity.CanonicalARN(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("CanonicalARN(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CanonicalARN(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestMatchRole(t *testing.T) {
	cfg, err := identity.LoadConfig("pools.yaml", []byte(`audience: a
pools:
  - name: exact
    aws: {roles: ["arn:aws:iam::111111111111:role/path/agent"]}
  - name: prefix
    aws: {roles: ["arn:aws:iam::111111111111:role/ci-*"]}
  - name: china
    aws: {roles: ["arn:aws-cn:iam::111111111111:role/agent"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ arn, pool string }{
		{"arn:aws:iam::111111111111:role/agent", "exact"},
		{"arn:aws:iam::111111111111:role/agent2", ""},
		{"arn:aws:iam::111111111111:role/agen", ""},
		{"arn:aws:iam::222222222222:role/agent", ""},
		{"arn:aws-cn:iam::111111111111:role/agent", "china"},
		{"arn:aws-us-gov:iam::111111111111:role/agent", ""},
		{"arn:aws:iam::111111111111:role/ci-", "prefix"},
		{"arn:aws:iam::111111111111:role/ci-build", "prefix"},
		{"arn:aws:iam::111111111111:role/ci", ""},
		{"arn:aws:iam::111111111111:role/CI-build", ""},
		{"arn:aws:iam::111111111111:user/agent", ""},
	}
	for _, tc := range cases {
		p, ok := cfg.MatchRole(tc.arn)
		got := ""
		if ok {
			got = p.Name
		}
		if got != tc.pool {
			t.Errorf("MatchRole(%s) = %q, want %q", tc.arn, got, tc.pool)
		}
	}
}

// TestSignedRequestBehaviours: BEHAVIOURS.md "Signed requests", checked on
// idtest.STS's signature verification (real STS only ever sees path "/").
func TestSignedRequestBehaviours(t *testing.T) {
	key := idtest.NewAWSKey(agentARN)
	sts, err := idtest.StartSTS(key)
	if err != nil {
		t.Fatal(err)
	}
	defer sts.Close()
	send := func(s *identity.SignedRequest, rawURL string) (int, string) {
		req, err := http.NewRequest(s.Method, rawURL, strings.NewReader(s.Body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = s.Headers
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	weird := sts.URL() + "/a path/with=equals+plus@at*star/ä?x=1&a=2"
	s := signed(t, key.Credentials(), weird, identity.GetCallerIdentityBody, "c", time.Now(), nil)
	if status, body := send(s, s.URL); status != 200 {
		t.Fatalf("weird path: got %d %s, want 200", status, body)
	}
	for _, changed := range []string{
		strings.Replace(s.URL, "equals", "equalz", 1),
		strings.Replace(s.URL, "x=1", "x=2", 1),
		strings.Replace(s.URL, "%C3%A4", "%C3%A5", 1),
	} {
		if status, body := send(s, changed); status != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
			t.Errorf("%s: got %d %s, want 403 SignatureDoesNotMatch", changed, status, body)
		}
	}

	s = signed(t, key.Credentials(), sts.URL()+"/", identity.GetCallerIdentityBody, "c", time.Now(), func(r *http.Request) {
		r.Header.Set("X-Airlock-Build", "  build   42  ")
	})
	if status, body := send(s, s.URL); status != 200 {
		t.Fatalf("spaces: got %d %s, want 200", status, body)
	}
	s.Headers["X-Airlock-Build"] = []string{"build 42"} // the normalised form signs the same
	if status, body := send(s, s.URL); status != 200 {
		t.Errorf("normalised: got %d %s, want 200", status, body)
	}
	s.Headers["X-Airlock-Build"] = []string{"build 43"}
	if status, _ := send(s, s.URL); status != 403 {
		t.Errorf("changed: got %d, want 403", status)
	}
}
