#!/usr/bin/env node
// End-to-end test of the dashboard in headless Chromium (playwright-core).
//
// Against the full stack (the real control plane serving site/out and its API
// on one origin, the dev IdP, an agent, and a run started via the CLI):
//
//   AIRLOCK_URL=http://127.0.0.1:8787          dashboard + API origin (required)
//   AIRLOCK_IDP_USER=… AIRLOCK_IDP_PASSWORD=…   the dev IdP's login (required)
//   AIRLOCK_RUN_ID=…                            a run to open (default: the newest run)
//   AIRLOCK_CANCEL_JOB_KEY=…                    a job of that run to cancel (optional)
//   AIRLOCK_SCREENSHOTS=dir                     where to save screenshots (optional)
//   AIRLOCK_PROVIDER=dev                        the provider to click (default dev)
//   AIRLOCK_AGENT_IDENTITY=…                    text an agent's identity must contain (optional)
//   AIRLOCK_E2E_RETRY=0                         skip retrying the cancelled job (default: retry it,
//                                               then cancel it again; only with AIRLOCK_CANCEL_JOB_KEY)
//   AIRLOCK_E2E_REBUILD=0                       skip rebuilding the run (default: cancel the run if it
//                                               is still going, click Rebuild, land on the new run,
//                                               then cancel the new run so that nothing is left running)
//   AIRLOCK_SERVICE_ID=…                        the catalog service to open (default: the first listed)
//   CHROMIUM=/usr/bin/chromium                  the browser (default /usr/bin/chromium)
//
// It fails (exit 1, with the step and the reason) on any failed step, and on any
// Content-Security-Policy violation, uncaught page error or console error on the
// dashboard's origin (except the expected 401s before sign-in and 404s of logs
// not yet started). Exit 2: bad usage.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = process.env;
const need = (name) => {
  if (!env[name]) {
    console.error(`dashboard e2e: set ${name} (see the comment at the top of ${path.basename(import.meta.filename ?? 'dashboard.e2e.mjs')})`);
    process.exit(2);
  }
  return env[name];
};
const base = need('AIRLOCK_URL').replace(/\/+$/, '');
const origin = new URL(base).origin;
const idpUser = need('AIRLOCK_IDP_USER');
const idpPassword = need('AIRLOCK_IDP_PASSWORD');
const provider = env.AIRLOCK_PROVIDER || 'dev';
const shots = env.AIRLOCK_SCREENSHOTS || '';
const cancelKey = env.AIRLOCK_CANCEL_JOB_KEY || '';
const stepTimeout = Number(env.AIRLOCK_E2E_TIMEOUT_MS || 30_000);
const doRetry = env.AIRLOCK_E2E_RETRY !== '0';
const doRebuild = env.AIRLOCK_E2E_REBUILD !== '0';
const serviceID = env.AIRLOCK_SERVICE_ID || '';
if (shots) mkdirSync(shots, { recursive: true });

const problems = []; // CSP violations, page errors, console errors
let current = 'start';

