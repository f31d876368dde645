package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"

	"github.com/airlockci/airlock/plugins/internal/cfgval"
)

// Config is the plugin's step configuration.
type Config struct {
	URL     string `json:"url"`
	Message string `json:"message"`
	// DryRun builds the request and logs its payload instead of sending
	// it: no network access is used, and the step says nothing was sent.
	DryRun cfgval.Bool `json:"dry_run"`
}

type input struct {
	Config Config            `json:"config"`
	Env    map[string]string `json:"env"`
}

// Request is what the plugin sends.
type Request struct {
	URL    string
	Body   []byte
	DryRun bool
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Build turns the runner's input into the request to send; an error is a
// bad config (exit status 2).
func Build(rawInput []byte) (Request, error) {
	var in input
	if err := json.Unmarshal(rawInput, &in); err != nil {
		return Request{}, fmt.Errorf("bad input: %w", err)
	}
	c := in.Config
	if c.URL == "" || c.Message == "" {
		return Request{}, fmt.Errorf(`config needs "url" (an https webhook URL) and "message"`)
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return Request{}, fmt.Errorf("url %q: want an https URL", c.URL)
	}
	text := envRef.ReplaceAllStringFunc(c.Message, func(ref string) string {
		if v, ok := in.Env[ref[2:len(ref)-1]]; ok {
			return v
		}
		return ref
	})
	body, _ := json.Marshal(map[string]string{"text": text})
	return Request{URL: c.URL, Body: body, DryRun: bool(c.DryRun)}, nil
}

// Outcome says what the webhook's answer means for the step: a log line
// and the exit status.
func Outcome(host string, status int, body []byte) (string, int32) {
	if status >= 200 && status < 300 {
		return fmt.Sprintf("webhook-notify: %s accepted the message (%d)", host, status), 0
	}
	if len(body) > 200 {
		body = append(body[:200:200], "…"...)
	}
	return fmt.Sprintf("webhook-notify: %s answered %d: %s", host, status, body), 1
}

// DryRunLines are the log lines of a dry run: the exact payload, where it
// would go, and that nothing was sent. The URL's path and query are not
// shown: a webhook URL usually carries its token there.
func DryRunLines(req Request) []string {
	u, _ := url.Parse(req.URL) // Build checked it
	target := "https://" + u.Host + "/…"
	if u.Path == "" || u.Path == "/" {
		if u.RawQuery == "" {
			target = "https://" + u.Host + "/"
		}
	}
	return []string{
		"webhook-notify: dry run (dry_run: true): nothing was sent",
		fmt.Sprintf("webhook-notify: would POST to %s (path withheld) with content-type application/json:", target),
		string(req.Body),
	}
}
