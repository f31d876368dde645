//go:build wasip1

package main

import (
	"net/url"

	"github.com/extism/go-pdk"
)

//go:wasmexport run
func run() int32 {
	req, err := Build(pdk.Input())
	if err != nil {
		pdk.Log(pdk.LogError, "webhook-notify: "+err.Error())
		return 2
	}
	if req.DryRun {
		// No http_request at all: the step needs no allow_hosts for this.
		for _, l := range DryRunLines(req) {
			pdk.Log(pdk.LogInfo, l)
		}
		return 0
	}
	// The runner refuses a host the step does not allow, and stops the
	// plugin with a reason that says so.
	res := pdk.NewHTTPRequest(pdk.MethodPost, req.URL).
		SetHeader("content-type", "application/json").
		SetBody(req.Body).
		Send()
	u, _ := url.Parse(req.URL)
	line, status := Outcome(u.Host, int(res.Status()), res.Body())
	if status == 0 {
		pdk.Log(pdk.LogInfo, line)
	} else {
		pdk.Log(pdk.LogError, line)
	}
	return status
}
