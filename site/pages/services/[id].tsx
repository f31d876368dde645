// One service of the catalog: what it is, who owns it, its links and
// pipelines (from .airlock/catalog.yml, at build time), and its recent runs
// (from the API, live: the runs of its pipeline files).
import type { GetStaticPaths, GetStaticProps } from 'next';
import Link from 'next/link';
import { useMemo } from 'react';
import { Layout } from '../../components/Layout.tsx';
import { RunsTable } from '../../components/RunsTable.tsx';
import { Lifecycle, TagsFact } from '../../components/ServiceList.tsx';
import { Empty, ErrorBox, Loading, StaleNote } from '../../components/States.tsx';
import { useNow, usePoll } from '../../components/usePoll.ts';
import { api } from '../../lib/api.ts';
import { repositoryURL, runsOf } from '../../lib/catalog.ts';
import type { Service } from '../../lib/catalog.ts';
import { loadCatalog } from '../../lib/catalogFile.ts';

const RefreshMs = 5000;

interface Props {
  service: Service;
}

export const getStaticPaths: GetStaticPaths = async () => ({
  paths: loadCatalog().services.map((s) => ({ params: { id: s.id } })),
  fallback: false,
});

export const getStaticProps: GetStaticProps<Props> = async ({ params }) => {
  const service = loadCatalog().services.find((s) => s.id === params?.id);
  if (!service) return { notFound: true };
  return { props: { service } };
};

export default function ServicePage({ service: s }: Props) {
  const poll = usePoll(() => api().runs(100), RefreshMs, `service-runs:${s.id}`);
  const now = useNow(1000);
  const runs = useMemo(() => (poll.data ? runsOf(s, poll.data) : undefined), [poll.data, s]);

  return (
    <Layout title={s.name}>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/services/">Services</Link> <span aria-hidden="true">/</span> <span>{s.name}</span>
      </nav>
      <div className="page-head">
        <div>
          <h1 data-testid="service-name">
            {s.name} <Lifecycle lifecycle={s.lifecycle} />
          </h1>
          <p className="muted small">
            <code>{s.id}</code>
            {s.tier !== null ? <span> · tier {s.tier}</span> : null}
          </p>
        </div>
      </div>
      <p className="service-desc" data-testid="service-description">
        {s.description}
      </p>
      <div className="service-body">
        <section className="panel" aria-labelledby="about-h">
          <h2 id="about-h" className="panel-title">
            About
          </h2>
          <dl className="facts">
            <dt>Owner</dt>
            <dd data-testid="service-owner">{s.owner}</dd>
            <dt>Repository</dt>
            <dd>
              <a href={repositoryURL(s.repository)} rel="noopener noreferrer">
                {s.repository}
              </a>
            </dd>
            <TagsFact tags={s.tags} />
          </dl>
          {s.links.length ? (
            <>
              <h3 className="sub-title">Links</h3>
              <ul className="link-list" data-testid="service-links">
                {s.links.map((l) => (
                  <li key={l.url}>
                    <a href={l.url} rel="noopener noreferrer">
                      {l.title}
                    </a>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </section>
        <section className="panel" aria-labelledby="pipelines-h">
          <h2 id="pipelines-h" className="panel-title">
            Pipelines
          </h2>
          <ul className="pipeline-list" data-testid="service-pipelines">
            {s.pipelines.map((p) => (
              <li key={p.name} data-testid="service-pipeline">
                <span className="pipeline-name">{p.name}</span> <code>{p.file}</code>
                {p.branch ? <span className="branch">{p.branch}</span> : null}
                <span className="muted small run-hint">
                  {' '}
                  <code>airlock run {p.file}</code>
                </span>
              </li>
            ))}
          </ul>
        </section>
      </div>
      <section className="section" aria-labelledby="runs-h" data-testid="service-runs">
        <h2 id="runs-h">Recent runs</h2>
        <StaleNote error={runs ? poll.error : null} />
        {poll.loading ? (
          <Loading label="Loading runs…" />
        ) : !runs && poll.error ? (
          <ErrorBox error={poll.error} retry={poll.refresh} />
        ) : !runs || runs.length === 0 ? (
          <Empty title="No recent run of this service">
            Runs of <code>{s.pipelines.map((p) => p.file).join(', ')}</code> appear here.
          </Empty>
        ) : (
          <RunsTable runs={runs} now={now} caption={`Recent runs of ${s.name}`} />
        )}
      </section>
    </Layout>
  );
}
