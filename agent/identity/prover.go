package identity

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/airlockci/airlock/internal/identity"
)

// A Prover produces a fresh proof answering one challenge from the control
// plane.
//
// Prove may be called any number of times, concurrently; each call fetches
// or signs anew, so it may block on the platform's metadata service or
// credential endpoint until ctx is done. A proof answers exactly the
// challenge it was given and should be presented once. Errors name the
// source that failed and never contain a credential or a token.
type Prover interface {
	Prove(ctx context.Context, challenge string) (*identity.Proof, error)
}

// Kinds of Prover, as chosen with --identity.
const (
	KindAWS        = "aws"
	KindGCP        = "gcp"
	KindAzure      = "azure"
	KindKubernetes = "kubernetes"
	KindGitHub     = "github"
)

// Kinds lists every kind New accepts.
var Kinds = []string{KindAWS, KindGCP, KindAzure, KindKubernetes, KindGitHub}

// ErrUnknownKind is returned by New for a kind that is not in Kinds.
var ErrUnknownKind = errors.New("unknown identity kind")

// Options configure the Prover New builds. Each field applies to some kinds
// only; the zero value of a field means the platform's default.
type Options struct {
	// Audience is the OIDC audience the token is requested for (gcp, azure,
	// github): the control plane's identifier, as its agent pools expect it.
	// Required for those kinds. Kubernetes sets the audience in the pod's
	// projected volume instead.
	Audience string
	// TokenFile is the projected service-account token (kubernetes).
	// Default DefaultKubernetesTokenFile.
	TokenFile string
	// Region is the AWS region (aws). Default: what the SDK resolves
	// (AWS_REGION, the shared config, ...).
	Region string
	// STSEndpoint is the STS URL the request is signed for (aws). Default:
	// the regional endpoint of Region, or the global one without a region.
	STSEndpoint string
	// MetadataURL is the base URL of the metadata service (gcp, azure), for
	// tests. Default: the platform's link-local address.
	MetadataURL string
	// ClientID selects a user-assigned managed identity (azure). Default:
	// the system-assigned one.
	ClientID string
}

// New returns the Prover of the given kind. It checks what it can without
// network I/O (required options, GitHub's environment); the platform is first
// asked for credentials by Prove.
func New(kind string, opts Options) (Prover, error) {
	needAudience := func() error {
		if strings.TrimSpace(opts.Audience) == "" {
			return fmt.Errorf("identity %s: an audience is required (the control plane's identifier)", kind)
		}
		return nil
	}
	switch kind {
	case KindAWS:
		// LoadDefaultConfig only reads the environment and config files;
		// credentials are resolved lazily, by Prove, with its context.
		return NewAWS(context.Background(), opts.Region, opts.STSEndpoint)
	case KindGCP:
		if err := needAudience(); err != nil {
			return nil, err
		}
		return &GCP{Audience: opts.Audience, MetadataURL: opts.MetadataURL}, nil
	case KindAzure:
		if err := needAudience(); err != nil {
			return nil, err
		}
		return &Azure{Resource: opts.Audience, ClientID: opts.ClientID, MetadataURL: opts.MetadataURL}, nil
	case KindKubernetes:
		return &Kubernetes{TokenFile: opts.TokenFile}, nil
	case KindGitHub:
		if err := needAudience(); err != nil {
			return nil, err
		}
		return NewGitHub(opts.Audience)
	case "":
		return nil, fmt.Errorf("%w: none given; want one of %s", ErrUnknownKind, strings.Join(Kinds, ", "))
	default:
		return nil, fmt.Errorf("%w %q; want one of %s", ErrUnknownKind, kind, strings.Join(Kinds, ", "))
	}
}

// FromFlags registers the identity flags on fs (--identity,
// --identity-audience, --identity-token-file, --identity-region,
// --identity-sts-endpoint, --identity-client-id) and returns the function
// that, called after fs is parsed, builds the chosen Prover with New.
// Defaults come from $AIRLOCK_IDENTITY and $AIRLOCK_IDENTITY_AUDIENCE.
func FromFlags(fs *flag.FlagSet) func() (Prover, error) {
	kind := fs.String("identity", os.Getenv("AIRLOCK_IDENTITY"),
		"how the agent proves who it is: "+strings.Join(Kinds, "|")+" ($AIRLOCK_IDENTITY)")
	var opts Options
	fs.StringVar(&opts.Audience, "identity-audience", os.Getenv("AIRLOCK_IDENTITY_AUDIENCE"),
		"OIDC audience to request a token for, for gcp, azure and github ($AIRLOCK_IDENTITY_AUDIENCE)")
	fs.StringVar(&opts.TokenFile, "identity-token-file", DefaultKubernetesTokenFile,
		"projected service-account token, for kubernetes")
	fs.StringVar(&opts.Region, "identity-region", "", "AWS region of the STS endpoint, for aws (default: the SDK's)")
	fs.StringVar(&opts.STSEndpoint, "identity-sts-endpoint", "", "STS endpoint to sign for, for aws (default: the region's)")
	fs.StringVar(&opts.ClientID, "identity-client-id", "", "user-assigned managed identity's client ID, for azure")
	return func() (Prover, error) {
		if strings.TrimSpace(*kind) == "" {
			// Said in the flag's terms: the agent was started without one.
			return nil, fmt.Errorf("--identity is required: one of %s", strings.Join(Kinds, ", "))
		}
		return New(*kind, opts)
	}
}

// defaultTimeout bounds one fetch from a metadata service or token endpoint
// when the caller's context has no earlier deadline.
const defaultTimeout = 10 * time.Second

// maxResponse caps what is read from a metadata service, token endpoint or
// token file; real tokens are a few KiB.
const maxResponse = 64 << 10
