package secrets

import (
	"flag"
	"net/http"
	"os"
	"time"

	"github.com/airlockci/airlock/internal/secretref"
)

// FromFlags registers the agent's secret-backend flags on fs and returns a
// function that builds the Resolver once fs is parsed. Every backend is
// present; one that is not configured fails its references with an error
// that names the missing flag. Nothing is fetched until a job needs it.
func FromFlags(fs *flag.FlagSet) func() (*Resolver, error) {
	ageIdentity := fs.String("age-identity", "", "age identity file that decrypts age:// secrets in the repository (development)")
	awsRegion := fs.String("secrets-aws-region", "", "AWS region for aws-sm:// secrets (default: the SDK's, $AWS_REGION)")
	awsEndpoint := fs.String("secrets-aws-endpoint", "", "Secrets Manager endpoint URL (default: the region's; e.g. a VPC endpoint)")
	vaultAddr := fs.String("vault-addr", os.Getenv("VAULT_ADDR"), "Vault address for vault:// secrets ($VAULT_ADDR)")
	vaultNS := fs.String("vault-namespace", os.Getenv("VAULT_NAMESPACE"), "Vault namespace ($VAULT_NAMESPACE)")
	vaultRole := fs.String("vault-aws-role", "", "Vault AWS auth role the agent logs in as")
	vaultMount := fs.String("vault-aws-mount", DefaultVaultAWSMount, "mount path of Vault's AWS auth method")
	vaultServerID := fs.String("vault-aws-server-id", "", "value of the signed X-Vault-AWS-IAM-Server-ID header (the auth method's iam_server_id_header_value)")
	vaultSTS := fs.String("vault-sts-endpoint", DefaultVaultSTS, "STS endpoint the Vault login request is signed for (Vault's sts_endpoint)")
	azureClientID := fs.String("azure-client-id", "", "client ID of a user-assigned managed identity for azure-kv:// secrets (default: system-assigned)")
	gcpMeta := DefaultGCPMetadata
	if h := os.Getenv("GCE_METADATA_HOST"); h != "" {
		gcpMeta = "http://" + h
	}
	timeout := fs.Duration("secret-timeout", DefaultTimeout, "time allowed to resolve each secret")
	return func() (*Resolver, error) {
		age := &Age{}
		if *ageIdentity != "" {
			ids, err := LoadAgeIdentities(*ageIdentity)
			if err != nil {
				return nil, err
			}
			age.Identities = ids
		}
		return &Resolver{
			Timeout: *timeout,
			Backends: map[secretref.Scheme]Backend{
				secretref.AWSSecretsManager: &AWS{Region: *awsRegion, Endpoint: *awsEndpoint},
				secretref.Vault: &Vault{Address: *vaultAddr, Namespace: *vaultNS, Role: *vaultRole, Mount: *vaultMount,
					ServerID: *vaultServerID, STSEndpoint: *vaultSTS},
				secretref.AzureKeyVault:    &Azure{ClientID: *azureClientID, Client: &httpClient},
				secretref.GCPSecretManager: &GCP{Metadata: gcpMeta, Client: &httpClient},
				secretref.Env:              &Env{},
				secretref.Age:              age,
			},
		}, nil
	}
}

// Local returns a Resolver for `airlock run --local` and `airlock dev`:
// every backend configured from the environment only ($VAULT_ADDR, the
// AWS SDK's), and age with the given identity file (if any).
func Local(ageIdentity string) (*Resolver, error) {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	build := FromFlags(fs)
	if ageIdentity != "" {
		if err := fs.Set("age-identity", ageIdentity); err != nil {
			return nil, err
		}
	}
	return build()
}

// httpClient serves the REST backends; the resolver's per-secret timeout
// usually ends a request first.
var httpClient = http.Client{Timeout: time.Minute}
