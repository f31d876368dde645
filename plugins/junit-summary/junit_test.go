package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/airlockci/airlock/plugins/internal/plog"
)

const mavenReport = `<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.example.AppTest" tests="4" failures="1" errors="1" skipped="1" time="3.5">
  <testcase name="adds" classname="com.example.AppTest" time="0.5"/>
  <testcase name="divides" classname="com.example.AppTest" time="2.25">
    <failure message="expected:&lt;2&gt; but was:&lt;3&gt;" type="AssertionError">stack
trace</failure>
  </testcase>
  <testcase name="connects" classname="com.example.AppTest" time="0.75">
    <error type="java.io.IOException">
      connection refused
      at Foo.bar
    </error>
  </testcase>
  <testcase name="later" classname="com.example.AppTest" time="0"><skipped/></testcase>
</testsuite>`

const goReport = `<testsuites>
  <testsuite name="pkg/a">
    <testsuite name="nested">
      <testcase name="TestDeep" classname="pkg/a" time="1,250.0"/>
    </testsuite>
    <testcase name="TestA" classname="pkg/a" time="0.010"/>
  </testsuite>
</testsuites>`

func runPlugin(fsys fstest.MapFS, input string) (string, int32) {
	var b strings.Builder
	status := Run([]byte(input), fsys, func(level plog.Level, line string) {
		fmt.Fprintf(&b, "%d %s\n", level, line)
	})
	return b.String(), status
}

func TestRun(t *testing.T) {
	fsys := fstest.MapFS{
		"build/reports/maven.xml":   {Data: []byte(mavenReport)},
		"build/reports/go/unit.xml": {Data: []byte(goReport)},
		"broken/bad.xml":            {Data: []byte("<testsuite><testcase></testsuite>")},
		"broken/html.xml":           {Data: []byte("<html></html>")},
	}
	tests := []struct {
		name       string
		input      string
		wantStatus int32
		want       string
	}{
		{
			name:       "failures fail the step",
			input:      `{"config":{"files":["build/reports/**/*.xml"],"slowest":3}}`,
			wantStatus: 1,
			want: "0 2 reports, 6 tests: 3 passed, 1 failure, 1 error, 1 skipped (1253.510s)\n" +
				"0 slowest:\n" +
				"0   1250.000s  pkg/a.TestDeep\n" +
				"0      2.250s  com.example.AppTest.divides\n" +
				"0      0.750s  com.example.AppTest.connects\n" +
				"0 FAIL  com.example.AppTest.divides: expected:<2> but was:<3>\n" +
				"0 ERROR com.example.AppTest.connects: connection refused\n",
		},
		{
			name:  "all passed",
			input: `{"config":{"files":["build/reports/go/*.xml"],"slowest":-1}}`,
			want:  "0 1 report, 2 tests: 2 passed, 0 failures, 0 errors, 0 skipped (1250.010s)\n",
		},
		{
			name:       "unreadable reports fail the step",
			input:      `{"config":{"files":["broken/*.xml", "build/reports/go/unit.xml"],"slowest":-1}}`,
			wantStatus: 1,
			want: "2 junit-summary: broken/bad.xml: XML syntax error on line 1: element <testcase> closed by </testsuite>\n" +
				"2 junit-summary: broken/html.xml: not a JUnit report: the root element is <html>, want <testsuites> or <testsuite>\n" +
				"0 3 reports, 2 tests: 2 passed, 0 failures, 0 errors, 0 skipped (1250.010s)\n" +
				"2 junit-summary: 2 of 3 reports could not be read\n",
		},
		{
			name:       "no report found",
			input:      `{"config":{"files":["reports/*.xml"]}}`,
			wantStatus: 1,
			want:       "2 junit-summary: files: pattern \"reports/*.xml\" matches no file in the workspace\n",
		},
		{
			name:       "files missing from config",
			input:      `{"config":{}}`,
			wantStatus: 2,
			want:       "2 junit-summary: config needs \"files\", a list of report patterns such as [\"reports/**/*.xml\"]\n",
		},
		{
			name:       "bad input",
			input:      `[]`,
			wantStatus: 2,
			want:       "2 junit-summary: bad input: json: cannot unmarshal array into Go value of type main.input\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, status := runPlugin(fsys, tt.input)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if got != tt.want {
				t.Errorf("log:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	cases, err := Parse(strings.NewReader(mavenReport))
	if err != nil {
		t.Fatal(err)
	}
	want := []TestCase{
		{"com.example.AppTest.adds", 0.5, Passed, ""},
		{"com.example.AppTest.divides", 2.25, Failed, "expected:<2> but was:<3>"},
		{"com.example.AppTest.connects", 0.75, Errored, "connection refused"},
		{"com.example.AppTest.later", 0, Skipped, ""},
	}
	if fmt.Sprint(cases) != fmt.Sprint(want) {
		t.Errorf("Parse = %+v\nwant %+v", cases, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		xml     string
		wantErr string
		notJU   bool
	}{
		{"", "no XML element", true},
		{"<html/>", "root element is <html>", true},
		{"<testsuite>", "XML syntax error on line 1: unexpected EOF", false},
		{"not xml at all", "no XML element", true},
	}
	for _, tt := range tests {
		_, err := Parse(strings.NewReader(tt.xml))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Parse(%q) error = %v, want one containing %q", tt.xml, err, tt.wantErr)
			continue
		}
		if errors.Is(err, ErrNotJUnit) != tt.notJU {
			t.Errorf("Parse(%q): errors.Is(ErrNotJUnit) = %v, want %v", tt.xml, !tt.notJU, tt.notJU)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(mavenReport)
	f.Add(goReport)
	f.Add("<testsuite><testcase><failure/></testcase></testsuite>")
	f.Fuzz(func(t *testing.T, xml string) {
		cases, err := Parse(strings.NewReader(xml))
		if err != nil {
			return
		}
		s := Summarize(cases)
		if s.Failures+s.Errors+s.Skipped > s.Tests {
			t.Errorf("summary %+v counts more outcomes than tests", s)
		}
		s.Lines(1, 5)
	})
}
