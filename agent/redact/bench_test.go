package redact

import (
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchSecrets returns n secrets shaped like real ones: API tokens, hex
// keys, passwords with punctuation, and a few PEM keys.
func benchSecrets(rng *rand.Rand, n int) []Secret {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const punct = alnum + "!#%&*+-./:;<=>?@^_~\"'\\"
	random := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	secrets := make([]Secret, n)
	for i := range secrets {
		var v string
		switch i % 10 {
		case 0:
			v = "-----BEGIN PRIVATE KEY-----\n"
			for range 5 {
				v += base64.StdEncoding.EncodeToString([]byte(random(punct, 48))) + "\n"
			}
			v += "-----END PRIVATE KEY-----\n"
		case 1, 2, 3:
			v = "ghp_" + random(alnum, 36)
		case 4, 5:
			v = fmt.Sprintf("%x", random(punct, 16))
		default:
			v = random(punct, 12+rng.IntN(20))
		}
		secrets[i] = Secret{Name: fmt.Sprintf("SECRET_%d", i), Value: v}
	}
	return secrets
}

// benchLog returns about size bytes of build-log lines; one line in
// secretEvery holds a secret in some form.
func benchLog(rng *rand.Rand, secrets []Secret, size, secretEvery int) []byte {
	words := strings.Fields("compiling package github.com/airlockci/airlock/agent running test ok PASS FAIL " +
		"downloading module v1.2.3 cache hit miss step exit status warning error /usr/local/bin/go build " +
		"npm install added packages in 3s audited vulnerabilities found 0 docker layer sha256 pulled")
	var b strings.Builder
	for line := 0; b.Len() < size; line++ {
		fmt.Fprintf(&b, "2026-12-03T10:%02d:%02d.%03dZ INFO ", line/60%60, line%60, line%1000)
		for range 4 + rng.IntN(10) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		if line%secretEvery == 0 {
			v := secrets[rng.IntN(len(secrets))].Value
			if rng.IntN(2) == 0 {
				v = base64.StdEncoding.EncodeToString([]byte(v))
			}
			b.WriteString(strings.ReplaceAll(v, "\n", " "))
		}
		b.WriteByte('\n')
	}
	return []byte(b.String()[:size])
}

// nearMisses returns size bytes of prefixes of the secrets' forms, each cut
// one byte short of a match: the automaton spends every byte deep in the
// sparse states, and every line ends in a failure.
func nearMisses(r *Redactor, secrets []Secret, size int) []byte {
	var pats []string
	for _, s := range secrets {
		f, _ := forms(s.Value, Options{MinLength: DefaultMinLength, MinLineLength: DefaultMinLineLength})
		pats = append(pats, f...)
	}
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		p := pats[i%len(pats)]
		b.WriteString(p[:len(p)-1])
	}
	return []byte(b.String()[:size])
}

// BenchmarkRedact: 1 MiB chunks through the streaming Writer, 100 secrets
// and all their forms. Run with:
// go test -run '^$' -bench Redact -benchmem ./agent/redact/
func BenchmarkRedact(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	secrets := benchSecrets(rng, 100)
	r, _ := New(secrets, Options{})
	inputs := []struct {
		name string
		data []byte
	}{
		{"log", benchLog(rng, secrets, 1<<20, 1000)},
		{"log-secret-every-10-lines", benchLog(rng, secrets, 1<<20, 10)},
		{"near-misses", nearMisses(r, secrets, 1<<20)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			w := r.Writer(io.Discard)
			w.Write(in.data) // grow the buffers
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w.Write(in.data)
			}
			b.ReportMetric(float64(r.patterns), "patterns")
			b.ReportMetric(float64(len(r.m.dense)*4+len(r.m.sparse)*28)/(1<<20), "table-MiB")
		})
	}
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			New(secrets, Options{})
		}
	})
}
