#!/usr/bin/env node
// Accessibility, narrow-screen and failure-state checks of the dashboard in
// headless Chromium (playwright-core), against the development mock API
// (dev/mock-api.mjs, started here) serving the built site/out with its CSP.
// npm run site:e2e:mock runs it after dashboard.e2e.mjs; alone:
//
//   npm run site:build && node site/e2e/a11y.e2e.mjs
//
// On every page, at 1280 px and at 375 px wide:
//   - one h1; the banner, navigation and main landmarks (sign-in and 404: main);
//   - every form field has a label, every button and link an accessible name
//     (from the DOM and from Chromium's own accessibility tree, ariaSnapshot);
//   - no duplicate id; at 375 px the page does not scroll sideways.
// Then: the focus is visible while tabbing through the header; the step graph
// works from the keyboard; masked secrets in the log are named and searchable;
// a failing or unreachable API shows an error with "Try again" that recovers;
// an unknown run says "Run not found" and stops polling; a session that expires mid-page leads
// to sign-in and back to the same page; ending sessions asks first.
//
//   CHROMIUM=/usr/bin/chromium   AIRLOCK_SCREENSHOTS=dir (optional)
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startMock } from '../dev/mock-api.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
if (!existsSync(path.join(here, '..', 'out', '_headers'))) {
  console.error('a11y e2e: site/out/_headers is missing: run npm run site:build first');
  process.exit(2);
}
const shots = process.env.AIRLOCK_SCREENSHOTS || '';
if (shots) mkdirSync(shots, { recursive: true });
const timeout = 15_000;

const mock = await startMock({ port: 0, user: 'a11y-user', password: 'a11y-password' });
const base = mock.url;
console.log(`mock API (development aid) on ${base}`);

const problems = [];
let current = 'start';
const failures = [];

function watch(page, label) {
  void page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP-VIOLATION ${e.violatedDirective} blocked=${e.blockedURI || '(inline)'}`);
    });
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' && msg.text().startsWith('CSP-VIOLATION')) problems.push(`[${label}] during "${current}": ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`[${label}] during "${current}": uncaught ${err.name}: ${err.message}`));
}

