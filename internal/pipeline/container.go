package pipeline

import (
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ContainerStep runs a command step in a container, through the agent's
// Docker Engine API. It comes from Airlock's `image:` on a command step, or
// from Buildkite's docker plugin, so existing pipelines keep working:
//
//	steps:
//	  - command: go test ./...
//	    image: golang:1.26              # workspace mounted at /workspace
//	  - command: make dist
//	    plugins:
//	      - docker#v5.12.0:
//	          image: golang:1.26
//	          workdir: /app             # default /workdir, as the plugin's
//	          environment: [GOFLAGS=-mod=readonly, NPM_TOKEN]
//	          entrypoint: /bin/bash     # optional
//	  - plugins:
//	      - docker#v5.12.0: {image: alpine, command: [echo, hello]}
//
// Only the docker plugin's image, command, entrypoint, environment and
// workdir are supported; its other options are refused with
// "not supported yet: plugins.docker.<option>", and any other plugin with
// "not supported yet: plugins".
type ContainerStep struct {
	// Image is the image reference, as written.
	Image string
	// Entrypoint replaces the image's entrypoint; the step's commands are
	// then its arguments (one each) instead of a `/bin/sh -e -c` script.
	Entrypoint string
	// Command is the docker plugin's `command`: the container's command
	// for a step without commands.
	Command []string
	// Workdir is where the workspace is mounted and the step runs; empty
	// means the agent's default, /workspace.
	Workdir string
	// Environment is the docker plugin's `environment`: "KEY=VALUE" sets
	// a variable, a bare "KEY" passes the value the job has.
	Environment []string
}

// dockerPluginWorkdir is the Buildkite docker plugin's default workdir.
const dockerPluginWorkdir = "/workdir"

var dockerPluginKeys = keySet{
	prefix:    "plugins.docker.",
	supported: []string{"command", "entrypoint", "environment", "image", "workdir"},
	// The docker plugin's other options (buildkite-plugins/docker-buildkite-plugin v5).
	unsupported: []string{
		"add-caps", "add-groups", "add-host", "always-pull", "cap-add", "cap-drop", "cpus",
		"debug", "device-read-bps", "device-read-iops", "device-write-bps",
		"device-write-iops", "devices", "drop-caps", "entrypoint-args", "env-file",
		"env-propagation-list", "expand-image-vars", "gpus", "init", "interactive",
		"leave-container", "load", "log-driver", "memory", "memory-swap",
		"memory-swappiness", "mount-buildkite-agent", "mount-checkout", "mount-ssh-agent",
		"network", "pid", "platform", "privileged", "propagate-aws-auth-tokens",
		"propagate-environment", "propagate-gcp-auth-tokens", "propagate-uid-gid",
		"publish", "pull-retries", "read-only", "runtime", "run-labels", "security-opts",
		"shell", "shm-size", "skip-checkout", "storage-opts", "sysctls", "tmpfs", "tty",
		"ulimits", "user", "userns", "volumes", "workdir-mount",
	},
}

// dockerPluginPattern matches the names Buildkite resolves to its docker
// plugin: "docker", "docker#v5.12.0", and the full repository forms.
var dockerPluginPattern = regexp.MustCompile(`^(docker|([a-z][a-z0-9+.-]*://)?(github\.com/)?buildkite-plugins/docker(-buildkite-plugin)?(\.git)?)(#.+)?$`)

// imagePattern is a loose image reference: no spaces, no shell or URL
// syntax; the engine checks the rest.
var imagePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)

// image parses `image:` on a command step.
func (p *parser) image(n *node) *ContainerStep {
	ref, ok := p.imageRef(n)
	if !ok {
		return nil
	}
	return &ContainerStep{Image: ref}
}

func (p *parser) imageRef(n *node) (string, bool) {
	s, ok := p.text(n, "an image reference such as golang:1.26")
	if !ok {
		return "", false
	}
	if s == "" {
		p.c.at(n, "empty image; expected a name such as golang:1.26")
		return "", false
	}
	if len(s) > 512 || !imagePattern.MatchString(s) {
		p.c.at(n, "image %q is not an image reference; expected a name such as golang:1.26 or registry.example.com/team/app@sha256:…", truncate(s, 60))
		return "", false
	}
	return s, true
}

