// usePoll loads data now and again every interval while the page is visible,
// keeping the last good data when a refresh fails. A 401 has already sent the
// browser to sign-in (see lib/api.ts), so it is not shown as an error.
import { useCallback, useEffect, useRef, useState } from 'react';
import { SignedOutError } from '../lib/api.ts';

export interface Poll<T> {
  data: T | undefined;
  error: Error | null;
  loading: boolean;
  /** when the data was last loaded, ms since the epoch */
  updated: number | null;
  refresh: () => void;
}

export function usePoll<T>(load: (() => Promise<T>) | null, intervalMs: number, key: string): Poll<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [updated, setUpdated] = useState<number | null>(null);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    setData(undefined);
    setError(null);
    setUpdated(null);
  }, [key]);

  useEffect(() => {
    if (!loadRef.current) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      timer = undefined;
      if (stopped) return;
      if (document.hidden) return; // resumed by visibilitychange
      try {
        const d = await loadRef.current!();
        if (stopped) return;
        setData(d);
        setError(null);
        setUpdated(Date.now());
      } catch (e) {
        if (stopped || e instanceof SignedOutError) return;
        setError(e as Error);
      }
      if (!stopped && intervalMs > 0) timer = setTimeout(run, intervalMs);
    };
    const onVisible = () => {
      if (!document.hidden && timer === undefined) void run();
    };
    void run();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
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
