package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// fixture reads a testdata file (testdata/README.md says how each was made).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureSummary is the log of the plugin on testdata/go-test.json.
const fixtureSummary = "0 go test: 1 report, 4 packages (2 failed), 8 tests: 5 passed, 2 failed, 1 skipped (0.133s)\n" +
	"0   FAIL  example.com/calc/broken   build failed\n" +
	"0   FAIL  example.com/calc/calc     4 passed, 2 failed, 1 skipped (0.132s)\n" +
	"0   ?     example.com/calc/notests  no test files\n" +
	"0   ok    example.com/calc/ok       1 passed, 0 failed, 0 skipped (0.001s)\n" +
	"0 FAIL  example.com/calc/broken [build failed]\n" +
	"0       # example.com/calc/broken [example.com/calc/broken.test]\n" +
	"0       broken/broken_test.go:5:33: undefined: undefined\n" +
	"0 FAIL  example.com/calc/calc TestDiv (0.000s)\n" +
	"0           calc_test.go:16: dividing 7 by 2\n" +
	"0           calc_test.go:18: Div(7, 2) = 3, want 4\n" +
	"0 FAIL  example.com/calc/calc TestTable/2+3 (0.000s)\n" +
	"0           calc_test.go:26: Add(2, 3) = 5, want 6\n"

