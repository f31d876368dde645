// Colour contrast of the dashboard's text, computed from styles/globals.css:
// every pair of text and background colours below must reach WCAG 2 AA
// (4.5:1 for text; the graph's edges and the state dots are not text and
// are not listed). A colour changed in the stylesheet is checked
// here, so a badge cannot quietly become unreadable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const css = readFileSync(new URL('../styles/globals.css', import.meta.url), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');

/** rules maps each selector (as written, one per comma) to its declarations, in order; later rules win. */
function parseRules(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  // Innermost blocks only: rules inside @media are read too (the colours are the same).
  for (const m of text.matchAll(/([^{}]+)\{([^{}]*)\}/g)) {
    const decls: Record<string, string> = {};
    for (const d of m[2].split(';')) {
      const i = d.indexOf(':');
      if (i > 0) decls[d.slice(0, i).trim()] = d.slice(i + 1).trim();
    }
    for (const sel of m[1].split(',').map((x) => x.trim().replace(/\s+/g, ' '))) {
      if (sel.startsWith('@') || sel === '') continue;
      out.set(sel, { ...(out.get(sel) ?? {}), ...decls });
    }
  }
  return out;
}
const rules = parseRules(css);
const vars = rules.get(':root')!;

function resolve(value: string): string {
  const v = value.replace(/var\((--[\w-]+)\)/g, (_, name) => {
    assert.ok(vars[name], `${name} is defined in :root`);
    return resolve(vars[name]);
  });
  return v.trim();
}

