import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layers, layout, defaultLayoutOptions } from '../lib/dag.ts';

test('layers are longest paths from the roots', () => {
  const got = layers([
    { key: 'a' },
    { key: 'b', depends_on: ['a'] },
    { key: 'c', depends_on: ['a', 'b'] },
    { key: 'd' },
    { key: 'e', depends_on: ['missing', 'd'] },
  ]);
  assert.deepEqual(Object.fromEntries(got), { a: 0, b: 1, c: 2, d: 0, e: 1 });
});

test('a cycle or self-dependency does not hang', () => {
  const got = layers([
    { key: 'a', depends_on: ['b'] },
    { key: 'b', depends_on: ['a'] },
    { key: 's', depends_on: ['s'] },
  ]);
  assert.equal(got.size, 3);
  assert.equal(got.get('s'), 0);
});

test('layout places layers left to right without overlap', () => {
  const jobs = [
    { key: 'lint' },
    { key: 'test', depends_on: [] },
    { key: 'build', depends_on: ['lint', 'test'] },
    { key: 'deploy', depends_on: ['build'] },
  ];
  const l = layout(jobs);
  const o = defaultLayoutOptions;
  const at = Object.fromEntries(l.nodes.map((n) => [n.key, n]));
  assert.equal(at.lint.x, at.test.x);
  assert.ok(at.build.x > at.lint.x + o.nodeWidth);
  assert.ok(at.deploy.x > at.build.x);
  assert.notEqual(at.lint.y, at.test.y);
  assert.ok(Math.abs(at.lint.y - at.test.y) >= o.nodeHeight);
  assert.equal(l.edges.length, 3);
  assert.equal(l.width, o.padding * 2 + 3 * o.nodeWidth + 2 * o.gapX);
  assert.equal(l.height, o.padding * 2 + 2 * o.nodeHeight + o.gapY);
  for (const n of l.nodes) {
    assert.ok(n.x >= 0 && n.x + o.nodeWidth <= l.width, `${n.key} inside width`);
    assert.ok(n.y >= 0 && n.y + o.nodeHeight <= l.height, `${n.key} inside height`);
  }
  const e = l.edges.find((e) => e.from === 'build' && e.to === 'deploy')!;
  assert.match(e.path, new RegExp(`^M${at.build.x + o.nodeWidth},`));
});

test('barycentre ordering uncrosses edges', () => {
  // a→y and b→x would cross in input order; sorting puts x beside b.
  const l = layout([
    { key: 'a' },
    { key: 'b' },
    { key: 'x', depends_on: ['b'] },
    { key: 'y', depends_on: ['a'] },
  ]);
  const order = Object.fromEntries(l.nodes.map((n) => [n.key, n.order]));
  assert.equal(order.y, order.a);
  assert.equal(order.x, order.b);
});

test('empty and duplicate input', () => {
  assert.deepEqual(layout([]), { nodes: [], edges: [], width: 0, height: 0 });
  assert.equal(layout([{ key: 'a' }, { key: 'a' }]).nodes.length, 1);
});
