import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, ApiError, SignedOutError, isNotFound } from '../lib/api.ts';

interface Call {
  url: string;
  init: RequestInit;
}

function fake(responses: Array<() => Response>, where = { pathname: '/runs/view/', search: '?id=r_1' }) {
  const calls: Call[] = [];
  const navigations: string[] = [];
  let i = 0;
  const client = new Client({
    fetch: (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return responses[Math.min(i++, responses.length - 1)]();
    }) as typeof fetch,
    location: () => where,
    navigate: (u) => navigations.push(u),
  });
  return { client, calls, navigations };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => () =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

test('a 401 sends the browser to sign-in with the page, once', async () => {
  const { client, navigations } = fake([json(401, { error: 'no session', signin: '/signin/' })]);
  await assert.rejects(client.runs(), SignedOutError);
  await assert.rejects(client.agents(), SignedOutError);
  assert.deepEqual(navigations, ['/signin/?return_to=%2Fruns%2Fview%2F%3Fid%3Dr_1']);
});

test('noRedirect reports a 401 without leaving the page', async () => {
  const { client, navigations } = fake([json(401, { error: 'no session' })]);
  await assert.rejects(client.me({ noRedirect: true }), SignedOutError);
  assert.deepEqual(navigations, []);
});

test('GET sends the cookie and no body', async () => {
  const { client, calls } = fake([json(200, { runs: [{ id: 'r_1' }] })]);
  const runs = await client.runs(50);
  assert.equal(runs[0].id, 'r_1');
  assert.equal(calls[0].url, '/v1/runs?limit=50');
  assert.equal(calls[0].init.method, 'GET');
  assert.equal(calls[0].init.credentials, 'same-origin');
  assert.equal(calls[0].init.body, undefined);
});

test('state-changing calls send JSON', async () => {
  const { client, calls } = fake([() => new Response(null, { status: 204 }), json(202, { id: 'r_1', jobs: [] }), json(200, { ended: 2 })]);
  await client.logout();
  await client.cancelJob('r_1', 'a b');
  assert.deepEqual(await client.endUserSessions('u/1'), { ended: 2 });
  assert.deepEqual(
    calls.map((c) => [c.init.method, c.url, (c.init.headers as Record<string, string>)['Content-Type'], c.init.body]),
    [
      ['POST', '/auth/logout', 'application/json', '{}'],
      ['POST', '/v1/runs/r_1/jobs/a%20b/cancel', 'application/json', '{}'],
      ['DELETE', '/v1/users/u%2F1/sessions', 'application/json', '{}'],
    ],
  );
});

test('errors carry the server message and error ID', async () => {
  const { client, navigations } = fake([json(404, { error: 'run "x" not found' }), json(500, { error: 'internal error', id: 'err_7' }), () => new Response('oops', { status: 502 })]);
  await assert.rejects(client.run('x'), (e: unknown) => e instanceof ApiError && e.status === 404 && e.message === 'run "x" not found');
  await assert.rejects(client.run('x'), (e: unknown) => e instanceof ApiError && /err_7/.test(e.message));
  await assert.rejects(client.run('x'), (e: unknown) => e instanceof ApiError && e.status === 502 && /HTTP 502/.test(e.message));
  assert.deepEqual(navigations, []);
});

test('a network failure is an ApiError with status 0', async () => {
  const client = new Client({
    fetch: (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch,
    location: () => ({ pathname: '/', search: '' }),
    navigate: () => {},
  });
  await assert.rejects(client.agents(), (e: unknown) => e instanceof ApiError && e.status === 0);
});

test('log pages read the sequence and end headers', async () => {
  const { client, calls } = fake([
    () => new Response('line 1\n', { status: 200, headers: { 'Airlock-Log-Seq': '7', 'Airlock-Log-End': 'false' } }),
    () => new Response('', { status: 200, headers: { 'Airlock-Log-Seq': '7', 'Airlock-Log-End': 'true' } }),
  ]);
  assert.deepEqual(await client.log('r_1', 'build', 0), { text: 'line 1\n', seq: 7, end: false });
  assert.deepEqual(await client.log('r_1', 'build', 7, 2), { text: '', seq: 7, end: true });
  assert.equal(calls[0].url, '/v1/runs/r_1/jobs/build/log?after=0');
  assert.equal(calls[1].url, '/v1/runs/r_1/jobs/build/log?after=7&attempt=2');
});

test('retry and rebuild POST {} as JSON to their endpoints', async () => {
  const { client, calls } = fake([json(202, { id: 'r_1', jobs: [] }), json(201, { id: 'r_2', number: 8, jobs: [], rebuild_of: 'r_1' })]);
  await client.retryJob('r_1', 'unit/tests');
  const rebuilt = await client.rebuild('r_1');
  assert.equal(rebuilt.id, 'r_2');
  assert.equal(rebuilt.rebuild_of, 'r_1');
  assert.deepEqual(
    calls.map((c) => [c.init.method, c.url, c.init.body, (c.init.headers as Record<string, string>)['Content-Type']]),
    [
      ['POST', '/v1/runs/r_1/jobs/unit%2Ftests/retry', '{}', 'application/json'],
      ['POST', '/v1/runs/r_1/rebuild', '{}', 'application/json'],
    ],
  );
});

test('a 409 from retry is an ApiError with the server’s message', async () => {
  const { client } = fake([json(409, { error: 'job "unit" of run "r_1" is passed: it passed' })]);
  await assert.rejects(client.retryJob('r_1', 'unit'), (e: ApiError) => e.status === 409 && /it passed/.test(e.message));
});

test('isNotFound: a 404 from the API, nothing else', () => {
  assert.equal(isNotFound(new ApiError(404, 'run "x" not found')), true);
  assert.equal(isNotFound(new ApiError(500, 'boom')), false);
  assert.equal(isNotFound(new ApiError(0, 'offline')), false);
  assert.equal(isNotFound(new Error('404')), false);
  assert.equal(isNotFound(null), false);
});
