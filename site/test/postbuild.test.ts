import { test } from 'node:test';
import assert from 'node:assert/strict';
// @ts-expect-error: a plain .mjs build script without type declarations
import { scan, contentSecurityPolicy } from '../scripts/postbuild.mjs';

test('data scripts and external scripts need no hash', () => {
  const html = '<script id="__NEXT_DATA__" type="application/json">{"a":1}</script><script src="/_next/x.js" defer=""></script>';
  assert.deepEqual(scan(html), { scripts: [], problems: [] });
});

test('an inline script is hashed', () => {
  const { scripts, problems } = scan('<script>alert(1)</script>');
  assert.deepEqual(problems, []);
  assert.deepEqual(scripts, ["'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"]);
});

test('what no hash can allow is reported', () => {
  const cases: Array<[string, string]> = [
    ['<div style="color:red"></div>', 'a style="" attribute'],
    ['<style>p{}</style>', 'an inline <style> element'],
    ['<button onclick="x()">', 'an inline event handler attribute (on…=)'],
    ['<a href="javascript:alert(1)">', 'a javascript: URL'],
  ];
  for (const [html, want] of cases) assert.deepEqual(scan(html).problems, [want], html);
});

test('the policy is the strict one', () => {
  const csp = contentSecurityPolicy([]);
  assert.match(csp, /^default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';/);
  assert.match(csp, /frame-ancestors 'none'; base-uri 'none'; form-action 'self'$/);
  assert.doesNotMatch(csp, /unsafe/);
});