/** colour of selector's property (color, or background / background-color). */
function colour(selector: string, prop: 'color' | 'background' | 'fill'): string {
  const r = rules.get(selector);
  assert.ok(r, `globals.css has a rule for ${selector}`);
  const raw = prop === 'background' ? (r['background-color'] ?? r.background) : r[prop];
  assert.ok(raw, `${selector} sets ${prop}`);
  let v = resolve(raw);
  if (/^#[0-9a-f]{3}$/i.test(v)) v = '#' + [...v.slice(1)].map((c) => c + c).join('');
  assert.match(v, /^#[0-9a-f]{6}$/i, `${selector} ${prop} is a hex colour (${v})`);
  return v.toLowerCase();
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

test('contrast() matches WCAG reference values', () => {
  assert.equal(contrast('#000000', '#ffffff').toFixed(1), '21.0');
  assert.equal(contrast('#777777', '#ffffff').toFixed(2), '4.48');
});

const surface = () => resolve('var(--surface)');
const page = () => resolve('var(--bg)');
const logBg = () => colour('.log-panel', 'background');

// [what, text colour, background colour]
const pairs: Array<[string, () => string, () => string]> = [
  // State badges: text on their own background.
  ...['passed', 'failed', 'running', 'queued', 'cancelled', 'skipped'].map(
    (s): [string, () => string, () => string] => [`badge ${s}`, () => colour(`.badge.state-${s}`, 'color'), () => colour(`.badge.state-${s}`, 'background')],
  ),
  ['badge (waiting, unknown)', () => colour('.badge', 'color'), () => colour('.badge', 'background')],
  // Body text, muted text and links on the page and on cards.
  ['text on page', () => resolve('var(--text)'), page],
  ['muted on page', () => colour('.muted', 'color'), page],
  ['muted on surface', () => colour('.muted', 'color'), surface],
  ['muted on surface-2 (table heads)', () => colour('.table th', 'color'), () => colour('.table th', 'background')],
  ['link on page', () => colour('a', 'color'), page],
  ['link on surface', () => colour('a', 'color'), surface],
  ['nav link', () => colour('.nav-link', 'color'), surface],
  ['nav link, current page', () => colour(".nav-link[aria-current='page']", 'color'), () => colour(".nav-link[aria-current='page']", 'background')],
  ['role', () => colour('.role', 'color'), () => colour('.role', 'background')],
  ['role admin', () => colour('.role-admin', 'color'), () => colour('.role-admin', 'background')],
  ['branch', () => colour('.branch', 'color'), () => colour('.branch', 'background')],
  ['pipeline chip', () => colour('.pipeline-chip', 'color'), () => colour('.pipeline-chip', 'background')],
  ['danger button', () => colour('.btn-danger', 'color'), () => colour('.btn-danger', 'background')],
  ['primary button', () => colour('.btn-primary', 'color'), () => colour('.btn-primary', 'background')],
  ['quiet danger button', () => colour('.btn-danger-quiet', 'color'), surface],
  ['stale note', () => colour('.stale', 'color'), () => colour('.stale', 'background')],
  ['error notice', () => colour('.notice-error', 'color'), () => colour('.notice-error', 'background')],
  ['ok notice', () => colour('.notice-ok', 'color'), () => colour('.notice-ok', 'background')],
  ['error box title', () => colour('.state-error .state-title', 'color'), () => colour('.state-error', 'background')],
  ['error box text', () => colour('.state', 'color'), () => colour('.state-error', 'background')],
  ['lifecycle production', () => colour('.lifecycle-production', 'color'), () => colour('.lifecycle-production', 'background')],
  ['lifecycle experimental', () => colour('.lifecycle-experimental', 'color'), () => colour('.lifecycle-experimental', 'background')],
  ['lifecycle deprecated', () => colour('.lifecycle-deprecated', 'color'), () => colour('.lifecycle-deprecated', 'background')],
  ['kind cli', () => colour('.kind-cli', 'color'), () => colour('.kind-cli', 'background')],
  ['this browser', () => colour('.current-marker', 'color'), () => colour('.current-marker', 'background')],
  ['connected', () => colour('.conn-label.conn-on', 'color'), surface],
  ['job reason', () => colour('.job-reason', 'color'), surface],
  // The step graph's node text on each node's fill.
  ['graph label', () => colour('.graph-label', 'fill'), () => colour('.graph-box', 'fill')],
  ['graph state', () => colour('.graph-sub', 'fill'), () => colour('.graph-box', 'fill')],
  ['graph state passed', () => colour('.graph-sub', 'fill'), () => colour('.graph-node.state-passed .graph-box', 'fill')],
  ['graph state failed', () => colour('.graph-node.state-failed .graph-sub', 'fill'), () => colour('.graph-node.state-failed .graph-box', 'fill')],
  ['graph state running', () => colour('.graph-node.state-running .graph-sub', 'fill'), () => colour('.graph-node.state-running .graph-box', 'fill')],
  ['graph label skipped', () => colour('.graph-node.state-skipped .graph-label', 'fill'), () => colour('.graph-box', 'fill')],
  // The log: line numbers, text, status, search matches and masked secrets on the dark panel.
  ['log line number', () => colour('.log-n', 'color'), logBg],
  ['log text', () => colour('.log-panel', 'color'), logBg],
  ['log status', () => colour('.log-status', 'color'), () => colour('.log-toolbar', 'background')],
  ['log match count', () => colour('.log-matches', 'color'), () => colour('.log-toolbar', 'background')],
  ['log empty', () => colour('.log-empty', 'color'), logBg],
  ['log search match', () => colour('.log-match', 'color'), () => colour('.log-match', 'background')],
  ['log masked secret', () => colour('.log-masked', 'color'), () => colour('.log-masked', 'background')],
  ...Array.from({ length: 16 }, (_, i): [string, () => string, () => string] => [`log palette colour ${i}`, () => colour(`.ansi-fg-${i}`, 'color'), logBg]),
];

for (const [what, fg, bg] of pairs) {
  test(`contrast ≥ 4.5:1: ${what}`, () => {
    const [f, b] = [fg(), bg()];
    const ratio = contrast(f, b);
    assert.ok(ratio >= 4.5, `${what}: ${f} on ${b} is ${ratio.toFixed(2)}:1, want ≥ 4.5:1`);
  });
}
