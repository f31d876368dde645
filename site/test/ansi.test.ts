import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLine, plainText, classNames, cssColors, highlight, xterm256 } from '../lib/ansi.ts';

test('plain text is one unstyled span', () => {
  const { spans } = parseLine('hello world');
  assert.deepEqual(spans, [{ text: 'hello world', style: {} }]);
});

test('SGR colours and reset split spans', () => {
  const { spans, end } = parseLine('a\x1b[31mred\x1b[0m b');
  assert.deepEqual(spans, [
    { text: 'a', style: {} },
    { text: 'red', style: { fg: 1 } },
    { text: ' b', style: {} },
  ]);
  assert.deepEqual(end, {});
});

test('style carries over to the next line', () => {
  const first = parseLine('\x1b[1;32mok');
  assert.deepEqual(first.end, { bold: true, fg: 2 });
  const second = parseLine('still green\x1b[39m plain-colour', first.end);
  assert.deepEqual(second.spans, [
    { text: 'still green', style: { bold: true, fg: 2 } },
    { text: ' plain-colour', style: { bold: true } },
  ]);
});

test('bright, background, 256-colour and truecolor', () => {
  const cases: Array<[string, object]> = [
    ['\x1b[91mx', { fg: 9 }],
    ['\x1b[44mx', { bg: 4 }],
    ['\x1b[103mx', { bg: 11 }],
    ['\x1b[38;5;3mx', { fg: 3 }],
    ['\x1b[38;5;196mx', { fg: xterm256(196) }],
    ['\x1b[48;2;10;20;30mx', { bg: 'rgb(10, 20, 30)' }],
    ['\x1b[38;5mx', {}], // malformed: ignored
    ['\x1b[38;2;300;0;0mx', {}], // out of range: ignored
  ];
  for (const [input, want] of cases) {
    const { spans } = parseLine(input);
    assert.deepEqual(spans, [{ text: 'x', style: want }], JSON.stringify(input));
  }
});

test('xterm256 greys and cube', () => {
  assert.equal(xterm256(232), 'rgb(8, 8, 8)');
  assert.equal(xterm256(16), 'rgb(0, 0, 0)');
  assert.equal(xterm256(231), 'rgb(255, 255, 255)');
});

test('non-SGR sequences, OSC and control characters are dropped', () => {
  const cases: Array<[string, string]> = [
    ['\x1b[2Kcleared', 'cleared'],
    ['\x1b]0;title\x07text', 'text'],
    ['\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\', 'link'],
    ['bell\x07 and \x00nul', 'bell and nul'],
    ['tab\there', 'tab\there'],
    ['cut \x1b[3', 'cut '],
    ['\x1b(Bcharset', 'charset'],
  ];
  for (const [input, want] of cases) assert.equal(plainText(parseLine(input).spans), want, JSON.stringify(input));
});

test('carriage return shows what the terminal would', () => {
  assert.equal(plainText(parseLine('10%\r50%\r100%').spans), '100%');
  assert.equal(plainText(parseLine('windows line\r').spans), 'windows line');
  const { spans } = parseLine('\x1b[32m10%\r100%');
  assert.deepEqual(spans, [{ text: '100%', style: { fg: 2 } }]);
});

test('markup in a log stays text', () => {
  const { spans } = parseLine('<img src=x onerror=alert(1)>');
  assert.equal(spans[0].text, '<img src=x onerror=alert(1)>');
});

test('classNames and cssColors', () => {
  assert.equal(classNames({ fg: 1, bold: true }), 'ansi-fg-1 ansi-bold');
  assert.equal(classNames({ fg: 2, bg: 0, inverse: true }), 'ansi-fg-0 ansi-bg-2');
  assert.equal(classNames({ inverse: true }), 'ansi-fg-inverse ansi-bg-inverse');
  assert.deepEqual(cssColors({ fg: 'rgb(1, 2, 3)' }), { color: 'rgb(1, 2, 3)' });
  assert.equal(cssColors({ fg: 3 }), undefined);
});

test('highlight marks matches across spans, case-insensitively', () => {
  const { spans } = parseLine('Err\x1b[31mOR here error');
  const segs = highlight(spans, 'error');
  assert.deepEqual(
    segs.map((s) => [s.text, s.match]),
    [['Err', true], ['OR', true], [' here ', false], ['error', true]],
  );
  assert.deepEqual(highlight(spans, 'zzz').map((s) => s.match), [false, false]);
  assert.deepEqual(highlight(spans, '').length, 2);
});
