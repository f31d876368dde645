#!/usr/bin/env node
// DEVELOPMENT AID ONLY — not the control plane, not used by the real end-to-end
// test against the full stack. A tiny stand-in for the Airlock API so the
// dashboard can be built and its e2e selectors checked before (and without)
// the real backend: it serves site/out with the headers of site/out/_headers
// (so the strict CSP applies), a fake sign-in with a login form shaped like the
// dev IdP's (#username, #password, button "Sign in"), and canned runs, logs,
// agents and sessions that move with the clock.
//
//   npm run site:build && npm run site:mock      → http://127.0.0.1:8788
//   PORT=9000 MOCK_IDP_USER=dev MOCK_IDP_PASSWORD=dev npm run site:mock
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CookieName = 'airlock_mock_session';

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** parseHeaders reads a Cloudflare _headers file: [{pattern, headers}] */
function parseHeaders(file) {
  if (!existsSync(file)) return [];
  const rules = [];
  let cur = null;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim() || line.trim().startsWith('#')) continue;
    if (!/^\s/.test(line)) {
      cur = { pattern: line.trim(), headers: {} };
      rules.push(cur);
    } else if (cur) {
      const i = line.indexOf(':');
      cur.headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
  }
  return rules;
}

function matches(pattern, p) {
  const re = new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(p);
}

// ---- the simulated world ----