func TestRunGoTest(t *testing.T) {
	report := fixture(t, "go-test.json")
	pass := fixture(t, "go-test-pass.json")
	fsys := fstest.MapFS{
		"reports/go-test.json":      {Data: report},
		"reports/pass.json":         {Data: pass},
		"junit/unit.xml":            {Data: []byte(goReport)},
		"odd/empty.json":            {Data: nil},
		"odd/blank.json":            {Data: []byte("\n  \n")},
		"odd/text.log":              {Data: []byte("hello\nworld\n")},
		"odd/noise.json":            {Data: []byte("# example.com/x\nvet: something\n" + string(pass))},
		"odd/truncated-stream.json": {Data: report[:len(report)/2]},
	}
	tests := []struct {
		name       string
		config     string
		wantStatus int32
		want       string
	}{
		{
			name:       "a real capture: per package, failures with their output",
			config:     `{"files":["reports/go-test.json"]}`,
			wantStatus: 1,
			want:       fixtureSummary,
		},
		{
			name:       "the format named",
			config:     `{"files":["reports/go-test.json"],"format":"go-test-json"}`,
			wantStatus: 1,
			want:       fixtureSummary,
		},
		{
			name:   "fail_on_failures false reports and passes",
			config: `{"files":["reports/go-test.json"],"fail_on_failures":"false"}`,
			want:   fixtureSummary + "1 junit-summary: tests failed; the step passes because fail_on_failures is false\n",
		},
		{
			name:   "all passed",
			config: `{"files":["reports/pass.json"]}`,
			want: "0 go test: 1 report, 2 packages (0 failed), 1 test: 1 passed, 0 failed, 0 skipped (0.002s)\n" +
				"0   ?     example.com/calc/notests  no test files\n" +
				"0   ok    example.com/calc/ok       1 passed, 0 failed, 0 skipped (0.002s)\n",
		},
		{
			name:       "output capped",
			config:     `{"files":["reports/go-test.json"],"max_output_lines":"1"}`,
			wantStatus: 1,
			want: "0 go test: 1 report, 4 packages (2 failed), 8 tests: 5 passed, 2 failed, 1 skipped (0.133s)\n" +
				"0   FAIL  example.com/calc/broken   build failed\n" +
				"0   FAIL  example.com/calc/calc     4 passed, 2 failed, 1 skipped (0.132s)\n" +
				"0   ?     example.com/calc/notests  no test files\n" +
				"0   ok    example.com/calc/ok       1 passed, 0 failed, 0 skipped (0.001s)\n" +
				"0 FAIL  example.com/calc/broken [build failed]\n" +
				"0       # example.com/calc/broken [example.com/calc/broken.test]\n" +
				"0       … 1 more line not shown\n" +
				"0 FAIL  example.com/calc/calc TestDiv (0.000s)\n" +
				"0           calc_test.go:16: dividing 7 by 2\n" +
				"0       … 1 more line not shown\n" +
				"0 FAIL  example.com/calc/calc TestTable/2+3 (0.000s)\n" +
				"0           calc_test.go:26: Add(2, 3) = 5, want 6\n",
		},
		{
			name:       "JUnit and go test reports together",
			config:     `{"files":["junit/*.xml","reports/pass.json"],"slowest":-1}`,
			wantStatus: 0,
			want: "0 1 report, 2 tests: 2 passed, 0 failures, 0 errors, 0 skipped (1250.010s)\n" +
				"0 go test: 1 report, 2 packages (0 failed), 1 test: 1 passed, 0 failed, 0 skipped (0.002s)\n" +
				"0   ?     example.com/calc/notests  no test files\n" +
				"0   ok    example.com/calc/ok       1 passed, 0 failed, 0 skipped (0.002s)\n",
		},
		{
			name:   "lines that are not events are shown, not fatal",
			config: `{"files":["odd/noise.json"]}`,
			want: "1 junit-summary: odd/noise.json: 2 lines not test2json events, left out; the first:\n" +
				"1   line 1 (not JSON): # example.com/x\n" +
				"1   line 2 (not JSON): vet: something\n" +
				"0 go test: 1 report, 2 packages (0 failed), 1 test: 1 passed, 0 failed, 0 skipped (0.002s)\n" +
				"0   ?     example.com/calc/notests  no test files\n" +
				"0   ok    example.com/calc/ok       1 passed, 0 failed, 0 skipped (0.002s)\n",
		},
		{
			name:       "unreadable files fail the step",
			config:     `{"files":["odd/empty.json","odd/blank.json","odd/text.log"]}`,
			wantStatus: 1,
			want: "2 junit-summary: odd/blank.json: only white space: neither a JUnit XML report nor go test -json output\n" +
				"2 junit-summary: odd/empty.json: empty file: neither a JUnit XML report nor go test -json output\n" +
				"2 junit-summary: odd/text.log: neither a JUnit XML report nor go test -json output (set \"format\" if it is one)\n" +
				"0 0 reports, 0 tests: 0 passed, 0 failures, 0 errors, 0 skipped (0.000s)\n" +
				"2 junit-summary: 3 of 3 reports could not be read\n",
		},
		{
			name:       "go-test-json named for a file without events",
			config:     `{"files":["odd/text.log"],"format":"go-test-json"}`,
			wantStatus: 1,
			want: "2 junit-summary: odd/text.log: not go test -json output: no test2json event in 2 lines\n" +
				"0 0 reports, 0 tests: 0 passed, 0 failures, 0 errors, 0 skipped (0.000s)\n" +
				"2 junit-summary: 1 of 1 reports could not be read\n",
		},
		{
			name:       "junit named for a go test stream",
			config:     `{"files":["reports/pass.json"],"format":"junit"}`,
			wantStatus: 1,
			want: "2 junit-summary: reports/pass.json: not a JUnit report: no XML element found\n" +
				"0 1 report, 0 tests: 0 passed, 0 failures, 0 errors, 0 skipped (0.000s)\n" +
				"2 junit-summary: 1 of 1 reports could not be read\n",
		},
		{
			name:       "unknown format",
			config:     `{"files":["reports/pass.json"],"format":"tap"}`,
			wantStatus: 2,
			want:       "2 junit-summary: format \"tap\": want \"auto\", \"junit\" or \"go-test-json\"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, status := runPlugin(fsys, `{"config":`+tt.config+`}`)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if got != tt.want {
				t.Errorf("log:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// summary renders a parsed stream compactly for the tests below.
func summary(rep *GoReport) string {
	var b strings.Builder
	for _, p := range rep.Packages {
		fmt.Fprintf(&b, "%s %s p%d f%d s%d", p.Name, p.Result, p.Passed, p.Failed, p.Skipped)
		for _, f := range p.Failures {
			fmt.Fprintf(&b, " [%s: %s]", f.Test, strings.Join(f.Output.Kept, "|"))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "odd %d %q", rep.OddLines, rep.Odd)
	return b.String()
}

func TestParseGoTestBadInput(t *testing.T) {
	run := func(pkg, test, out string) string {
		return fmt.Sprintf(`{"Action":"output","Package":%q,"Test":%q,"Output":%q}`, pkg, test, out)
	}
	huge := `{"Action":"output","Package":"p","Output":"` + strings.Repeat("x", maxLine) + `"}`
	tests := []struct {
		name, stream, want string
	}{
		{
			name: "a truncated last line",
			stream: `{"Action":"run","Package":"p","Test":"TestA"}` + "\n" +
				`{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.5}` + "\n" +
				`{"Action":"pass","Package":"p","Elap`,
			want: "p incomplete p1 f0 s0\nodd 1 [\"line 3 (truncated): {\\\"Action\\\":\\\"pass\\\",\\\"Package\\\":\\\"p\\\",\\\"Elap\"]",
		},
		{
			name: "the stream ends in a test: it has no result",
			stream: `{"Action":"run","Package":"p","Test":"TestA"}` + "\n" +
				run("p", "TestA", "=== RUN   TestA\n") + "\n" +
				run("p", "TestA", "panic: boom\n") + "\n",
			want: "p incomplete p0 f1 s0 [TestA: panic: boom|(no result: the test did not finish)]\nodd 0 []",
		},
		{
			name: "build output and vet noise between events",
			stream: "# p\n./a.go:1:1: syntax error\n\n" +
				`{"Action":"skip","Package":"p","Test":"TestA"}` + "\n" +
				"\x00\xff not utf-8\n" +
				`{"Action":"skip","Package":"p","Elapsed":0}` + "\r\n",
			want: "p no test files p0 f0 s1\nodd 3 [\"line 1 (not JSON): # p\" \"line 2 (not JSON): ./a.go:1:1: syntax error\" \"line 5 (not JSON): \\x00\\xff not utf-8\"]",
		},
		{
			name: "a huge line is skipped",
			stream: `{"Action":"run","Package":"p","Test":"TestA"}` + "\n" + huge + "\n" +
				`{"Action":"fail","Package":"p","Test":"TestA"}` + "\n" +
				`{"Action":"fail","Package":"p"}`,
			want: "p FAIL p0 f1 s0 [TestA: ]\nodd 1 [\"line 2 (longer than 1048576 bytes, skipped): …\"]",
		},
		{
			name:   "JSON that is not an event, and JSON that is not valid",
			stream: `{"Package":"p"}` + "\n" + `{"Action":` + "\n" + `{"Action":"pass","Package":"p"}`,
			want:   "p ok p0 f0 s0\nodd 2 [\"line 1 (JSON without \\\"Action\\\"): {\\\"Package\\\":\\\"p\\\"}\" \"line 2 (bad JSON): {\\\"Action\\\":\"]",
		},
		{
			name: "a parent that failed only through its subtest is not counted",
			stream: `{"Action":"fail","Package":"p","Test":"TestT/a"}` + "\n" +
				`{"Action":"pass","Package":"p","Test":"TestT/b"}` + "\n" +
				`{"Action":"fail","Package":"p","Test":"TestT"}` + "\n" +
				run("p", "TestU", "    u_test.go:9: cleanup failed\n") + "\n" +
				`{"Action":"pass","Package":"p","Test":"TestU/a"}` + "\n" +
				`{"Action":"fail","Package":"p","Test":"TestU"}` + "\n" +
				`{"Action":"fail","Package":"p"}`,
			want: "p FAIL p2 f2 s0 [TestT/a: ] [TestU:     u_test.go:9: cleanup failed]\nodd 0 []",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := ParseGoTest(strings.NewReader(tt.stream), 5)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(rep); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestParseGoTestNoEvents(t *testing.T) {
	for _, s := range []string{"", "\n", "not json\n", `{"Package":"p"}`, strings.Repeat("y", 3*maxLine)} {
		_, err := ParseGoTest(strings.NewReader(s), 5)
		if !errors.Is(err, ErrNotGoTest) {
			t.Errorf("ParseGoTest(%.20q) error = %v, want ErrNotGoTest", s, err)
		}
	}
}

func FuzzParseGoTest(f *testing.F) {
	f.Add(string(fixture(f, "go-test.json")))
	f.Add(string(fixture(f, "go-test-pass.json")))
	f.Add(`{"Action":"run","Package":"p","Test":"A/b/c"}` + "\n" + `{"Action":"fail","Package":"p","Test":"A/b"}`)
	f.Add("# p\n{\"Action\":\"build-output\",\"ImportPath\":\"p\",\"Output\":\"x\\n\"}\n{\"Action\":\"fail\",\"Package\":\"p\",\"FailedBuild\":\"p\"}")
	f.Fuzz(func(t *testing.T, stream string) {
		rep, err := ParseGoTest(strings.NewReader(stream), 3)
		if err != nil {
			if !errors.Is(err, ErrNotGoTest) {
				t.Fatalf("error %v is not ErrNotGoTest", err)
			}
			return
		}
		if len(rep.Odd) > maxOddLines || len(rep.Odd) > rep.OddLines {
			t.Errorf("%d odd lines kept of %d", len(rep.Odd), rep.OddLines)
		}
		for _, p := range rep.Packages {
			if p.Failed != len(p.Failures) {
				t.Errorf("package %q: %d failed, %d failures listed", p.Name, p.Failed, len(p.Failures))
			}
			for _, fl := range p.Failures {
				if len(fl.Output.Kept) > 4 { // 3, and the "no result" note
					t.Errorf("%s: %d output lines kept, cap 3", fl.Test, len(fl.Output.Kept))
				}
			}
			if p.Passed < 0 || p.Skipped < 0 {
				t.Errorf("package %q: negative counts", p.Name)
			}
		}
		for _, l := range GoLines(1, rep.Packages) {
			if len(l) > 4*maxKeptLine+len(stream) {
				t.Errorf("a log line of %d bytes", len(l))
			}
		}
	})
}
