// A job's log: read page by page from the log API (after = the last sequence
// number), parsed from ANSI into spans (never HTML), searchable, and
// virtualised: only the lines in view are in the DOM.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { classNames, cssColors, highlight } from '../lib/ansi.ts';
import { api, ApiError, SignedOutError } from '../lib/api.ts';
import type { Job } from '../lib/api.ts';
import { LogModel, matchingLines, visibleRange } from '../lib/logmodel.ts';
import { maskPieces } from '../lib/masked.ts';
import type { Segment } from '../lib/ansi.ts';
import type { LogLine } from '../lib/logmodel.ts';
import { displayLabel } from '../lib/format.ts';

/** One line's height in px; the same as .log-line in globals.css. */
const LineHeight = 20;
const IdlePollMs = 1000;
const BusyPollMs = 250;

/** Segment is one run of text with its colours, marked when it matches the search. */
function SegmentSpan({ s }: { s: Segment }) {
  const cls = classNames(s.style) + (s.match ? ' log-match' : '');
  return (
    <span className={cls.trim() || undefined} style={cssColors(s.style)}>
      {s.text}
    </span>
  );
}

/**
 * LogLine is one line of a log: its number and its coloured spans, as text.
 * A secret the agent masked ([REDACTED:NAME]) is shown as a marked token
 * named "masked secret NAME" for assistive technology; search finds it.
 */
export function LogLine({ line, n, query, current }: { line: LogLine; n: number; query: string; current: boolean }) {
  const pieces = useMemo(() => maskPieces(highlight(line.spans, query)), [line, query]);
  return (
    <div className={`log-line${current ? ' log-line-current' : ''}`} data-testid="log-line">
      <span className="log-n" aria-hidden="true">
        {n}
      </span>
      <span className="log-text">
        {pieces.map((p, i) =>
          p.kind === 'text' ? (
            <SegmentSpan key={i} s={p.segment} />
          ) : (
            <span
              key={i}
              className="log-masked"
              role="img"
              aria-label={`masked secret ${p.name}`}
              title={`Masked secret ${p.name}: the agent replaced its value before the log left it`}
              data-testid="log-masked"
              data-secret={p.name}
            >
              {p.segments.map((s, j) => (
                <SegmentSpan key={j} s={s} />
              ))}
            </span>
          ),
        )}
      </span>
    </div>
  );
}

