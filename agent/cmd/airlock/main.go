// Command airlock is Airlock's command line: submit and follow runs, lint
// pipelines offline, run a pipeline on this machine, and start a local
// control plane for development.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/airlockci/airlock/agent"
	"github.com/airlockci/airlock/internal/cliauth"
)

const usage = `airlock — CI/CD whose control plane can read nothing.

Usage:
  airlock login [--server URL] [--provider ID]
        sign in with your company's SSO (device code); the session is revocable like a browser's
  airlock logout [--server URL]
        end this CLI's session
  airlock run [--server URL] [--follow] [--logs] [--repo URL] FILE
        submit a pipeline; --follow shows progress and exits non-zero if the run fails
  airlock run --local [--logs] [--plugin-path DIRS] FILE
        run a pipeline on this machine with the agent's step runner, no control plane
  airlock lint FILE...
        validate pipelines offline (file:line:column errors)
  airlock dev [--port N] [--state DIR] [--slots N] [--run FILE]
        local control plane on workerd plus one agent (make dev / make demo)
  airlock plugin run FILE.wasm [--sha256 H] [--config k=v] [--allow-host H] [--workspace DIR] [--timeout D]
        run one Wasm plugin here, in exactly the agent's sandbox; exit status is the step's
  airlock schema
        print the pipeline JSON Schema

The server is --server, else $AIRLOCK_SERVER, else http://127.0.0.1:8787.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	// Every request names this CLI, its version and machine: a session
	// records it at sign-in (see the Sessions page).
	cliauth.UserAgent = cliauth.NewUserAgent(agent.Version)
	var code int
	switch os.Args[1] {
	case "run":
		code = runCmd(os.Args[2:])
	case "login":
		code = loginCmd(os.Args[2:])
	case "logout":
		code = logoutCmd(os.Args[2:])
	case "lint":
		code = lintCmd(os.Args[2:])
	case "dev":
		code = devCmd(os.Args[2:])
	case "schema":
		code = schemaCmd()
	case "plugin":
		code = pluginCmd(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "airlock: unknown command %q\n\n%s", os.Args[1], usage)
		code = 2
	}
	os.Exit(code)
}

// parseInterspersed parses flags wherever they appear among the positional
// arguments (`airlock run FILE --follow`), returning the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// flagsFailed is the exit status after parseInterspersed failed (the flag
// package has printed why, and the usage): 0 when help was asked for, else 2.
func flagsFailed(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// newFlagSet is the flag set of the subcommand cmd ("run", "plugin run");
// its help shows cmd's synopsis from the usage text above, then its flags,
// then notes (if any).
func newFlagSet(cmd, notes string) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		for i, line := range synopsis(cmd) {
			switch {
			case i == 0:
				fmt.Fprintf(w, "usage: %s\n", line)
			case strings.HasPrefix(line, "airlock "):
				fmt.Fprintf(w, "   or: %s\n", line)
			default:
				fmt.Fprintf(w, "         %s\n", line)
			}
		}
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
		if notes != "" {
			fmt.Fprintf(w, "\n%s", notes)
		}
	}
	return fs
}

// synopsis is cmd's entries in the usage text: each "airlock cmd ..." line
// and the description under it, trimmed.
func synopsis(cmd string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(usage, "\n") {
		switch {
		case strings.HasPrefix(line, "  airlock "):
			rest := strings.TrimPrefix(line, "  airlock ")
			in = rest == cmd || strings.HasPrefix(rest, cmd+" ")
		case !strings.HasPrefix(line, "    "):
			in = false
		}
		if in {
			out = append(out, strings.TrimSpace(line))
		}
	}
	if len(out) == 0 {
		out = []string{"airlock " + cmd + " [flags]"}
	}
	return out
}

// serverFlag registers --server on fs; the function it returns, called
// after parsing, is the control plane's URL without a trailing slash, or an
// error saying what a URL looks like. Every subcommand that talks to a
// control plane uses it, so they all accept the same thing.
func serverFlag(fs *flag.FlagSet) func() (string, error) {
	def, from := "http://127.0.0.1:8787", "--server"
	if s := strings.TrimSpace(os.Getenv("AIRLOCK_SERVER")); s != "" {
		def = s
	}
	server := fs.String("server", def, "control plane URL ($AIRLOCK_SERVER)")
	return func() (string, error) {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "server" })
		if !set && os.Getenv("AIRLOCK_SERVER") != "" {
			from = "$AIRLOCK_SERVER"
		}
		return checkServer(from, *server)
	}
}

// checkServer accepts http(s)://host[:port] and nothing more: the CLI adds
// the paths itself, so a path (or a missing scheme, which url.Parse takes
// for a path) would only fail later with a less clear error.
func checkServer(from, s string) (string, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/")
	u, err := url.Parse(s)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil {
		return s, nil
	}
	var like string
	if err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
		like = u.Scheme + "://" + u.Host
	} else if _, rest, ok := strings.Cut(s, "://"); ok {
		host, _, _ := strings.Cut(rest, "/")
		like = "http://" + host
	} else {
		host, _, _ := strings.Cut(s, "/")
		like = "http://" + host
	}
	return "", fmt.Errorf("%s %s: want a URL like %s", from, s, like)
}
