package pipeline

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Parse parses and validates the pipeline in src. filename is used only in
// error messages. It returns a valid *Pipeline, or nil and an *Errors that
// lists every problem found.
func Parse(filename string, src []byte) (*Pipeline, error) {
	c := newCollector(filename)
	root := load(c, src)
	if root == nil {
		return nil, c.err()
	}
	p := &parser{c: c}
	pl := p.pipeline(root)
	if !c.empty() {
		return nil, c.err()
	}
	return pl, nil
}

// entry is one item of `steps`, in file order.
type entry struct {
	pos  int   // 1-based position among the file's steps
	at   *node // the step as written
	step *Step // nil for a wait or an unsupported step
	// keyNode is where an explicit key was written (nil: default key).
	keyNode *node
	deps    []depRef

	wait              bool
	continueOnFailure bool
}

// depRef is one depends_on entry as written.
type depRef struct {
	key          string
	allowFailure bool
	at           *node
}

type parser struct {
	c       *collector
	entries []*entry
	// otherKeys are keys of steps Airlock does not support yet (block,
	// group, ...). They are already errors, so depending on them must not
	// add a second, misleading "no step has that key" error.
	otherKeys map[string]bool
}

func (p *parser) pipeline(root *node) *Pipeline {
	if root.kind != yaml.MappingNode {
		p.c.at(root, "expected a mapping with a \"steps\" list, got %s", describe(root))
		return nil
	}
	pl := &Pipeline{}
	var stepsPair *pair
	known := topKeys.check(p.c, root)
	for _, kv := range known {
		switch kv.key.value {
		case "env":
			pl.Env = p.env(kv.val)
		case "secrets":
			pl.Secrets = p.secrets(kv.val)
		case "steps":
			kv := kv
			stepsPair = &kv
		}
	}
	if stepsPair == nil {
		if len(known) < len(root.pairs) && !p.c.empty() {
			return nil // a misspelt "steps" is the likelier problem
		}
		p.c.add(1, 1, "missing key \"steps\"; a pipeline needs a list of steps")
		return nil
	}
	steps := stepsPair.val
	switch {
	case steps.isNull():
		p.c.at(stepsPair.key, "pipeline has no steps; expected a list of steps")
		return nil
	case steps.kind != yaml.SequenceNode:
		p.c.at(steps, "expected a list of steps, got %s", describe(steps))
		return nil
	}
	for i, item := range steps.items {
		p.step(i+1, item)
	}
	runnable := 0
	for _, e := range p.entries {
		if !e.wait {
			runnable++
		}
	}
	if runnable == 0 {
		p.c.at(stepsPair.key, "pipeline has no steps; expected at least one command or wasm step")
		return nil
	}
	pl.Steps = p.resolve()
	p.checkSecretNames(pl)
	return pl
}

