package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// This file reads `go test -json` output: test2json's event stream, one JSON
// object per line (see `go doc test2json`), for example
//
//	{"Action":"run","Package":"example.com/calc","Test":"TestDiv"}
//	{"Action":"output","Package":"example.com/calc","Test":"TestDiv","Output":"    calc_test.go:18: Div(7, 2) = 3, want 4\n"}
//	{"Action":"fail","Package":"example.com/calc","Test":"TestDiv","Elapsed":0}
//
// and, since Go 1.24, the build's own events ("build-output", "build-fail",
// keyed by ImportPath, named by a package's "FailedBuild"). A stream is
// often not clean: `go test -json ./... 2>&1` interleaves lines that are not
// events (older Go's build errors, a vet message, a wrapper script's echo),
// and a cancelled run leaves a truncated last line. Such lines are counted
// and a few are kept to be shown; they never stop the parse.

const (
	// maxLine is the longest line read as an event; a longer one is
	// skipped (test2json itself splits output lines long before that).
	maxLine = 1 << 20
	// maxKeptLine is how much of one output line is kept to be shown.
	maxKeptLine = 500
	// maxOddLines is how many non-event lines are kept to be shown.
	maxOddLines = 5
	// defaultOutputLines is how many output lines of a failing test (or a
	// failed build) are shown by default.
	defaultOutputLines = 20
)

// goEvent is one test2json event.
type goEvent struct {
	Action      string
	Package     string
	Test        string
	Output      string
	Elapsed     *float64
	ImportPath  string
	FailedBuild string
}

// GoReport is what a `go test -json` stream says, package by package.
type GoReport struct {
	Packages []*GoPackage
	// OddLines counts the lines that are not test2json events (not JSON,
	// truncated, too long, or JSON without an "Action"); Odd holds the
	// first few, each with why it was not read.
	OddLines int
	Odd      []string
}

// GoPackage is one package's result.
type GoPackage struct {
	Name string
	// Result is "ok", "FAIL", "no test files" or "incomplete" (the stream
	// ended before the package's result).
	Result                  string
	BuildFailed             bool
	Passed, Failed, Skipped int
	Seconds                 float64
	// Failures are the failed tests in the order they ended; a test whose
	// failure is only that one of its subtests failed is not listed (the
	// subtest is), and is not counted.
	Failures []GoFailure
	// Output is what explains a failed package with no failed test: its
	// build output, or its own output (a panic in TestMain, a timeout).
	Output Lines

	tests  map[string]*goTest
	order  []string // test names in the order they started
	output Lines    // the package's own output lines, framing dropped
}

// GoFailure is one failed test and its output.
type GoFailure struct {
	Test    string
	Seconds float64
	Output  Lines
}

// Lines keeps the first lines of an output and counts the rest.
type Lines struct {
	Kept    []string
	Dropped int
}

func (l *Lines) add(line string, max int) {
	if len(l.Kept) >= max {
		l.Dropped++
		return
	}
	l.Kept = append(l.Kept, truncate(line, maxKeptLine))
}

type goTest struct {
	result  string // "", "pass", "fail" or "skip"
	seconds float64
	output  Lines
}

// ParseGoTest reads a `go test -json` stream. maxOutput caps the output lines
// kept per failing test (and per failed package). It fails only when the
// reader does, or when nothing in the stream is a test2json event.
func ParseGoTest(r io.Reader, maxOutput int) (*GoReport, error) {
	if maxOutput < 0 {
		maxOutput = 0
	}
	rep := &GoReport{}
	pkgs := map[string]*GoPackage{}
	builds := map[string]*Lines{} // build output by ImportPath
	pkg := func(name string) *GoPackage {
		p := pkgs[name]
		if p == nil {
			p = &GoPackage{Name: name, tests: map[string]*goTest{}}
			pkgs[name] = p
			rep.Packages = append(rep.Packages, p)
		}
		return p
	}
	odd := func(n int, why, line string) {
		rep.OddLines++
		if len(rep.Odd) < maxOddLines {
			rep.Odd = append(rep.Odd, fmt.Sprintf("line %d (%s): %s", n, why, truncate(line, 200)))
		}
	}
	events := 0
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		atEOF := errors.Is(err, io.EOF)
		if atEOF && len(line) == 0 && !tooLong {
			break
		}
		switch trimmed := bytes.TrimSpace(line); {
		case tooLong:
			odd(n, fmt.Sprintf("longer than %d bytes, skipped", maxLine), string(line))
		case len(trimmed) == 0:
		default:
			var ev goEvent
			if trimmed[0] != '{' {
				odd(n, "not JSON", string(trimmed))
			} else if err := json.Unmarshal(trimmed, &ev); err != nil {
				why := "bad JSON"
				if atEOF {
					why = "truncated"
				}
				odd(n, why, string(trimmed))
			} else if ev.Action == "" {
				odd(n, `JSON without "Action"`, string(trimmed))
			} else {
				events++
				apply(&ev, pkg, builds, maxOutput)
			}
		}
		if atEOF {
			break
		}
	}
	if events == 0 {
		return nil, fmt.Errorf("%w: no test2json event in %d lines", ErrNotGoTest, rep.OddLines)
	}
	for _, p := range rep.Packages {
		p.finish(maxOutput)
	}
	return rep, nil
}

