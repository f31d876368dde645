// usePoll loads data now and again every interval while the page is visible,
// keeping the last good data when a refresh fails (the loop is lib/poll.ts). A
// 401 has already sent the browser to sign-in (see lib/api.ts), so it is not
// shown as an error.
import { useCallback, useEffect, useRef, useState } from 'react';
import { startPoll } from '../lib/poll.ts';

export interface Poll<T> {
  data: T | undefined;
  error: Error | null;
  loading: boolean;
  /** when the data was last loaded, ms since the epoch */
  updated: number | null;
  refresh: () => void;
}

/**
 * final, if given, tells an error after which polling stops (a 404 for a run
 * that does not exist); refresh() starts it again.
 */
export function usePoll<T>(load: (() => Promise<T>) | null, intervalMs: number, key: string, final?: (e: Error) => boolean): Poll<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [updated, setUpdated] = useState<number | null>(null);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const finalRef = useRef(final);
  finalRef.current = final;

  useEffect(() => {
    setData(undefined);
    setError(null);
    setUpdated(null);
  }, [key]);

  useEffect(() => {
    if (!loadRef.current) return;
    const poller = startPoll<T>({
      load: () => loadRef.current!(),
      intervalMs,
      onData: (d) => {
        setData(d);
        setError(null);
        setUpdated(Date.now());
      },
      onError: setError,
      final: (e) => finalRef.current?.(e) ?? false,
      hidden: () => document.hidden,
    });
    const onVisible = () => {
      if (!document.hidden) poller.resume();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      poller.stop();
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [key, intervalMs, tick]);

  // A refresh by hand shows as loading again until it answers.
  const refresh = useCallback(() => {
    setError(null);
    setTick((t) => t + 1);
  }, []);
  return { data, error, loading: data === undefined && error === null, updated, refresh };
}

/** useNow re-renders every interval, for live durations and "ago" times. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}