func (p *parser) step(pos int, n *node) {
	e := &entry{pos: pos, at: n}
	p.entries = append(p.entries, e)
	switch n.kind {
	case yaml.ScalarNode:
		switch {
		case n.isNull():
			p.c.at(n, "empty step; expected a mapping (a command or wasm step) or \"wait\"")
		case n.value == "wait" || n.value == "waiter":
			e.wait = true
		case contains(unsupportedStepKinds, n.value):
			p.c.at(n, "not supported yet: %s", n.value)
		default:
			p.c.at(n, "unknown step %q; expected a mapping (a command or wasm step) or \"wait\"", truncate(n.value, 40))
		}
		return
	case yaml.SequenceNode:
		p.c.at(n, "expected a step (a mapping or \"wait\"), got a list")
		return
	}

	for _, kind := range unsupportedStepKinds {
		if kv, ok := n.getPair(kind); ok {
			p.c.at(kv.key, "not supported yet: %s", kind)
			p.noteOtherKeys(n)
			return
		}
	}
	typ := n.get("type")
	if typ != nil {
		t, ok := p.text(typ, "a step type")
		if !ok {
			return
		}
		switch {
		case contains(unsupportedStepKinds, t):
			p.c.at(typ, "not supported yet: %s", t)
			p.noteOtherKeys(n)
			return
		case t == "wait" || t == "waiter":
			e.wait = true
		case t == "script" || t == "command" || t == "commands":
		default:
			p.c.at(typ, "unknown step type %q; expected one of: command, commands, script, wait, waiter", truncate(t, 40))
			return
		}
	}
	if e.wait || n.get("wait") != nil || n.get("waiter") != nil {
		e.wait = true
		p.waitStep(e, n)
		return
	}
	// The nested forms `command: {…}`, `commands: {…}` and `script: {…}`
	// hold the whole step under one key.
	for _, k := range []string{"command", "commands", "script"} {
		kv, ok := n.getPair(k)
		if !ok || (kv.val.kind != yaml.MappingNode && k != "script") {
			continue
		}
		if len(n.pairs) != 1 || kv.val.kind != yaml.MappingNode {
			p.c.at(kv.key, "%q with a mapping is a nested command step and must be the only key of its step", k)
			return
		}
		p.commandStep(e, kv.val, n)
		return
	}
	p.commandStep(e, n, n)
}

// noteOtherKeys remembers the key of an unsupported step, and of the steps
// inside an unsupported group.
func (p *parser) noteOtherKeys(n *node) {
	if n.kind != yaml.MappingNode {
		return
	}
	if p.otherKeys == nil {
		p.otherKeys = make(map[string]bool)
	}
	if k := n.get("key"); k != nil && k.kind == yaml.ScalarNode {
		p.otherKeys[k.value] = true
	}
	if steps := n.get("steps"); steps != nil && steps.kind == yaml.SequenceNode {
		for _, s := range steps.items {
			p.noteOtherKeys(s)
		}
	}
}

func (p *parser) waitStep(e *entry, n *node) {
	for _, kv := range waitStepKeys.check(p.c, n) {
		switch kv.key.value {
		case "wait", "waiter":
			switch {
			case kv.val.isNull():
			case kv.val.kind == yaml.MappingNode:
				p.waitStep(e, kv.val)
			case kv.val.kind == yaml.ScalarNode && kv.val.value == "":
			case kv.val.kind == yaml.ScalarNode:
				// `wait: "label"` names the wait; waits vanish from the
				// parsed pipeline, so the label would be dropped.
				p.c.at(kv.val, "not supported yet: wait.label")
			default:
				p.c.at(kv.val, "expected null or a mapping after %q, got %s", kv.key.value, describe(kv.val))
			}
		case "continue_on_failure":
			if b, ok := p.boolean(kv.val); ok {
				e.continueOnFailure = b
			}
		case "type":
			if t, ok := p.text(kv.val, "a step type"); ok && t != "wait" && t != "waiter" {
				p.c.at(kv.val, "type %q does not match a wait step; expected wait or waiter", truncate(t, 40))
			}
		}
	}
}