export function LogPanel({ runID, job }: { runID: string; job: Job }) {
  const model = useRef(new LogModel());
  const [version, setVersion] = useState(0); // bumps when lines arrive
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [query, setQuery] = useState('');
  const [matchAt, setMatchAt] = useState(0);
  const [follow, setFollow] = useState(true);
  const viewport = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState({ top: 0, height: 400 });
  const jobState = useRef(job.state);
  jobState.current = job.state;

  // Read the log from the start whenever the job or its attempt changes.
  useEffect(() => {
    model.current = new LogModel();
    setVersion((v) => v + 1);
    setEnded(false);
    setError(null);
    let stopped = false;
    let seq = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      if (stopped) return;
      try {
        const page = await api().log(runID, job.key, seq, job.attempt || undefined);
        if (stopped) return;
        setError(null);
        if (page.text) {
          model.current.append(page.text);
          setVersion((v) => v + 1);
        }
        seq = page.seq;
        if (page.end) {
          model.current.end();
          setVersion((v) => v + 1);
          setEnded(true);
          return;
        }
        // Output arriving: read on soon (a full page at once); quiet: back off.
        timer = setTimeout(read, page.text.length >= 512 * 1024 ? 0 : page.text ? BusyPollMs : IdlePollMs);
      } catch (e) {
        if (stopped || e instanceof SignedOutError) return;
        setError(e as Error);
        // A job that has not started has no log yet; keep trying.
        timer = setTimeout(read, e instanceof ApiError && e.status === 404 ? IdlePollMs : IdlePollMs * 3);
      }
    };
    void read();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [runID, job.key, job.attempt]);

  // The model is mutated in place; version says when it changed.
  const all = useMemo(() => {
    const pending = ended ? null : model.current.pending();
    return pending ? [...model.current.lines, pending] : model.current.lines.slice();
  }, [version, ended]);
  const matches = useMemo(() => matchingLines(all, query), [all, query]);
  const total = all.length;

  const onScroll = useCallback(() => {
    const el = viewport.current;
    if (!el) return;
    setScroll({ top: el.scrollTop, height: el.clientHeight });
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < LineHeight * 2;
    setFollow(atBottom);
  }, []);

  // Follow the end of the log while the user is at the bottom.
  useLayoutEffect(() => {
    const el = viewport.current;
    if (!el) return;
    if (follow && !query) el.scrollTop = el.scrollHeight;
    setScroll({ top: el.scrollTop, height: el.clientHeight });
  }, [total, follow, query]);

  const goTo = (i: number) => {
    if (matches.length === 0) return;
    const k = ((i % matches.length) + matches.length) % matches.length;
    setMatchAt(k);
    const el = viewport.current;
    if (el) {
      el.scrollTop = Math.max(0, matches[k] * LineHeight - el.clientHeight / 2);
      setFollow(false);
      setScroll({ top: el.scrollTop, height: el.clientHeight });
    }
  };

  useEffect(() => {
    setMatchAt(0);
  }, [query]);

  const { start, end } = visibleRange(scroll.top, scroll.height, LineHeight, total);
  const currentLine = matches.length ? matches[Math.min(matchAt, matches.length - 1)] : -1;
  const offset = model.current.dropped;

  return (
    <section className="log-panel" aria-label={`Log of ${displayLabel(job.label, job.key)}`} data-testid="log-panel">
      <div className="log-toolbar">
        <label className="log-search">
          <span className="visually-hidden">Search the log</span>
          <input
            type="search"
            placeholder="Search log"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                goTo(e.shiftKey ? matchAt - 1 : matchAt + 1);
              }
            }}
            data-testid="log-search"
          />
        </label>
        {query ? (
          <span className="log-matches" aria-live="polite" data-testid="log-match-count">
            {matches.length ? `${Math.min(matchAt, matches.length - 1) + 1} of ${matches.length}` : 'No matches'}
          </span>
        ) : null}
        <button type="button" className="btn btn-small" onClick={() => goTo(matchAt - 1)} disabled={!matches.length} aria-label="Previous match">
          ↑
        </button>
        <button type="button" className="btn btn-small" onClick={() => goTo(matchAt + 1)} disabled={!matches.length} aria-label="Next match">
          ↓
        </button>
        <span className="log-status muted small">
          {total.toLocaleString()} lines{offset ? ` (first ${offset.toLocaleString()} dropped)` : ''}
          {ended ? ' · ended' : ' · live'}
        </span>
        {!follow ? (
          <button type="button" className="btn btn-small" onClick={() => setFollow(true)}>
            Follow
          </button>
        ) : null}
      </div>
      {error && total === 0 ? (
        <p className="log-empty">
          {error instanceof ApiError && error.status === 404 ? 'No log yet.' : `The log could not be read: ${error.message}`}
        </p>
      ) : null}
      <div className="log-viewport" ref={viewport} onScroll={onScroll} tabIndex={0} role="log" aria-live="off" aria-label="Log lines" data-testid="log-viewport">
        {total === 0 && !error ? (
          <p className="log-empty">{ended ? 'This job wrote no output.' : jobState.current === 'waiting' || jobState.current === 'queued' ? 'Waiting for the job to start…' : 'Waiting for output…'}</p>
        ) : (
          <div className="log-spacer" style={{ height: total * LineHeight }}>
            <div className="log-window" style={{ transform: `translateY(${start * LineHeight}px)` }}>
              {all.slice(start, end).map((line, i) => (
                <LogLine key={start + i + offset} line={line} n={start + i + 1 + offset} query={query} current={start + i === currentLine} />
              ))}
            </div>
          </div>
        )}
      </div>
    </section>
  );
}
