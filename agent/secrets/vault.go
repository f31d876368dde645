package secrets

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	vault "github.com/hashicorp/vault/api"

	"github.com/airlockci/airlock/internal/secretref"
)

// Vault defaults.
const (
	DefaultVaultAWSMount  = "aws"
	DefaultVaultSTS       = "https://sts.amazonaws.com/"
	vaultServerIDHeader   = "X-Vault-Aws-Iam-Server-Id"
	stsGetCallerIdentity  = "Action=GetCallerIdentity&Version=2011-06-15"
	vaultLoginMaxDuration = 24 * time.Hour
)

// Vault resolves vault://<mount>/<path>#<key> from a KV version 2 engine.
// The agent logs in with Vault's AWS auth method, IAM type: it signs (does
// not send) an sts:GetCallerIdentity request with its own AWS credentials
// and hands it to Vault, which sends it to STS and maps the answer's ARN to
// a Vault role. The token is cached until shortly before its lease ends.
//
// The login data is built here with aws-sdk-go-v2's signer rather than
// vault/api/auth/aws, which needs the retired aws-sdk-go v1.
type Vault struct {
	// Address of the Vault server; required.
	Address string
	// Namespace (Vault Enterprise / HCP), optional.
	Namespace string
	// Role is the AWS auth role to log in as; required.
	Role string
	// Mount is where the AWS auth method is mounted; default "aws".
	Mount string
	// ServerID, when set, is sent in the signed X-Vault-AWS-IAM-Server-ID
	// header; it must match the auth method's iam_server_id_header_value.
	ServerID string
	// STSEndpoint is the STS URL the login request is signed for; default
	// the global endpoint (signed for us-east-1). STSRegion overrides the
	// region derived from it.
	STSEndpoint string
	STSRegion   string
	// Credentials default to the SDK's default chain.
	Credentials aws.CredentialsProvider
	HTTPClient  *http.Client
	Now         func() time.Time

	once   sync.Once
	client *vault.Client
	err    error
	tokens tokenCache
}

var _ Backend = (*Vault)(nil)

func (v *Vault) load(ctx context.Context) (*vault.Client, error) {
	v.once.Do(func() {
		if v.Address == "" {
			v.err = errors.New("this agent has no Vault address; start it with --vault-addr or set VAULT_ADDR")
			return
		}
		if v.Role == "" {
			v.err = errors.New("this agent has no Vault role; start it with --vault-aws-role")
			return
		}
		if v.Credentials == nil {
			cfg, err := config.LoadDefaultConfig(context.WithoutCancel(ctx))
			if err != nil {
				v.err = fmt.Errorf("loading the AWS configuration: %w", err)
				return
			}
			v.Credentials = cfg.Credentials
		}
		conf := vault.DefaultConfig()
		conf.Address = v.Address
		conf.MaxRetries = 1
		if v.HTTPClient != nil {
			conf.HttpClient = v.HTTPClient
		}
		// Vault answers with redirects only to its active node; Vault's own
		// client follows them, and the token is only ever sent to Address.
		c, err := vault.NewClient(conf)
		if err != nil {
			v.err = fmt.Errorf("vault client: %w", err)
			return
		}
		c.ClearToken() // never VAULT_TOKEN from the environment: the agent logs in
		if v.Namespace != "" {
			c.SetNamespace(v.Namespace)
		}
		v.client = c
	})
	return v.client, v.err
}

// Resolve reads the latest version of the secret and returns one key.
func (v *Vault) Resolve(ctx context.Context, ref secretref.Ref, _ Job) (string, error) {
	c, err := v.load(ctx)
	if err != nil {
		return "", err
	}
	for attempt := 0; ; attempt++ {
		tok, err := v.tokens.get(ctx, v.now(), func(ctx context.Context) (token, error) { return v.login(ctx, c) })
		if err != nil {
			return "", err
		}
		// A clone per call: the token is the caller's, not shared state.
		cc, err := c.Clone()
		if err != nil {
			return "", err
		}
		cc.SetToken(tok)
		if v.Namespace != "" {
			cc.SetNamespace(v.Namespace)
		}
		s, err := cc.KVv2(ref.Store).Get(ctx, ref.Name)
		if err != nil {
			var re *vault.ResponseError
			if errors.As(err, &re) && re.StatusCode == http.StatusForbidden && attempt == 0 {
				v.tokens.drop() // revoked or expired early: log in again once
				continue
			}
			return "", vaultError(err)
		}
		if s == nil || s.Data == nil {
			return "", fmt.Errorf("vault: the latest version is deleted or destroyed")
		}
		val, ok := s.Data[ref.Key]
		if !ok {
			return "", fmt.Errorf("vault: key %q is %w in the secret", ref.Key, ErrNotFound)
		}
		if str, ok := val.(string); ok {
			return str, nil
		}
		b, err := json.Marshal(val)
		if err != nil {
			return "", fmt.Errorf("vault: key %q holds a value that is not JSON", ref.Key)
		}
		return string(b), nil
	}
}

