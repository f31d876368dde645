#!/usr/bin/env node
// After `next build`: write site/out/_headers (Cloudflare Pages / Workers static
// assets) with a strict Content-Security-Policy and the other security headers.
//
// The policy allows scripts and styles from 'self' only, exactly: no hashes,
// no 'unsafe-inline'. Next.js's Pages Router keeps its data in a non-executed
// <script type="application/json">, and its webpack build (next build
// --webpack) emits no other inline script. (The Turbopack build adds an inline
// chunk-list script per page; pass --allow-script-hashes to hash such scripts
// into script-src instead of failing, if the policy is only ever the one this
// file writes.) Anything a hash cannot allow without
// 'unsafe-inline' / 'unsafe-hashes' — style="" attributes, inline event
// handlers (onclick=…), javascript: URLs — fails the build, as does an inline
// <style> (hashed into style-src instead would work, but we have none and want
// to keep it that way: styles live in styles/globals.css).
//
// Usage: node site/scripts/postbuild.mjs [--allow-script-hashes] [outDir]   (default: site/out)
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? path.join(here, '..', 'out'));

/** Script types a browser does not execute (data blocks): CSP does not apply. */
const dataTypes = new Set(['application/json', 'application/ld+json', 'text/plain']);

function* htmlFiles(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* htmlFiles(p);
    else if (name.endsWith('.html')) yield p;
  }
}

function attr(tag, name) {
  const m = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  return m ? (m[2] ?? m[3] ?? m[4] ?? '') : null;
}

const sha256 = (text) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** scan returns the hashes of a page's inline scripts and the problems a hash cannot fix. */
export function scan(html) {
  const scripts = new Set();
  const problems = [];
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
    const [, attrs, body] = m;
    if (attr(` ${attrs}`, 'src') !== null) {
      if (body.trim()) problems.push('a <script src> with inline content');
      continue;
    }
    const type = (attr(` ${attrs}`, 'type') ?? '').trim().toLowerCase();
    if (dataTypes.has(type)) continue;
    if (body === '') continue;
    scripts.add(sha256(body));
  }
  // Everything outside script bodies, for attribute checks.
  const markup = html.replace(/<script\b[^>]*>[\s\S]*?<\/script\s*>/gi, '<script></script>');
  if (/<style\b/i.test(markup)) problems.push('an inline <style> element');
  if (/<[a-z][^>]*\sstyle\s*=/i.test(markup)) problems.push('a style="" attribute');
  if (/<[a-z][^>]*\son[a-z]+\s*=/i.test(markup)) problems.push('an inline event handler attribute (on…=)');
  if (/\s(?:href|src|action)\s*=\s*["']?\s*javascript:/i.test(markup)) problems.push('a javascript: URL');
  return { scripts: [...scripts], problems };
}

export function contentSecurityPolicy(scriptHashes) {
  return [
    "default-src 'self'",
    ["script-src 'self'", ...scriptHashes].join(' '),
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

export function headersFile(csp) {
  return `# Written by site/scripts/postbuild.mjs after next build: do not edit.
# Cloudflare Pages / Workers static assets headers.
/*
  Content-Security-Policy: ${csp}
  X-Content-Type-Options: nosniff
  Referrer-Policy: no-referrer
  X-Frame-Options: DENY
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Resource-Policy: same-origin
  Strict-Transport-Security: max-age=63072000; includeSubDomains
  Permissions-Policy: accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()

/_next/static/*
  Cache-Control: public, max-age=31536000, immutable
`;
}

function main() {
  const hashes = new Set();
  const failures = [];
  let pages = 0;
  for (const file of htmlFiles(outDir)) {
    pages++;
    const { scripts, problems } = scan(readFileSync(file, 'utf8'));
    scripts.forEach((h) => hashes.add(h));
    for (const p of problems) failures.push(`${path.relative(outDir, file)}: ${p} — not allowed by the site's CSP`);
  }
  if (pages === 0) failures.push(`${outDir}: no HTML pages: run next build first`);
  if (hashes.size && !process.argv.includes('--allow-script-hashes')) {
    failures.push(
      `${hashes.size} executable inline script(s) (${[...hashes].join(' ')}): the policy is script-src 'self' without hashes; build with next build --webpack, or pass --allow-script-hashes`,
    );
  }
  if (failures.length) {
    console.error(`postbuild: the export breaks the Content-Security-Policy:\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  const csp = contentSecurityPolicy([...hashes].sort());
  writeFileSync(path.join(outDir, '_headers'), headersFile(csp));
  console.log(`postbuild: ${pages} pages, ${hashes.size} inline script hash(es); wrote ${path.relative(process.cwd(), path.join(outDir, '_headers'))}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
