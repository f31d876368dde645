// The agents: those connected, grouped by pool, with who they proved to be
// (their cloud identity), their tags, the jobs they hold and their last
// heartbeat; then those that disconnected in the last 24 hours.
import { AgentCard, byPool } from '../components/AgentCard.tsx';
import { Layout } from '../components/Layout.tsx';
import { Empty, ErrorBox, Loading, StaleNote } from '../components/States.tsx';
import { useNow, usePoll } from '../components/usePoll.ts';
import { api } from '../lib/api.ts';

const RefreshMs = 5000;

export default function Agents() {
  const poll = usePoll(() => api().agents(), RefreshMs, 'agents');
  const now = useNow(5000);
  const agents = poll.data;
  const connected = agents?.filter((a) => a.connected) ?? [];
  const gone = (agents?.filter((a) => !a.connected) ?? []).sort(
    (x, y) => (y.disconnected_ms || y.last_seen_ms) - (x.disconnected_ms || x.last_seen_ms),
  );

  return (
    <Layout title="Agents">
      <div className="page-head">
        <h1>Agents</h1>
        {agents ? (
          <span className="muted" data-testid="agent-counts">
            {connected.length} connected · {gone.length} recently disconnected
          </span>
        ) : null}
      </div>
      <StaleNote error={agents ? poll.error : null} />
      {poll.loading ? (
        <Loading label="Loading agents…" />
      ) : !agents && poll.error ? (
        <ErrorBox error={poll.error} retry={poll.refresh} />
      ) : !agents || agents.length === 0 ? (
        <Empty title="No agent has connected in the last 24 hours">
          Start one in your cloud with <code>airlock-agent</code>; it proves its identity with the cloud's workload identity, no token needed.
        </Empty>
      ) : (
        <>
          <section className="section" aria-labelledby="connected-h" data-testid="agents-connected">
            <h2 id="connected-h">Connected</h2>
            {connected.length === 0 ? (
              <Empty title="No agent is connected" />
            ) : (
              byPool(connected).map(([pool, list]) => (
                <div key={pool} className="pool-group" data-testid="agent-pool" data-pool={pool}>
                  <h3 className="pool-name">
                    {pool ? (
                      <>
                        Pool <span className="pool-id">{pool}</span>
                      </>
                    ) : (
                      'No pool'
                    )}
                    <span className="count">
                      {list.length} agent{list.length === 1 ? '' : 's'} · {list.reduce((n, a) => n + a.busy, 0)} of {list.reduce((n, a) => n + a.slots, 0)} slots busy
                    </span>
                  </h3>
                  <ul className="agent-grid">
                    {list.map((a) => (
                      <AgentCard key={a.id || a.name} agent={a} now={now} />
                    ))}
                  </ul>
                </div>
              ))
            )}
          </section>
          {gone.length ? (
            <section className="section" aria-labelledby="gone-h" data-testid="agents-disconnected">
              <h2 id="gone-h">Recently disconnected</h2>
              <p className="muted">Agents whose connection ended in the last 24 hours. An agent that reconnects keeps its ID.</p>
              <ul className="agent-grid">
                {gone.map((a) => (
                  <AgentCard key={a.id || a.name} agent={a} now={now} />
                ))}
              </ul>
            </section>
          ) : null}
        </>
      )}
    </Layout>
  );
}
