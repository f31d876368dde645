import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layers, layout, defaultLayoutOptions, neighbour } from '../lib/dag.ts';

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

/** points samples an SVG path made of M, L and C commands. */
function points(path: string, steps = 24): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const tokens = path.match(/[MLC]|-?\d+(?:\.\d+)?(?:e-?\d+)?/g)!;
  let i = 0;
  let cur: [number, number] = [0, 0];
  const num = () => Number(tokens[i++]);
  while (i < tokens.length) {
    const cmd = tokens[i++];
    if (cmd === 'M' || cmd === 'L') {
      const p: [number, number] = [num(), num()];
      if (cmd === 'L') for (let s = 1; s <= steps; s++) out.push([cur[0] + ((p[0] - cur[0]) * s) / steps, cur[1] + ((p[1] - cur[1]) * s) / steps]);
      else out.push(p);
      cur = p;
    } else if (cmd === 'C') {
      const c1 = [num(), num()];
      const c2 = [num(), num()];
      const p: [number, number] = [num(), num()];
      for (let s = 1; s <= steps; s++) {
        const t = s / steps;
        const u = 1 - t;
        const b = (a: number, b1: number, b2: number, c: number) => u * u * u * a + 3 * u * u * t * b1 + 3 * u * t * t * b2 + t * t * t * c;
        out.push([b(cur[0], c1[0], c2[0], p[0]), b(cur[1], c1[1], c2[1], p[1])]);
      }
      cur = p;
    } else {
      throw new Error(`unexpected path command ${cmd} in ${path}`);
    }
  }
  return out;
}

/** assertAvoidsNodes: no edge passes through a node other than its own two ends. */
function assertAvoidsNodes(l: ReturnType<typeof layout>, margin = 2) {
  const o = defaultLayoutOptions;
  for (const e of l.edges) {
    const pts = points(e.path);
    for (const n of l.nodes) {
      if (n.key === e.from || n.key === e.to) continue;
      for (const [x, y] of pts) {
        const inside = x > n.x - margin && x < n.x + o.nodeWidth + margin && y > n.y - margin && y < n.y + o.nodeHeight + margin;
        assert.ok(!inside, `edge ${e.from}→${e.to} passes through ${n.key} at (${x.toFixed(1)}, ${y.toFixed(1)})`);
      }
    }
    // It starts on the right of from and ends on the left of to.
    const from = l.nodes.find((n) => n.key === e.from)!;
    const to = l.nodes.find((n) => n.key === e.to)!;
    assert.match(e.path, new RegExp(`^M${from.x + o.nodeWidth},${from.y + o.nodeHeight / 2} `));
    assert.ok(e.path.endsWith(` ${to.x},${to.y + o.nodeHeight / 2}`), `${e.from}→${e.to} ends at ${to.key}'s left side: ${e.path}`);
    for (const [, y] of pts) assert.ok(y >= 0 && y <= l.height, `${e.from}→${e.to} stays inside the drawing`);
  }
}

test('an edge that skips a layer is routed around the nodes of that layer', () => {
  // The mock's pipeline: lint→deploy skips integration's layer, whose only
  // node sits on the straight line between them.
  const jobs = [
    { key: 'checkout' },
    { key: 'lint', depends_on: ['checkout'] },
    { key: 'unit', depends_on: ['checkout'] },
    { key: 'build', depends_on: ['checkout'] },
    { key: 'integration', depends_on: ['unit', 'build'] },
    { key: 'deploy', depends_on: ['integration', 'lint'] },
  ];
  const l = layout(jobs);
  const skip = l.edges.find((e) => e.from === 'lint' && e.to === 'deploy')!;
  assert.match(skip.path, / L/, 'the skip edge crosses the middle layer on a straight lane');
  assertAvoidsNodes(l);
});

test('long skips, several through one layer, and wide layers avoid every node', () => {
  const jobs = [
    { key: 'a' },
    { key: 'b', depends_on: ['a'] },
    { key: 'c', depends_on: ['b'] },
    { key: 'd', depends_on: ['c'] },
    { key: 'b2', depends_on: ['a'] },
    { key: 'b3', depends_on: ['a'] },
    { key: 'c2', depends_on: ['b2', 'b3'] },
    { key: 'c3', depends_on: ['b'] },
    { key: 'e', depends_on: ['d', 'a', 'b3', 'c2'] },
    { key: 'f', depends_on: ['a'] },
    { key: 'g', depends_on: ['f', 'a', 'b'] },
  ];
  const l = layout(jobs);
  assertAvoidsNodes(l);
  // a→e crosses three layers; two skip edges through one layer do not share a line.
  const ae = l.edges.find((e) => e.from === 'a' && e.to === 'e')!;
  assert.equal(ae.path.match(/ L/g)?.length, 3);
  const lanes = l.edges.flatMap((e) => [...e.path.matchAll(/ L(-?[\d.]+),(-?[\d.]+)/g)].map((m) => `${m[1]},${m[2]}`));
  assert.equal(new Set(lanes).size, lanes.length, `lanes shared: ${lanes.join(' ')}`);
});

test('a graph without skips keeps its compact height; adjacent edges are one curve', () => {
  const l = layout([{ key: 'a' }, { key: 'b', depends_on: ['a'] }, { key: 'c', depends_on: ['b'] }]);
  const o = defaultLayoutOptions;
  assert.equal(l.height, o.padding * 2 + o.nodeHeight);
  for (const e of l.edges) assert.doesNotMatch(e.path, / L/);
  assertAvoidsNodes(l);
});

test('neighbour: arrow keys move along layers and within one', () => {
  const l = layout([{ key: 'a' }, { key: 'b', depends_on: ['a'] }, { key: 'c', depends_on: ['a'] }, { key: 'd', depends_on: ['b', 'c'] }]);
  const [top, bottom] = ['b', 'c'].sort((x, y) => l.nodes.find((n) => n.key === x)!.order - l.nodes.find((n) => n.key === y)!.order);
  assert.equal(neighbour(l.nodes, 'a', 'left'), null);
  assert.ok(['b', 'c'].includes(neighbour(l.nodes, 'a', 'right')!));
  assert.equal(neighbour(l.nodes, top, 'down'), bottom);
  assert.equal(neighbour(l.nodes, bottom, 'up'), top);
  assert.equal(neighbour(l.nodes, bottom, 'down'), null);
  assert.equal(neighbour(l.nodes, top, 'right'), 'd');
  assert.equal(neighbour(l.nodes, 'd', 'left') !== null, true);
  assert.equal(neighbour(l.nodes, 'missing', 'left'), 'a');
});
