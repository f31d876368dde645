import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { RunSummary } from '../lib/api.ts';
import { normalizeRepository, runsOf } from '../lib/catalog.ts';
import { CatalogError, loadCatalog, parseCatalog } from '../lib/catalogFile.ts';

test('the committed catalog parses, as the build reads it', () => {
  const c = loadCatalog();
  assert.ok(c.services.length > 0);
  const ids = c.services.map((s) => s.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const s of c.services) assert.ok(s.pipelines.length > 0, `${s.id} has pipelines`);
  assert.deepEqual(parseCatalog(readFileSync(new URL('../../.airlock/catalog.yml', import.meta.url), 'utf8')), c);
});

const valid = `version: 1
services:
  - id: web
    name: Web
    description: The shop.
    owner: storefront
    repository: github.com/acme/web
    lifecycle: production
    links: [{title: Runbook, url: "https://wiki.example.com/web"}]
    pipelines:
      - {name: ci, file: .airlock/pipeline.yml, branch: main}
`;

test('parseCatalog: the fields, with nulls for what is not given', () => {
  const c = parseCatalog(valid);
  assert.deepEqual(c.services[0], {
    id: 'web',
    name: 'Web',
    description: 'The shop.',
    owner: 'storefront',
    repository: 'github.com/acme/web',
    lifecycle: 'production',
    tier: null,
    tags: [],
    links: [{ title: 'Runbook', url: 'https://wiki.example.com/web' }],
    pipelines: [{ name: 'ci', file: '.airlock/pipeline.yml', branch: 'main' }],
  });
});

test('parseCatalog: an invalid catalog fails with file:line:column', () => {
  const cases: Array<[string, RegExp]> = [
    [valid.replace('version: 1', 'version: 2'), /catalog\.yml:1:10: version: expected 1/],
    [valid.replace('    owner: storefront\n', ''), /catalog\.yml:3:5: services\[0\] has no owner/],
    [valid.replace('    lifecycle: production', '    lifecycle: prod'), /catalog\.yml:8:16: services\[0\]\.lifecycle "prod"/],
    [valid.replace('    lifecycle: production', '    lifecycle: production\n    oncall: bob'), /catalog\.yml:9:5: unknown key "oncall" in services\[0\]/],
    [valid.replace('https://wiki', 'javascript://wiki'), /links\[0\]\.url "javascript:\/\/wiki\.example\.com\/web": expected an https:\/\/ URL/],
    [valid.replace('file: .airlock/pipeline.yml', 'file: ../x.yml'), /pipelines\[0\]\.file "\.\.\/x\.yml"/],
    [valid + valid.slice(valid.indexOf('  - id')), /services\[1\]\.id "web" is already the ID of services\[0\]/],
    [valid.replace('    owner: storefront', '    owner: storefront\n    owner: other'), /catalog\.yml:7:5: invalid YAML: Map keys must be unique/],
    ['version: 1\nservices: [\n', /catalog\.yml:\d+:\d+: invalid YAML/],
    ['- 1\n', /expected a mapping with version and services/],
  ];
  for (const [src, want] of cases) {
    assert.throws(() => parseCatalog(src, '.airlock/catalog.yml'), (e: Error) => e instanceof CatalogError && want.test(e.message), `want ${want}`);
  }
});

test('normalizeRepository: the ways a repository is written', () => {
  for (const r of ['github.com/Acme/Web', 'https://github.com/acme/web.git', 'git@github.com:acme/web.git', 'ssh://git@github.com/acme/web', 'https://github.com/acme/web/']) {
    assert.equal(normalizeRepository(r), 'github.com/acme/web', r);
  }
});

test('runsOf: runs of the service’s pipeline files, from its repository or none given', () => {
  const c = parseCatalog(valid);
  const run = (id: string, filename: string, repository?: string): RunSummary => ({ id, number: 1, state: 'passed', filename, repository, created_ms: 1 });
  const runs = [run('a', '.airlock/pipeline.yml'), run('b', './.airlock/pipeline.yml', 'https://github.com/acme/web.git'), run('c', '.airlock/pipeline.yml', 'github.com/acme/other'), run('d', 'other.yml'),
    run('e', '.airlock/pipeline.yml', '/home/dev/web'), run('f', 'other.yml', '/home/dev/web')];
  // e: a local checkout (make dev) says nothing about which repository it is.
  assert.deepEqual(runsOf(c.services[0], runs).map((r) => r.id), ['a', 'b', 'e']);
});
