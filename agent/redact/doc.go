// Package redact masks secret values in everything the agent sends to the
// control plane: step output, plugin output, error messages, failure
// reasons, annotations and step metadata. It runs on the agent, before a
// byte leaves the machine, so the control plane never sees a secret.
//
// # What is masked
//
// [New] registers, for every secret, its value and the forms it commonly
// takes when a step prints it: base64 (standard and URL alphabets, with and
// without padding, of the value and of the value followed by a newline as
// `echo $S | base64` produces, and the part of it that is the same wherever
// the value sits inside a longer base64 blob: all three alignments), base32
// (all five alignments), hexadecimal (lower and upper case), URL encoding
// (query, path and encodeURIComponent styles), JSON string escaping (Go,
// JavaScript and Python styles) and shell quoting (single-quoted as set -x
// prints it, double-quoted, and backslash-escaped as printf %q prints it).
//
// A multi-line value (a PEM key, a JSON document) is masked line by line,
// so it is caught however its lines are indented or interleaved; lines with
// fewer than [Options.MinLineLength] non-space bytes (`{`, `}`) are not
// masked on their own, so braces elsewhere in a log survive, and neither
// are PEM header and footer lines (`-----BEGIN PRIVATE KEY-----`), which
// every key shares and which keep a log readable. Its encoded
// forms are masked whole. A value that is a JSON object or array also has
// each string inside it registered as a secret of its own, because a step
// usually prints a field (`jq -r .password`), not the document.
//
// A value shorter than [Options.MinLength] is not masked at all: masking a
// 3-byte value would eat every occurrence of those three bytes in every log
// and tell a reader what the value is. New returns a [Warning] for it,
// naming the secret, never quoting the value.
//
// # The mask
//
// Every maximal run of masked bytes (matches that overlap or touch are one
// run) is replaced by `[REDACTED:NAME]`, NAME being the name of the secret
// with the longest match in the run; when one secret's value contains
// another's, the longer one names the run and no fragment of either is left
// in clear. The name, not `***`, is shown so that a reader knows which
// secret a step printed; names are references, never values.
//
// # Streaming
//
// [Redactor.Writer] masks a stream across Write boundaries: a value split
// over two Writes, or over any two chunks, is masked. It holds back only
// the shortest tail of what it was given that could still turn into a
// masked run, and writes the rest at once. No masked form contains a
// newline, so a complete line is never held back: a step's output reaches
// the log as soon as its line ends. Close writes what is held back.
// For any input and any way of splitting it into Writes, the Writer's
// output equals [Redactor.String] of the whole input.
//
// # Speed
//
// All forms of all secrets go into one Aho–Corasick automaton over bytes:
// a dense transition table for the shallow states where ordinary log text
// spends its time, a sparse one for the long tails of the patterns. Each
// input byte costs one table lookup, whatever the number of secrets, and a
// Write allocates nothing once its buffers have grown.
// BenchmarkRedact measures it.
package redact