function watch(page, label) {
  // securitypolicyviolation events, reported back through a console marker:
  // init scripts are injected by the browser driver, outside the page's CSP.
  void page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP-VIOLATION ${e.violatedDirective} blocked=${e.blockedURI || '(inline)'} at ${e.sourceFile || document.location.href}:${e.lineNumber}`);
    });
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    const where = msg.location()?.url || page.url();
    if (!page.url().startsWith(origin) && !text.startsWith('CSP-VIOLATION')) return; // the IdP's own pages
    if (/status of 401/.test(text)) return; // signed out: the dashboard goes to sign-in
    if (/status of 404/.test(text) && /\/log\?/.test(where)) return; // a job whose log has not started
    if (/status of 404/.test(text) && where.startsWith(`${origin}/no-such-page/`)) return; // the 404 page's own status
    problems.push(`[${label}] during "${current}": console error: ${text} (${where})`);
  });
  page.on('pageerror', (err) => problems.push(`[${label}] during "${current}": uncaught ${err.name}: ${err.message}`));
}

async function step(name, fn) {
  current = name;
  const t = Date.now();
  try {
    await fn();
  } catch (e) {
    throw new Error(`step "${name}" failed: ${e.message}`);
  }
  console.log(`ok  ${name} (${Date.now() - t} ms)`);
}

async function shot(page, name) {
  if (!shots) return;
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** signIn starts on path (signed out), goes through sign-in and must land back on path. */
async function signIn(page, startPath) {
  // Page loads of /signin/ (document requests; the router's own history
  // updates are not loads).
  const visitedSignin = [];
  const onNav = (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame() && new URL(req.url()).pathname === '/signin/') visitedSignin.push(req.url());
  };
  page.on('request', onNav);
  const first = await page.goto(base + startPath);
  const csp = first?.headers()['content-security-policy'];
  await page.waitForURL((u) => u.pathname === '/signin/', { timeout: stepTimeout });
  const want = `return_to=${encodeURIComponent(startPath)}`;
  assert(page.url().includes(want), `signed out on ${startPath}: want /signin/?${want}, got ${page.url()}`);
  const link = page.locator(`a[data-provider="${provider}"]`);
  await link.waitFor({ timeout: stepTimeout });
  await link.click();
  await page.locator('#username').waitFor({ timeout: stepTimeout });
  await page.locator('#username').fill(idpUser);
  await page.locator('#password').fill(idpPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.origin === origin && u.pathname + u.search === startPath, { timeout: stepTimeout });
  await page.locator('[data-testid="user-name"]').waitFor({ timeout: stepTimeout });
  page.off('request', onNav);
  assert(visitedSignin.length === 1, `sign-in looped: /signin/ was shown ${visitedSignin.length} times (${visitedSignin.join(', ')})`);
  assert(new URL(page.url()).pathname + new URL(page.url()).search === startPath, `after sign-in: want ${startPath}, got ${page.url()}`);
  return csp;
}

async function me(page) {
  return page.evaluate(async () => {
    const r = await fetch('/v1/me', { credentials: 'same-origin' });
    return { status: r.status, body: r.status === 200 ? await r.json() : null };
  });
}

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless'],
});
let failed = null;
try {
  const ctx1 = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx1.newPage();
  watch(page, 'browser 1');
  let runID = env.AIRLOCK_RUN_ID || '';

  await step('sign in from / and land back on / signed in', async () => {
    const csp = await signIn(page, '/');
    assert(csp, `the dashboard was served without a Content-Security-Policy header (${base}/): is site/out/_headers deployed with the assets?`);
    assert(!/unsafe-inline|unsafe-eval/.test(csp), `the CSP allows unsafe code: ${csp}`);
    const m = await me(page);
    assert(m.status === 200, `GET /v1/me after sign-in: HTTP ${m.status}`);
    const shown = (await page.locator('[data-testid="user-name"]').textContent())?.trim();
    const want = m.body.user.name || m.body.user.email;
    assert(shown === want, `header shows ${JSON.stringify(shown)}, want the user's name ${JSON.stringify(want)}`);
    await page.locator('[data-testid="run-row"], .state-empty').first().waitFor({ timeout: stepTimeout });
    await shot(page, '01-runs');
  });

  await step('open the run: graph nodes and log lines arrive', async () => {
    if (!runID) {
      const row = page.locator('[data-testid="run-row"]').first();
      await row.waitFor({ timeout: stepTimeout });
      runID = (await row.getAttribute('data-run-id')) ?? '';
    }
    assert(runID, 'no run to open: set AIRLOCK_RUN_ID or start a run first');
    await page.goto(`${base}/runs/view/?id=${encodeURIComponent(runID)}`);
    await page.locator('[data-testid="graph-node"]').first().waitFor({ timeout: stepTimeout });
    const nodes = await page.locator('[data-testid="graph-node"]').count();
    assert(nodes > 0, 'no graph node');
    // The log of the job shown first (a running one, else the first) arrives.
    await page.locator('[data-testid="log-line"]').first().waitFor({ timeout: Math.max(stepTimeout, 90_000) });
    const lines = await page.locator('[data-testid="log-line"]').count();
    console.log(`    ${nodes} graph nodes, ${lines} log lines rendered`);
    // Search finds a word of the first line.
    const firstText = (await page.locator('[data-testid="log-line"] .log-text').first().textContent()) ?? '';
    const word = firstText.split(/[^A-Za-z0-9_]+/).find((w) => w.length >= 3);
    if (word) {
      await page.locator('[data-testid="log-search"]').fill(word);
      await page.locator('[data-testid="log-match-count"]').filter({ hasText: / of \d+/ }).waitFor({ timeout: 5_000 });
      await page.locator('.log-match').first().waitFor({ timeout: 5_000 });
      await page.locator('[data-testid="log-search"]').fill('');
    }
    await shot(page, '02-run');
  });

  if (cancelKey) {
    await step(`cancel job ${cancelKey}`, async () => {
      const node = page.locator(`[data-testid="graph-node"][data-key="${cancelKey}"]`);
      await node.waitFor({ timeout: stepTimeout });
      await node.click();
      await page.waitForURL((u) => u.searchParams.get('job') === cancelKey, { timeout: stepTimeout });
      const state = await node.getAttribute('data-state');
      assert(!['passed', 'failed', 'cancelled', 'skipped'].includes(state ?? ''), `job ${cancelKey} has already ended (${state}): nothing to cancel`);
      await page.locator('[data-testid="cancel-job"]').click();
      await page.locator('[data-testid="cancel-job-confirm"]').click();
      await page
        .locator(`[data-testid="graph-node"][data-key="${cancelKey}"][data-state="cancelled"]`)
        .waitFor({ timeout: Math.max(stepTimeout, 60_000) });
      await shot(page, '03-run-job-cancelled');
    });

    if (doRetry) {
      await step(`retry job ${cancelKey}, then cancel it again`, async () => {
        const retry = page.locator('[data-testid="retry-job"]');
        await retry.waitFor({ timeout: stepTimeout });
        await retry.click();
        // The job starts again: no longer cancelled, and it can be cancelled.
        await page
          .locator(`[data-testid="graph-node"][data-key="${cancelKey}"]:not([data-state="cancelled"])`)
          .waitFor({ timeout: stepTimeout });
        await page.locator('[data-testid="cancel-job"]').waitFor({ timeout: stepTimeout });
        await shot(page, '03b-run-job-retried');
        await page.locator('[data-testid="cancel-job"]').click();
        await page.locator('[data-testid="cancel-job-confirm"]').click();
        await page
          .locator(`[data-testid="graph-node"][data-key="${cancelKey}"][data-state="cancelled"]`)
          .waitFor({ timeout: Math.max(stepTimeout, 60_000) });
        await page.locator('[data-testid="retry-job"]').waitFor({ timeout: stepTimeout });
      });
    }
  }

  if (doRebuild) {
    await step('rebuild the run and land on the new run', async () => {
      if (!page.url().includes(`id=${encodeURIComponent(runID)}`)) await page.goto(`${base}/runs/view/?id=${encodeURIComponent(runID)}`);
      const rebuild = page.locator('[data-testid="rebuild-run"]');
      await page.locator('[data-testid="graph-node"]').first().waitFor({ timeout: stepTimeout });
      // Rebuild is offered on finished runs: cancel this one if it still runs.
      if (!(await rebuild.isVisible())) {
        const cancel = page.locator('[data-testid="cancel-run"]');
        if (await cancel.isVisible()) {
          await cancel.click();
          await page.locator('[data-testid="cancel-run-confirm"]').click();
        }
      }
      await rebuild.waitFor({ timeout: Math.max(stepTimeout, 60_000) });
      await rebuild.click();
      await page.waitForURL((u) => u.pathname === '/runs/view/' && !!u.searchParams.get('id') && u.searchParams.get('id') !== runID, { timeout: stepTimeout });
      const newID = new URL(page.url()).searchParams.get('id');
      await page.locator('[data-testid="graph-node"]').first().waitFor({ timeout: stepTimeout });
      const back = page.locator('[data-testid="rebuild-of"] a');
      await back.waitFor({ timeout: stepTimeout });
      const href = (await back.getAttribute('href')) ?? '';
      assert(href.includes(`id=${encodeURIComponent(runID)}`), `the new run ${newID} links back to ${href}, want run ${runID}`);
      console.log(`    rebuilt ${runID} as ${newID}`);
      await shot(page, '03c-run-rebuilt');
      // Leave nothing running: cancel the new run.
      const cancel = page.locator('[data-testid="cancel-run"]');
      if (await cancel.isVisible()) {
        await cancel.click();
        await page.locator('[data-testid="cancel-run-confirm"]').click();
        await page.locator('[data-testid="rebuild-run"]').waitFor({ timeout: Math.max(stepTimeout, 60_000) });
      }
    });
  }

  await step('agents: an agent with its identity', async () => {
    await page.goto(`${base}/agents/`);
    const card = page.locator('[data-testid="agent-card"]').first();
    await card.waitFor({ timeout: stepTimeout });
    const identity = ((await card.locator('[data-testid="agent-identity"]').textContent()) ?? '').trim();
    assert(identity && identity !== '—', `the first agent shows no identity (${JSON.stringify(identity)})`);
    if (env.AIRLOCK_AGENT_IDENTITY) {
      const all = await page.locator('[data-testid="agent-identity"]').allTextContents();
      assert(all.some((t) => t.includes(env.AIRLOCK_AGENT_IDENTITY)), `no agent identity contains ${env.AIRLOCK_AGENT_IDENTITY}: ${all.join(', ')}`);
    }
    console.log(`    first agent: ${identity}`);
    await shot(page, '04-agents');
  });

  await step('services: the catalog, and one service with its pipelines and runs', async () => {
    await page.goto(`${base}/services/`);
    const cards = page.locator('[data-testid="service-card"]');
    await cards.first().waitFor({ timeout: stepTimeout });
    console.log(`    ${await cards.count()} services in the catalog`);
    await shot(page, '04b-services');
    const card = serviceID ? page.locator(`[data-testid="service-card"][data-service="${serviceID}"]`) : cards.first();
    await card.waitFor({ timeout: stepTimeout });
    const id = await card.getAttribute('data-service');
    const name = ((await card.locator('[data-testid="service-link"]').textContent()) ?? '').trim();
    await card.locator('[data-testid="service-link"]').click();
    await page.waitForURL((u) => u.pathname === `/services/${id}/`, { timeout: stepTimeout });
    const heading = ((await page.locator('[data-testid="service-name"]').textContent()) ?? '').trim();
    assert(heading.startsWith(name), `service page heading ${JSON.stringify(heading)}, want it to start with ${JSON.stringify(name)}`);
    await page.locator('[data-testid="service-pipeline"]').first().waitFor({ timeout: stepTimeout });
    await page.locator('[data-testid="service-runs"] [data-testid="run-row"], [data-testid="service-runs"] .state-empty').first().waitFor({ timeout: stepTimeout });
    const rows = await page.locator('[data-testid="service-runs"] [data-testid="run-row"]').count();
    console.log(`    ${id}: ${rows} recent runs`);
    await shot(page, '04c-service');
  });

  let firstSession = '';
  await step('sessions: mine, with this browser marked', async () => {
    await page.goto(`${base}/sessions/`);
    const rows = page.locator('[data-testid="my-sessions"] [data-testid="session-row"]');
    await rows.first().waitFor({ timeout: stepTimeout });
    await page.locator('[data-testid="my-sessions"] [data-testid="current-session"]').waitFor({ timeout: stepTimeout });
    const m = await me(page);
    firstSession = m.body?.session?.id ?? '';
    assert(firstSession, 'GET /v1/me has no session.id');
    await page.locator(`[data-testid="my-sessions"] [data-session-id="${firstSession}"]`).waitFor({ timeout: stepTimeout });
    if (m.body.user.role === 'admin') {
      await page.locator('[data-testid="all-sessions"] [data-testid="user-group"]').first().waitFor({ timeout: stepTimeout });
    }
    await shot(page, '05-sessions');
  });

  await step('the 404 page', async () => {
    const res = await page.goto(`${base}/no-such-page/`);
    assert(res && res.status() === 404, `want HTTP 404, got ${res?.status()}`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor({ timeout: stepTimeout });
  });

  const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page2 = await ctx2.newPage();
  watch(page2, 'browser 2');
  await step('a second browser signs in as the same user (back to /sessions/)', async () => {
    await signIn(page2, '/sessions/');
    await page2.locator(`[data-testid="my-sessions"] [data-session-id="${firstSession}"]`).waitFor({ timeout: stepTimeout });
  });

  await step("the second browser ends the first browser's session", async () => {
    const row = page2.locator(`[data-testid="my-sessions"] [data-session-id="${firstSession}"]`);
    await row.locator('[data-testid="end-session"]').click();
    // It asks first; the answer that acts is end-session-confirm.
    await row.locator('[data-testid="end-session-confirm"]').click();
    await row.waitFor({ state: 'detached', timeout: stepTimeout });
    await shot(page2, '06-sessions-after-ending');
  });

  await step('the first browser is refused at once and sent to sign-in, keeping its page', async () => {
    const m = await me(page);
    assert(m.status === 401, `GET /v1/me with the ended session: want 401, got ${m.status}`);
    await page.goto(`${base}/agents/`);
    await page.waitForURL((u) => u.pathname === '/signin/', { timeout: stepTimeout });
    const back = new URL(page.url()).searchParams.get('return_to');
    assert(back === '/agents/', `want return_to=/agents/, got ${page.url()}`);
    await page.locator(`a[data-provider="${provider}"]`).waitFor({ timeout: stepTimeout });
    await shot(page, '07-signin-after-revocation');
  });

  await step('narrow screen: runs list', async () => {
    const narrow = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await ctx2.storageState() });
    const p = await narrow.newPage();
    watch(p, 'narrow');
    await p.goto(`${base}/`);
    await p.locator('[data-testid="user-name"]').waitFor({ timeout: stepTimeout });
    await p.locator('[data-testid="run-row"], .state-empty').first().waitFor({ timeout: stepTimeout });
    await shot(p, '08-runs-narrow');
    await narrow.close();
  });

  await ctx1.close();
  await ctx2.close();
} catch (e) {
  failed = e;
} finally {
  await browser.close();
}

if (failed || problems.length) {
  if (failed) console.error(`FAIL: ${failed.message}`);
  for (const p of problems) console.error(`FAIL: ${p}`);
  console.error(`dashboard e2e: failed${shots ? ` (screenshots in ${shots})` : ''}`);
  process.exit(1);
}
console.log(`dashboard e2e: passed${shots ? ` (screenshots in ${shots})` : ''}`);
