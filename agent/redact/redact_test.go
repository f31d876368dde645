package redact

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// odd is the secret of BEHAVIOURS.md: non-ASCII, a quote, a backslash, a
// percent sign.
const odd = `pä"ss\w%rd42`

// recorder is a downstream writer that keeps every Write apart.
type recorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.writes, "")
}

func mustNew(t testing.TB, secrets ...Secret) *Redactor {
	t.Helper()
	r, warnings := New(secrets, Options{})
	if len(warnings) > 0 {
		t.Fatalf("New: unexpected warnings %v", warnings)
	}
	return r
}

// stream writes each piece in its own Write and returns what came out.
func writeAll(t testing.TB, r *Redactor, pieces ...string) string {
	t.Helper()
	var rec recorder
	w := r.Writer(&rec)
	for _, p := range pieces {
		if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v; want %d, nil", p, n, err, len(p))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return rec.String()
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestForms(t *testing.T) {
	r := mustNew(t, Secret{"ODD", odd}, Secret{"PLAIN", "s3cr3t-Token_9000"}, Secret{"SPACE", "my pass wörd!"})
	jsonGo, _ := json.Marshal(odd)
	var jsonNoHTML bytes.Buffer
	enc := json.NewEncoder(&jsonNoHTML)
	enc.SetEscapeHTML(false)
	enc.Encode("<" + odd + ">")
	tests := []struct {
		name, in, want string
	}{
		{"raw", "x " + odd + " y", "x [REDACTED:ODD] y"},
		{"raw plain", "token=s3cr3t-Token_9000;", "token=[REDACTED:PLAIN];"},
		{"base64 padded", "b " + b64(odd) + " e", "b [REDACTED:ODD] e"},
		{"base64 unpadded", "b " + strings.TrimRight(b64(odd), "=") + " e", "b [REDACTED:ODD] e"},
		{"base64 echo newline", "b " + b64(odd+"\n") + " e", "b [REDACTED:ODD] e"},
		{"base64 url", "b " + base64.URLEncoding.EncodeToString([]byte(odd)) + " e", "b [REDACTED:ODD] e"},
		{"base64 url unpadded", "b " + base64.RawURLEncoding.EncodeToString([]byte(odd)) + " e", "b [REDACTED:ODD] e"},
		{"base64 plain", "b " + b64("s3cr3t-Token_9000") + " e", "b [REDACTED:PLAIN] e"},
		{"base32", "b " + base32.StdEncoding.EncodeToString([]byte(odd)) + " e", "b [REDACTED:ODD] e"},
		{"base32 unpadded", "b " + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(odd)) + " e", "b [REDACTED:ODD] e"},
		{"hex lower", "h " + hex.EncodeToString([]byte(odd)) + " e", "h [REDACTED:ODD] e"},
		{"hex upper", "h " + strings.ToUpper(hex.EncodeToString([]byte(odd))) + " e", "h [REDACTED:ODD] e"},
		{"url query", "GET /?p=" + url.QueryEscape(odd) + "&x=1", "GET /?p=[REDACTED:ODD]&x=1"},
		{"url path", "GET /u/" + url.PathEscape(odd) + "/x", "GET /u/[REDACTED:ODD]/x"},
		{"url query space", "p=my+pass+w%C3%B6rd%21&", "p=[REDACTED:SPACE]&"},
		{"url path space", "/my%20pass%20w%C3%B6rd%21/", "/[REDACTED:SPACE]/"},
		{"encodeURIComponent", "p=my%20pass%20w%C3%B6rd!&", "p=[REDACTED:SPACE]&"},
		{"json go", `{"p":` + string(jsonGo) + `}`, `{"p":"[REDACTED:ODD]"}`},
		{"json html escaped", `{"p":"` + jsonEscape("<"+odd+">", true, false) + `"}`, `{"p":"\u003c[REDACTED:ODD]\u003e"}`},
		{"json no html escaping", strings.TrimSpace(jsonNoHTML.String()), `"<[REDACTED:ODD]>"`},
		{"json python ascii", `{"p": "p\u00e4\"ss\\w%rd42"}`, `{"p": "[REDACTED:ODD]"}`},
		{"shell single quoted", `+ echo 'it'\''s s3cr3t'\''-Token'`, `+ echo 'it'\''s s3cr3t'\''-Token'`},
		{"shell double quoted", `echo "pä\"ss\\w%rd42"`, `echo "[REDACTED:ODD]"`},
		{"shell backslash", `pä\"ss\\w%rd42`, `[REDACTED:ODD]`},
		{"untouched", "nothing to see here {}", "nothing to see here {}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if got := writeAll(t, r, tt.in); got != tt.want {
				t.Errorf("Writer(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestShellQuotedSecret(t *testing.T) {
	const v = `it's-a-s3cret`
	r := mustNew(t, Secret{"Q", v})
	tests := []struct{ in, want string }{
		{`+ echo 'it'\''s-a-s3cret'`, `+ echo '[REDACTED:Q]'`},
		{`it\'s-a-s3cret`, `[REDACTED:Q]`},
		{`"it's-a-s3cret"`, `"[REDACTED:Q]"`},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestBase64Embedded: the value inside a longer base64 blob, at each of the
// three alignments, in both alphabets, is masked; no more than the two
// characters at each edge that also carry other bytes' bits stay in clear.
func TestBase64Embedded(t *testing.T) {
	r := mustNew(t, Secret{"ODD", odd})
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for before := range 6 {
			for after := range 4 {
				blob := strings.Repeat("A", before) + odd + strings.Repeat("z", after)
				in := "data: " + enc.EncodeToString([]byte(blob)) + " end"
				got := r.String(in)
				if !strings.Contains(got, "[REDACTED:ODD]") {
					t.Errorf("before=%d after=%d: got %q, want the value masked", before, after, got)
					continue
				}
				// What is left around the mask decodes to at most the
				// bytes around the value plus the 2 bits per edge char.
				left := strings.TrimPrefix(strings.SplitN(got, "[REDACTED:ODD]", 2)[0], "data: ")
				right := strings.TrimSuffix(strings.SplitN(got, "[REDACTED:ODD]", 2)[1], " end")
				if len(left) > (before*8+5)/6+1 || len(strings.TrimRight(right, "=")) > (after*8+5)/6+2 {
					t.Errorf("before=%d after=%d: got %q, want only the surrounding bytes' characters in clear", before, after, got)
				}
			}
		}
	}
}

func TestBEHAVIOURSOddSecret(t *testing.T) {
	// BEHAVIOURS.md: pä"ss\w%rd42 printed raw, base64, inside a JSON
	// string, URL-encoded → all masked.
	r := mustNew(t, Secret{"DB_PASSWORD", odd})
	jsonStr, _ := json.Marshal(map[string]string{"password": odd})
	in := "raw: " + odd + "\n" +
		"base64: " + b64(odd) + "\n" +
		"json: " + string(jsonStr) + "\n" +
		"url: https://db.example/?pw=" + url.QueryEscape(odd) + "\n"
	want := "raw: [REDACTED:DB_PASSWORD]\n" +
		"base64: [REDACTED:DB_PASSWORD]\n" +
		`json: {"password":"[REDACTED:DB_PASSWORD]"}` + "\n" +
		"url: https://db.example/?pw=[REDACTED:DB_PASSWORD]\n"
	if got := r.String(in); got != want {
		t.Errorf("String\n got %q\nwant %q", got, want)
	}
	if got := writeAll(t, r, in); got != want {
		t.Errorf("Writer\n got %q\nwant %q", got, want)
	}
}

const pemKey = `-----BEGIN PRIVATE KEY-----
MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+XQPnn
Mbp0cFkE1nIyX4hYhX1aAkQ2Aj0CqLu1QfrMbqMxXGjsCUVEP7y7ylHbIBHhV3Lx
6xXvYQIDAQABAkBcYzqEq2zDlB9Tnu7SUdHLgHwz4C1P6ZqeZGJgN7o3Px2b8Ecw
-----END PRIVATE KEY-----
`

func TestPEM(t *testing.T) {
	r := mustNew(t, Secret{"TLS_KEY", pemKey})
	body := strings.Split(strings.TrimSpace(pemKey), "\n")[1:4]
	tests := []struct{ name, in, want string }{
		{"printed whole", "key:\n" + pemKey + "done\n",
			"key:\n-----BEGIN PRIVATE KEY-----\n[REDACTED:TLS_KEY]\n[REDACTED:TLS_KEY]\n[REDACTED:TLS_KEY]\n-----END PRIVATE KEY-----\ndone\n"},
		{"indented in YAML", "tls:\n  key: |\n    " + body[0] + "\n    " + body[1] + "\n",
			"tls:\n  key: |\n    [REDACTED:TLS_KEY]\n    [REDACTED:TLS_KEY]\n"},
		{"CRLF", strings.ReplaceAll(pemKey, "\n", "\r\n"),
			"-----BEGIN PRIVATE KEY-----\r\n[REDACTED:TLS_KEY]\r\n[REDACTED:TLS_KEY]\r\n[REDACTED:TLS_KEY]\r\n-----END PRIVATE KEY-----\r\n"},
		{"one line as JSON", `{"key":` + mustJSON(pemKey) + `}`, `{"key":"[REDACTED:TLS_KEY]"}`},
		{"base64 -w0", b64(pemKey), "[REDACTED:TLS_KEY]"},
		{"other armor untouched", "-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE-----"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String\n got %q\nwant %q", got, tt.want)
			}
			if got := writeAll(t, r, tt.in); got != tt.want {
				t.Errorf("Writer\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestJSONSecret(t *testing.T) {
	// BEHAVIOURS.md: a JSON secret whose lines are {, "k": "…", } → the
	// value masked, braces elsewhere untouched.
	const doc = "{\n  \"k\": \"v4lue-of-the-secret\"\n}"
	r := mustNew(t, Secret{"CREDS", doc})
	tests := []struct{ name, in, want string }{
		{"printed whole", "creds:\n" + doc + "\n", "creds:\n{\n  [REDACTED:CREDS]\n}\n"},
		{"braces elsewhere", "func main() {\n}\n{ }\n", "func main() {\n}\n{ }\n"},
		{"one field (jq -r .k)", "v4lue-of-the-secret\n", "[REDACTED:CREDS]\n"},
		{"compact", `{"k":"v4lue-of-the-secret"}`, `{"k":"[REDACTED:CREDS]"}`},
		{"as a JSON string", mustJSON(doc), `"[REDACTED:CREDS]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestShortSecrets(t *testing.T) {
	// BEHAVIOURS.md: a 3-byte secret → a warning, not a mask that eats
	// every abc in the log.
	r, warnings := New([]Secret{{"TINY", "abc"}, {"EMPTY", ""}, {"OK", "abcdef"}, {"NEWLINE", "abc\n"}}, Options{})
	if len(warnings) != 3 {
		t.Fatalf("got warnings %v, want 3 (TINY, EMPTY, NEWLINE)", warnings)
	}
	for i, name := range []string{"TINY", "EMPTY", "NEWLINE"} {
		if warnings[i].Name != name {
			t.Errorf("warning %d names %q, want %q", i, warnings[i].Name, name)
		}
		if strings.Contains(warnings[i].String(), "abc") {
			t.Errorf("warning %q quotes the value", warnings[i])
		}
	}
	if got, want := r.String("abc abcabc xabcdefx"), "abc abcabc x[REDACTED:OK]x"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	r, warnings = New([]Secret{{"TINY", "abc"}}, Options{MinLength: 3})
	if len(warnings) != 0 || r.String("xabcx") != "x[REDACTED:TINY]x" {
		t.Errorf("MinLength 3: got %q, %v; want the value masked, no warning", r.String("xabcx"), warnings)
	}

	_, warnings = New([]Secret{{"LINES", "ab\ncd\nef\ngh"}}, Options{})
	if len(warnings) != 1 || warnings[0].Name != "LINES" {
		t.Errorf("multi-line with only short lines: got %v, want one warning for LINES", warnings)
	}
}

func TestOverlappingSecrets(t *testing.T) {
	r := mustNew(t,
		Secret{"SHORT", "abcdef"},
		Secret{"LONG", "token-abcdef-long"},
		Secret{"LEFT", "left-half-1234"},
		Secret{"RIGHT", "1234-right-half"},
	)
	tests := []struct{ in, want string }{
		{"x token-abcdef-long x", "x [REDACTED:LONG] x"},
		{"x abcdef x", "x [REDACTED:SHORT] x"},
		{"x token-abcdef-lon x", "x token-[REDACTED:SHORT]-lon x"},
		// Two secrets overlapping in the text: one mask, no fragment.
		{"x left-half-1234-right-half x", "x [REDACTED:RIGHT] x"},
		// Touching: one mask.
		{"x abcdefabcdef x", "x [REDACTED:SHORT] x"},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for i := range len(tt.in) + 1 {
			if got := writeAll(t, r, tt.in[:i], tt.in[i:]); got != tt.want {
				t.Errorf("Writer(%q | %q) = %q, want %q", tt.in[:i], tt.in[i:], got, tt.want)
			}
		}
	}
}

// TestSplitEverywhere writes an input holding secrets in many forms in two
// Writes, split at every position, then in three, then byte by byte.
func TestSplitEverywhere(t *testing.T) {
	r := mustNew(t, Secret{"ODD", odd}, Secret{"KEY", pemKey}, Secret{"PLAIN", "s3cr3t-Token_9000"})
	in := "start " + odd + " | " + b64(odd) + "\n" + pemKey + url.QueryEscape(odd) +
		"s3cr3t-Token_9000" + hex.EncodeToString([]byte(odd)) + " " + odd
	want := r.String(in)
	for _, s := range []string{odd, "s3cr3t-Token_9000", b64(odd)} {
		if strings.Contains(want, s) {
			t.Fatalf("String left %q in clear: %q", s, want)
		}
	}
	for i := range len(in) + 1 {
		if got := writeAll(t, r, in[:i], in[i:]); got != want {
			t.Fatalf("split at %d:\n got %q\nwant %q", i, got, want)
		}
	}
	for i := 0; i <= len(in); i += 7 {
		for j := i; j <= len(in); j += 5 {
			if got := writeAll(t, r, in[:i], in[i:j], in[j:]); got != want {
				t.Fatalf("split at %d, %d:\n got %q\nwant %q", i, j, got, want)
			}
		}
	}
	pieces := make([]string, len(in))
	for i := range len(in) {
		pieces[i] = in[i : i+1]
	}
	if got := writeAll(t, r, pieces...); got != want {
		t.Fatalf("byte by byte:\n got %q\nwant %q", got, want)
	}
}

func TestEndOfStream(t *testing.T) {
	r := mustNew(t, Secret{"S", "s3cr3t-Token_9000"})
	tests := []struct {
		name   string
		pieces []string
		want   string
	}{
		{"secret last", []string{"a ", "s3cr3t-Token_9000"}, "a [REDACTED:S]"},
		{"secret last, split", []string{"a s3cr3t-To", "ken_9000"}, "a [REDACTED:S]"},
		{"prefix last", []string{"a s3cr3t-To"}, "a s3cr3t-To"},
		{"empty", []string{}, ""},
		{"empty writes", []string{"", "a ", "", "s3cr3t-Token_9000", ""}, "a [REDACTED:S]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := writeAll(t, r, tt.pieces...); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHoldBackAndClose(t *testing.T) {
	r := mustNew(t, Secret{"S", "s3cr3t-Token_9000"})
	var rec recorder
	w := r.Writer(&rec)
	w.Write([]byte("ready s3cr3t-To"))
	if got, want := rec.String(), "ready "; got != want {
		t.Errorf("after a possible prefix: got %q written, want %q (the prefix held back)", got, want)
	}
	w.Write([]byte("kenized\nnext line s3c\n"))
	if got, want := rec.String(), "ready s3cr3t-Tokenized\nnext line s3c\n"; got != want {
		t.Errorf("after a newline: got %q written, want %q (nothing held back)", got, want)
	}
	w.Write([]byte("s3cr3t"))
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, want := rec.String(), "ready s3cr3t-Tokenized\nnext line s3c\ns3cr3t"; got != want {
		t.Errorf("after Close: got %q, want %q", got, want)
	}
	if n, err := w.Write([]byte("s3cr3t-Token_9000")); n != 0 || !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %d, %v; want 0, ErrClosed", n, err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, wr := range rec.writes {
		if wr == "" {
			t.Errorf("an empty Write reached the downstream writer")
		}
	}
}

type failWriter struct{ err error }

func (f failWriter) Write(p []byte) (int, error) { return 0, f.err }

func TestDownstreamError(t *testing.T) {
	boom := errors.New("boom")
	w := mustNew(t, Secret{"S", "s3cr3t-Token_9000"}).Writer(failWriter{boom})
	if _, err := w.Write([]byte("line\n")); !errors.Is(err, boom) {
		t.Errorf("Write: got %v, want %v", err, boom)
	}
	if _, err := w.Write([]byte("line\n")); !errors.Is(err, boom) {
		t.Errorf("second Write: got %v, want %v (sticky)", err, boom)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("Close: got %v, want %v", err, boom)
	}
}

// TestConcurrentWrites: Writes from several goroutines (a step's stdout and
// stderr) are each masked whole. Run with -race.
func TestConcurrentWrites(t *testing.T) {
	r := mustNew(t, Secret{"S", "s3cr3t-Token_9000"})
	var rec recorder
	w := r.Writer(&rec)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(w, "goroutine %d line %d s3cr3t-Token_9000\n", g, i)
			}
		})
	}
	wg.Wait()
	w.Close()
	got := rec.String()
	if n := strings.Count(got, "[REDACTED:S]\n"); n != 8*200 {
		t.Errorf("got %d masked lines, want %d", n, 8*200)
	}
	if strings.Contains(got, "s3cr3t") {
		t.Errorf("a fragment of the secret is in clear")
	}
}

// TestLongRun: a value repeated back to back forever is masked in bounded
// memory, and streaming still equals one-shot.
func TestLongRun(t *testing.T) {
	r := mustNew(t, Secret{"A", "aaaaaaaa"})
	in := strings.Repeat("a", 3*maxRun+17)
	want := r.String(in)
	if strings.Contains(want, "a") && strings.Trim(want, "[]REDACTED:A") != "" {
		t.Fatalf("String left text in clear: %q…", want[:min(len(want), 80)])
	}
	var rec recorder
	w := r.Writer(&rec).(*writer)
	for i := 0; i < len(in); i += 1000 {
		w.Write([]byte(in[i:min(i+1000, len(in))]))
		if len(w.s.tail) > maxRun+1000+64 {
			t.Fatalf("after %d bytes, %d held back; want at most about maxRun", i, len(w.s.tail))
		}
	}
	w.Close()
	if got := rec.String(); got != want {
		t.Errorf("Writer = %q, want String's %q", got, want)
	}
}

func TestNoFormHasANewline(t *testing.T) {
	for _, v := range []string{odd, pemKey, "{\n \"k\": \"v4lue-of-the-secret\"\n}", "line one\nline two\n", "tab\tand\rcr-value"} {
		pats, _ := forms(v, Options{MinLength: DefaultMinLength, MinLineLength: DefaultMinLineLength})
		for _, p := range pats {
			if strings.Contains(p, "\n") {
				t.Errorf("forms(%q) has %q, which holds a newline", v, p)
			}
		}
	}
}

func TestNilAndEmptyRedactor(t *testing.T) {
	var nilR *Redactor
	empty, _ := New(nil, Options{})
	for name, r := range map[string]*Redactor{"nil": nilR, "empty": empty} {
		if got := r.String("abc"); got != "abc" {
			t.Errorf("%s: String = %q, want %q", name, got, "abc")
		}
		if got := writeAll(t, r, "a", "", "bc"); got != "abc" {
			t.Errorf("%s: Writer = %q, want %q", name, got, "abc")
		}
		w := r.Writer(io.Discard)
		w.Close()
		if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Write after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestNameCannotBreakTheMask(t *testing.T) {
	r := mustNew(t, Secret{"a]b\nc", "s3cr3t-Token_9000"})
	if got, want := r.String("s3cr3t-Token_9000"), "[REDACTED:a_b_c]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestZeroAllocWrite(t *testing.T) {
	r := mustNew(t, Secret{"S", "s3cr3t-Token_9000"}, Secret{"ODD", odd})
	w := r.Writer(io.Discard)
	chunk := []byte(strings.Repeat("some log line s3cr3t-Token_9000 and pä\"ss\\w%rd4", 100))
	w.Write(chunk) // grow the buffers
	if allocs := testing.AllocsPerRun(100, func() { w.Write(chunk) }); allocs != 0 {
		t.Errorf("got %v allocations per Write, want 0", allocs)
	}
}

var fuzzSecrets = []Secret{
	{"ODD", odd},
	{"PLAIN", "s3cr3t-Token_9000"},
	{"SUB", "Token_9"},
	{"PERIODIC", "abababab"},
	{"KEY", pemKey},
}

// FuzzRedact: for any input and any split into Writes, the Writer's
// output equals String's, and no secret is left in clear.
func FuzzRedact(f *testing.F) {
	f.Add([]byte("x s3cr3t-Token_9000 y"), uint16(3), uint16(9))
	f.Add([]byte("ababababababab"+odd), uint16(1), uint16(2))
	f.Add([]byte(b64("xx"+odd)+pemKey), uint16(40), uint16(100))
	r, _ := New(fuzzSecrets, Options{})
	f.Fuzz(func(t *testing.T, in []byte, a, b uint16) {
		i, j := int(a)%(len(in)+1), int(b)%(len(in)+1)
		if i > j {
			i, j = j, i
		}
		want := r.String(string(in))
		got := writeAll(t, r, string(in[:i]), string(in[i:j]), string(in[j:]))
		if got != want {
			t.Fatalf("split at %d, %d:\n got %q\nwant %q", i, j, got, want)
		}
		for _, s := range fuzzSecrets {
			if s.Name != "KEY" && strings.Contains(got, s.Value) {
				t.Fatalf("%s in clear in %q", s.Name, got)
			}
		}
	})
}
