// One agent: who it proved to be (its cloud identity), its pool and tags,
// the jobs it holds (each a link to its run), its version, and its last
// heartbeat, or when it disconnected.
import Link from 'next/link';
import type { Agent } from '../lib/api.ts';
import { absolute, ago, displayLabel } from '../lib/format.ts';

export function AgentCard({ agent: a, now }: { agent: Agent; now: number }) {
  const jobs = a.jobs ?? [];
  return (
    <li className={`agent-card${a.connected ? '' : ' agent-offline'}`} data-testid="agent-card" data-agent={a.name} data-connected={a.connected}>
      <div className="agent-head">
        <span className={`conn-dot${a.connected ? ' conn-on' : ''}`} aria-hidden="true" />
        <h3 className="agent-name">{a.name}</h3>
        <span className={`conn-label${a.connected ? ' conn-on' : ''}`}>{a.connected ? 'Connected' : 'Disconnected'}</span>
      </div>
      <dl className="facts">
        <dt>Identity</dt>
        <dd>
          <code className="identity" data-testid="agent-identity">
            {a.identity || '—'}
          </code>
        </dd>
        <dt>Pool</dt>
        <dd>{a.pool || <span className="muted">—</span>}</dd>
        <dt>Jobs</dt>
        <dd>
          <span className="slots" aria-label={`${a.busy} of ${a.slots} slots busy`}>
            {Array.from({ length: Math.min(Math.max(a.slots, 0), 16) }, (_, i) => (
              <span key={i} className={`slot${i < a.busy ? ' slot-busy' : ''}`} aria-hidden="true" />
            ))}
          </span>{' '}
          {a.busy} of {a.slots} busy
          {jobs.length ? (
            <ul className="agent-jobs" aria-label={`Jobs on ${a.name}`}>
              {jobs.map((j) => (
                <li key={`${j.run_id}/${j.key}`} data-testid="agent-job">
                  <Link href={`/runs/view/?id=${encodeURIComponent(j.run_id)}&job=${encodeURIComponent(j.key)}`}>
                    #{j.run_number} {displayLabel(j.label, j.key)}
                  </Link>{' '}
                  <span className="muted small">{j.started_ms ? <span title={absolute(j.started_ms)}>started {ago(j.started_ms, now)}</span> : 'assigned'}</span>
                </li>
              ))}
            </ul>
          ) : null}
        </dd>
        {a.tags && Object.keys(a.tags).length ? (
          <>
            <dt>Tags</dt>
            <dd className="tags">
              {Object.entries(a.tags)
                .sort(([x], [y]) => x.localeCompare(y))
                .map(([k, v]) => (
                  <span key={k} className="tag">
                    {k}={v}
                  </span>
                ))}
            </dd>
          </>
        ) : null}
        <dt>Version</dt>
        <dd>{a.version || <span className="muted">—</span>}</dd>
        <dt>Last heartbeat</dt>
        <dd>
          <span title={absolute(a.last_seen_ms)} data-testid="agent-heartbeat">
            {ago(a.last_seen_ms, now)}
          </span>
        </dd>
        {a.connected ? (
          <>
            <dt>Connected</dt>
            <dd>
              <span title={absolute(a.connected_ms)}>{ago(a.connected_ms, now)}</span>
            </dd>
          </>
        ) : (
          <>
            <dt>Disconnected</dt>
            <dd>
              <span title={absolute(a.disconnected_ms || a.last_seen_ms)}>{ago(a.disconnected_ms || a.last_seen_ms, now)}</span>
            </dd>
          </>
        )}
      </dl>
    </li>
  );
}

/** byPool groups agents by pool, pools by name ("" last, as "No pool"). */
export function byPool(agents: Agent[]): Array<[string, Agent[]]> {
  const groups = new Map<string, Agent[]>();
  for (const a of agents) {
    const g = groups.get(a.pool) ?? [];
    g.push(a);
    groups.set(a.pool, g);
  }
  return [...groups.entries()].sort(([x], [y]) => (x === '' ? 1 : y === '' ? -1 : x.localeCompare(y)));
}
