package secrets

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/airlockci/airlock/internal/secretref"
)

// GCP defaults.
const (
	DefaultGCPMetadata = "http://metadata.google.internal"
	DefaultGCPAPI      = "https://secretmanager.googleapis.com"
)

// GCP resolves gcp-sm://projects/<p>/secrets/<s>/versions/<v> with the
// agent's service account: an access token from the metadata server, then
// Secret Manager's REST API (GET …/versions/<v>:access), checking the
// payload's CRC32C.
type GCP struct {
	// Metadata is the metadata server's base URL; default
	// DefaultGCPMetadata (or http://$GCE_METADATA_HOST, see FromFlags).
	Metadata string
	// API is Secret Manager's base URL; default DefaultGCPAPI.
	API    string
	Client *http.Client
	Now    func() time.Time

	tokens tokenCache
}

var _ Backend = (*GCP)(nil)

// Resolve accesses the secret version.
func (g *GCP) Resolve(ctx context.Context, ref secretref.Ref, _ Job) (string, error) {
	api := g.API
	if api == "" {
		api = DefaultGCPAPI
	}
	u := fmt.Sprintf("%s/v1/projects/%s/secrets/%s/versions/%s:access", api,
		url.PathEscape(ref.Store), url.PathEscape(ref.Name), url.PathEscape(ref.Version))
	var out struct {
		Payload struct {
			Data   string `json:"data"`
			CRC32C string `json:"dataCrc32c"`
		} `json:"payload"`
	}
	if err := g.tokens.getWithToken(ctx, g.now(), g.token, g.Client, u, &out, gcpError); err != nil {
		return "", fmt.Errorf("secret manager: %w", err)
	}
	data, err := base64.StdEncoding.DecodeString(out.Payload.Data)
	if err != nil {
		return "", fmt.Errorf("secret manager: the payload is not base64")
	}
	if out.Payload.CRC32C != "" {
		want, err := strconv.ParseUint(out.Payload.CRC32C, 10, 32)
		if err != nil || crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) != uint32(want) {
			return "", fmt.Errorf("secret manager: the payload does not match its CRC32C")
		}
	}
	return string(data), nil
}

func (g *GCP) token(ctx context.Context) (token, error) {
	base := g.Metadata
	if base == "" {
		base = DefaultGCPMetadata
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/computeMetadata/v1/instance/service-accounts/default/token", nil)
	if err != nil {
		return token{}, err
	}
	req.Header.Set("Metadata-Flavor", "Google")
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := getJSON(g.Client, req, &out, nil); err != nil {
		return token{}, fmt.Errorf("metadata server token: %w", err)
	}
	if out.AccessToken == "" {
		return token{}, fmt.Errorf("metadata server token: the answer has no access_token")
	}
	if out.ExpiresIn <= 0 {
		out.ExpiresIn = 300
	}
	return token{value: out.AccessToken, expires: g.now().Add(time.Duration(out.ExpiresIn) * time.Second)}, nil
}

func (g *GCP) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// gcpError reads Google's {"error":{"code","message","status"}}.
func gcpError(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Status == "" {
		return ""
	}
	return e.Error.Status + ": " + e.Error.Message
}
