// Command airlock is Airlock's command line: submit and follow runs, lint
// pipelines offline, run a pipeline on this machine, and start a local
// control plane for development.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
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

func defaultServer() string {
	if s := strings.TrimSpace(os.Getenv("AIRLOCK_SERVER")); s != "" {
		return s
	}
	return "http://127.0.0.1:8787"
}