// plugins parses `plugins:` (a list of one-plugin mappings, or one mapping
// of plugins). It returns the docker plugin's container, if any, and
// whether it refused any plugin.
func (p *parser) plugins(n *node) (c *ContainerStep, refused bool) {
	var entries []pair
	switch n.kind {
	case yaml.SequenceNode:
		for _, item := range n.items {
			switch item.kind {
			case yaml.ScalarNode:
				if item.isNull() {
					p.c.at(item, "empty plugin; expected a plugin name with its configuration")
					refused = true
					continue
				}
				entries = append(entries, pair{key: item, val: &node{kind: yaml.ScalarNode, tag: "!!null", line: item.line, col: item.col}})
			case yaml.MappingNode:
				if len(item.pairs) != 1 {
					p.c.at(item, "expected one plugin per list item, got %d", len(item.pairs))
					refused = true
					continue
				}
				entries = append(entries, item.pairs[0])
			default:
				p.c.at(item, "expected a plugin (name: configuration), got %s", describe(item))
				refused = true
			}
		}
	case yaml.MappingNode:
		entries = n.pairs
	default:
		p.c.at(n, "expected a list of plugins, got %s", describe(n))
		return nil, true
	}
	var first *node
	for _, kv := range entries {
		if !dockerPluginPattern.MatchString(kv.key.value) {
			p.c.at(kv.key, "not supported yet: plugins")
			refused = true
			continue
		}
		if first != nil {
			p.c.at(kv.key, "a second docker plugin (first at line %d, column %d); a step runs in one container", first.line, first.col)
			refused = true
			continue
		}
		first = kv.key
		c = p.dockerPlugin(kv.key, kv.val)
		if c == nil {
			refused = true
		}
	}
	return c, refused
}

// dockerPlugin parses the docker plugin's configuration.
func (p *parser) dockerPlugin(name, n *node) *ContainerStep {
	if n.kind != yaml.MappingNode {
		where := name
		if !n.isNull() {
			where = n
		}
		p.c.at(where, "the docker plugin needs a configuration with \"image\", such as {image: golang:1.26}")
		return nil
	}
	c := &ContainerStep{Workdir: dockerPluginWorkdir}
	ok := true
	hasImage := false
	known := dockerPluginKeys.check(p.c, n)
	ok = len(known) == len(n.pairs)
	for _, kv := range known {
		v := kv.val
		switch kv.key.value {
		case "image":
			hasImage = true
			ref, good := p.imageRef(v)
			c.Image, ok = ref, ok && good
		case "entrypoint":
			s, good := p.text(v, "an entrypoint (a program in the image)")
			if good && s == "" {
				p.c.at(v, "empty entrypoint")
				good = false
			}
			c.Entrypoint, ok = s, ok && good
		case "command":
			c.Command = p.stringList(v, "the container's command as a list of arguments")
			ok = ok && c.Command != nil
		case "environment":
			if v.isNull() {
				continue
			}
			for _, item := range p.list(v, "a list of KEY or KEY=VALUE") {
				s, good := p.text(item, "KEY or KEY=VALUE")
				name, _, _ := strings.Cut(s, "=")
				if good && (name == "" || strings.ContainsRune(s, 0)) {
					p.c.at(item, "invalid environment entry %q; expected KEY or KEY=VALUE", truncate(s, 40))
					good = false
				}
				if good {
					c.Environment = append(c.Environment, s)
				}
				ok = ok && good
			}
		case "workdir":
			s, good := p.text(v, "an absolute path in the container")
			if good && (!strings.HasPrefix(s, "/") || strings.ContainsAny(s, ":\x00")) {
				p.c.at(v, "workdir %q must be an absolute path in the container, such as /app", truncate(s, 40))
				good = false
			}
			c.Workdir, ok = s, ok && good
		}
	}
	if !hasImage && len(known) == len(n.pairs) {
		p.c.at(name, "the docker plugin needs \"image\"")
		ok = false
	}
	if !ok {
		return nil
	}
	return c
}

// list returns a sequence's items, or reports what was expected.
func (p *parser) list(n *node, what string) []*node {
	if n.kind != yaml.SequenceNode {
		p.c.at(n, "expected %s, got %s", what, describe(n))
		return nil
	}
	return n.items
}

// stringList parses a non-empty list of text; nil after an error.
func (p *parser) stringList(n *node, what string) []string {
	items := p.list(n, what)
	if n.kind == yaml.SequenceNode && len(items) == 0 {
		p.c.at(n, "empty list; expected %s", what)
		return nil
	}
	var out []string
	for _, item := range items {
		s, ok := p.text(item, "an argument")
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}