async function step(name, fn) {
  current = name;
  const t = Date.now();
  try {
    await fn();
    console.log(`ok  ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.message}`);
    failures.push(`${name}: ${e.message}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function shot(page, name) {
  if (shots) await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/** audit returns the accessibility problems of the page as it is now (run in the page). */
function auditInPage({ signedIn }) {
  const out = [];
  const visible = (el) => {
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility === 'hidden') return false;
    return el.getClientRects().length > 0 || el.closest('.visually-hidden') !== null;
  };
  const describe = (el) => `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}${el.dataset?.testid ? ` data-testid=${el.dataset.testid}` : ''}>`;
  const textOf = (el) => (el.textContent ?? '').replace(/\s+/g, ' ').trim();
  const byIds = (ids) =>
    ids
      .split(/\s+/)
      .map((id) => document.getElementById(id))
      .filter(Boolean)
      .map(textOf)
      .join(' ')
      .trim();
  const name = (el) =>
    (el.getAttribute('aria-labelledby') && byIds(el.getAttribute('aria-labelledby'))) ||
    (el.getAttribute('aria-label') ?? '').trim() ||
    ('labels' in el && el.labels ? [...el.labels].map(textOf).join(' ').trim() : '') ||
    (el.tagName === 'INPUT' || el.tagName === 'SELECT' || el.tagName === 'TEXTAREA' ? '' : textOf(el)) ||
    [...el.querySelectorAll('img[alt]')].map((i) => i.alt.trim()).join(' ') ||
    (el.getAttribute('title') ?? '').trim();

  const h1s = [...document.querySelectorAll('h1')];
  if (h1s.length !== 1) out.push(`want one h1, found ${h1s.length}: ${h1s.map(textOf).join(' | ')}`);
  if (!document.querySelector('main')) out.push('no <main> landmark');
  if (document.querySelectorAll('main').length > 1) out.push('more than one <main>');
  if (signedIn) {
    if (!document.querySelector('header')) out.push('no <header> (banner) landmark');
    if (!document.querySelector('nav[aria-label]')) out.push('no labelled <nav> landmark');
  }
  if (!document.documentElement.lang) out.push('<html> has no lang');
  if (!document.title.trim()) out.push('the page has no title');
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (visible(el) && !name(el)) out.push(`form field without a label: ${describe(el)}`);
  }
  for (const el of document.querySelectorAll('button, a[href], [role=button], [role=link], [role=img], [tabindex]:not([tabindex="-1"])')) {
    if (!visible(el)) continue;
    if (el.tagName === 'MAIN') continue;
    if (!name(el)) out.push(`no accessible name: ${describe(el)}`);
  }
  for (const el of document.querySelectorAll('img')) if (!el.hasAttribute('alt')) out.push(`img without alt: ${describe(el)}`);
  const ids = new Map();
  for (const el of document.querySelectorAll('[id]')) ids.set(el.id, (ids.get(el.id) ?? 0) + 1);
  for (const [id, n] of ids) if (n > 1) out.push(`id "${id}" is used ${n} times`);
  return out;
}

/** audit checks the page's DOM and Chromium's accessibility tree. */
async function audit(page, { signedIn = true, narrow = false } = {}) {
  const out = await page.evaluate(auditInPage, { signedIn });
  // The browser's own accessibility tree: an unnamed control shows as a bare role.
  const tree = await page.locator('body').ariaSnapshot();
  for (const line of tree.split('\n')) {
    const m = line.match(/^\s*- (button|link|textbox|searchbox|combobox|checkbox|radio|img)\s*(?::.*)?$/);
    if (m && !/"/.test(line)) out.push(`unnamed ${m[1]} in the accessibility tree: ${line.trim()}`);
  }
  if (narrow) {
    const { sw, iw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, iw: window.innerWidth }));
    if (sw > iw) {
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5 && !el.closest('.graph-scroll, .log-viewport, .table-wrap, .nav'))
          .slice(0, 5)
          .map((el) => `<${el.tagName.toLowerCase()} class="${el.className?.baseVal ?? el.className}"> right=${Math.round(el.getBoundingClientRect().right)}`),
      );
      out.push(`the page scrolls sideways at ${iw} px: scrollWidth ${sw} (${wide.join(', ')})`);
    }
  }
  assert(out.length === 0, out.join('; '));
}

/** settled waits until the page shows content rather than a loading state. */
async function settled(page) {
  await page.locator('main').waitFor({ timeout });
  await page.waitForFunction(() => !document.querySelector('.state-loading') && !!document.querySelector('h1'), null, { timeout });
}

async function signIn(page, startPath) {
  await page.goto(base + startPath);
  await page.waitForURL((u) => u.pathname === '/signin/', { timeout });
  await page.locator('a[data-provider]').first().click();
  await page.locator('#username').fill('a11y-user');
  await page.locator('#password').fill('a11y-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-testid="user-name"]').waitFor({ timeout });
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--headless'] });
try {
  // Signed-out pages first.
  for (const [width, height] of [
    [1280, 860],
    [375, 740],
  ]) {
    const ctx = await browser.newContext({ viewport: { width, height } });
    const page = await ctx.newPage();
    watch(page, `signed out ${width}`);
    await step(`sign-in page at ${width} px`, async () => {
      await page.goto(`${base}/signin/?return_to=%2Fagents%2F`);
      await page.locator('a[data-provider]').first().waitFor({ timeout });
      await audit(page, { signedIn: false, narrow: width < 500 });
      if (width < 500) await shot(page, 'a11y-signin-375');
    });
    await step(`404 page at ${width} px`, async () => {
      await page.goto(`${base}/no-such-page/`);
      await page.getByRole('heading', { name: 'Page not found' }).waitFor({ timeout });
      await audit(page, { signedIn: false, narrow: width < 500 });
    });
    await ctx.close();
  }

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx.newPage();
  watch(page, 'desktop');
  await step('sign in', () => signIn(page, '/'));

  const service = await page.evaluate(async () => {
    const r = await fetch('/services/');
    const m = (await r.text()).match(/href="\/services\/([^/"]+)\/"/);
    return m ? m[1] : '';
  });
  const pages = [
    ['runs', '/', '[data-testid="run-row"]'],
    ['run', `/runs/view/?id=${mock.runID}`, '[data-testid="graph-node"]'],
    ['run not found', '/runs/view/?id=no-such-run', '[data-testid="run-not-found"]'],
    ['services', '/services/', '[data-testid="service-card"]'],
    ['service', `/services/${service}/`, '[data-testid="service-pipeline"]'],
    ['agents', '/agents/', '[data-testid="agent-card"]'],
    ['sessions', '/sessions/', '[data-testid="user-group"]'],
  ];
  const narrow = await browser.newContext({ viewport: { width: 375, height: 740 }, storageState: await ctx.storageState() });
  const small = await narrow.newPage();
  watch(small, 'narrow');
  for (const [label, p, ready] of pages) {
    for (const [pg, width] of [
      [page, 1280],
      [small, 375],
    ]) {
      await step(`${label} (${p}) at ${width} px: landmarks, one h1, labels, names${width < 500 ? ', no sideways scroll' : ''}`, async () => {
        await pg.goto(base + p);
        await pg.locator(ready).first().waitFor({ timeout });
        await settled(pg);
        await audit(pg, { narrow: width < 500 });
        if (width < 500) await shot(pg, `a11y-${label.replace(/\s+/g, '-')}-375`);
      });
    }
  }
  await step('run page at 375 px: a confirmation question fits', async () => {
    await small.goto(`${base}/runs/view/?id=${mock.runID}`);
    await small.locator('[data-testid="cancel-run"]').click();
    await small.locator('[data-testid="cancel-run-question"]').waitFor({ timeout });
    await audit(small, { narrow: true });
    await small.locator('[data-testid="cancel-run-cancel"]').click();
  });
  await narrow.close();

  await step('the focus is visible while tabbing through the header', async () => {
    await page.goto(`${base}/`);
    await settled(page);
    // Tab from the top of a freshly loaded page.
    const seen = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        const s = getComputedStyle(el);
        const r = el.getBoundingClientRect();
        return {
          what: `${el.tagName.toLowerCase()} "${(el.textContent ?? '').trim()}"`,
          focusVisible: el.matches(':focus-visible'),
          outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
          onScreen: r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight,
          inHeader: !!el.closest('header') || el.classList.contains('skip-link'),
        };
      });
      assert(f, `Tab ${i + 1} focused nothing`);
      seen.push(f.what);
      if (!f.inHeader) break;
      assert(f.focusVisible, `${f.what} is focused but not :focus-visible`);
      assert(f.outline, `${f.what}: no visible focus outline (want ≥ 2 px)`);
      assert(f.onScreen, `${f.what}: focused off screen`);
    }
    for (const want of ['Skip to content', 'Runs', 'Services', 'Agents', 'Sessions', 'Sign out']) {
      assert(seen.some((s) => s.includes(`"${want}`)), `Tab never reached "${want}" (reached: ${seen.join(', ')})`);
    }
  });

  await step('the step graph from the keyboard: focus ring, arrows, Enter selects', async () => {
    await page.goto(`${base}/runs/view/?id=${mock.runID}`);
    const first = page.locator('[data-testid="graph-node"]').first();
    await first.waitFor({ timeout });
    await first.focus();
    await page.keyboard.press('ArrowRight'); // a keyboard event: :focus-visible from here on
    const focused = await page.evaluate(() => document.activeElement?.getAttribute('data-key'));
    assert(focused && focused !== (await first.getAttribute('data-key')), `ArrowRight did not move the focus (on ${focused})`);
    const ring = await page.evaluate(() => {
      const r = document.activeElement.querySelector('.graph-focus');
      const s = getComputedStyle(r);
      return { stroke: s.stroke, width: parseFloat(s.strokeWidth) };
    });
    assert(ring.stroke !== 'none' && ring.width >= 2, `no focus ring on the focused node (${JSON.stringify(ring)})`);
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.searchParams.get('job') === focused, { timeout });
    await page.keyboard.press('ArrowDown');
    const below = await page.evaluate(() => document.activeElement?.getAttribute('data-key'));
    await page.keyboard.press(' ');
    await page.waitForURL((u) => u.searchParams.get('job') === below, { timeout });
    await page.locator(`[data-testid="graph-node"][data-key="${below}"][aria-pressed="true"]`).waitFor({ timeout });
  });

  await step('masked secrets in the log: named, marked, and found by search', async () => {
    await page.goto(`${base}/runs/view/?id=${mock.runID}&job=checkout`);
    const masked = page.locator('[data-testid="log-masked"]').first();
    await masked.waitFor({ timeout });
    assert((await masked.getAttribute('aria-label')) === 'masked secret GITHUB_TOKEN', `aria-label ${await masked.getAttribute('aria-label')}`);
    assert((await masked.getAttribute('role')) === 'img', 'the token is one named element');
    await page.locator('[data-testid="log-search"]').fill('GITHUB_TOKEN');
    await page.locator('[data-testid="log-match-count"]').filter({ hasText: / of \d+/ }).waitFor({ timeout });
    await page.locator('[data-testid="log-masked"] .log-match').first().waitFor({ timeout });
    const tree = await page.locator('[data-testid="log-viewport"]').ariaSnapshot();
    assert(tree.includes('img "masked secret GITHUB_TOKEN"'), `the accessibility tree does not name the masked secret:\n${tree}`);
    await shot(page, 'a11y-masked-secret');
  });

  await step('HTTP 500 from the API: an error that says so, and "Try again" recovers', async () => {
    await page.route('**/v1/runs?*', (route) => route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'internal error', id: 'err_42' }) }));
    await page.goto(`${base}/`);
    const box = page.locator('[data-testid="error-box"]');
    await box.waitFor({ timeout });
    const text = await box.textContent();
    assert(/HTTP 500/.test(text) && /err_42/.test(text), `error box: ${text}`);
    await audit(page);
    await shot(page, 'a11y-error-500');
    await page.unroute('**/v1/runs?*');
    await page.locator('[data-testid="error-retry"]').click();
    await page.locator('[data-testid="run-row"]').first().waitFor({ timeout });
  });

  await step('API unreachable: "could not be reached", and it recovers by itself', async () => {
    await page.route('**/v1/agents', (route) => route.abort('connectionrefused'));
    await page.goto(`${base}/agents/`);
    const box = page.locator('[data-testid="error-box"]');
    await box.waitFor({ timeout });
    assert(/could not be reached/.test(await box.textContent()), `error box: ${await box.textContent()}`);
    await page.unroute('**/v1/agents');
    await page.locator('[data-testid="agent-card"]').first().waitFor({ timeout: 10_000 }); // the next poll
  });

  await step('an unknown run says "Run not found", stops asking, and "Try again" asks once more', async () => {
    let asked = 0;
    const count = (req) => {
      if (new URL(req.url()).pathname === '/v1/runs/no-such-run') asked++;
    };
    page.on('request', count);
    try {
      await page.goto(`${base}/runs/view/?id=no-such-run`);
      await page.getByRole('heading', { level: 1, name: 'Run not found' }).waitFor({ timeout });
      await page.waitForTimeout(4_500); // two poll intervals (2 s)
      assert(asked === 1, `the run page asked for an unknown run ${asked} times, not once`);
      await page.locator('[data-testid="run-not-found-retry"]').click();
      await page.getByRole('heading', { level: 1, name: 'Run not found' }).waitFor({ timeout });
      await page.waitForTimeout(2_500);
      assert(asked === 2, `after "Try again" the run page asked ${asked} times in all, not twice`);
    } finally {
      page.off('request', count);
    }
  });

  await step('ending sessions asks first: Escape backs out, focus returns; confirming ends them', async () => {
    await page.goto(`${base}/sessions/`);
    const group = page.locator('[data-testid="user-group"][data-user-id="u_ada"]');
    await group.waitFor({ timeout });
    await group.locator('[data-testid="end-user-sessions"]').click();
    await group.locator('[data-testid="end-user-sessions-question"]').waitFor({ timeout });
    assert(await page.evaluate(() => document.activeElement?.dataset.testid === 'end-user-sessions-cancel'), 'the focus is not on the safe answer');
    await page.keyboard.press('Escape');
    await group.locator('[data-testid="end-user-sessions-question"]').waitFor({ state: 'detached', timeout });
    assert(await page.evaluate(() => document.activeElement?.dataset.testid === 'end-user-sessions'), 'the focus did not return to the button');
    const row = group.locator('[data-testid="session-row"]').first();
    await row.locator('[data-testid="end-session"]').click();
    await row.locator('[data-testid="end-session-question"]').waitFor({ timeout });
    await row.locator('[data-testid="end-session-cancel"]').click();
    await group.locator('[data-testid="end-user-sessions"]').click();
    await group.locator('[data-testid="end-user-sessions-confirm"]').click();
    await page.locator('.notice-ok').filter({ hasText: 'Ended 2 sessions of Ada Lovelace' }).waitFor({ timeout });
    await group.waitFor({ state: 'detached', timeout });
  });

  await step('a session that expires mid-page leads to sign-in and back to the same page', async () => {
    const where = `/runs/view/?id=${mock.runID}&job=lint`;
    await page.goto(base + where);
    await page.locator('[data-testid="graph-node"]').first().waitFor({ timeout });
    await ctx.clearCookies(); // the session is gone; the next poll gets a 401
    await page.waitForURL((u) => u.pathname === '/signin/', { timeout });
    const back = new URL(page.url()).searchParams.get('return_to');
    assert(back === where, `return_to=${back}, want ${where}`);
    await page.locator('a[data-provider]').first().click();
    await page.locator('#username').fill('a11y-user');
    await page.locator('#password').fill('a11y-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname + u.search === where, { timeout });
    await page.locator('[data-testid="graph-node"][data-key="lint"][aria-pressed="true"]').waitFor({ timeout });
  });
  await ctx.close();
} finally {
  await browser.close();
  await mock.close();
}

if (failures.length || problems.length) {
  for (const f of failures) console.error(`FAIL: ${f}`);
  for (const p of problems) console.error(`FAIL: ${p}`);
  console.error('a11y e2e: failed');
  process.exit(1);
}
console.log('a11y e2e: passed');
