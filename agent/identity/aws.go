package identity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/airlockci/airlock/internal/identity"
)

// STSBody is the exact body of the signed sts:GetCallerIdentity request; the
// control plane accepts no other.
const STSBody = "Action=GetCallerIdentity&Version=2011-06-15"

// GlobalSTSEndpoint is the STS endpoint used when no region is configured;
// it is signed for us-east-1.
const GlobalSTSEndpoint = "https://sts.amazonaws.com/"

// DefaultRefreshWithin is AWS.RefreshWithin's default.
const DefaultRefreshWithin = 10 * time.Minute

// AWS proves the agent's IAM identity with a SigV4-signed, unsent
// sts:GetCallerIdentity request that carries the challenge in the signed
// ChallengeHeader.
type AWS struct {
	// Credentials is asked for credentials on every Prove. Use a cache that
	// refreshes them (config.LoadDefaultConfig's does).
	Credentials aws.CredentialsProvider
	// Endpoint is the STS URL the request is signed for. Default: the
	// regional endpoint of Region, or GlobalSTSEndpoint without a region.
	Endpoint string
	// Region is the region the request is signed for when Endpoint is not a
	// recognisable AWS STS host; an AWS host's own region always wins (and
	// us-east-1 for the global endpoint).
	Region string
	// RefreshWithin: when the credentials the cache returns expire within
	// this long, Prove invalidates the cache and asks again, so a re-proof
	// made shortly before the old proof expires carries renewed credentials.
	// Default DefaultRefreshWithin; negative disables it.
	RefreshWithin time.Duration
	// Now is the signing clock. Default time.Now.
	Now func() time.Time
}

var _ Prover = (*AWS)(nil)

