// A table of runs: state, number and pipeline file, who started it, branch
// and commit, message, when, and how long. The runs list and the service
// pages show it.
import Link from 'next/link';
import { StateBadge } from './StateBadge.tsx';
import { isTerminal } from '../lib/api.ts';
import type { RunSummary } from '../lib/api.ts';
import { absolute, ago, duration, shortCommit } from '../lib/format.ts';

export function runDuration(r: RunSummary, now: number): string {
  if (r.finished_ms) return duration(r.finished_ms - r.created_ms);
  if (!isTerminal(r.state)) return duration(now - r.created_ms);
  return '—';
}

export function RunsTable({ runs, now, caption }: { runs: RunSummary[]; now: number; caption?: string }) {
  return (
    <div className="table-wrap">
      <table className="table runs-table">
        {caption ? <caption className="visually-hidden">{caption}</caption> : null}
        <thead>
          <tr>
            <th scope="col">State</th>
            <th scope="col">Run</th>
            <th scope="col">Triggered by</th>
            <th scope="col">Branch · commit</th>
            <th scope="col">Message</th>
            <th scope="col">Created</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
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
              <td data-label="Triggered by" className="trigger-cell" data-testid="run-trigger">
                {r.created_by ? <span className="trigger">{r.created_by}</span> : <span className="muted">—</span>}
              </td>
              <td data-label="Branch · commit">
                {r.branch ? <span className="branch">{r.branch}</span> : null}
                {r.commit ? (
                  <code className="commit" title={r.commit}>
                    {shortCommit(r.commit)}
                  </code>
                ) : null}
                {!r.branch && !r.commit ? <span className="muted">—</span> : null}
              </td>
              <td data-label="Message" className="message-cell">
                {r.message ? (
                  // One line, cut with "…" when the column is narrow: all of it is the title.
                  <span className="message" title={r.message.split('\n')[0]}>
                    {r.message.split('\n')[0]}
                  </span>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
              <td data-label="Created" className="when-cell">
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
  );
}