function makeWorld(now = Date.now()) {
  const users = {
    u_dev: { id: 'u_dev', email: 'dev@example.com', name: 'Dev User', role: 'admin', provider: 'dev' },
    u_ada: { id: 'u_ada', email: 'ada@example.com', name: 'Ada Lovelace', role: 'member', provider: 'dev' },
  };
  const sessions = new Map(); // token → session
  const addSession = (userID, kind, ua, created) => {
    const token = randomBytes(24).toString('base64url');
    const s = {
      id: 'ses_' + randomBytes(6).toString('hex'),
      userID,
      kind,
      created,
      last_seen: created,
      expires: created + 7 * 86_400_000,
      user_agent: ua,
    };
    sessions.set(token, s);
    return token;
  };
  addSession('u_ada', 'cli', 'airlock/0.4.0 (linux; amd64)', now - 3 * 3_600_000);
  const t = addSession('u_ada', 'browser', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', now - 26 * 3_600_000);
  sessions.get(t).last_seen = now - 40 * 60_000;

  const pipeline = [
    { key: 'checkout', label: ':git: Checkout', deps: [], dur: 2_000, lines: 12 },
    { key: 'lint', label: ':lint-roller: Lint', deps: ['checkout'], dur: 4_000, lines: 40 },
    { key: 'unit', label: ':go: Unit tests', deps: ['checkout'], dur: 6_000, lines: 300 },
    { key: 'build', label: ':package: Build', deps: ['checkout'], dur: 5_000, lines: 5_000 },
    { key: 'integration', label: ':test_tube: Integration', deps: ['unit', 'build'], dur: 180_000, lines: 900 },
    { key: 'deploy', label: ':rocket: Deploy', deps: ['integration', 'lint'], dur: 4_000, lines: 20 },
  ];
  const run = (id, number, t0, opts = {}) => ({
    id,
    number,
    t0,
    filename: '.airlock/pipeline.yml',
    repository: 'github.com/airlockci/airlock',
    commit: opts.commit ?? randomBytes(20).toString('hex'),
    branch: opts.branch ?? 'main',
    message: opts.message ?? 'scheduler: lease jobs with heartbeats',
    failJob: opts.failJob ?? null,
    createdBy: opts.createdBy ?? 'ada@example.com',
    rebuildOf: opts.rebuildOf ?? null,
    cancelled: new Map(), // job key → ms
    retried: new Map(), // job key → ms of the last retry by hand
    runCancelledAt: null,
    speed: opts.speed ?? 1,
  });
  const runs = [
    run('run_live', 42, now, { message: 'dashboard: live step graph and logs', branch: 'dashboard' }),
    run('run_41', 41, now - 2 * 3_600_000, { failJob: 'unit', message: 'agent: reconnect with jittered backoff' }),
    run('run_40', 40, now - 5 * 3_600_000, { message: 'edge: sessions in a Durable Object', speed: 100 }),
    run('run_39', 39, now - 28 * 3_600_000, { branch: 'release-1.2', message: 'Release 1.2', speed: 100, createdBy: 'dev@example.com' }),
  ];
  return { users, sessions, addSession, pipeline, runs, run };
}

/** jobStates computes every job of a run at time now. */
function jobStates(world, r, now) {
  const out = new Map();
  const finishOf = new Map();
  for (const p of world.pipeline) {
    const deps = p.deps.map((d) => out.get(d));
    const dur = p.key === 'integration' && r.speed > 1 ? 9_000 : p.dur / r.speed;
    const j = { key: p.key, label: p.label, depends_on: p.deps.length ? p.deps : undefined, attempt: 0, log_seq: 0, state: 'waiting' };
    const retriedAt = r.retried.get(p.key);
    const cancelAt = r.cancelled.get(p.key) ?? (retriedAt !== undefined && r.runCancelledAt !== null && r.runCancelledAt < retriedAt ? null : r.runCancelledAt);
    const depsEnded = deps.every((d) => ['passed', 'failed', 'cancelled', 'skipped'].includes(d.state));
    const depsOK = deps.every((d) => d.state === 'passed');
    if (depsEnded && !depsOK) {
      j.state = 'skipped';
      j.finished_ms = Math.max(r.t0, ...p.deps.map((d) => finishOf.get(d) ?? r.t0));
      j.reason = 'a dependency did not pass';
    } else if (depsOK) {
      const queued = Math.max(r.t0, retriedAt ?? 0, ...p.deps.map((d) => finishOf.get(d)));
      const start = queued + 400;
      j.queued_ms = queued;
      if (cancelAt !== null && cancelAt !== undefined && cancelAt < start && cancelAt <= now) {
        j.state = 'cancelled';
        j.finished_ms = cancelAt;
        j.reason = 'cancelled before it started';
      } else if (now < start) {
        j.state = 'queued';
      } else {
        j.attempt = retriedAt !== undefined ? 2 : 1;
        if (retriedAt !== undefined) j.retried_by = 'dev@example.com';
        j.started_ms = start;
        j.agent = 'aws-runner-1';
        const end = start + dur;
        if (cancelAt !== null && cancelAt !== undefined && cancelAt < end && cancelAt <= now) {
          j.state = 'cancelled';
          j.finished_ms = cancelAt;
          j.exit_status = -1;
          j.reason = 'cancelled by a user';
        } else if (now < end) {
          j.state = 'running';
        } else {
          const failed = r.failJob === p.key;
          j.state = failed ? 'failed' : 'passed';
          j.finished_ms = end;
          j.exit_status = failed ? 1 : 0;
          if (failed) j.reason = 'exit status 1';
        }
        j.log_seq = linesAvailable(p, j, dur, now);
      }
    } else if (cancelAt !== null && cancelAt !== undefined && cancelAt <= now) {
      j.state = 'cancelled';
      j.finished_ms = cancelAt;
    }
    if (j.finished_ms) finishOf.set(p.key, j.finished_ms);
    out.set(p.key, j);
  }
  return out;
}

function linesAvailable(p, j, dur, now) {
  if (!j.started_ms) return 0;
  const end = j.finished_ms ?? now;
  if (p.lines > 1000) return end - j.started_ms > 800 ? p.lines : 0; // big logs land at once
  return Math.min(p.lines, Math.floor(((end - j.started_ms) / dur) * p.lines) + 1);
}

function logLine(p, i) {
  const n = i + 1;
  if (n === 1) return `\x1b[1;34m==>\x1b[0m Running \x1b[1m${p.label}\x1b[0m on aws-runner-1 (attempt 1)`;
  if (n === 2) return `\x1b[90m$ make ${p.key}\x1b[0m`;
  if (n === 3) return 'Escaping check: <script>alert("not html")</script> & <b>not bold</b>';
  if (n === 4) return `fetch https://x-access-token:[REDACTED:GITHUB_TOKEN]@github.com/airlockci/airlock \x1b[33m(token [REDACTED:GITHUB_TOKEN] masked by the agent)\x1b[0m`;
  if (n % 97 === 0) return `\x1b[33mwarning:\x1b[0m slow step ${n}: \x1b[38;5;208m${(n * 7) % 1000}ms\x1b[0m over budget`;
  if (n % 53 === 0) return `\x1b[31merror\x1b[0m: flaky check ${n} retried \x1b[48;2;60;20;20m(recovered)\x1b[0m`;
  if (p.key === 'build') return `  compile  internal/pkg${n % 40}/file_${n}.go  \x1b[32m✓\x1b[0m`;
  if (p.key === 'unit' || p.key === 'integration') return `\x1b[32m--- PASS\x1b[0m: Test${p.key === 'unit' ? 'Unit' : 'Integration'}Case${n} (0.${String(n % 100).padStart(2, '0')}s)`;
  return `${p.key}: step ${n} done`;
}

function runView(world, r, now) {
  const jobs = [...jobStates(world, r, now).values()];
  const ended = jobs.every((j) => ['passed', 'failed', 'cancelled', 'skipped'].includes(j.state));
  let state = 'running';
  if (ended) state = jobs.some((j) => j.state === 'failed') ? 'failed' : jobs.some((j) => j.state === 'cancelled') ? 'cancelled' : 'passed';
  const v = {
    id: r.id,
    number: r.number,
    state,
    filename: r.filename,
    repository: r.repository,
    commit: r.commit,
    branch: r.branch,
    message: r.message,
    created_by: r.createdBy,
    created_ms: r.t0,
    jobs,
  };
  if (r.rebuildOf) v.rebuild_of = r.rebuildOf;
  if (ended) v.finished_ms = Math.max(...jobs.map((j) => j.finished_ms ?? r.t0));
  return v;
}

// ---- HTTP ----

function send(res, status, body, headers = {}) {
  const isJSON = body !== undefined && typeof body !== 'string';
  res.writeHead(status, {
    'Cache-Control': 'no-store',
    ...(isJSON ? { 'Content-Type': 'application/json' } : {}),
    ...headers,
  });
  res.end(body === undefined ? undefined : isJSON ? JSON.stringify(body) + '\n' : body);
}

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

const idpPage = (state, error) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Mock IdP sign-in</title></head>
<body><main><h1>Development SSO (mock)</h1>
${error ? `<p role="alert">${error}</p>` : ''}
<form method="post" action="/mock-idp/login">
<input type="hidden" name="state" value="${state}">
<label for="username">Username</label> <input id="username" name="username" autocomplete="username">
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in</button>
</form></main></body></html>`;

export function startMock({ port = 8788, host = '127.0.0.1', outDir = path.join(here, '..', 'out'), user = 'dev', password = 'dev', log = false } = {}) {
  const world = makeWorld();
  const pendingLogins = new Map(); // state → return_to
  const headerRules = parseHeaders(path.join(outDir, '_headers'));

  const sessionOf = (req) => {
    const token = cookies(req)[CookieName];
    const s = token && world.sessions.get(token);
    if (!s || s.expires < Date.now()) return null;
    s.last_seen = Date.now();
    return { token, s, user: world.users[s.userID] };
  };
  const sessionView = (s, token, current, withUser) => {
    const v = {
      id: s.id,
      kind: s.kind,
      created: new Date(s.created).toISOString(),
      last_seen: new Date(s.last_seen).toISOString(),
      idle_expires: new Date(s.last_seen + 12 * 3_600_000).toISOString(),
      expires: new Date(s.expires).toISOString(),
      user_agent: s.user_agent,
      current: token === current,
    };
    if (withUser) {
      const u = world.users[s.userID];
      v.user = { id: u.id, email: u.email, name: u.name };
    }
    return v;
  };

  const serveStatic = (req, res, pathname) => {
    let rel = decodeURIComponent(pathname);
    if (rel.includes('\0') || rel.split('/').includes('..')) return send(res, 400, 'bad path');
    let file = path.join(outDir, rel);
    if (rel.endsWith('/')) file = path.join(file, 'index.html');
    else if (!path.extname(rel) && existsSync(path.join(file, 'index.html'))) {
      return send(res, 308, '', { Location: rel + '/' + (req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '') });
    }
    let status = 200;
    if (!existsSync(file) || !statSync(file).isFile()) {
      status = 404;
      file = path.join(outDir, '404.html');
      if (!existsSync(file)) return send(res, 404, 'not found (run npm run site:build first)');
    }
    const headers = { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream' };
    for (const rule of headerRules) if (matches(rule.pattern, pathname)) Object.assign(headers, rule.headers);
    res.writeHead(status, headers);
    createReadStream(file).pipe(res);
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, `http://${req.headers.host}`);
    const p = url.pathname;
    const method = req.method;
    if (log) console.log(method, req.url);
    try {
      // The real control plane refuses unsafe cross-site and non-JSON requests.
      const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(method);
      if (unsafe && (p.startsWith('/v1/') || p.startsWith('/auth/'))) {
        const site = req.headers['sec-fetch-site'];
        if (site && site !== 'same-origin') return send(res, 403, { error: `cross-site request refused (Sec-Fetch-Site: ${site})` });
        if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
          return send(res, 415, { error: 'want Content-Type: application/json' });
        }
        const body = await readBody(req);
        try {
          JSON.parse(body);
        } catch {
          return send(res, 400, { error: 'request body: want a JSON value' });
        }
      }

      if (p === '/auth/providers' && method === 'GET') {
        return send(res, 200, { providers: [{ id: 'dev', name: 'Development SSO' }] });
      }
      if (p === '/auth/login' && method === 'GET') {
        if (url.searchParams.get('provider') !== 'dev') return send(res, 400, { error: 'unknown provider' });
        const state = randomBytes(12).toString('hex');
        const back = url.searchParams.get('return_to') ?? '/';
        pendingLogins.set(state, back.startsWith('/') && !back.startsWith('//') ? back : '/');
        return send(res, 302, '', { Location: `/mock-idp/login?state=${state}` });
      }
      if (p === '/mock-idp/login' && method === 'GET') {
        return send(res, 200, idpPage(url.searchParams.get('state') ?? ''), { 'Content-Type': 'text/html; charset=utf-8' });
      }
      if (p === '/mock-idp/login' && method === 'POST') {
        const form = new URLSearchParams(await readBody(req));
        const state = form.get('state') ?? '';
        if (!pendingLogins.has(state)) return send(res, 400, 'unknown sign-in attempt; start again from the dashboard');
        if (form.get('username') !== user || form.get('password') !== password) {
          return send(res, 200, idpPage(state, 'Wrong username or password.'), { 'Content-Type': 'text/html; charset=utf-8' });
        }
        const back = pendingLogins.get(state);
        pendingLogins.delete(state);
        const token = world.addSession('u_dev', 'browser', req.headers['user-agent'] ?? '', Date.now());
        return send(res, 302, '', {
          Location: back,
          'Set-Cookie': `${CookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        });
      }
      if (p === '/auth/logout' && method === 'POST') {
        const cur = sessionOf(req);
        if (cur) world.sessions.delete(cur.token);
        return send(res, 204, undefined, { 'Set-Cookie': `${CookieName}=; Max-Age=0; Path=/` });
      }

      if (p.startsWith('/v1/')) {
        const cur = sessionOf(req);
        if (!cur) return send(res, 401, { error: 'no valid session: sign in', signin: '/signin/' });
        const parts = p.split('/').filter(Boolean).map(decodeURIComponent);
        const now = Date.now();
        if (p === '/v1/me') {
          const s = cur.s;
          return send(res, 200, {
            user: cur.user,
            session: { id: s.id, kind: s.kind, created: new Date(s.created).toISOString(), last_seen: new Date(s.last_seen).toISOString(), expires: new Date(s.expires).toISOString() },
          });
        }
        if (p === '/v1/sessions' && method === 'GET') {
          const all = url.searchParams.get('all') === '1';
          if (all && cur.user.role !== 'admin') return send(res, 403, { error: 'only administrators can list every session' });
          const list = [...world.sessions.entries()]
            .filter(([, s]) => all || s.userID === cur.user.id)
            .map(([t, s]) => sessionView(s, t, cur.token, all));
          return send(res, 200, list);
        }
        if (parts[1] === 'sessions' && parts.length === 3 && method === 'DELETE') {
          const entry = [...world.sessions.entries()].find(([, s]) => s.id === parts[2]);
          if (!entry) return send(res, 404, { error: `session ${parts[2]} not found` });
          if (entry[1].userID !== cur.user.id && cur.user.role !== 'admin') return send(res, 403, { error: 'not your session' });
          world.sessions.delete(entry[0]);
          return send(res, 204);
        }
        if (parts[1] === 'users' && parts[3] === 'sessions' && parts.length === 4 && method === 'DELETE') {
          if (cur.user.role !== 'admin') return send(res, 403, { error: 'only administrators can end other users’ sessions' });
          let ended = 0;
          for (const [t, s] of world.sessions) if (s.userID === parts[2]) (world.sessions.delete(t), ended++);
          return send(res, 200, { ended });
        }
        if (p === '/v1/runs' && method === 'GET') {
          const limit = Math.min(100, Number(url.searchParams.get('limit')) || 20);
          const list = world.runs.slice(0, limit).map((r) => {
            const { jobs, ...rest } = runView(world, r, now);
            void jobs;
            return rest;
          });
          return send(res, 200, { runs: list });
        }
        const r = parts[1] === 'runs' && parts[2] ? world.runs.find((x) => x.id === parts[2]) : null;
        if (parts[1] === 'runs' && parts[2] && !r) return send(res, 404, { error: `run "${parts[2]}" not found` });
        if (r && parts.length === 3 && method === 'GET') return send(res, 200, runView(world, r, now));
        if (r && parts[3] === 'cancel' && parts.length === 4 && method === 'POST') {
          r.runCancelledAt ??= now;
          return send(res, 202, runView(world, r, now));
        }
        if (r && parts[3] === 'jobs' && parts[5] === 'cancel' && parts.length === 6 && method === 'POST') {
          if (!world.pipeline.some((x) => x.key === parts[4])) return send(res, 404, { error: `job "${parts[4]}" not found in run "${r.id}"` });
          if (!r.cancelled.has(parts[4])) r.cancelled.set(parts[4], now);
          return send(res, 202, runView(world, r, now));
        }
        if (r && parts[3] === 'jobs' && parts[5] === 'retry' && parts.length === 6 && method === 'POST') {
          const j = jobStates(world, r, now).get(parts[4]);
          if (!j) return send(res, 404, { error: `job "${parts[4]}" not found in run "${r.id}"` });
          if (!['failed', 'cancelled'].includes(j.state)) {
            return send(res, 409, { error: `job "${j.key}" of run "${r.id}" is ${j.state}; only a job that ended failed or cancelled can be retried` });
          }
          r.cancelled.delete(j.key);
          r.retried.set(j.key, now);
          return send(res, 202, runView(world, r, now));
        }
        if (r && parts[3] === 'rebuild' && parts.length === 4 && method === 'POST') {
          const number = Math.max(...world.runs.map((x) => x.number)) + 1;
          const copy = world.run(`run_${number}`, number, now, {
            commit: r.commit,
            branch: r.branch,
            message: r.message,
            createdBy: cur.user.email,
            rebuildOf: r.id,
          });
          world.runs.unshift(copy);
          return send(res, 201, runView(world, copy, now));
        }
        if (r && parts[3] === 'jobs' && parts[5] === 'log' && parts.length === 6 && method === 'GET') {
          const spec = world.pipeline.find((x) => x.key === parts[4]);
          if (!spec) return send(res, 404, { error: `job "${parts[4]}" not found in run "${r.id}"` });
          const j = jobStates(world, r, now).get(spec.key);
          if (j.attempt < 1) return send(res, 404, { error: `job "${spec.key}" has no attempt 0` });
          const after = Number(url.searchParams.get('after') ?? 0) || 0;
          const upto = Math.min(j.log_seq, after + 2000); // pages of at most 2000 lines
          let text = '';
          for (let i = after; i < upto; i++) text += logLine(spec, i) + '\n';
          const terminal = ['passed', 'failed', 'cancelled', 'skipped'].includes(j.state);
          if (terminal && upto === j.log_seq && j.state === 'cancelled' && upto > after) text += '\x1b[31mcancelled\x1b[0m\n';
          return send(res, 200, text, {
            'Content-Type': 'text/plain; charset=utf-8',
            'Airlock-Log-Seq': String(Math.max(after, upto)),
            'Airlock-Log-End': String(terminal && upto >= j.log_seq),
          });
        }
        if (p === '/v1/agents' && method === 'GET') {
          const liveRun = world.runs.find((x) => x.id === 'run_live');
          const live = runView(world, liveRun, now);
          const held = live.jobs
            .filter((j) => j.state === 'running')
            .map((j) => ({ run_id: live.id, run_number: live.number, key: j.key, label: j.label, started_ms: j.started_ms }));
          const busy = held.length;
          return send(res, 200, {
            agents: [
              {
                id: 'agt_1',
                name: 'aws-runner-1',
                identity: 'arn:aws:iam::123456789012:role/airlock-agent',
                pool: 'aws-prod',
                tags: { os: 'linux', arch: 'amd64', queue: 'default' },
                slots: 4,
                busy: Math.min(4, busy),
                version: '0.4.0',
                connected: true,
                connected_ms: liveRun.t0 - 600_000,
                last_seen_ms: now - 2_000,
                jobs: held.slice(0, 4),
              },
              {
                id: 'agt_3',
                name: 'github-actions-7',
                identity: 'repo:airlockci/airlock:ref:refs/heads/main',
                pool: 'github',
                tags: { os: 'linux', arch: 'amd64' },
                slots: 1,
                busy: 0,
                version: '0.4.0',
                connected: true,
                connected_ms: now - 3_600_000,
                last_seen_ms: now - 4_000,
                jobs: [],
              },
              {
                id: 'agt_2',
                name: 'gcp-builder',
                identity: 'airlock-agent@ci-project.iam.gserviceaccount.com',
                pool: 'gcp',
                tags: { os: 'linux', arch: 'arm64' },
                slots: 2,
                busy: 0,
                version: '0.3.9',
                connected: false,
                connected_ms: now - 20 * 3_600_000,
                last_seen_ms: now - 3 * 3_600_000,
                disconnected_ms: now - 3 * 3_600_000 + 15_000,
                jobs: [],
              },
            ],
          });
        }
        return send(res, 404, { error: 'no such endpoint' });
      }
      if (method !== 'GET' && method !== 'HEAD') return send(res, 405, 'method not allowed', { Allow: 'GET' });
      return serveStatic(req, res, p);
    } catch (e) {
      console.error(e);
      return send(res, 500, { error: 'internal error (mock)' });
    }
  });

  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({
        url: `http://${host}:${addr.port}`,
        runID: 'run_live',
        cancelJobKey: 'integration',
        close: () => new Promise((r) => (server.closeAllConnections?.(), server.close(() => r()))),
      });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const m = await startMock({
    port: Number(process.env.PORT ?? 8788),
    user: process.env.MOCK_IDP_USER ?? 'dev',
    password: process.env.MOCK_IDP_PASSWORD ?? 'dev',
    log: !!process.env.MOCK_LOG,
  });
  console.log(`mock Airlock API (development aid) on ${m.url} — sign in as dev / dev; live run ${m.url}/runs/view/?id=${m.runID}`);
}
