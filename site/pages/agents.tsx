// The agents the control plane knows: who they proved to be (their cloud
// identity), their pool and tags, how busy they are, and when they were last seen.
import { Layout } from '../components/Layout.tsx';
import { Empty, ErrorBox, Loading, StaleNote } from '../components/States.tsx';
import { useNow, usePoll } from '../components/usePoll.ts';
import { api } from '../lib/api.ts';
import { absolute, ago } from '../lib/format.ts';

const RefreshMs = 5000;

export default function Agents() {
  const poll = usePoll(() => api().agents(), RefreshMs, 'agents');
  const now = useNow(5000);
  const agents = poll.data;
  const connected = agents?.filter((a) => a.connected).length ?? 0;

  return (
    <Layout title="Agents">
      <div className="page-head">
        <h1>Agents</h1>
        {agents ? (
          <span className="muted">
            {connected} connected · {agents.length} known
          </span>
        ) : null}
      </div>
      <StaleNote error={agents ? poll.error : null} />
      {poll.loading ? (
        <Loading label="Loading agents…" />
      ) : !agents && poll.error ? (
        <ErrorBox error={poll.error} retry={poll.refresh} />
      ) : !agents || agents.length === 0 ? (
        <Empty title="No agent has connected yet">
          Start one in your cloud with <code>airlock-agent</code>; it proves its identity with the cloud's workload identity, no token needed.
        </Empty>
      ) : (
        <ul className="agent-grid">
          {agents.map((a) => (
            <li key={a.id || a.name} className={`agent-card${a.connected ? '' : ' agent-offline'}`} data-testid="agent-card" data-agent={a.name}>
              <div className="agent-head">
                <span className={`conn-dot${a.connected ? ' conn-on' : ''}`} aria-hidden="true" />
                <h2 className="agent-name">{a.name}</h2>
                <span className={`conn-label${a.connected ? ' conn-on' : ''}`}>{a.connected ? 'Connected' : 'Offline'}</span>
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
                    {Array.from({ length: Math.min(a.slots, 16) }, (_, i) => (
                      <span key={i} className={`slot${i < a.busy ? ' slot-busy' : ''}`} aria-hidden="true" />
                    ))}
                  </span>{' '}
                  {a.busy} of {a.slots} busy
                  {a.current_job ? <span className="muted"> · {a.current_job}</span> : null}
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
                <dt>{a.connected ? 'Connected' : 'Last seen'}</dt>
                <dd>
                  {a.connected ? (
                    <span title={absolute(a.connected_ms)}>{ago(a.connected_ms, now)}</span>
                  ) : (
                    <span title={absolute(a.last_seen_ms)}>{ago(a.last_seen_ms, now)}</span>
                  )}
                  {a.connected && a.last_seen_ms ? (
                    <span className="muted small" title={absolute(a.last_seen_ms)}>
                      {' '}
                      · seen {ago(a.last_seen_ms, now)}
                    </span>
                  ) : null}
                </dd>
              </dl>
            </li>
          ))}
        </ul>
      )}
    </Layout>
  );
}