func (p *parser) commandStep(e *entry, m, outer *node) {
	s := &Step{Line: outer.line, Column: outer.col}
	e.step = s
	var (
		commandKey, labelKey *node
		wasmKey, typeKey     *node
		commandSeen          bool
		// imageKey is `image:` or `plugins:` with the docker plugin;
		// pluginRefused is set when a plugin was refused.
		imageKey      *node
		pluginRefused bool
	)
	known := commandStepKeys.check(p.c, m)
	for _, kv := range known {
		k, v := kv.key, kv.val
		switch k.value {
		case "key":
			if key, ok := p.text(v, "a step key"); ok && p.validKey(v, key) {
				s.Key = key
				e.keyNode = v
			}
		case "label", "name":
			if labelKey != nil {
				p.c.at(k, "%q and %q both set the label (name is Buildkite's alias for label); use one", labelKey.value, k.value)
				continue
			}
			labelKey = k
			if l, ok := p.text(v, "a label"); ok {
				s.Label = l
			}
		case "command", "commands":
			commandSeen = true
			if commandKey != nil {
				p.c.at(k, "both %q and %q are set; use one", commandKey.value, k.value)
				continue
			}
			commandKey = k
			s.Commands = p.commands(v)
		case "depends_on":
			e.deps = p.dependsOn(v)
		case "env":
			s.Env = p.env(v)
		case "secrets":
			s.Secrets = p.secrets(v)
		case "agents":
			s.Agents = p.agents(v)
		case "retry":
			s.Retry = p.retry(v)
		case "timeout_in_minutes":
			if t, ok := p.integer(v); ok {
				if t < 1 {
					p.c.at(v, "timeout_in_minutes must be at least 1, got %d", t)
				}
				s.TimeoutInMinutes = t
			}
		case "soft_fail":
			s.SoftFail = p.softFail(v)
		case "type":
			typeKey = k
			if t, ok := p.text(v, "a step type"); ok && t != "script" && t != "command" && t != "commands" {
				p.c.at(v, "type %q does not match a command step; expected one of: command, commands, script", truncate(t, 40))
			}
		case "wasm":
			wasmKey = k
			s.Wasm = p.wasm(v)
		case "image", "plugins":
			var c *ContainerStep
			if k.value == "image" {
				c = p.image(v)
			} else {
				c, pluginRefused = p.plugins(v)
			}
			if c == nil {
				continue
			}
			if imageKey != nil {
				p.c.at(k, "both %q and %q set the step's image; use one", imageKey.value, k.value)
				continue
			}
			imageKey, s.Container = k, c
		}
	}
	hasCommand := s.Container != nil && len(s.Container.Command) > 0
	switch {
	case imageKey != nil && wasmKey != nil:
		p.c.at(imageKey, "a wasm step runs no container; remove %q", imageKey.value)
	case hasCommand && commandKey != nil:
		p.c.at(commandKey, "both %q and the docker plugin's \"command\" say what to run; use one", commandKey.value)
	case hasCommand:
		// The docker plugin's command is what the step runs.
	case wasmKey != nil && commandKey != nil:
		p.c.at(wasmKey, "a step has either commands or wasm, not both")
	case wasmKey != nil && typeKey != nil:
		p.c.at(typeKey, "a wasm step has no type; remove \"type\"")
	case wasmKey == nil && !commandSeen && len(known) == len(m.pairs) && !pluginRefused:
		// (With an unknown or unsupported key, that key is the likelier
		// problem: a misspelt "comand", or a plugins-only step.)
		p.c.at(outer, "step has nothing to run; expected \"command\", \"commands\" or \"wasm\"")
	}
}

// text returns a scalar's text exactly as written. Any non-null scalar is
// text: `label: 1.10` is the label "1.10".
func (p *parser) text(n *node, what string) (string, bool) {
	if n.kind != yaml.ScalarNode || n.isNull() {
		p.c.at(n, "expected %s, got %s", what, describe(n))
		return "", false
	}
	return n.value, true
}

// keyPattern is Buildkite's rule for step keys.
var keyPattern = regexp.MustCompile(`^[a-zA-Z0-9_\-:${}.,]+$`)
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (p *parser) validKey(n *node, key string) bool {
	switch {
	case len(key) > 100:
		p.c.at(n, "step key is %d characters long; the limit is 100", len(key))
	case !keyPattern.MatchString(key):
		p.c.at(n, "step key %q may only hold letters, digits and _-:${}.,", truncate(key, 40))
	case uuidPattern.MatchString(key):
		p.c.at(n, "step key %q looks like a UUID, which is reserved for step IDs", key)
	default:
		return true
	}
	return false
}

var decimalPattern = regexp.MustCompile(`^-?[0-9]{1,9}$`)

