import { test } from 'node:test';
import assert from 'node:assert/strict';
import { safeReturnTo, signinURL, loginURL } from '../lib/returnTo.ts';

test('safeReturnTo keeps same-site paths and refuses the rest', () => {
  const cases: Array<[string | null | undefined, string]> = [
    ['/runs/view/?id=r_1', '/runs/view/?id=r_1'],
    ['/sessions/', '/sessions/'],
    ['/agents/?x=1#top', '/agents/?x=1#top'],
    ['/', '/'],
    [null, '/'],
    [undefined, '/'],
    ['', '/'],
    ['https://evil.example/', '/'],
    ['//evil.example/x', '/'],
    ['/\\evil.example', '/'],
    ['\\\\evil.example', '/'],
    ['javascript:alert(1)', '/'],
    ['/\tfoo', '/'],
    ['runs/', '/'],
    ['/signin/?return_to=/x', '/'],
    ['/signin', '/'],
    ['/auth/login?provider=dev', '/'],
    ['/a/../b', '/b'],
    ['/' + 'x'.repeat(3000), '/'],
  ];
  for (const [raw, want] of cases) assert.equal(safeReturnTo(raw), want, `safeReturnTo(${JSON.stringify(raw)})`);
});

test('signinURL carries the current page', () => {
  assert.equal(signinURL('/runs/view/?id=r_1&job=build'), '/signin/?return_to=%2Fruns%2Fview%2F%3Fid%3Dr_1%26job%3Dbuild');
  assert.equal(signinURL('/signin/?return_to=/x'), '/signin/?return_to=%2F');
});

test('loginURL names the provider and a safe return_to', () => {
  assert.equal(loginURL('dev', '/sessions/'), '/auth/login?provider=dev&return_to=%2Fsessions%2F');
  assert.equal(loginURL('dev', 'https://evil.example'), '/auth/login?provider=dev&return_to=%2F');
});
