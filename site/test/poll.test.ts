// The polling loop behind usePoll (lib/poll.ts), on node:test's mock timers:
// it asks again every interval, stops at an error that asking again cannot
// fix (a 404 for an unknown run), stops at a 401, and pauses while hidden.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, isNotFound, SignedOutError } from '../lib/api.ts';
import { startPoll } from '../lib/poll.ts';

/** settle lets the loop's promises (load, then the next setTimeout) run. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function harness(t: TestContext, answer: () => Promise<string>, hidden = () => false) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const seen = { loads: 0, data: [] as string[], errors: [] as Error[] };
  const poller = startPoll<string>({
    load: () => {
      seen.loads++;
      return answer();
    },
    intervalMs: 2000,
    onData: (d) => seen.data.push(d),
    onError: (e) => seen.errors.push(e),
    final: isNotFound,
    hidden,
  });
  return { poller, seen };
}

test('poll: loads now and again every interval', async (t) => {
  const { poller, seen } = harness(t, async () => 'ok');
  await settle();
  assert.equal(seen.loads, 1);
  t.mock.timers.tick(2000);
  await settle();
  t.mock.timers.tick(2000);
  await settle();
  assert.equal(seen.loads, 3);
  assert.deepEqual(seen.data, ['ok', 'ok', 'ok']);
  poller.stop();
  t.mock.timers.tick(10_000);
  await settle();
  assert.equal(seen.loads, 3);
});

test('poll: a 404 is shown and stops the polling; resume does not restart it', async (t) => {
  const { poller, seen } = harness(t, () => Promise.reject(new ApiError(404, 'run "nope" not found')));
  await settle();
  assert.equal(seen.loads, 1);
  assert.equal(seen.errors.length, 1);
  assert.equal((seen.errors[0] as ApiError).status, 404);
  assert.equal(poller.stopped, true);
  t.mock.timers.tick(60_000);
  await settle();
  poller.resume(); // the tab shown again
  await settle();
  assert.equal(seen.loads, 1);
});

test('poll: other errors are shown and asked again (the control plane may come back)', async (t) => {
  let n = 0;
  const { poller, seen } = harness(t, () => (++n < 3 ? Promise.reject(new ApiError(503, 'busy')) : Promise.resolve('back')));
  await settle();
  t.mock.timers.tick(2000);
  await settle();
  t.mock.timers.tick(2000);
  await settle();
  assert.equal(seen.loads, 3);
  assert.equal(seen.errors.length, 2);
  assert.deepEqual(seen.data, ['back']);
  assert.equal(poller.stopped, false);
  poller.stop();
});

test('poll: a 401 (already on the way to sign-in) is not shown and stops the polling', async (t) => {
  const { poller, seen } = harness(t, () => Promise.reject(new SignedOutError()));
  await settle();
  t.mock.timers.tick(10_000);
  await settle();
  assert.equal(seen.loads, 1);
  assert.equal(seen.errors.length, 0);
  assert.equal(poller.stopped, true);
});

test('poll: nothing is asked while hidden; resume asks once, not twice', async (t) => {
  let hidden = true;
  const { poller, seen } = harness(t, async () => 'ok', () => hidden);
  await settle();
  assert.equal(seen.loads, 0);
  hidden = false;
  poller.resume();
  poller.resume(); // a second visibilitychange while the first load is out
  await settle();
  assert.equal(seen.loads, 1);
  t.mock.timers.tick(2000);
  await settle();
  assert.equal(seen.loads, 2);
  poller.stop();
});
