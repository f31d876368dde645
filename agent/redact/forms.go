package redact

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// forms returns every string to mask for one secret, and why some of it is
// not masked (empty when all of it is).
func forms(value string, o Options) (pats []string, warning string) {
	// A value read from a file usually ends in a newline the step will not
	// print next to it.
	core := strings.TrimRight(value, "\r\n")
	if len(core) < o.MinLength {
		return nil, fmt.Sprintf("its value is %d bytes long, shorter than the minimum of %d: it is not masked", len(core), o.MinLength)
	}
	add := func(s ...string) {
		for _, p := range s {
			// No form may contain a newline: that is what lets the Writer
			// pass every complete line through at once.
			if p != "" && !strings.ContainsAny(p, "\n") {
				pats = append(pats, p)
			}
		}
	}
	if strings.Contains(core, "\n") {
		masked := 0
		for line := range strings.SplitSeq(core, "\n") {
			line = strings.TrimSpace(line)
			if nonSpace(line) < o.MinLineLength || pemArmor(line) {
				continue
			}
			masked++
			add(line)
			add(jsonForms(line)...)
		}
		if masked == 0 {
			warning = fmt.Sprintf("it has several lines and none has %d non-space bytes: printed as is, it is not masked (its encoded forms are)", o.MinLineLength)
		}
	} else {
		add(core)
		add(shellForms(core)...)
	}
	for _, v := range dedupe(core, core+"\n", value) {
		add(base64Forms(v)...)
		add(base32Forms(v)...)
	}
	add(hex.EncodeToString([]byte(core)), strings.ToUpper(hex.EncodeToString([]byte(core))))
	add(url.QueryEscape(core), url.PathEscape(core), uriComponent(core))
	for _, v := range dedupe(core, value) {
		add(jsonForms(v)...)
	}
	for _, leaf := range jsonLeaves(core) {
		if leaf != core && len(leaf) >= o.MinLength {
			sub, _ := forms(leaf, o)
			pats = append(pats, sub...)
		}
	}
	return dedupe(pats...), warning
}

// pemArmor reports whether line is a PEM header or footer: every key has
// one, and it says nothing about the key, so it stays readable.
func pemArmor(line string) bool {
	return (strings.HasPrefix(line, "-----BEGIN ") || strings.HasPrefix(line, "-----END ")) &&
		strings.HasSuffix(line, "-----")
}

func nonSpace(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '\t' && c != '\r' {
			n++
		}
	}
	return n
}

func dedupe(s ...string) []string {
	out := s[:0:0]
	seen := make(map[string]bool, len(s))
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// base64Forms returns v encoded whole, with and without padding, and the
// characters that encode v alone when v starts at byte 0, 1 or 2 of a
// 3-byte group inside a longer blob; in both alphabets.
func base64Forms(v string) []string {
	var out []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		out = append(out, enc.EncodeToString([]byte(v)), enc.WithPadding(base64.NoPadding).EncodeToString([]byte(v)))
		out = append(out, aligned(v, 3, 6, enc.WithPadding(base64.NoPadding).EncodeToString)...)
	}
	return out
}

// base32Forms is base64Forms for base32: 5-byte groups, 5 alignments.
func base32Forms(v string) []string {
	return append([]string{base32.StdEncoding.EncodeToString([]byte(v)), base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(v))},
		aligned(v, 5, 5, base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString)...)
}

// aligned encodes v after k = 0…group-1 bytes of anything and keeps the
// characters that depend on v alone: the first ones also carry bits of the
// k bytes before it, the last one bits of the bytes after it.
func aligned(v string, group, bitsPerChar int, encode func([]byte) string) []string {
	out := make([]string, 0, group)
	for k := range group {
		buf := make([]byte, k+len(v))
		copy(buf[k:], v)
		e := encode(buf)
		from := (8*k + bitsPerChar - 1) / bitsPerChar
		to := 8 * (k + len(v)) / bitsPerChar
		if to > from {
			out = append(out, e[from:to])
		}
	}
	return out
}

// uriComponent escapes like JavaScript's encodeURIComponent.
func uriComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// jsonForms returns s escaped for a JSON string (without the quotes) as Go
// (HTML-safe), JavaScript (JSON.stringify) and Python (ensure_ascii) write it.
func jsonForms(s string) []string {
	return []string{jsonEscape(s, true, false), jsonEscape(s, false, false), jsonEscape(s, false, true)}
}

func jsonEscape(s string, html, ascii bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20, html && (r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029'):
			fmt.Fprintf(&b, `\u%04x`, r)
		case r == utf8.RuneError && size == 1:
			if html || ascii {
				b.WriteString(`\ufffd`)
			} else {
				b.WriteByte(s[i])
			}
		case ascii && r > 0x7e:
			if r > 0xffff {
				r -= 0x10000
				fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// shellForms returns s as a shell shows it quoted: inside '…' (as `set -x`
// prints it), inside "…", and backslash-escaped (as printf %q prints it).
func shellForms(s string) []string {
	single := strings.ReplaceAll(s, `'`, `'\''`)
	var double, backslash strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte("\"\\$`", c) >= 0 {
			double.WriteByte('\\')
		}
		double.WriteByte(c)
		if c < 0x80 && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(",._+:@%/-=^", c) >= 0) {
			backslash.WriteByte('\\')
		}
		backslash.WriteByte(c)
	}
	return []string{single, double.String(), backslash.String()}
}

// jsonLeaves returns the strings inside a JSON object or array.
func jsonLeaves(s string) []string {
	t := strings.TrimSpace(s)
	if t == "" || t[0] != '{' && t[0] != '[' {
		return nil
	}
	var doc any
	if json.Unmarshal([]byte(t), &doc) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return out
}
