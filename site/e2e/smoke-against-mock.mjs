#!/usr/bin/env node
// Runs dashboard.e2e.mjs against the development mock API (site/dev/mock-api.mjs)
// serving the built site/out with its _headers: a smoke check that the e2e
// script's selectors and flow work before the real stack exists. The real e2e
// runs dashboard.e2e.mjs against the full stack instead. Then a11y.e2e.mjs
// (accessibility, 375 px screens, error and empty states; it starts a mock of
// its own).
//
//   npm run site:build && npm run site:e2e:mock     (screenshots: AIRLOCK_SCREENSHOTS, default build/site-e2e-mock)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMock } from '../dev/mock-api.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, '..', 'out');
if (!existsSync(path.join(out, '_headers'))) {
  console.error('site e2e (mock): site/out/_headers is missing: run npm run site:build first');
  process.exit(2);
}
const mock = await startMock({ port: 0, user: 'e2e-user', password: 'e2e-password' });
console.log(`mock API (development aid) on ${mock.url}`);
// Give the live run's first jobs a moment so there is a log to read.
const child = spawn(process.execPath, [path.join(here, 'dashboard.e2e.mjs')], {
  stdio: 'inherit',
  env: {
    ...process.env,
    AIRLOCK_URL: mock.url,
    AIRLOCK_IDP_USER: 'e2e-user',
    AIRLOCK_IDP_PASSWORD: 'e2e-password',
    AIRLOCK_RUN_ID: mock.runID,
    AIRLOCK_CANCEL_JOB_KEY: mock.cancelJobKey,
    AIRLOCK_AGENT_IDENTITY: 'arn:aws:iam::123456789012:role/airlock-agent',
    AIRLOCK_SCREENSHOTS: process.env.AIRLOCK_SCREENSHOTS ?? path.join(here, '..', '..', 'build', 'site-e2e-mock'),
  },
});
const exited = (c) => new Promise((resolve) => c.on('exit', (code, sig) => resolve(code ?? (sig ? 1 : 0))));
const code = await exited(child);
await mock.close();
const a11y = spawn(process.execPath, [path.join(here, 'a11y.e2e.mjs')], {
  stdio: 'inherit',
  env: { ...process.env, AIRLOCK_SCREENSHOTS: process.env.AIRLOCK_SCREENSHOTS ?? path.join(here, '..', '..', 'build', 'site-e2e-mock') },
});
const a11yCode = await exited(a11y);
process.exit(code || a11yCode);
