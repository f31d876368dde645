// The Airlock dashboard: a static export (no server at request time). The Pages
// Router is used on purpose: its only inline <script> is the non-executed
// __NEXT_DATA__ JSON, so the strict CSP in scripts/postbuild.mjs needs no
// 'unsafe-inline' and no hashes (the App Router inlines its RSC payload as
// executable scripts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** @type {import('next').NextConfig} */
const config = {
  output: 'export',
  trailingSlash: true,
  reactStrictMode: true,
  poweredByHeader: false,
  images: { unoptimized: true },
  turbopack: { root: path.resolve(here, '..') },
};

export default config;
