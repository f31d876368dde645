import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toMillis, duration, ago, device, displayLabel, truncate } from '../lib/format.ts';

test('toMillis reads every timestamp form', () => {
  assert.equal(toMillis(1_700_000_000_000), 1_700_000_000_000);
  assert.equal(toMillis(1_700_000_000), 1_700_000_000_000);
  assert.equal(toMillis('1700000000000'), 1_700_000_000_000);
  assert.equal(toMillis('2023-11-14T22:13:20Z'), 1_700_000_000_000);
  assert.equal(toMillis('nonsense'), null);
  assert.equal(toMillis(0), null);
  assert.equal(toMillis(undefined), null);
});

test('duration', () => {
  assert.equal(duration(4_200), '4s');
  assert.equal(duration(125_000), '2m 5s');
  assert.equal(duration(3_726_000), '1h 2m');
  assert.equal(duration(-1), '—');
});

test('ago', () => {
  const now = 1_700_000_000_000;
  assert.equal(ago(now - 5_000, now), 'just now');
  assert.equal(ago(now - 5 * 60_000, now), '5 min ago');
  assert.equal(ago(now - 3 * 3_600_000, now), '3 h ago');
  assert.equal(ago(null, now), '—');
});

test('device', () => {
  assert.equal(device('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/140.0 Safari/537.36'), 'Headless Chrome on Linux');
  assert.equal(device('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15'), 'Safari on macOS');
  assert.equal(device('airlock/0.3 (linux; amd64)'), 'Airlock CLI');
  assert.equal(device(''), 'Unknown device');
});

test('displayLabel', () => {
  assert.equal(displayLabel(':rocket: Deploy', 'deploy'), 'Deploy');
  assert.equal(displayLabel(':go::test_tube:  Unit tests', 'unit'), 'Unit tests');
  assert.equal(displayLabel('ratio 1:2:3', 'r'), 'ratio 1:2:3');
  assert.equal(displayLabel(':rocket:', 'deploy'), 'deploy');
  assert.equal(displayLabel(undefined, 'k'), 'k');
});

test('truncate: at a word boundary when it can, with "…", never longer than max', () => {
  // The trial's label: not "lint this pipeline (W…".
  assert.equal(truncate('lint this pipeline (With cache)', 22), 'lint this pipeline…');
  assert.equal(truncate('short', 22), 'short');
  assert.equal(truncate('exactly twenty-two ch.', 22), 'exactly twenty-two ch.');
  // Punctuation left dangling before the cut goes too.
  assert.equal(truncate('unit tests, integration', 22), 'unit tests…');
  assert.equal(truncate('unit tests — integration tests', 22), 'unit tests…');
  // A cut right before a space keeps the whole last word.
  assert.equal(truncate('deploy to staging now', 18), 'deploy to staging…');
  // No boundary in the second half of the room: cut mid-word.
  assert.equal(truncate('averyveryveryverylongsinglewordlabel', 22), 'averyveryveryverylong…');
  assert.equal(truncate('go integrationtestsuiteforall', 22), 'go integrationtestsui…');
  // Counted in code points, so an astral character is not split.
  assert.equal(truncate('😀'.repeat(30), 5), '😀😀😀😀…');
  for (const [text, max] of [['lint this pipeline (With cache)', 22], ['a b c d e f g h i j k', 8], ['x'.repeat(40), 10]] as const) {
    assert.ok(Array.from(truncate(text, max)).length <= max, `${text} at ${max}`);
  }
  assert.equal(truncate('abc', 1), '…');
  assert.equal(truncate('abc', 0), '');
});