// login performs the AWS IAM login and returns the client token.
func (v *Vault) login(ctx context.Context, c *vault.Client) (token, error) {
	data, err := v.loginData(ctx)
	if err != nil {
		return token{}, err
	}
	mount := v.Mount
	if mount == "" {
		mount = DefaultVaultAWSMount
	}
	cc, err := c.Clone()
	if err != nil {
		return token{}, err
	}
	cc.ClearToken()
	if v.Namespace != "" {
		cc.SetNamespace(v.Namespace)
	}
	s, err := cc.Logical().WriteWithContext(ctx, "auth/"+strings.Trim(mount, "/")+"/login", data)
	if err != nil {
		return token{}, fmt.Errorf("vault login (aws auth, role %s): %w", v.Role, vaultError(err))
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return token{}, fmt.Errorf("vault login (aws auth, role %s): the answer has no token", v.Role)
	}
	lease := time.Duration(s.Auth.LeaseDuration) * time.Second
	if lease <= 0 || lease > vaultLoginMaxDuration {
		lease = vaultLoginMaxDuration
	}
	return token{value: s.Auth.ClientToken, expires: v.now().Add(lease)}, nil
}

// loginData signs an sts:GetCallerIdentity request as the AWS auth method
// expects it: method, URL, body and headers, base64-encoded.
func (v *Vault) loginData(ctx context.Context) (map[string]any, error) {
	endpoint := v.STSEndpoint
	if endpoint == "" {
		endpoint = DefaultVaultSTS
	}
	region := v.STSRegion
	if region == "" {
		region = stsRegion(endpoint)
	}
	creds, err := v.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("vault login: retrieving AWS credentials: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(stsGetCallerIdentity))
	if err != nil {
		return nil, fmt.Errorf("vault login: STS endpoint %q: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if v.ServerID != "" {
		req.Header.Set(vaultServerIDHeader, v.ServerID)
	}
	sum := sha256.Sum256([]byte(stsGetCallerIdentity))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "sts", region, v.now()); err != nil {
		return nil, fmt.Errorf("vault login: signing: %w", err)
	}
	headers, err := json.Marshal(req.Header)
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString
	return map[string]any{
		"role":                    v.Role,
		"iam_http_request_method": http.MethodPost,
		"iam_request_url":         b64([]byte(endpoint)),
		"iam_request_body":        b64([]byte(stsGetCallerIdentity)),
		"iam_request_headers":     b64(headers),
	}, nil
}

func (v *Vault) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// stsRegion is the signing region of an STS URL: the region in
// sts.<region>.amazonaws.com, else us-east-1 (the global endpoint's).
func stsRegion(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err == nil {
		parts := strings.Split(u.Hostname(), ".")
		if len(parts) >= 4 && parts[0] == "sts" && parts[1] != "amazonaws" {
			return parts[1]
		}
	}
	return "us-east-1"
}

// vaultError keeps Vault's status and its error strings ("permission
// denied"), which never hold a secret value.
func vaultError(err error) error {
	var re *vault.ResponseError
	if errors.As(err, &re) {
		msg := strings.Join(re.Errors, "; ")
		if re.StatusCode == http.StatusNotFound {
			return fmt.Errorf("vault: %w (%d) %s", ErrNotFound, re.StatusCode, shorten(msg, 200))
		}
		return fmt.Errorf("vault: %d %s", re.StatusCode, shorten(msg, 200))
	}
	if errors.Is(err, vault.ErrSecretNotFound) {
		return fmt.Errorf("vault: secret %w", ErrNotFound)
	}
	return fmt.Errorf("vault: %w", err)
}
