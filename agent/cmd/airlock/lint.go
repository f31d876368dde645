package main

import (
	"fmt"
	"os"

	"github.com/airlockci/airlock/internal/pipeline"
)

// lintCmd validates pipeline files offline; errors are file:line:column.
func lintCmd(args []string) int {
	fs := newFlagSet("lint", "")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return flagsFailed(err)
	}
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr, "airlock lint: name at least one pipeline file")
		return 2
	}
	code := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			code = 1
			continue
		}
		p, err := pipeline.Parse(f, src)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
			continue
		}
		fmt.Printf("%s: ok (%d steps)\n", f, len(p.Steps))
	}
	return code
}

func schemaCmd() int {
	os.Stdout.Write(pipeline.Schema)
	return 0
}
