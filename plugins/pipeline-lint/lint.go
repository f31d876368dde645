package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/airlockci/airlock/internal/pipeline"
	"github.com/airlockci/airlock/plugins/internal/workspace"
)

type input struct {
	Config struct {
		Files []string `json:"files"`
	} `json:"config"`
}

// Run lints the configured files in fsys, reporting through log (errLine
// marks an error), and returns the exit status.
func Run(in []byte, fsys fs.FS, log func(errLine bool, line string)) int32 {
	var cfg input
	if err := json.Unmarshal(in, &cfg); err != nil {
		log(true, fmt.Sprintf("pipeline-lint: input is not the expected JSON: %v", err))
		return 2
	}
	if len(cfg.Config.Files) == 0 {
		log(true, `pipeline-lint: config.files is empty: want e.g. {"files": [".airlock/pipeline.yml"]}`)
		return 2
	}
	files, err := workspace.Glob(fsys, cfg.Config.Files)
	if err != nil {
		log(true, "pipeline-lint: "+err.Error())
		return 2
	}
	status := int32(0)
	for _, f := range files {
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			log(true, fmt.Sprintf("%s: %v", f, err))
			status = 1
			continue
		}
		p, err := pipeline.Parse(f, src)
		if err != nil {
			var errs *pipeline.Errors
			if errors.As(err, &errs) {
				for _, e := range errs.List {
					log(true, e.Error())
				}
			} else {
				log(true, err.Error())
			}
			status = 1
			continue
		}
		log(false, fmt.Sprintf("%s: ok, %d steps", f, len(p.Steps)))
	}
	return status
}
