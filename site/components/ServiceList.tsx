// The catalog's services as cards: name, owner, lifecycle and tier, the
// description, and its pipelines. Generated at build time from
// .airlock/catalog.yml (pages/services/index.tsx).
import Link from 'next/link';
import type { Service } from '../lib/catalog.ts';

export function Lifecycle({ lifecycle }: { lifecycle: string }) {
  const cls = /^[a-z]+$/.test(lifecycle) ? lifecycle : 'unknown';
  return <span className={`lifecycle lifecycle-${cls}`}>{lifecycle || 'unknown'}</span>;
}

/** TagsFact is a service's tags as a Tags term of a facts list, or nothing. */
export function TagsFact({ tags }: { tags: string[] }) {
  if (!tags.length) return null;
  return (
    <>
      <dt>Tags</dt>
      <dd className="tags">
        {tags.map((t) => (
          <span key={t} className="tag">
            {t}
          </span>
        ))}
      </dd>
    </>
  );
}

export function ServiceList({ services }: { services: Service[] }) {
  return (
    <ul className="service-grid" aria-label="Services">
      {services.map((s) => (
        <li key={s.id} className="service-card" data-testid="service-card" data-service={s.id}>
          <div className="service-head">
            <h2 className="service-name">
              <Link href={`/services/${encodeURIComponent(s.id)}/`} data-testid="service-link">
                {s.name}
              </Link>
            </h2>
            <Lifecycle lifecycle={s.lifecycle} />
            {s.tier !== null ? <span className="tier" title="1 is the most critical">tier {s.tier}</span> : null}
          </div>
          <p className="service-desc">{s.description}</p>
          <dl className="facts">
            <dt>Owner</dt>
            <dd>
              <span className="owner">{s.owner}</span>
            </dd>
            <dt>Pipelines</dt>
            <dd>
              {s.pipelines.map((p) => (
                <span key={p.name} className="pipeline-chip" title={p.file}>
                  {p.name}
                </span>
              ))}
            </dd>
            <TagsFact tags={s.tags} />
          </dl>
        </li>
      ))}
    </ul>
  );
}
