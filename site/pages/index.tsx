// The runs list: the latest runs, refreshed every few seconds, filtered in
// the browser by state and branch.
import Link from 'next/link';
import { useMemo, useState } from 'react';
import { Layout } from '../components/Layout.tsx';
import { StateBadge } from '../components/StateBadge.tsx';
import { Empty, ErrorBox, Loading, StaleNote } from '../components/States.tsx';
import { useNow, usePoll } from '../components/usePoll.ts';
import { api, isTerminal } from '../lib/api.ts';
import type { RunSummary } from '../lib/api.ts';
import { absolute, ago, duration, shortCommit } from '../lib/format.ts';

const RefreshMs = 3000;
const stateFilters = ['running', 'passed', 'failed', 'cancelled'];

function runDuration(r: RunSummary, now: number): string {
  if (r.finished_ms) return duration(r.finished_ms - r.created_ms);
  if (!isTerminal(r.state)) return duration(now - r.created_ms);
  return '—';
}

export default function Runs() {
  const poll = usePoll(() => api().runs(100), RefreshMs, 'runs');
  const now = useNow(1000);
  const [state, setState] = useState('');
  const [branch, setBranch] = useState('');
  const runs = poll.data;

  const branches = useMemo(() => [...new Set((runs ?? []).map((r) => r.branch).filter((b): b is string => !!b))].sort(), [runs]);
  const shown = useMemo(
    () =>
      (runs ?? []).filter(
        (r) => (!state || (state === 'running' ? !isTerminal(r.state) : r.state === state)) && (!branch || r.branch === branch),
      ),
    [runs, state, branch],
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
        {runs && (state || branch) ? (
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
          <button type="button" className="btn" onClick={() => (setState(''), setBranch(''))}>
            Clear filters
          </button>
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="table runs-table">
            <thead>
              <tr>
                <th scope="col">State</th>
                <th scope="col">Run</th>
                <th scope="col">Branch · commit</th>
                <th scope="col">Message</th>
                <th scope="col">Created</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr key={r.id} data-testid="run-row" data-run-id={r.id}>
                  <td data-label="State">
                    <StateBadge state={r.state} />
                  </td>
                  <td data-label="Run">
                    <Link className="run-link" href={`/runs/view/?id=${encodeURIComponent(r.id)}`}>
                      #{r.number}
                    </Link>
                    <span className="muted small run-file">{r.filename}</span>
                  </td>
                  <td data-label="Branch · commit">
                    {r.branch ? <span className="branch">{r.branch}</span> : null}
                    {r.commit ? <code className="commit">{shortCommit(r.commit)}</code> : null}
                    {!r.branch && !r.commit ? <span className="muted">—</span> : null}
                  </td>
                  <td data-label="Message" className="message-cell">
                    {r.message ? <span className="message">{r.message.split('\n')[0]}</span> : <span className="muted">—</span>}
                  </td>
                  <td data-label="Created">
                    <time dateTime={new Date(r.created_ms).toISOString()} title={absolute(r.created_ms)}>
                      {ago(r.created_ms, now)}
                    </time>
                  </td>
                  <td data-label="Duration" className="num">
                    {runDuration(r, now)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}