// ErrNotGoTest is wrapped by ParseGoTest's error for a stream without events.
var ErrNotGoTest = errors.New("not go test -json output")

// readLine returns the next line without its newline. A line longer than
// maxLine is read to its end but not kept (tooLong). err is io.EOF with the
// last line if the stream does not end with a newline.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > maxLine+1 {
				tooLong = true
				line = append(line[:0], "…"...)
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), tooLong, err
	}
}

func apply(ev *goEvent, pkg func(string) *GoPackage, builds map[string]*Lines, maxOutput int) {
	switch ev.Action {
	case "build-output":
		b := builds[ev.ImportPath]
		if b == nil {
			b = &Lines{}
			builds[ev.ImportPath] = b
		}
		for _, l := range splitOutput(ev.Output) {
			b.add(l, maxOutput)
		}
		return
	case "build-fail":
		return // the package's "fail" event names the build
	}
	if ev.Package == "" {
		return
	}
	p := pkg(ev.Package)
	if ev.Test == "" {
		switch ev.Action {
		case "output":
			for _, l := range splitOutput(ev.Output) {
				if !isFraming(l) {
					p.output.add(l, maxOutput)
				}
			}
		case "pass", "fail", "skip":
			p.Result = map[string]string{"pass": "ok", "fail": "FAIL", "skip": "no test files"}[ev.Action]
			if ev.Elapsed != nil && *ev.Elapsed > 0 {
				p.Seconds = *ev.Elapsed
			}
			if ev.FailedBuild != "" {
				p.BuildFailed = true
				if b := builds[ev.FailedBuild]; b != nil {
					p.Output = *b
				}
			}
		}
		return
	}
	t := p.tests[ev.Test]
	if t == nil {
		t = &goTest{}
		p.tests[ev.Test] = t
		p.order = append(p.order, ev.Test)
	}
	switch ev.Action {
	case "output":
		if t.result == "" {
			for _, l := range splitOutput(ev.Output) {
				if !isFraming(l) {
					t.output.add(l, maxOutput)
				}
			}
		}
	case "pass", "fail", "skip":
		t.result = ev.Action
		if ev.Elapsed != nil && *ev.Elapsed > 0 {
			t.seconds = *ev.Elapsed
		}
		if ev.Action != "fail" {
			t.output = Lines{} // only a failure's output is shown
		}
	}
}

// finish counts the package's tests and lists its failures once the stream
// has ended.
func (p *GoPackage) finish(maxOutput int) {
	if p.Result == "" {
		p.Result = "incomplete"
	}
	failedChild := map[string]bool{}
	hasChild := map[string]bool{}
	for _, name := range p.order {
		for parent, i := name, strings.LastIndexByte(name, '/'); i > 0; i = strings.LastIndexByte(parent, '/') {
			parent = parent[:i]
			hasChild[parent] = true
			if r := p.tests[name].result; r == "fail" || r == "" {
				failedChild[parent] = true
			}
		}
	}
	for _, name := range p.order {
		t := p.tests[name]
		if hasChild[name] && (t.result != "fail" || failedChild[name]) && t.result != "" {
			continue // counted through its subtests
		}
		switch t.result {
		case "pass":
			p.Passed++
		case "skip":
			p.Skipped++
		case "":
			if hasChild[name] && failedChild[name] {
				continue
			}
			// The stream ended, or the package did, without its result:
			// a crash, a timeout or a truncated report.
			t.output.add("(no result: the test did not finish)", maxOutput+1)
			fallthrough
		default:
			p.Failed++
			p.Failures = append(p.Failures, GoFailure{Test: name, Seconds: t.seconds, Output: t.output})
		}
	}
	if p.Result != "ok" && p.Result != "no test files" && !p.BuildFailed && len(p.Failures) == 0 {
		p.Output = p.output
	}
	p.tests, p.order, p.output = nil, nil, Lines{}
}

