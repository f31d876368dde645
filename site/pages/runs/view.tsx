// One run: its step graph, its jobs, the selected job's log; cancelling a
// run or a job, retrying a job that ended without passing, and rebuilding a
// finished run (a new run of the same pipeline and commit).
// The run is in the query (/runs/view/?id=…&job=…): a static export has no
// dynamic path segments.
import Link from 'next/link';
import { useRouter } from 'next/router';
import { useEffect, useMemo, useState } from 'react';
import { ConfirmButton } from '../../components/ConfirmButton.tsx';
import { Graph } from '../../components/Graph.tsx';
import { Layout } from '../../components/Layout.tsx';
import { LogPanel } from '../../components/LogPanel.tsx';
import { StateBadge } from '../../components/StateBadge.tsx';
import { Empty, ErrorBox, Loading, StaleNote } from '../../components/States.tsx';
import { useNow, usePoll } from '../../components/usePoll.ts';
import { api, isNotFound, isRetryable, isTerminal, SignedOutError } from '../../lib/api.ts';
import type { Job, Run } from '../../lib/api.ts';
import { absolute, ago, displayLabel, duration, shortCommit } from '../../lib/format.ts';

const RefreshMs = 2000;

function jobDuration(j: Job, now: number): string {
  if (!j.started_ms) return '—';
  return duration((j.finished_ms || now) - j.started_ms);
}

/** defaultJob is the job to show first: a running one, else a failed one, else the first. */
function defaultJob(jobs: Job[]): string | null {
  return (
    jobs.find((j) => j.state === 'running')?.key ??
    jobs.find((j) => j.state === 'failed')?.key ??
    jobs.find((j) => j.started_ms)?.key ??
    jobs[0]?.key ??
    null
  );
}

/** ActionButton acts at once, showing busyLabel until it is done. */
function ActionButton({ label, busyLabel, onClick, testid, title }: { label: string; busyLabel: string; onClick: () => Promise<void>; testid: string; title?: string }) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      className="btn"
      disabled={busy}
      title={title}
      data-testid={testid}
      onClick={async () => {
        setBusy(true);
        try {
          await onClick();
        } finally {
          setBusy(false);
        }
      }}
    >
      {busy ? busyLabel : label}
    </button>
  );
}

/** RebuildOf links to the run this one rebuilt, by number once it is known. */
function RebuildOf({ id }: { id: string }) {
  const [number, setNumber] = useState<number | null>(null);
  useEffect(() => {
    let live = true;
    api()
      .run(id)
      .then((r) => live && r && setNumber(r.number))
      .catch(() => undefined); // the link still works by ID
    return () => {
      live = false;
    };
  }, [id]);
  return (
    <span className="rebuild-of" data-testid="rebuild-of">
      rebuild of <Link href={`/runs/view/?id=${encodeURIComponent(id)}`}>{number !== null ? `#${number}` : id}</Link>
    </span>
  );
}

