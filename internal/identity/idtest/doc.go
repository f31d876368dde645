// Package idtest runs the cloud identity services Airlock cannot reach from
// a test or a developer's machine, on 127.0.0.1, with real cryptography:
//
//   - STS answers sts:GetCallerIdentity like AWS STS. It verifies the SigV4
//     signature by recomputing it with aws-sdk-go-v2's signer for the key
//     pairs it was given, checks X-Amz-Date freshness, and answers with the
//     ARN that belongs to the key (XML, or JSON when asked). Anything else
//     gets STS's error XML. SetMode makes it misbehave (redirect, HTML,
//     oversized answer, empty Arn) for the verifier's tests.
//   - Credentials is a container-credentials endpoint, what ECS serves at
//     AWS_CONTAINER_CREDENTIALS_FULL_URI: with Env() in its environment an
//     agent's config.LoadDefaultConfig resolves the STS's key pair through
//     the SDK's ordinary provider chain.
//   - Issuer is an OpenID Connect issuer (discovery document and JWKS, types
//     from github.com/zitadel/oidc/v3/pkg/oidc, keys signed with go-jose)
//     that mints workload tokens with any claims, and malformed ones (alg
//     none, HMAC, unknown kid, two signatures...) for negative tests.
//
// Every fixture follows the same lifecycle: construct with NewX, adjust
// the exported fields, Start, use URL(), Close. Close waits for in-flight
// requests (up to 5 s) and for the serving goroutine to exit, and may be
// called more than once. Fields must not be changed after Start; the
// SetX/AddX methods are safe to call concurrently with requests.
//
// This package is for tests and the local development stack only; it is
// never linked into the edge or a production agent.
package idtest