// integer accepts a plain decimal integer ("15", "-1"), not a quoted one.
func (p *parser) integer(n *node) (int, bool) {
	if n.kind == yaml.ScalarNode && n.tag == "!!int" && decimalPattern.MatchString(n.value) {
		i, err := strconv.Atoi(n.value)
		if err == nil {
			return i, true
		}
	}
	p.c.at(n, "expected an integer, got %s", describe(n))
	return 0, false
}

// boolean accepts true and false, plain or quoted (as Buildkite does).
func (p *parser) boolean(n *node) (bool, bool) {
	if n.kind == yaml.ScalarNode && (n.tag == "!!bool" || n.tag == "!!str") {
		switch strings.ToLower(n.value) {
		case "true":
			if n.tag == "!!bool" || n.value == "true" {
				return true, true
			}
		case "false":
			if n.tag == "!!bool" || n.value == "false" {
				return false, true
			}
		}
	}
	p.c.at(n, "expected true or false, got %s", describe(n))
	return false, false
}

func (p *parser) commands(n *node) []string {
	switch n.kind {
	case yaml.ScalarNode:
		if s, ok := p.command(n, "a command string or a list of command strings"); ok {
			return []string{s}
		}
		return nil
	case yaml.SequenceNode:
		if len(n.items) == 0 {
			p.c.at(n, "empty list of commands; expected at least one command")
			return nil
		}
		var out []string
		for _, item := range n.items {
			if s, ok := p.command(item, "a command string"); ok {
				out = append(out, s)
			}
		}
		return out
	}
	p.c.at(n, "expected a command string or a list of command strings, got %s", describe(n))
	return nil
}

func (p *parser) command(n *node, what string) (string, bool) {
	s, ok := p.text(n, what)
	if ok && strings.TrimSpace(s) == "" {
		p.c.at(n, "empty command")
		return "", false
	}
	return s, ok
}

func (p *parser) dependsOn(n *node) []depRef {
	var out []depRef
	seen := make(map[string]*node)
	add := func(d depRef) {
		if first, ok := seen[d.key]; ok {
			p.c.at(d.at, "duplicate dependency %q (first at line %d, column %d)", d.key, first.line, first.col)
			return
		}
		seen[d.key] = d.at
		out = append(out, d)
	}
	switch n.kind {
	case yaml.ScalarNode:
		if n.isNull() {
			return nil
		}
		if k, ok := p.depKey(n); ok {
			add(depRef{key: k, at: n})
		}
		return out
	case yaml.SequenceNode:
		for _, item := range n.items {
			switch item.kind {
			case yaml.ScalarNode:
				if k, ok := p.depKey(item); ok {
					add(depRef{key: k, at: item})
				}
			case yaml.MappingNode:
				d := depRef{at: item}
				hasStep := false
				known := dependencyKeys.check(p.c, item)
				for _, kv := range known {
					switch kv.key.value {
					case "step":
						hasStep = true
						if k, ok := p.depKey(kv.val); ok {
							d.key, d.at = k, kv.val
						}
					case "allow_failure":
						d.allowFailure, _ = p.boolean(kv.val)
					}
				}
				if !hasStep && len(known) == len(item.pairs) {
					p.c.at(item, "dependency has no \"step\"; expected {step: <key>, allow_failure: true|false}")
				} else if d.key != "" {
					add(d)
				}
			default:
				p.c.at(item, "expected a step key or {step: <key>, allow_failure: …}, got %s", describe(item))
			}
		}
		return out
	}
	p.c.at(n, "expected a step key or a list of step keys, got %s", describe(n))
	return nil
}

func (p *parser) depKey(n *node) (string, bool) {
	k, ok := p.text(n, "a step key")
	if ok && k == "" {
		p.c.at(n, "empty step key in depends_on")
		return "", false
	}
	return k, ok
}

