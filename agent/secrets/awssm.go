package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/airlockci/airlock/internal/secretref"
)

// AWS resolves aws-sm://<name or ARN>[#<json-key>] with Secrets Manager's
// GetSecretValue, signed with the agent's own AWS credentials (the SDK's
// default chain, the same the agent proves its identity with). With a key,
// the SecretString must be a JSON object and the key's value is returned.
// An ARN's own region wins over the configured one.
type AWS struct {
	// Region and Endpoint override the SDK's defaults (Endpoint: a VPC
	// endpoint, or a local fake in tests).
	Region   string
	Endpoint string
	// Config, when set, is used instead of config.LoadDefaultConfig.
	Config *aws.Config

	once   sync.Once
	client *secretsmanager.Client
	err    error
}

var _ Backend = (*AWS)(nil)

func (a *AWS) load(ctx context.Context) (*secretsmanager.Client, error) {
	a.once.Do(func() {
		var cfg aws.Config
		if a.Config != nil {
			cfg = a.Config.Copy()
		} else {
			var opts []func(*config.LoadOptions) error
			if a.Region != "" {
				opts = append(opts, config.WithRegion(a.Region))
			}
			// Loading reads configuration only; credentials are fetched on
			// the first call, so a detached context is right here.
			cfg, a.err = config.LoadDefaultConfig(context.WithoutCancel(ctx), opts...)
			if a.err != nil {
				a.err = fmt.Errorf("loading the AWS configuration: %w", a.err)
				return
			}
		}
		if a.Region != "" {
			cfg.Region = a.Region
		}
		a.client = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
			if a.Endpoint != "" {
				o.BaseEndpoint = aws.String(a.Endpoint)
			}
		})
	})
	return a.client, a.err
}

// Resolve fetches the secret's current version.
func (a *AWS) Resolve(ctx context.Context, ref secretref.Ref, _ Job) (string, error) {
	client, err := a.load(ctx)
	if err != nil {
		return "", err
	}
	var optFns []func(*secretsmanager.Options)
	if region := arnRegion(ref.Name); region != "" {
		optFns = append(optFns, func(o *secretsmanager.Options) { o.Region = region })
	} else if client.Options().Region == "" {
		return "", errors.New("no AWS region: set AWS_REGION or start the agent with --secrets-aws-region, or use the secret's ARN")
	}
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.Name)}, optFns...)
	if err != nil {
		return "", awsError(err)
	}
	var value string
	switch {
	case out.SecretString != nil:
		value = *out.SecretString
	case out.SecretBinary != nil:
		value = string(out.SecretBinary)
	default:
		return "", errors.New("secrets manager: the secret has no value")
	}
	if ref.Key == "" {
		return value, nil
	}
	return jsonKey(value, ref.Key)
}

// jsonKey returns key's value in the JSON object s: a string as it is,
// anything else as JSON. Its errors never quote s.
func jsonKey(s, key string) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return "", fmt.Errorf("the secret is not a JSON object, so it has no key %q", key)
	}
	raw, ok := m[key]
	if !ok {
		return "", fmt.Errorf("key %q is %w in the secret", key, ErrNotFound)
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str, nil
	}
	return string(raw), nil
}

// awsError keeps the service's error code and message (which name the
// secret, never its value) and drops the SDK's request details.
func awsError(err error) error {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("secrets manager: %w: %s", ErrNotFound, nf.ErrorMessage())
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("secrets manager: %s: %s", ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Errorf("secrets manager: %w", err)
}

// arnRegion is the region of a Secrets Manager ARN, or "".
func arnRegion(name string) string {
	if !strings.HasPrefix(name, "arn:") {
		return ""
	}
	parts := strings.SplitN(name, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[3]
}