// NewAWS returns an AWS prover with credentials from the SDK's default chain
// (environment, shared config, web identity / IRSA, ECS and EKS Pod Identity
// container credentials, EC2 instance profile). region and endpoint may be
// empty for the defaults. No credentials are fetched until Prove.
func NewAWS(ctx context.Context, region, endpoint string) (*AWS, error) {
	var optFns []func(*config.LoadOptions) error
	if region != "" {
		optFns = append(optFns, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return nil, fmt.Errorf("identity aws: loading the AWS configuration: %w", err)
	}
	if cfg.Credentials == nil {
		return nil, errors.New("identity aws: the AWS SDK found no credential source")
	}
	p := &AWS{Credentials: cfg.Credentials, Region: cfg.Region, Endpoint: endpoint}
	if _, _, err := p.endpoint(); err != nil {
		return nil, err
	}
	return p, nil
}

// Prove signs a fresh sts:GetCallerIdentity request for challenge.
func (p *AWS) Prove(ctx context.Context, challenge string) (*identity.Proof, error) {
	if err := checkChallenge(challenge); err != nil {
		return nil, fmt.Errorf("identity aws: %w", err)
	}
	endpoint, region, err := p.endpoint()
	if err != nil {
		return nil, err
	}
	if p.Credentials == nil {
		return nil, errors.New("identity aws: no credentials provider")
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	creds, err := p.credentials(ctx, now())
	if err != nil {
		return nil, err
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(STSBody))
	if err != nil {
		return nil, fmt.Errorf("identity aws: building the STS request for %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set(identity.ChallengeHeader, challenge)
	sum := sha256.Sum256([]byte(STSBody))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "sts", region, now()); err != nil {
		return nil, fmt.Errorf("identity aws: signing the STS request: %w", err)
	}

	// Everything that was signed, as it would go on the wire: the signer
	// covers Host and Content-Length from the request itself.
	headers := make(map[string][]string, len(req.Header)+2)
	for k, v := range req.Header {
		headers[k] = append([]string(nil), v...)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	headers["Host"] = []string{host}
	headers["Content-Length"] = []string{strconv.Itoa(len(STSBody))}

	proof := &identity.Proof{
		Kind:      "aws",
		Challenge: challenge,
		AWS: &identity.SignedRequest{
			Method:  http.MethodPost,
			URL:     endpoint,
			Headers: headers,
			Body:    STSBody,
		},
	}
	if creds.CanExpire {
		proof.ExpiresUnix = creds.Expires.Unix()
	}
	return proof, nil
}

// credentials asks the provider, and asks again past its cache when what
// it returned is about to expire.
func (p *AWS) credentials(ctx context.Context, now time.Time) (aws.Credentials, error) {
	creds, err := p.Credentials.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("identity aws: retrieving credentials: %w", err)
	}
	within := p.RefreshWithin
	if within == 0 {
		within = DefaultRefreshWithin
	}
	if cache, ok := p.Credentials.(interface{ Invalidate() }); ok && within > 0 &&
		creds.CanExpire && creds.Expires.Sub(now) < within {
		cache.Invalidate()
		fresh, err := p.Credentials.Retrieve(ctx)
		switch {
		case err == nil:
			creds = fresh
		case !creds.Expires.After(now):
			return aws.Credentials{}, fmt.Errorf("identity aws: refreshing credentials that expired at %s: %w",
				creds.Expires.UTC().Format(time.RFC3339), err)
		}
		// A failed refresh of still-valid credentials proves with those: the
		// proof then expires with them, and the next one tries again.
	}
	if !creds.HasKeys() {
		return aws.Credentials{}, fmt.Errorf("identity aws: credentials from %q have no key pair", creds.Source)
	}
	return creds, nil
}

// endpoint returns the STS URL to sign for and the region to sign it in.
func (p *AWS) endpoint() (string, string, error) {
	endpoint := p.Endpoint
	if endpoint == "" {
		endpoint = DefaultSTSEndpoint(p.Region)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", "", fmt.Errorf("identity aws: STS endpoint %q: %w", endpoint, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", "", fmt.Errorf("identity aws: STS endpoint %q: want an http(s) URL with a host and no query, fragment or user", endpoint)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	region := stsHostRegion(u.Hostname())
	if region == "" {
		region = p.Region
	}
	if region == "" {
		region = "us-east-1"
	}
	return u.String(), region, nil
}

// DefaultSTSEndpoint is the regional STS endpoint of region, or
// GlobalSTSEndpoint when region is empty.
func DefaultSTSEndpoint(region string) string {
	switch {
	case region == "":
		return GlobalSTSEndpoint
	case strings.HasPrefix(region, "cn-"):
		return "https://sts." + region + ".amazonaws.com.cn/"
	default:
		return "https://sts." + region + ".amazonaws.com/"
	}
}

// stsHostRegion is the signing region of an AWS STS host name, or "" when
// host is not one.
func stsHostRegion(host string) string {
	host = strings.ToLower(host)
	if host == "sts.amazonaws.com" {
		return "us-east-1"
	}
	rest, ok := strings.CutSuffix(host, ".amazonaws.com")
	if !ok {
		rest, ok = strings.CutSuffix(host, ".amazonaws.com.cn")
	}
	if !ok {
		return ""
	}
	for _, prefix := range []string{"sts.", "sts-fips."} {
		if region, ok := strings.CutPrefix(rest, prefix); ok && region != "" && !strings.Contains(region, ".") {
			return region
		}
	}
	return ""
}

// checkChallenge refuses a challenge that cannot travel intact in a header:
// SigV4 canonicalisation would fold spaces, and control bytes could split it.
func checkChallenge(c string) error {
	if c == "" {
		return errors.New("empty challenge")
	}
	if len(c) > 1024 {
		return fmt.Errorf("challenge is %d bytes, want at most 1024", len(c))
	}
	for i := 0; i < len(c); i++ {
		if c[i] <= ' ' || c[i] > '~' {
			return fmt.Errorf("challenge has byte %#x at offset %d, want printable ASCII without spaces", c[i], i)
		}
	}
	return nil
}
