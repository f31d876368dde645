package agent

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Checkout clones repository into dir and checks out commit (a full SHA or
// any revision git understands), writing git's output to log. dir must be
// empty.
func Checkout(ctx context.Context, repository, commit, dir string, log io.Writer) error {
	if strings.HasPrefix(repository, "-") || strings.HasPrefix(commit, "-") {
		return fmt.Errorf("repository %q or commit %q starts with '-'", repository, commit)
	}
	fmt.Fprintf(log, "airlock: checking out %s at %s\n", repository, shortSHA(commit))
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = log, log
		cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("git %s: %w", args[0], err)
		}
		return nil
	}
	if err := run("clone", "--quiet", "--no-checkout", "--", repository, "."); err != nil {
		return err
	}
	if commit == "" {
		commit = "HEAD"
	}
	return run("-c", "advice.detachedHead=false", "checkout", "--quiet", commit)
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