export default function RunPage() {
  const router = useRouter();
  const id = typeof router.query.id === 'string' ? router.query.id : '';
  const jobParam = typeof router.query.job === 'string' ? router.query.job : '';
  // Polling stops at a 404 (no such run); "Try again" starts it once more.
  const poll = usePoll<Run>(router.isReady && id ? () => api().run(id) : null, RefreshMs, `run:${id}`, isNotFound);
  const [override, setOverride] = useState<Run | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const now = useNow(1000);

  useEffect(() => setOverride(null), [poll.data]);
  const run = override ?? poll.data;
  const jobs = useMemo(() => run?.jobs ?? [], [run]);
  const selected = jobs.some((j) => j.key === jobParam) ? jobParam : defaultJob(jobs);
  const job = jobs.find((j) => j.key === selected) ?? null;

  const select = (key: string) => {
    void router.replace({ pathname: router.pathname, query: { id, job: key } }, undefined, { shallow: true, scroll: false });
  };

  const rebuild = async (runID: string) => {
    setActionError(null);
    try {
      const r = await api().rebuild(runID);
      if (r?.id) await router.push(`/runs/view/?id=${encodeURIComponent(r.id)}`);
    } catch (e) {
      if (!(e instanceof SignedOutError)) setActionError((e as Error).message);
    }
  };

  const act = async (f: () => Promise<Run>) => {
    setActionError(null);
    try {
      const r = await f();
      if (r && Array.isArray(r.jobs)) setOverride(r);
      poll.refresh();
    } catch (e) {
      if (!(e instanceof SignedOutError)) setActionError((e as Error).message);
    }
  };

  const title = run ? `Run #${run.number}` : 'Run';
  if (router.isReady && !id) {
    return (
      <Layout title="Run">
        <h1 className="visually-hidden">Run</h1>
        <Empty title="No run given">
          <Link href="/">Choose a run from the list.</Link>
        </Empty>
      </Layout>
    );
  }

  return (
    <Layout title={title}>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/">Runs</Link> <span aria-hidden="true">/</span> <span>{run ? `#${run.number}` : id}</span>
      </nav>
      {!run ? (
        poll.error && isNotFound(poll.error) ? (
          <>
            <div className="page-head">
              <h1>Run not found</h1>
            </div>
            <Empty title="Run not found" testid="run-not-found">
              There is no run with ID <code>{id}</code>: the link may be mistyped, or the run is older than the control plane keeps.{' '}
              <Link href="/">See the latest runs.</Link>
              <div className="state-actions">
                <button type="button" className="btn" onClick={poll.refresh} data-testid="run-not-found-retry">
                  Try again
                </button>
              </div>
            </Empty>
          </>
        ) : (
          <>
            <h1 className="visually-hidden">Run {id}</h1>
            {poll.error ? <ErrorBox error={poll.error} retry={poll.refresh} /> : <Loading label="Loading the run…" />}
          </>
        )
      ) : (
        <>
          <div className="page-head run-head">
            <div>
              <h1>
                Run #{run.number} <StateBadge state={run.state} />
              </h1>
              <p className="run-meta">
                <span className="run-file">{run.filename}</span>
                {run.branch ? <span className="branch">{run.branch}</span> : null}
                {run.commit ? <code className="commit">{shortCommit(run.commit)}</code> : null}
                <span title={absolute(run.created_ms)}>
                  created {ago(run.created_ms, now)}
                  {run.created_by ? (
                    <>
                      {' '}
                      by <span className="trigger" data-testid="run-trigger">{run.created_by}</span>
                    </>
                  ) : null}
                </span>
                {run.rebuild_of ? <RebuildOf id={run.rebuild_of} /> : null}
                <span>
                  {run.finished_ms ? 'took ' : 'running for '}
                  {duration((run.finished_ms || now) - run.created_ms)}
                </span>
              </p>
              {run.message ? <p className="run-message">{run.message}</p> : null}
            </div>
            <div className="actions">
              {!isTerminal(run.state) ? (
                <ConfirmButton
                  label="Cancel run"
                  confirm="Cancel every job of this run?"
                  yesLabel="Yes, cancel"
                  noLabel="Keep running"
                  busyLabel="Cancelling…"
                  testid="cancel-run"
                  onConfirm={() => act(() => api().cancelRun(run.id))}
                />
              ) : (
                <ActionButton
                  label="Rebuild"
                  busyLabel="Starting…"
                  testid="rebuild-run"
                  title="Start a new run of the same pipeline and commit"
                  onClick={() => rebuild(run.id)}
                />
              )}
            </div>
          </div>
          {actionError ? (
            <p className="notice notice-error" role="alert">
              {actionError}
            </p>
          ) : null}
          <StaleNote error={poll.error} />
          {jobs.length === 0 ? (
            <Empty title="This run has no jobs" />
          ) : (
            <>
              <section className="panel" aria-labelledby="graph-h">
                <h2 id="graph-h" className="panel-title">
                  Steps
                </h2>
                <Graph jobs={jobs} selected={selected} onSelect={select} />
              </section>
              <div className="run-body">
                <section className="panel jobs-panel" aria-labelledby="jobs-h">
                  <h2 id="jobs-h" className="panel-title">
                    Jobs
                  </h2>
                  <ul className="job-list">
                    {jobs.map((j) => (
                      <li key={j.key}>
                        <button
                          type="button"
                          className={`job-item${j.key === selected ? ' selected' : ''}`}
                          aria-pressed={j.key === selected}
                          onClick={() => select(j.key)}
                          data-testid="job-item"
                          data-key={j.key}
                        >
                          <StateBadge state={j.state} softFailed={j.soft_failed} />
                          <span className="job-name" title={j.label || j.key}>{displayLabel(j.label, j.key)}</span>
                          <span className="job-time muted small">{jobDuration(j, now)}</span>
                        </button>
                      </li>
                    ))}
                  </ul>
                </section>
                {job ? (
                  <section className="panel job-panel" aria-labelledby="job-h">
                    <div className="job-head">
                      <div>
                        <h2 id="job-h" className="panel-title">
                          {displayLabel(job.label, job.key)} <StateBadge state={job.state} softFailed={job.soft_failed} />
                        </h2>
                        <p className="job-meta muted small">
                          <code>{job.key}</code>
                          {job.attempt > 0 ? <span>attempt {job.attempt}</span> : null}
                          {job.agent ? <span>on {job.agent}</span> : null}
                          {job.exit_status !== undefined && job.exit_status !== null ? <span>exit {job.exit_status}</span> : null}
                          {job.started_ms ? <span>{jobDuration(job, now)}</span> : null}
                          {job.reason ? <span className="job-reason">{job.reason}</span> : null}
                          {job.retried_by ? <span>retried by {job.retried_by}</span> : null}
                        </p>
                      </div>
                      {!isTerminal(job.state) ? (
                        <ConfirmButton
                          key={job.key}
                          label="Cancel job"
                          confirm="Cancel this job?"
                          yesLabel="Yes, cancel"
                          noLabel="Keep running"
                          busyLabel="Cancelling…"
                          testid="cancel-job"
                          onConfirm={() => act(() => api().cancelJob(run.id, job.key))}
                        />
                      ) : isRetryable(job.state) ? (
                        <ActionButton
                          key={`retry-${job.key}`}
                          label="Retry"
                          busyLabel="Retrying…"
                          testid="retry-job"
                          title="Run this job again (its skipped dependents wait for it)"
                          onClick={() => act(() => api().retryJob(run.id, job.key))}
                        />
                      ) : null}
                    </div>
                    <LogPanel runID={run.id} job={job} />
                  </section>
                ) : null}
              </div>
            </>
          )}
        </>
      )}
    </Layout>
  );
}
