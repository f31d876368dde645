// Reads .airlock/catalog.yml at build time (getStaticProps, in Node): the
// dashboard's service pages are generated from it. The full check is the
// JSON Schema in internal/catalog (Go, in CI); this one is enough to fail
// the build with a clear file:line:column message instead of rendering a
// broken page. Never imported by code that runs in the browser.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node as YAMLNode, YAMLMap } from 'yaml';
import type { Catalog, Link, Pipeline, Service } from './catalog.ts';

export const CatalogPath = '.airlock/catalog.yml';

/** CatalogError is an invalid catalog; its message names file:line:column. */
export class CatalogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CatalogError';
  }
}

const slug = /^[a-z0-9][a-z0-9-]{0,62}$/;
const lifecycles = ['experimental', 'production', 'deprecated'];
const serviceKeys = ['id', 'name', 'description', 'owner', 'repository', 'lifecycle', 'tier', 'tags', 'links', 'pipelines'];

/** parseCatalog parses and checks a catalog's text; file names it in errors. */
export function parseCatalog(text: string, file = CatalogPath): Catalog {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, version: '1.2' });
  const problems: string[] = [];
  const at = (node: YAMLNode | null | undefined, msg: string) => {
    const pos = node?.range ? lines.linePos(node.range[0]) : null;
    problems.push(pos ? `${file}:${pos.line}:${pos.col}: ${msg}` : `${file}: ${msg}`);
  };
  for (const e of doc.errors) {
    const pos = lines.linePos(e.pos[0]);
    problems.push(`${file}:${pos.line}:${pos.col}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  if (problems.length) throw new CatalogError(problems.join('\n'));

  const str = (m: YAMLMap, key: string, where: string, required = true): string | null => {
    const n = m.get(key, true) as YAMLNode | undefined;
    if (n === undefined) {
      if (required) at(m, `${where} has no ${key}; it is required`);
      return null;
    }
    if (!isScalar(n) || typeof n.value !== 'string' || n.value.trim() === '') {
      at(n, `${where}.${key}: expected text`);
      return null;
    }
    return n.value;
  };
  const list = (m: YAMLMap, key: string, where: string) => {
    const n = m.get(key, true) as YAMLNode | undefined;
    if (n === undefined) return [];
    if (!isSeq(n)) {
      at(n, `${where}.${key}: expected a list`);
      return [];
    }
    return n.items as YAMLNode[];
  };

  const root = doc.contents;
  if (!isMap(root)) {
    at(root, 'expected a mapping with version and services');
    throw new CatalogError(problems.join('\n'));
  }
  const version = root.get('version', true) as YAMLNode | undefined;
  if (!isScalar(version) || version.value !== 1) at(version ?? root, 'version: expected 1');
  const services: Service[] = [];
  const ids = new Map<string, number>();
  const items = list(root, 'services', 'the file');
  if (items.length === 0) at(root.get('services', true) as YAMLNode | undefined ?? root, 'services: expected at least one service');
  items.forEach((item, i) => {
    const where = `services[${i}]`;
    if (!isMap(item)) return at(item, `${where}: expected a mapping`);
    for (const p of item.items) {
      const k = isScalar(p.key) ? String(p.key.value) : '';
      if (!serviceKeys.includes(k)) at(p.key as YAMLNode, `unknown key ${JSON.stringify(k)} in ${where}; expected one of ${serviceKeys.join(', ')}`);
    }
    const id = str(item, 'id', where);
    if (id !== null && !slug.test(id)) at(item.get('id', true) as YAMLNode, `${where}.id ${JSON.stringify(id)}: expected lower-case letters, digits and '-'`);
    if (id !== null && ids.has(id)) at(item.get('id', true) as YAMLNode, `${where}.id ${JSON.stringify(id)} is already the ID of services[${ids.get(id)}]; IDs must be unique`);
    if (id !== null && !ids.has(id)) ids.set(id, i);
    const lifecycle = str(item, 'lifecycle', where);
    if (lifecycle !== null && !lifecycles.includes(lifecycle)) at(item.get('lifecycle', true) as YAMLNode, `${where}.lifecycle ${JSON.stringify(lifecycle)}: expected ${lifecycles.join(', ')}`);
    const tierNode = item.get('tier', true) as YAMLNode | undefined;
    let tier: number | null = null;
    if (tierNode !== undefined) {
      if (isScalar(tierNode) && (tierNode.value === 1 || tierNode.value === 2 || tierNode.value === 3)) tier = tierNode.value;
      else at(tierNode, `${where}.tier: expected 1, 2 or 3`);
    }
    const links: Link[] = [];
    list(item, 'links', where).forEach((ln, j) => {
      if (!isMap(ln)) return at(ln, `${where}.links[${j}]: expected a mapping with title and url`);
      const title = str(ln, 'title', `${where}.links[${j}]`);
      const url = str(ln, 'url', `${where}.links[${j}]`);
      if (url !== null && !/^https:\/\/[^\s/?#]+/.test(url)) at(ln.get('url', true) as YAMLNode, `${where}.links[${j}].url ${JSON.stringify(url)}: expected an https:// URL`);
      else if (title !== null && url !== null) links.push({ title, url });
    });
    const pipelines: Pipeline[] = [];
    const pipelineItems = list(item, 'pipelines', where);
    if (pipelineItems.length === 0) at(item, `${where}.pipelines: expected at least one pipeline`);
    pipelineItems.forEach((pn, j) => {
      if (!isMap(pn)) return at(pn, `${where}.pipelines[${j}]: expected a mapping with name and file`);
      const name = str(pn, 'name', `${where}.pipelines[${j}]`);
      const file = str(pn, 'file', `${where}.pipelines[${j}]`);
      const branch = str(pn, 'branch', `${where}.pipelines[${j}]`, false);
      if (file !== null && (file.startsWith('/') || file.split('/').includes('..') || !/\.ya?ml$/.test(file))) {
        at(pn.get('file', true) as YAMLNode, `${where}.pipelines[${j}].file ${JSON.stringify(file)}: expected a .yml path from the repository root`);
      } else if (name !== null && file !== null) pipelines.push({ name, file, branch });
    });
    const tags = list(item, 'tags', where).flatMap((t) => (isScalar(t) && typeof t.value === 'string' ? [t.value] : (at(t, `${where}.tags: expected text`), [])));
    const s = {
      id: id ?? '',
      name: str(item, 'name', where) ?? '',
      description: str(item, 'description', where) ?? '',
      owner: str(item, 'owner', where) ?? '',
      repository: str(item, 'repository', where) ?? '',
      lifecycle: lifecycle ?? '',
      tier,
      tags,
      links,
      pipelines,
    };
    services.push(s);
  });
  if (problems.length) throw new CatalogError(`the service catalog is invalid (see internal/catalog/catalog.schema.json):\n  ${problems.join('\n  ')}`);
  return { version: 1, services };
}

/**
 * findCatalog is the catalog file: $AIRLOCK_CATALOG, or .airlock/catalog.yml
 * in the working directory or the nearest directory above it.
 */
export function findCatalog(start = process.cwd()): string {
  if (process.env.AIRLOCK_CATALOG) return path.resolve(process.env.AIRLOCK_CATALOG);
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    const p = path.join(dir, CatalogPath);
    if (existsSync(p)) return p;
    if (path.dirname(dir) === dir) throw new CatalogError(`${CatalogPath} not found in ${start} or above it (set AIRLOCK_CATALOG to its path)`);
  }
}

let cached: { file: string; catalog: Catalog } | null = null;

/** loadCatalog reads and checks the catalog once per build. */
export function loadCatalog(): Catalog {
  const file = findCatalog();
  if (cached?.file === file) return cached.catalog;
  const rel = path.relative(process.cwd(), file) || file;
  const catalog = parseCatalog(readFileSync(file, 'utf8'), rel);
  cached = { file, catalog };
  return catalog;
}
