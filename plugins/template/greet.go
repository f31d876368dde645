package main

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Input is what the runner passes to "run".
type Input struct {
	Config Config            `json:"config"`
	Env    map[string]string `json:"env"`
}

// Config is this plugin's step configuration.
type Config struct {
	Name string `json:"name"`
}

// greet is the plugin's logic, kept free of the PDK so that it is tested
// natively. It returns the lines to log and the exit status.
func greet(input []byte) (lines []string, status int32) {
	var in Input
	if err := json.Unmarshal(input, &in); err != nil {
		return []string{"template: bad input: " + err.Error()}, 2
	}
	if in.Config.Name == "" {
		return []string{`template: config "name" is required`}, 1
	}
	lines = append(lines, fmt.Sprintf("hello, %s", in.Config.Name))
	keys := make([]string, 0, len(in.Env))
	for k := range in.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lines = append(lines, "env "+k)
	}
	return lines, 0
}
