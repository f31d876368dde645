import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogModel, matchingLines, visibleRange } from '../lib/logmodel.ts';
import { plainText } from '../lib/ansi.ts';

test('lines split across pages are joined', () => {
  const m = new LogModel();
  assert.equal(m.append('one\ntw'), 1);
  assert.equal(plainText(m.pending()!.spans), 'tw');
  assert.equal(m.append('o\nthree'), 1);
  m.end();
  assert.deepEqual(m.lines.map((l) => plainText(l.spans)), ['one', 'two', 'three']);
  assert.equal(m.pending(), null);
});

test('an escape sequence split across pages still applies', () => {
  const m = new LogModel();
  m.append('\x1b[3');
  m.append('1mred\n');
  assert.deepEqual(m.lines[0].spans, [{ text: 'red', style: { fg: 1 } }]);
});

test('colour carries across lines', () => {
  const m = new LogModel();
  m.append('\x1b[33ma\nb\x1b[0m\nc\n');
  assert.deepEqual(m.lines.map((l) => l.spans[0].style), [{ fg: 3 }, { fg: 3 }, {}]);
});

test('old lines are dropped past the bound', () => {
  const m = new LogModel(3);
  m.append('1\n2\n3\n4\n5\n');
  assert.deepEqual(m.lines.map((l) => plainText(l.spans)), ['3', '4', '5']);
  assert.equal(m.dropped, 2);
});

test('matchingLines is case-insensitive and ignores escapes', () => {
  const m = new LogModel();
  m.append('Build OK\n\x1b[31mERR\x1b[0mOR: x\nerror again\nfine\n');
  assert.deepEqual(matchingLines(m.lines, 'error'), [1, 2]);
  assert.deepEqual(matchingLines(m.lines, ''), []);
});

test('visibleRange', () => {
  const cases: Array<[number, number, number, number, number, { start: number; end: number }]> = [
    [0, 200, 20, 1000, 5, { start: 0, end: 16 }],
    [2000, 200, 20, 1000, 5, { start: 95, end: 116 }],
    [19990, 200, 20, 1000, 5, { start: 994, end: 1000 }],
    [0, 200, 20, 0, 5, { start: 0, end: 0 }],
    [-50, 200, 20, 3, 5, { start: 0, end: 3 }],
  ];
  for (const [top, h, lh, total, over, want] of cases) {
    assert.deepEqual(visibleRange(top, h, lh, total, over), want, `scrollTop ${top}`);
  }
});
