// The service catalog (.airlock/catalog.yml) as the pages use it: the types
// getStaticProps hands them, and which runs belong to a service. Reading
// and checking the file is lib/catalogFile.ts, at build time only.
import type { RunSummary } from './api.ts';

export interface Link {
  title: string;
  url: string;
}

export interface Pipeline {
  name: string;
  /** from the repository root, such as .airlock/pipeline.yml */
  file: string;
  /** the branch it builds by default; null when not given */
  branch: string | null;
}

export interface Service {
  id: string;
  name: string;
  description: string;
  owner: string;
  /** host/owner/name, such as github.com/airlockci/airlock */
  repository: string;
  lifecycle: 'experimental' | 'production' | 'deprecated' | string;
  /** 1 (most critical) to 3; null when not given */
  tier: number | null;
  tags: string[];
  links: Link[];
  pipelines: Pipeline[];
}

export interface Catalog {
  version: 1;
  services: Service[];
}

/**
 * normalizeRepository reduces the ways a repository is written
 * (https://github.com/a/b.git, git@github.com:a/b, github.com/a/b) to
 * host/owner/name in lower case.
 */
export function normalizeRepository(repo: string): string {
  let r = repo.trim().toLowerCase();
  r = r.replace(/^[a-z][a-z0-9+.-]*:\/\//, ''); // scheme
  r = r.replace(/^[^@/]+@([^:/]+):/, '$1/'); // git@host:owner/name
  r = r.replace(/^[^@/]+@/, ''); // user@ in a URL
  r = r.replace(/\.git$/, '').replace(/\/+$/, '');
  return r;
}

/**
 * isLocalCheckout: a run submitted against a local control plane (make dev)
 * names the checkout's path as its repository, so that agents on the same
 * machine can clone it; it says nothing about which repository that is.
 */
export function isLocalCheckout(repo: string): boolean {
  return repo.startsWith('/') || repo.startsWith('file:');
}

/**
 * runsOf picks the runs of a service: a run of one of its pipeline files,
 * from its repository. A run without a repository, or from a local checkout
 * (development), is matched by its pipeline file alone.
 */
export function runsOf<R extends RunSummary>(service: Service, runs: R[]): R[] {
  const files = new Set(service.pipelines.map((p) => p.file.replace(/^\.\//, '')));
  const repo = normalizeRepository(service.repository);
  return runs.filter((r) => {
    if (!files.has(r.filename.replace(/^\.\//, ''))) return false;
    return !r.repository || isLocalCheckout(r.repository) || normalizeRepository(r.repository) === repo;
  });
}

/** pipelineOf is the service's pipeline a run is of, if any. */
export function pipelineOf(service: Service, run: RunSummary): Pipeline | undefined {
  const f = run.filename.replace(/^\.\//, '');
  return service.pipelines.find((p) => p.file.replace(/^\.\//, '') === f);
}

/** repositoryURL is a browsable https URL for host/owner/name. */
export function repositoryURL(repository: string): string {
  return `https://${normalizeRepository(repository)}`;
}
