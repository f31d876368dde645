package secrets

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/airlockci/airlock/internal/secretref"
)

// Azure Key Vault defaults.
const (
	DefaultAzureIMDS     = "http://169.254.169.254"
	AzureKeyVaultAPI     = "7.4"
	azureKeyVaultScope   = "https://vault.azure.net"
	azureIMDSAPIVersion  = "2018-02-01"
	defaultAzureVaultDNS = "vault.azure.net"
)

// Azure resolves azure-kv://<vault>/<name>[/<version>] with the agent's
// managed identity: a token for https://vault.azure.net from the instance
// metadata service (IMDS), then Key Vault's REST API
// (GET https://<vault>.vault.azure.net/secrets/<name>?api-version=7.4).
type Azure struct {
	// IMDS is the instance metadata service's base URL; default DefaultAzureIMDS.
	IMDS string
	// ClientID selects a user-assigned managed identity; empty for the
	// system-assigned one.
	ClientID string
	// VaultURL maps a vault name to its base URL; default
	// https://<vault>.vault.azure.net.
	VaultURL func(vault string) string
	Client   *http.Client
	Now      func() time.Time

	tokens tokenCache
}

var _ Backend = (*Azure)(nil)

// Resolve reads the secret's current (or named) version.
func (a *Azure) Resolve(ctx context.Context, ref secretref.Ref, _ Job) (string, error) {
	base := "https://" + ref.Store + "." + defaultAzureVaultDNS
	if a.VaultURL != nil {
		base = a.VaultURL(ref.Store)
	}
	path := "/secrets/" + url.PathEscape(ref.Name)
	if ref.Version != "" {
		path += "/" + url.PathEscape(ref.Version)
	}
	var out struct {
		Value *string `json:"value"`
	}
	if err := a.tokens.getWithToken(ctx, a.now(), a.token, a.Client, base+path+"?api-version="+AzureKeyVaultAPI, &out, azureError); err != nil {
		return "", fmt.Errorf("key vault: %w", err)
	}
	if out.Value == nil {
		return "", fmt.Errorf("key vault: the answer has no value")
	}
	return *out.Value, nil
}

func (a *Azure) token(ctx context.Context) (token, error) {
	base := a.IMDS
	if base == "" {
		base = DefaultAzureIMDS
	}
	q := url.Values{"api-version": {azureIMDSAPIVersion}, "resource": {azureKeyVaultScope}}
	if a.ClientID != "" {
		q.Set("client_id", a.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metadata/identity/oauth2/token?"+q.Encode(), nil)
	if err != nil {
		return token{}, err
	}
	req.Header.Set("Metadata", "true")
	var out struct {
		AccessToken string      `json:"access_token"`
		ExpiresIn   json.Number `json:"expires_in"`
	}
	if err := getJSON(a.Client, req, &out, azureTokenError); err != nil {
		return token{}, fmt.Errorf("managed identity token: %w", err)
	}
	if out.AccessToken == "" {
		return token{}, fmt.Errorf("managed identity token: the answer has no access_token")
	}
	secs, _ := strconv.Atoi(out.ExpiresIn.String())
	if secs <= 0 {
		secs = 300
	}
	return token{value: out.AccessToken, expires: a.now().Add(time.Duration(secs) * time.Second)}, nil
}

func (a *Azure) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// azureError reads Key Vault's {"error":{"code","message"}}.
func azureError(body []byte) string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		return ""
	}
	return e.Error.Code + ": " + e.Error.Message
}

// azureTokenError reads IMDS's {"error","error_description"}.
func azureTokenError(body []byte) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	if e.Description != "" {
		return e.Error + ": " + e.Description
	}
	return e.Error
}