// env parses an env mapping. Values stay exactly as written: `BUILD: 010`
// is "010", `REGION: NO` is "NO".
func (p *parser) env(n *node) []EnvVar {
	if n.isNull() {
		return nil
	}
	if n.kind != yaml.MappingNode {
		p.c.at(n, "expected a mapping of environment variables (NAME: value), got %s", describe(n))
		return nil
	}
	var out []EnvVar
	for _, kv := range n.pairs {
		name := kv.key.value
		if name == "" || strings.ContainsAny(name, "=\x00") {
			p.c.at(kv.key, "invalid environment variable name %q", truncate(name, 40))
			continue
		}
		v := kv.val
		if v.kind != yaml.ScalarNode {
			p.c.at(v, "expected a value for %s, got %s", name, describe(v))
			continue
		}
		if v.isNull() {
			p.c.at(v, "%s has no value; write \"\" for an empty value", name)
			continue
		}
		out = append(out, EnvVar{Name: name, Value: v.value})
	}
	return out
}

func (p *parser) agents(n *node) map[string]string {
	out := make(map[string]string)
	switch n.kind {
	case yaml.MappingNode:
		for _, kv := range n.pairs {
			if kv.key.value == "" {
				p.c.at(kv.key, "empty agent tag name")
				continue
			}
			if v, ok := p.text(kv.val, "a tag value"); ok {
				out[kv.key.value] = v
			}
		}
	case yaml.SequenceNode:
		where := make(map[string]*node)
		for _, item := range n.items {
			s, ok := p.text(item, `a "key=value" agent tag`)
			if !ok {
				continue
			}
			k, v, found := strings.Cut(s, "=")
			if !found || k == "" {
				p.c.at(item, `expected a "key=value" agent tag, got %q`, truncate(s, 40))
				continue
			}
			if first, dup := where[k]; dup {
				p.c.at(item, "duplicate agent tag %q (first at line %d, column %d)", k, first.line, first.col)
				continue
			}
			where[k] = item
			out[k] = v
		}
	default:
		if n.isNull() {
			return nil
		}
		p.c.at(n, `expected a mapping of agent tags or a list of "key=value" strings, got %s`, describe(n))
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// defaultRetryLimit is Buildkite's limit for `automatic: true` and for a rule
// without one.
const defaultRetryLimit = 2

func (p *parser) retry(n *node) []RetryRule {
	if n.isNull() {
		return nil
	}
	if n.kind != yaml.MappingNode {
		p.c.at(n, "expected a mapping with \"automatic\", got %s", describe(n))
		return nil
	}
	var out []RetryRule
	for _, kv := range retryKeys.check(p.c, n) {
		v := kv.val
		switch v.kind {
		case yaml.ScalarNode:
			if b, ok := p.boolean(v); ok && b {
				out = append(out, RetryRule{Limit: defaultRetryLimit})
			}
		case yaml.MappingNode:
			if r, ok := p.retryRule(v); ok {
				out = append(out, r)
			}
		case yaml.SequenceNode:
			for _, item := range v.items {
				if item.kind != yaml.MappingNode {
					p.c.at(item, "expected a retry rule {exit_status: …, limit: …}, got %s", describe(item))
					continue
				}
				if r, ok := p.retryRule(item); ok {
					out = append(out, r)
				}
			}
		}
	}
	return out
}

func (p *parser) retryRule(n *node) (RetryRule, bool) {
	r := RetryRule{Limit: defaultRetryLimit}
	ok := true
	for _, kv := range automaticRetryKeys.check(p.c, n) {
		switch kv.key.value {
		case "exit_status":
			var good bool
			r.ExitStatuses, good = p.exitStatuses(kv.val, true)
			ok = ok && good
		case "limit":
			l, good := p.integer(kv.val)
			if good && (l < 0 || l > 10) {
				p.c.at(kv.val, "retry limit must be between 0 and 10, got %d", l)
				good = false
			}
			r.Limit = l
			ok = ok && good
		}
	}
	return r, ok
}

// exitStatuses parses "*" (nil: any non-zero status), an integer, or (when
// list is true) a list of integers.
func (p *parser) exitStatuses(n *node, list bool) ([]int, bool) {
	if n.kind == yaml.ScalarNode && n.value == "*" && n.tag == "!!str" {
		return nil, true
	}
	if n.kind == yaml.SequenceNode && list {
		if len(n.items) == 0 {
			p.c.at(n, "empty list of exit statuses")
			return nil, false
		}
		var out []int
		for _, item := range n.items {
			c, ok := p.integer(item)
			if !ok {
				return nil, false
			}
			out = append(out, c)
		}
		return out, true
	}
	if n.kind == yaml.ScalarNode && n.tag == "!!int" {
		c, ok := p.integer(n)
		return []int{c}, ok
	}
	if list {
		p.c.at(n, "expected an exit status, \"*\" or a list of exit statuses, got %s", describe(n))
	} else {
		p.c.at(n, "expected an exit status or \"*\", got %s", describe(n))
	}
	return nil, false
}

func (p *parser) softFail(n *node) SoftFail {
	var s SoftFail
	switch n.kind {
	case yaml.ScalarNode:
		s.All, _ = p.boolean(n)
	case yaml.SequenceNode:
		for _, item := range n.items {
			if item.kind != yaml.MappingNode {
				p.c.at(item, "expected {exit_status: …}, got %s", describe(item))
				continue
			}
			pairs := softFailKeys.check(p.c, item)
			if len(pairs) == 0 {
				if len(item.pairs) == 0 {
					p.c.at(item, "soft_fail entry has no \"exit_status\"")
				}
				continue
			}
			codes, ok := p.exitStatuses(pairs[0].val, false)
			if !ok {
				continue
			}
			if codes == nil {
				s.All = true
			}
			s.ExitStatuses = append(s.ExitStatuses, codes...)
		}
	default:
		p.c.at(n, "expected true, false or a list of {exit_status: …}, got %s", describe(n))
	}
	return s
}

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (p *parser) wasm(n *node) *WasmStep {
	if n.kind != yaml.MappingNode {
		p.c.at(n, "expected a mapping {module: …, sha256: …, function: …, config: …}, got %s", describe(n))
		return nil
	}
	w := &WasmStep{Function: "run"}
	hasModule, moduleOK := false, false
	known := wasmKeys.check(p.c, n)
	for _, kv := range known {
		v := kv.val
		switch kv.key.value {
		case "module":
			hasModule = true
			if s, ok := p.text(v, "a module name, path or https URL"); ok {
				switch {
				case s == "":
					p.c.at(v, "empty module; expected a plugin name, a workspace path or an https URL")
				case strings.Contains(s, "://") && !strings.HasPrefix(s, "https://"):
					p.c.at(v, "module URL %q must use https", truncate(s, 60))
				default:
					moduleOK = true
				}
				w.Module = s
			}
		case "sha256":
			if s, ok := p.text(v, "a sha256 digest"); ok {
				if !sha256Pattern.MatchString(s) {
					p.c.at(v, "sha256 must be 64 lowercase hex digits, got %q", truncate(s, 70))
				}
				w.SHA256 = s
			}
		case "function":
			if s, ok := p.text(v, "a function name"); ok {
				if s == "" {
					p.c.at(v, "empty function name")
				}
				w.Function = s
			}
		case "config":
			switch {
			case v.isNull():
			case v.kind != yaml.MappingNode:
				p.c.at(v, "expected a mapping of plugin configuration, got %s", describe(v))
			default:
				var b strings.Builder
				writeJSON(&b, v)
				w.Config = []byte(b.String())
			}
		case "workspace":
			if s, ok := p.text(v, "none, read-only or read-write"); ok {
				switch s {
				case "none":
				case WorkspaceReadOnly, WorkspaceReadWrite:
					w.Workspace = s
				default:
					p.c.at(v, "workspace must be none, read-only or read-write, got %q", truncate(s, 40))
				}
			}
		case "allow_hosts":
			w.AllowHosts = p.allowHosts(v)
		case "timeout":
			if s, ok := p.text(v, "a duration such as 30s or 5m"); ok {
				d, err := time.ParseDuration(s)
				switch {
				case err != nil:
					p.c.at(v, "timeout %q is not a duration; expected a number with a unit, such as 30s or 5m", truncate(s, 40))
				case d <= 0:
					p.c.at(v, "timeout must be more than 0, got %q", s)
				default:
					w.Timeout = d
				}
			}
		case "memory":
			if s, ok := p.text(v, "a size such as 64MiB"); ok {
				if b, ok := parseMemory(s); ok {
					w.MemoryBytes = b
				} else {
					p.c.at(v, "memory %q is not a size; expected a multiple of 64KiB from 64KiB to 4GiB, in KiB, MiB or GiB, such as 64MiB", truncate(s, 40))
				}
			}
		}
	}
	if !hasModule && len(known) == len(n.pairs) {
		p.c.at(n, "wasm step has no \"module\"")
	}
	if moduleOK && needsPin(w.Module) && w.SHA256 == "" && len(known) == len(n.pairs) {
		p.c.at(n, "wasm module %q comes from the workspace or a URL, so it needs a \"sha256\" pin (the module's SHA-256 in hex); only plugins installed on the agent may be unpinned", truncate(w.Module, 60))
	}
	return w
}

// needsPin reports whether a module is fetched from somewhere the pipeline
// author controls (a workspace path or a URL) rather than the agent's own
// plugin path (a bare file name).
func needsPin(module string) bool {
	return strings.Contains(module, "/")
}

// hostPattern is a DNS host name or an IPv4 address, no port, no wildcard.
var hostPattern = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

func (p *parser) allowHosts(n *node) []string {
	if n.kind != yaml.SequenceNode {
		p.c.at(n, "expected a list of host names, got %s", describe(n))
		return nil
	}
	var hosts []string
	for _, item := range n.items {
		s, ok := p.text(item, "a host name")
		if !ok {
			continue
		}
		switch {
		case strings.Contains(s, "://"):
			p.c.at(item, "allow_hosts lists host names, not URLs: got %q; write only the host, such as api.example.com", truncate(s, 60))
		case strings.Contains(s, "*"):
			p.c.at(item, "allow_hosts does not take wildcards (%q); list each host", truncate(s, 60))
		case len(s) > 253 || !hostPattern.MatchString(s):
			p.c.at(item, "%q is not a host name; expected a name such as api.example.com, without port or path", truncate(s, 60))
		default:
			hosts = append(hosts, s)
		}
	}
	return hosts
}

var memoryPattern = regexp.MustCompile(`^([0-9]{1,10})(KiB|MiB|GiB)$`)

// parseMemory reads a size such as "64MiB"; it must be a whole number of
// Wasm pages (64 KiB) and at most the 4 GiB a 32-bit memory can address.
func parseMemory(s string) (int64, bool) {
	m := memoryPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, false
	}
	unit := map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m[2]]
	b := n * unit
	if b < 64<<10 || b > 4<<30 || b%(64<<10) != 0 {
		return 0, false
	}
	return b, true
}

// writeJSON writes n as JSON with every scalar as a string, exactly as
// written, and mapping keys in file order.
func writeJSON(b *strings.Builder, n *node) {
	switch n.kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i, kv := range n.pairs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(jsonString(kv.key.value))
			b.WriteByte(':')
			writeJSON(b, kv.val)
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, item := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, item)
		}
		b.WriteByte(']')
	default:
		b.WriteString(jsonString(n.value))
	}
}

// jsonString quotes s for JSON (strconv.Quote's escapes are Go, not JSON).
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