// failed reports whether the package failed, did not build or did not finish.
func (p *GoPackage) failed() bool {
	return p.Result == "FAIL" || p.Result == "incomplete" || p.Failed > 0
}

// splitOutput splits an Output field into lines, without line ends.
func splitOutput(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// isFraming reports whether an output line is the test framework's own
// progress line, which the summary says in its own words.
func isFraming(line string) bool {
	t := strings.TrimSpace(line)
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- FAIL", "--- SKIP"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return t == "PASS" || t == "FAIL" || strings.HasPrefix(t, "FAIL\t") || strings.HasPrefix(t, "ok  \t") ||
		strings.HasPrefix(t, "ok \t") || strings.HasPrefix(t, "?   \t")
}

// GoTotals sums the packages of reports.
type GoTotals struct {
	Packages, FailedPackages, Passed, Failed, Skipped int
	Seconds                                           float64
}

func goTotals(pkgs []*GoPackage) GoTotals {
	var t GoTotals
	for _, p := range pkgs {
		t.Packages++
		if p.failed() {
			t.FailedPackages++
		}
		t.Passed += p.Passed
		t.Failed += p.Failed
		t.Skipped += p.Skipped
		t.Seconds += p.Seconds
	}
	return t
}

// GoLines is the summary of go test reports as log lines: totals, one line
// per package, then each failure with its output, indented.
func GoLines(reports int, pkgs []*GoPackage) []string {
	t := goTotals(pkgs)
	lines := []string{fmt.Sprintf("go test: %s, %s (%d failed), %s: %s, %s, %s (%.3fs)",
		plural(reports, "report"), plural(t.Packages, "package"), t.FailedPackages,
		plural(t.Passed+t.Failed+t.Skipped, "test"),
		plural(t.Passed, "passed"), plural(t.Failed, "failed"), plural(t.Skipped, "skipped"), t.Seconds)}
	width := 0
	for _, p := range pkgs {
		width = max(width, len(p.Name))
	}
	for _, p := range pkgs {
		result, detail := p.Result, fmt.Sprintf("%s, %s, %s (%.3fs)",
			plural(p.Passed, "passed"), plural(p.Failed, "failed"), plural(p.Skipped, "skipped"), p.Seconds)
		switch {
		case p.BuildFailed:
			result, detail = "FAIL", "build failed"
		case p.Result == "no test files":
			result, detail = "?", "no test files"
		case p.Result == "incomplete":
			result, detail = "FAIL", detail+"; the stream ended before the package's result"
		case p.Result == "ok" && p.Failed > 0:
			result = "FAIL" // a test without a result in a passing package
		}
		lines = append(lines, fmt.Sprintf("  %-4s  %-*s  %s", result, width, p.Name, detail))
	}
	for _, p := range pkgs {
		if len(p.Output.Kept)+p.Output.Dropped > 0 {
			what := "output"
			if p.BuildFailed {
				what = "build failed"
			}
			lines = append(lines, fmt.Sprintf("FAIL  %s [%s]", p.Name, what))
			lines = appendOutput(lines, p.Output)
		}
		for _, f := range p.Failures {
			lines = append(lines, fmt.Sprintf("FAIL  %s %s (%.3fs)", p.Name, f.Test, f.Seconds))
			lines = appendOutput(lines, f.Output)
		}
	}
	return lines
}

func appendOutput(lines []string, out Lines) []string {
	for _, l := range out.Kept {
		lines = append(lines, "      "+strings.TrimRight(l, " \t\r"))
	}
	if out.Dropped > 0 {
		lines = append(lines, fmt.Sprintf("      … %s not shown", plural(out.Dropped, "more line")))
	}
	return lines
}
