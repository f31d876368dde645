// The polling loop behind components/usePoll.ts, apart from React so that it
// can be tested with node:test's mock timers: load now and again intervalMs
// after each answer, pausing while the page is hidden, and stopping for good
// (until start is called again) on an error that polling cannot fix, such as
// a 404 for a run that does not exist.
import { SignedOutError } from './api.ts';

export interface PollOptions<T> {
  load: () => Promise<T>;
  intervalMs: number;
  onData: (data: T) => void;
  onError: (error: Error) => void;
  /** final tells an error after which asking again is pointless (polling stops). */
  final?: (error: Error) => boolean;
  /** hidden tells whether the page is hidden (no request then; resume() restarts). */
  hidden?: () => boolean;
}

export interface Poller {
  /** resume loads now if polling is paused (hidden page), not stopped and not waiting. */
  resume: () => void;
  stop: () => void;
  /** stopped tells whether the loop has ended (stop(), a 401 or a final error). */
  readonly stopped: boolean;
}

export function startPoll<T>(o: PollOptions<T>): Poller {
  let stopped = false;
  let busy = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = async () => {
    timer = undefined;
    if (stopped || busy) return;
    if (o.hidden?.()) return; // resumed by resume()
    busy = true;
    try {
      const d = await o.load();
      if (stopped) return;
      o.onData(d);
    } catch (e) {
      if (stopped) return;
      // A 401 has already sent the browser to sign-in: nothing to show, nothing to ask again.
      if (e instanceof SignedOutError) {
        stopped = true;
        return;
      }
      o.onError(e as Error);
      if (o.final?.(e as Error)) {
        stopped = true;
        return;
      }
    } finally {
      busy = false;
    }
    if (!stopped && o.intervalMs > 0) timer = setTimeout(run, o.intervalMs);
  };
  void run();
  return {
    resume: () => {
      if (!stopped && !busy && timer === undefined) void run();
    },
    stop: () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
    get stopped() {
      return stopped;
    },
  };
}
