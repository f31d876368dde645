// The runs list: the latest runs, refreshed every few seconds, filtered in
// the browser by state, branch and who started them.
import { useMemo, useState } from 'react';
import { Layout } from '../components/Layout.tsx';
import { RunsTable } from '../components/RunsTable.tsx';
import { Empty, ErrorBox, Loading, StaleNote } from '../components/States.tsx';
import { useNow, usePoll } from '../components/usePoll.ts';
import { api, isTerminal } from '../lib/api.ts';
import { absolute } from '../lib/format.ts';

const RefreshMs = 3000;
const stateFilters = ['running', 'passed', 'failed', 'cancelled'];

/** distinct is the set values, sorted, without empty ones. */
function distinct(values: Array<string | undefined>): string[] {
  return [...new Set(values.filter((v): v is string => !!v))].sort();
}

export default function Runs() {
  const poll = usePoll(() => api().runs(100), RefreshMs, 'runs');
  const now = useNow(1000);
  const [state, setState] = useState('');
  const [branch, setBranch] = useState('');
  const [trigger, setTrigger] = useState('');
  const runs = poll.data;

  const branches = useMemo(() => distinct((runs ?? []).map((r) => r.branch)), [runs]);
  const triggers = useMemo(() => distinct((runs ?? []).map((r) => r.created_by)), [runs]);
  const shown = useMemo(
    () =>
      (runs ?? []).filter(
        (r) => (!state || (state === 'running' ? !isTerminal(r.state) : r.state === state)) && (!branch || r.branch === branch) &&
          (!trigger || r.created_by === trigger),
      ),
    [runs, state, branch, trigger],
  );

  return (
    <Layout title="Runs">
      <div className="page-head">
        <h1>Runs</h1>
        <span className="live" aria-live="off" title={poll.updated ? `Updated ${absolute(poll.updated)}` : undefined}>
          <span className={`live-dot${poll.error ? ' live-dot-error' : ''}`} aria-hidden="true" />
          {poll.error ? 'Reconnecting…' : 'Live'}
        </span>
      </div>
      <div className="filters" role="search">
        <label className="field">
          <span className="field-label">State</span>
          <select value={state} onChange={(e) => setState(e.target.value)} data-testid="filter-state">
            <option value="">All states</option>
            {stateFilters.map((s) => (
              <option key={s} value={s}>
                {s === 'running' ? 'In progress' : s[0].toUpperCase() + s.slice(1)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span className="field-label">Branch</span>
          <select value={branch} onChange={(e) => setBranch(e.target.value)} data-testid="filter-branch" disabled={branches.length === 0}>
            <option value="">All branches</option>
            {branches.map((b) => (
              <option key={b} value={b}>
                {b}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span className="field-label">Triggered by</span>
          <select value={trigger} onChange={(e) => setTrigger(e.target.value)} data-testid="filter-trigger" disabled={triggers.length === 0}>
            <option value="">Anyone</option>
            {triggers.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        {runs && (state || branch || trigger) ? (
          <p className="filter-count">
            {shown.length} of {runs.length} runs
          </p>
        ) : null}
      </div>
      <StaleNote error={runs ? poll.error : null} />
      {poll.loading ? (
        <Loading label="Loading runs…" />
      ) : !runs && poll.error ? (
        <ErrorBox error={poll.error} retry={poll.refresh} />
      ) : runs && runs.length === 0 ? (
        <Empty title="No runs yet">
          Start one with <code>airlock run .airlock/pipeline.yml</code>.
        </Empty>
      ) : shown.length === 0 ? (
        <Empty title="No run matches these filters">
          <button type="button" className="btn" onClick={() => (setState(''), setBranch(''), setTrigger(''))}>
            Clear filters
          </button>
        </Empty>
      ) : (
        <RunsTable runs={shown} now={now} caption="Runs" />
      )}
    </Layout>
  );
}
