package devstack

import (
	"errors"
	"fmt"
	"os"

	"github.com/airlockci/airlock/internal/identity/idtest"
)

// DevAccount and DevRole name the local stand-in AWS account's agent role.
const (
	DevAccount = "000000000000"
	DevRole    = "airlock-dev-agent"
	// DevAudience is the local control plane's OIDC audience.
	DevAudience = "airlock.local"
)

// Cloud is the local stand-in for a customer's cloud, which cannot be
// reached from a development machine: an STS that verifies real SigV4
// signatures, the container-credentials endpoint that hands an agent its
// role's temporary credentials (as ECS does), and an OIDC issuer. The agent
// reaches them through the AWS SDK's ordinary provider chain and the control
// plane through its pools configuration, exactly as it would reach AWS.
type Cloud struct {
	STS         *idtest.STS
	Credentials *idtest.Credentials
	Issuer      *idtest.Issuer
}

// StartCloud starts the STS, the credentials endpoint and the issuer on
// 127.0.0.1.
func StartCloud(agentName string) (*Cloud, error) {
	key := idtest.NewAWSKey(fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", DevAccount, DevRole, agentName))
	c := &Cloud{}
	var err error
	if c.STS, err = idtest.StartSTS(key); err != nil {
		return nil, fmt.Errorf("devstack: local STS: %w", err)
	}
	if c.Credentials, err = idtest.StartCredentials(key); err != nil {
		c.Close()
		return nil, fmt.Errorf("devstack: local credentials endpoint: %w", err)
	}
	if c.Issuer, err = idtest.StartIssuer(); err != nil {
		c.Close()
		return nil, fmt.Errorf("devstack: local OIDC issuer: %w", err)
	}
	return c, nil
}

// Close stops everything that was started.
func (c *Cloud) Close() error {
	var errs []error
	if c.STS != nil {
		errs = append(errs, c.STS.Close())
	}
	if c.Credentials != nil {
		errs = append(errs, c.Credentials.Close())
	}
	if c.Issuer != nil {
		errs = append(errs, c.Issuer.Close())
	}
	return errors.Join(errs...)
}

// STSEndpoint is the URL agents sign their GetCallerIdentity requests for.
func (c *Cloud) STSEndpoint() string { return c.STS.URL() + "/" }

// UseCredentials points this process's AWS SDK at the credentials endpoint,
// as ECS does for a task: AWS_CONTAINER_CREDENTIALS_FULL_URI and its
// authorization token, and a region.
func (c *Cloud) UseCredentials() error {
	for _, kv := range append(c.Credentials.Env(), "AWS_REGION=us-east-1") {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				if err := os.Setenv(kv[:i], kv[i+1:]); err != nil {
					return err
				}
				break
			}
		}
	}
	// Nothing else on this machine may stand in for the agent's identity.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		os.Unsetenv(k)
	}
	return nil
}

// Pools is the control plane's agent pools file for this cloud: it trusts
// the dev role through the local STS, and Kubernetes service accounts of
// the namespace "airlock" through the local issuer.
func (c *Cloud) Pools() string {
	return fmt.Sprintf(`audience: %s
aws:
  sts_endpoints: [%q]
pools:
  - name: dev
    tags: {queue: default}
    aws:
      roles: ["arn:aws:iam::%s:role/%s"]
    oidc:
      - provider: kubernetes
        issuer: %q
        subject: "system:serviceaccount:airlock:*"
`, DevAudience, c.STS.URL(), DevAccount, DevRole, c.Issuer.URL())
}
