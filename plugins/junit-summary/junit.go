package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/airlockci/airlock/plugins/internal/cfgval"
	"github.com/airlockci/airlock/plugins/internal/plog"
	"github.com/airlockci/airlock/plugins/internal/workspace"
)

// Config is the plugin's step configuration.
type Config struct {
	Files   []string `json:"files"`
	Slowest int      `json:"slowest"`
	// Format is "auto" (the default: each file by its content), "junit" or
	// "go-test-json".
	Format string `json:"format"`
	// FailOnFailures (default true) fails the step when a test failed.
	FailOnFailures *cfgval.Bool `json:"fail_on_failures"`
	// MaxOutputLines caps the output shown per failing Go test (default
	// 20, -1 for none).
	MaxOutputLines cfgval.Int `json:"max_output_lines"`
}

type input struct {
	Config Config `json:"config"`
}

const defaultSlowest = 5

// Report formats.
const (
	FormatAuto   = "auto"
	FormatJUnit  = "junit"
	FormatGoTest = "go-test-json"
)

// Run is the whole plugin: it reads the runner's input JSON, reads the
// reports from fsys (the workspace) and returns the exit status.
func Run(rawInput []byte, fsys fs.FS, log plog.Logger) int32 {
	var in input
	if err := json.Unmarshal(rawInput, &in); err != nil {
		log(plog.Error, "junit-summary: bad input: "+err.Error())
		return 2
	}
	cfg := in.Config
	if len(cfg.Files) == 0 {
		log(plog.Error, `junit-summary: config needs "files", a list of report patterns such as ["reports/**/*.xml"]`)
		return 2
	}
	switch cfg.Format {
	case "":
		cfg.Format = FormatAuto
	case FormatAuto, FormatJUnit, FormatGoTest:
	default:
		log(plog.Error, fmt.Sprintf("junit-summary: format %q: want %q, %q or %q", cfg.Format, FormatAuto, FormatJUnit, FormatGoTest))
		return 2
	}
	maxOutput := int(cfg.MaxOutputLines)
	switch {
	case maxOutput == 0:
		maxOutput = defaultOutputLines
	case maxOutput < 0:
		maxOutput = 0
	}
	files, err := workspace.Glob(fsys, cfg.Files)
	if err != nil {
		log(plog.Error, "junit-summary: files: "+err.Error())
		return 1
	}
	var all []TestCase
	var goPkgs []*GoPackage
	junitReports, goReports, unreadable := 0, 0, 0
	for _, name := range files {
		r, err := readReport(fsys, name, cfg.Format, maxOutput)
		switch {
		case r.format == FormatJUnit:
			junitReports++ // read or not: the JUnit line counts it
		case r.format == FormatGoTest && err == nil:
			goReports++
		}
		if err != nil {
			log(plog.Error, "junit-summary: "+err.Error())
			unreadable++
			continue
		}
		all = append(all, r.cases...)
		if r.goReport != nil {
			goPkgs = append(goPkgs, r.goReport.Packages...)
			if n := r.goReport.OddLines; n > 0 {
				log(plog.Warn, fmt.Sprintf("junit-summary: %s: %s not test2json events, left out; the first:", name, plural(n, "line")))
				for _, l := range r.goReport.Odd {
					log(plog.Warn, "  "+l)
				}
			}
		}
	}
	s := Summarize(all)
	if junitReports > 0 || goReports == 0 {
		for _, line := range s.Lines(junitReports, slowestCount(cfg.Slowest)) {
			log(plog.Info, line)
		}
	}
	goFailed := false
	if goReports > 0 {
		// By name, as go test prints them (the stream interleaves them).
		sort.SliceStable(goPkgs, func(i, j int) bool { return goPkgs[i].Name < goPkgs[j].Name })
		for _, line := range GoLines(goReports, goPkgs) {
			log(plog.Info, line)
		}
		t := goTotals(goPkgs)
		goFailed = t.Failed > 0 || t.FailedPackages > 0
	}
	if unreadable > 0 {
		log(plog.Error, fmt.Sprintf("junit-summary: %d of %d reports could not be read", unreadable, len(files)))
		return 1
	}
	if s.Failures > 0 || s.Errors > 0 || goFailed {
		if cfg.FailOnFailures != nil && !*cfg.FailOnFailures {
			log(plog.Warn, "junit-summary: tests failed; the step passes because fail_on_failures is false")
			return 0
		}
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

type report struct {
	format   string
	cases    []TestCase
	goReport *GoReport
}

// readReport reads one report, in format or, for FormatAuto, in the format
// its first 64 KiB show.
func readReport(fsys fs.FS, name, format string, maxOutput int) (report, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return report{}, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	r := report{format: format}
	if format == FormatAuto {
		prefix, err := br.Peek(64 << 10)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return report{}, fmt.Errorf("%s: %w", name, err)
		}
		if r.format, err = detect(prefix); err != nil {
			return report{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	if r.format == FormatGoTest {
		r.goReport, err = ParseGoTest(br, maxOutput)
	} else {
		r.cases, err = Parse(br)
	}
	if err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// errUnknownFormat is wrapped by detect's error.
var errUnknownFormat = errors.New("neither a JUnit XML report nor go test -json output")

// detect tells a JUnit XML report from a go test -json stream by its start.
func detect(prefix []byte) (string, error) {
	trimmed := bytes.TrimLeft(prefix, " \t\r\n\ufeff")
	switch {
	case len(prefix) == 0:
		return "", fmt.Errorf("empty file: %w", errUnknownFormat)
	case len(trimmed) == 0:
		return "", fmt.Errorf("only white space: %w", errUnknownFormat)
	case trimmed[0] == '<':
		return FormatJUnit, nil
	}
	for _, line := range bytes.Split(trimmed, []byte("\n")) {
		if l := bytes.TrimSpace(line); bytes.HasPrefix(l, []byte("{")) && bytes.Contains(l, []byte(`"Action"`)) {
			return FormatGoTest, nil
		}
	}
	return "", fmt.Errorf(`%w (set "format" if it is one)`, errUnknownFormat)
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
