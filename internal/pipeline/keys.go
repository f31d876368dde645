package pipeline

import (
	"fmt"
	"sort"
	"strings"
)

// keySet is what one kind of mapping may hold. supported keys are parsed;
// unsupported keys are valid Buildkite syntax that Airlock refuses with
// "not supported yet" rather than ignoring (the lists follow Buildkite's
// published pipeline schema). Anything else is an unknown key.
type keySet struct {
	// prefix qualifies an unsupported key in the message ("retry." makes
	// "retry.manual"), so the user can tell which `manual` is meant.
	prefix      string
	supported   []string
	unsupported []string
	// anchorsAllowed accepts an otherwise unknown key whose value carries
	// an anchor: a place to define YAML anchors for the steps to use.
	anchorsAllowed bool
}

var (
	topKeys = keySet{
		supported:      []string{"env", "secrets", "steps"},
		unsupported:    []string{"agents", "image", "notify", "priority"},
		anchorsAllowed: true,
	}
	commandStepKeys = keySet{
		supported: []string{
			"agents", "command", "commands", "depends_on", "env", "image", "key", "label",
			"name", "plugins", "retry", "secrets", "soft_fail", "timeout_in_minutes", "type", "wasm",
		},
		unsupported: []string{
			"allow_dependency_failure", "artifact_paths", "branches", "cache",
			"cancel_on_build_failing", "concurrency", "concurrency_group",
			"concurrency_method", "id", "identifier", "if", "if_changed",
			"matrix", "notify", "parallelism", "priority",
			"signature", "skip",
		},
	}
	waitStepKeys = keySet{
		prefix:    "wait.",
		supported: []string{"continue_on_failure", "type", "wait", "waiter"},
		unsupported: []string{
			"allow_dependency_failure", "branches", "depends_on", "id", "identifier",
			"if", "key", "label", "name",
		},
	}
	retryKeys = keySet{
		prefix:      "retry.",
		supported:   []string{"automatic"},
		unsupported: []string{"manual"},
	}
	automaticRetryKeys = keySet{
		prefix:      "retry.automatic.",
		supported:   []string{"exit_status", "limit"},
		unsupported: []string{"signal", "signal_reason"},
	}
	dependencyKeys = keySet{supported: []string{"allow_failure", "step"}}
	softFailKeys   = keySet{supported: []string{"exit_status"}}
	wasmKeys       = keySet{supported: []string{"allow_hosts", "config", "function", "memory", "module", "sha256", "timeout", "workspace"}}
)

// unsupportedStepKinds are Buildkite step types Airlock cannot run yet.
var unsupportedStepKinds = []string{"block", "group", "input", "trigger"}

// check reports every key of mapping m that is unsupported or unknown, and
// returns the supported pairs.
func (ks keySet) check(c *collector, m *node) []pair {
	var ok []pair
	for _, p := range m.pairs {
		k := p.key.value
		switch {
		case contains(ks.supported, k):
			ok = append(ok, p)
		case contains(ks.unsupported, k):
			c.at(p.key, "not supported yet: %s%s", ks.unsupportedPrefix(k), k)
		case ks.anchorsAllowed && p.val.anchor != "":
			// Only there to define an anchor used elsewhere (Buildkite
			// allows any extra top-level key for this).
		default:
			c.at(p.key, "%s", ks.unknown(k))
		}
	}
	return ok
}

// unsupportedPrefix qualifies only the keys that Airlock supports somewhere
// else ("wait.key"), and leaves keys unsupported everywhere plain ("if").
func (ks keySet) unsupportedPrefix(k string) string {
	if ks.prefix == "wait." && !contains(commandStepKeys.supported, k) {
		return ""
	}
	return ks.prefix
}

func (ks keySet) unknown(k string) string {
	all := append(append([]string(nil), ks.supported...), ks.unsupported...)
	if s := suggest(k, all); s != "" {
		return fmt.Sprintf("unknown key %q; did you mean %q?", k, s)
	}
	sort.Strings(all)
	return fmt.Sprintf("unknown key %q; expected one of: %s", k, strings.Join(all, ", "))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the candidate closest to s by edit distance, if it is close
// enough to be a likely typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), c)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := max(2, len(s)/3)
	if bestDist < 0 || bestDist > limit || bestDist >= len(s) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
