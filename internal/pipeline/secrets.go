package pipeline

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/airlockci/airlock/internal/secretref"
)

// Secret is one secret a step needs: the environment variable the agent puts
// it in, and the reference the agent resolves it from. A pipeline holds
// references only, never values.
//
// Buildkite's `secrets:` key, in both its forms, extended with references:
//
//	secrets:                                      # map: variable -> reference
//	  NPM_TOKEN: vault://secret/ci/npm#token
//	  DB_PASSWORD: aws-sm://prod/db#password
//	  LEGACY_TOKEN: LEGACY_TOKEN                  # a bare name: env://LEGACY_TOKEN
//	secrets: [GITHUB_TOKEN]                       # list: env://GITHUB_TOKEN
//
// A bare name (Buildkite's own form, naming a secret in Buildkite's store)
// means the variable of that name in the agent's own environment, where ECS,
// Kubernetes or systemd put secrets from the customer's store; so a
// Buildkite pipeline moves over unchanged, and the value is still masked.
type Secret struct {
	// Env is the environment variable name.
	Env string
	// Ref is the reference in canonical form (see package secretref).
	Ref string
	// Line and Column locate the entry in the file.
	Line, Column int
}

// SecretsFor returns the secrets step st gets: the pipeline's, except those
// the step declares itself, then the step's, in file order.
func (pl *Pipeline) SecretsFor(st *Step) []Secret {
	var out []Secret
	own := make(map[string]bool, len(st.Secrets))
	for _, s := range st.Secrets {
		own[s.Env] = true
	}
	for _, s := range pl.Secrets {
		if !own[s.Env] {
			out = append(out, s)
		}
	}
	return append(out, st.Secrets...)
}

// secrets parses a `secrets:` list of names or mapping of names to
// references.
func (p *parser) secrets(n *node) []Secret {
	var out []Secret
	seen := make(map[string]*node)
	add := func(nameNode *node, name string, ref string) {
		if !p.secretEnvName(nameNode, name) {
			return
		}
		if first, dup := seen[name]; dup {
			p.c.at(nameNode, "duplicate secret %s (first at line %d, column %d)", name, first.line, first.col)
			return
		}
		seen[name] = nameNode
		out = append(out, Secret{Env: name, Ref: ref, Line: nameNode.line, Column: nameNode.col})
	}
	switch {
	case n.isNull():
		return nil
	case n.kind == yaml.SequenceNode:
		for _, item := range n.items {
			name, ok := p.text(item, "an environment variable name")
			if !ok {
				continue
			}
			if strings.Contains(name, "://") {
				p.c.at(item, "a list of secrets names environment variables; to use the reference %q, write the mapping form: secrets: {NAME: %s}", truncate(name, 60), truncate(name, 60))
				continue
			}
			add(item, name, "env://"+name)
		}
	case n.kind == yaml.MappingNode:
		for _, kv := range n.pairs {
			ref, ok := p.text(kv.val, "a secret reference such as vault://secret/ci/npm#token")
			if !ok {
				continue
			}
			switch {
			case strings.Contains(ref, "://"):
				r, err := secretref.Parse(ref)
				if err != nil {
					p.c.at(kv.val, "%v", err)
					continue
				}
				ref = r.String()
			case secretref.ValidEnvName(ref):
				ref = "env://" + ref
			default:
				p.c.at(kv.val, "%q is not a secret reference; expected <scheme>://… (aws-sm, vault, azure-kv, gcp-sm, env or age), or a bare variable name for env://NAME", truncate(ref, 60))
				continue
			}
			add(kv.key, kv.key.value, ref)
		}
	default:
		p.c.at(n, "expected a list of secret names or a mapping of environment variables to secret references, got %s", describe(n))
	}
	return out
}

// secretEnvName checks the name a secret is put in. The agent sets CI and
// AIRLOCK_* itself, so a secret may not take those.
func (p *parser) secretEnvName(n *node, name string) bool {
	switch {
	case !secretref.ValidEnvName(name):
		p.c.at(n, "invalid secret name %q; an environment variable name is letters, digits and _, not starting with a digit", truncate(name, 40))
	case name == "CI" || strings.HasPrefix(name, "AIRLOCK_"):
		p.c.at(n, "secret name %s is reserved: the agent sets CI and AIRLOCK_* itself", name)
	default:
		return true
	}
	return false
}

// checkSecretNames refuses a variable that is both a secret and in env, in
// the same step: which value the step would get is not obvious, and a
// secret must never be shadowed by a value written in the file.
func (p *parser) checkSecretNames(pl *Pipeline) {
	reported := make(map[[2]int]bool)
	for _, st := range pl.Steps {
		inEnv := make(map[string]bool)
		for _, e := range pl.Env {
			inEnv[e.Name] = true
		}
		for _, e := range st.Env {
			inEnv[e.Name] = true
		}
		for _, s := range pl.SecretsFor(st) {
			at := [2]int{s.Line, s.Column}
			if inEnv[s.Env] && !reported[at] {
				reported[at] = true
				p.c.add(s.Line, s.Column, "%s is both a secret and an env variable of step %q; a variable comes from one or the other", s.Env, st.Key)
			}
		}
	}
}
