package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/airlockci/airlock/plugins/internal/plog"
	"github.com/airlockci/airlock/plugins/internal/workspace"
)

// Config is the plugin's step configuration.
type Config struct {
	Files   []string `json:"files"`
	Slowest int      `json:"slowest"`
}

type input struct {
	Config Config `json:"config"`
}

// Level and Logger are the example plugins' shared logging (plugins/internal/plog).
type (
	Level  = plog.Level
	Logger = plog.Logger
)

const (
	Info  = plog.Info
	Warn  = plog.Warn
	Error = plog.Error
)

const defaultSlowest = 5

// Run is the whole plugin: it reads the runner's input JSON, reads the
// reports from fsys (the workspace) and returns the exit status.
func Run(rawInput []byte, fsys fs.FS, log Logger) int32 {
	var in input
	if err := json.Unmarshal(rawInput, &in); err != nil {
		log(Error, "junit-summary: bad input: "+err.Error())
		return 2
	}
	cfg := in.Config
	if len(cfg.Files) == 0 {
		log(Error, `junit-summary: config needs "files", a list of report patterns such as ["reports/**/*.xml"]`)
		return 2
	}
	files, err := workspace.Glob(fsys, cfg.Files)
	if err != nil {
		log(Error, "junit-summary: files: "+err.Error())
		return 1
	}
	var all []TestCase
	unreadable := 0
	for _, name := range files {
		cases, err := parseFile(fsys, name)
		if err != nil {
			log(Error, "junit-summary: "+err.Error())
			unreadable++
			continue
		}
		all = append(all, cases...)
	}
	s := Summarize(all)
	for _, line := range s.Lines(len(files), slowestCount(cfg.Slowest)) {
		log(Info, line)
	}
	if unreadable > 0 {
		log(Error, fmt.Sprintf("junit-summary: %d of %d reports could not be read", unreadable, len(files)))
		return 1
	}
	if s.Failures > 0 || s.Errors > 0 {
		return 1
	}
	return 0
}

func slowestCount(n int) int {
	switch {
	case n == 0:
		return defaultSlowest
	case n < 0:
		return 0
	}
	return n
}

func parseFile(fsys fs.FS, name string) ([]TestCase, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cases, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cases, nil
}

// Outcome is how one test case ended.
type Outcome int

const (
	Passed Outcome = iota
	Failed
	Errored
	Skipped
)

// TestCase is one <testcase> of a report.
type TestCase struct {
	Name    string // "classname.name", or name alone
	Seconds float64
	Outcome Outcome
	// Message is the first line of the failure or error message.
	Message string
}

type xmlSuite struct {
	XMLName xml.Name
	Suites  []xmlSuite `xml:"testsuite"`
	Cases   []xmlCase  `xml:"testcase"`
}

type xmlCase struct {
	Name      string       `xml:"name,attr"`
	Classname string       `xml:"classname,attr"`
	Time      string       `xml:"time,attr"`
	Failures  []xmlProblem `xml:"failure"`
	Errors    []xmlProblem `xml:"error"`
	Skipped   *xmlProblem  `xml:"skipped"`
}

type xmlProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// ErrNotJUnit is wrapped by Parse's error for XML that is not a JUnit report.
var ErrNotJUnit = errors.New("not a JUnit report")

// Parse reads a JUnit XML report: a <testsuites> or a <testsuite> root, with
// suites nested to any depth.
func Parse(r io.Reader) ([]TestCase, error) {
	var root xmlSuite
	dec := xml.NewDecoder(r)
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: no XML element found", ErrNotJUnit)
		}
		return nil, err // *xml.SyntaxError says which line
	}
	if n := root.XMLName.Local; n != "testsuites" && n != "testsuite" {
		return nil, fmt.Errorf("%w: the root element is <%s>, want <testsuites> or <testsuite>", ErrNotJUnit, n)
	}
	var cases []TestCase
	var walk func(s xmlSuite)
	walk = func(s xmlSuite) {
		for _, c := range s.Cases {
			cases = append(cases, c.testCase())
		}
		for _, sub := range s.Suites {
			walk(sub)
		}
	}
	walk(root)
	return cases, nil
}

func (c xmlCase) testCase() TestCase {
	tc := TestCase{Name: c.Name}
	if c.Classname != "" {
		tc.Name = c.Classname + "." + c.Name
	}
	if secs, err := strconv.ParseFloat(strings.ReplaceAll(c.Time, ",", ""), 64); err == nil && secs > 0 {
		tc.Seconds = secs
	}
	switch {
	case len(c.Failures) > 0:
		tc.Outcome, tc.Message = Failed, c.Failures[0].summary()
	case len(c.Errors) > 0:
		tc.Outcome, tc.Message = Errored, c.Errors[0].summary()
	case c.Skipped != nil:
		tc.Outcome = Skipped
	}
	return tc
}

// summary is the first non-empty line of the message, else of the text.
func (p xmlProblem) summary() string {
	for _, s := range []string{p.Message, p.Text, p.Type} {
		for _, line := range strings.Split(s, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				return truncate(line, 300)
			}
		}
	}
	return "(no message)"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Summary counts the outcomes of a set of test cases.
type Summary struct {
	Tests, Failures, Errors, Skipped int
	Seconds                          float64
	cases                            []TestCase
}

// Summarize counts cases.
func Summarize(cases []TestCase) Summary {
	s := Summary{Tests: len(cases), cases: cases}
	for _, c := range cases {
		s.Seconds += c.Seconds
		switch c.Outcome {
		case Failed:
			s.Failures++
		case Errored:
			s.Errors++
		case Skipped:
			s.Skipped++
		}
	}
	return s
}

// Lines is the summary as log lines: totals, the slowest tests, then each
// failure and error (lines starting "FAIL" or "ERROR").
func (s Summary) Lines(reports, slowest int) []string {
	lines := []string{fmt.Sprintf("%s, %s: %s, %s, %s, %s (%.3fs)",
		plural(reports, "report"), plural(s.Tests, "test"),
		plural(s.Tests-s.Failures-s.Errors-s.Skipped, "passed"),
		plural(s.Failures, "failure"), plural(s.Errors, "error"),
		plural(s.Skipped, "skipped"), s.Seconds)}
	if slowest > 0 && s.Tests > 0 {
		byTime := make([]TestCase, len(s.cases))
		copy(byTime, s.cases)
		sort.SliceStable(byTime, func(i, j int) bool { return byTime[i].Seconds > byTime[j].Seconds })
		if len(byTime) > slowest {
			byTime = byTime[:slowest]
		}
		lines = append(lines, "slowest:")
		for _, c := range byTime {
			lines = append(lines, fmt.Sprintf("  %8.3fs  %s", c.Seconds, c.Name))
		}
	}
	for _, c := range s.cases {
		switch c.Outcome {
		case Failed:
			lines = append(lines, "FAIL  "+c.Name+": "+c.Message)
		case Errored:
			lines = append(lines, "ERROR "+c.Name+": "+c.Message)
		}
	}
	return lines
}

// plural says "1 test", "2 tests"; words that do not take an s ("passed",
// "skipped") stay as they are.
func plural(n int, word string) string {
	if n == 1 || strings.HasSuffix(word, "ed") {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
