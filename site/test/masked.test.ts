import { test } from 'node:test';
import assert from 'node:assert/strict';
import { highlight, parseLine } from '../lib/ansi.ts';
import { maskPieces, maskRanges } from '../lib/masked.ts';

test('maskRanges finds the agent\'s mask tokens and their names', () => {
  const text = 'a [REDACTED:DB_PASSWORD] b [REDACTED:my token][REDACTED:X] [REDACTED:] [redacted:lower] [REDACTED:a]b]';
  const got = maskRanges(text).map(([a, b, name]) => [text.slice(a, b), name]);
  assert.deepEqual(got, [
    ['[REDACTED:DB_PASSWORD]', 'DB_PASSWORD'],
    ['[REDACTED:my token]', 'my token'],
    ['[REDACTED:X]', 'X'],
    ['[REDACTED:a]', 'a'],
  ]);
});

test('maskPieces: plain lines are one piece per segment', () => {
  const { spans } = parseLine('no secrets \x1b[31mhere\x1b[0m');
  const pieces = maskPieces(highlight(spans, ''));
  assert.deepEqual(
    pieces.map((p) => p.kind),
    ['text', 'text'],
  );
});

test('maskPieces: a token split by colour and a search match stays one piece', () => {
  // The colour changes inside the token, and the search matches across its edge.
  const { spans } = parseLine('pw=[REDACT\x1b[33mED:DB_PASS]\x1b[0m done [REDACTED:B]');
  const pieces = maskPieces(highlight(spans, 'pw=[red'));
  const masked = pieces.filter((p) => p.kind === 'masked');
  assert.equal(masked.length, 2);
  const first = masked[0];
  assert.ok(first.kind === 'masked');
  assert.equal(first.name, 'DB_PASS');
  assert.equal(first.segments.map((s) => s.text).join(''), '[REDACTED:DB_PASS]');
  assert.ok(first.segments.some((s) => s.match), 'the search match inside the token is kept');
  assert.ok(first.segments.some((s) => s.style.fg === 3), 'the colour inside the token is kept');
  assert.equal(masked[1].kind === 'masked' && masked[1].name, 'B');
  // Nothing is lost or duplicated.
  const all = pieces.map((p) => (p.kind === 'text' ? p.segment.text : p.segments.map((s) => s.text).join(''))).join('');
  assert.equal(all, 'pw=[REDACTED:DB_PASS] done [REDACTED:B]');
});

test('maskPieces: adjacent tokens are two pieces', () => {
  const { spans } = parseLine('[REDACTED:A][REDACTED:B]');
  const pieces = maskPieces(highlight(spans, ''));
  assert.deepEqual(
    pieces.map((p) => (p.kind === 'masked' ? p.name : 'text')),
    ['A', 'B'],
  );
});
