// Bundles components.entry.tsx with esbuild (JSX, TypeScript, next/link and
// React in one CommonJS file under the OS's temp directory) and loads it, so
// that node:test can render components with react-dom/server.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

type Entry = typeof import('./components.entry.tsx');

export function loadComponents(): Entry {
  const dir = mkdtempSync(path.join(tmpdir(), 'airlock-site-test-'));
  const outfile = path.join(dir, 'components.cjs');
  try {
    buildSync({
      entryPoints: [fileURLToPath(new URL('./components.entry.tsx', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      jsx: 'automatic',
      outfile,
      logLevel: 'error',
      // As next.config.mjs builds the site: next/link keeps the trailing slash.
      define: { 'process.env.NODE_ENV': '"test"', 'process.env.__NEXT_TRAILING_SLASH': 'true' },
    });
    return createRequire(import.meta.url)(outfile) as Entry;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
