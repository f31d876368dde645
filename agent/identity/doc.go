// Package identity is how an agent proves who it is to the control plane
// without holding any Airlock secret.
//
// There is no registration token, API key or shared secret for agents,
// anywhere. Instead the agent uses the workload identity its platform already
// gives it, short-lived and rotated by the platform:
//
//   - AWS (ECS task role, EC2 instance profile, EKS IRSA or Pod Identity, or
//     whatever else aws-sdk-go-v2's default chain resolves): the agent signs an
//     sts:GetCallerIdentity request with SigV4, with the control plane's
//     challenge in a signed header, and hands the signed request over without
//     sending it. The control plane sends it to STS itself and learns the
//     caller's ARN; it never sees the secret key, and the signature is useless
//     for anything but that one request, that one challenge, for minutes.
//   - GCP, Azure, Kubernetes and GitHub Actions: the agent fetches an OIDC
//     token its platform issued for the control plane's audience and hands it
//     over; the control plane verifies it against the issuer's keys.
//
// A Prover produces one fresh Proof per challenge. Credentials and tokens are
// fetched again for every proof, so a re-proof on an open connection carries
// renewed credentials. Tokens and keys never appear in an error.
package identity
