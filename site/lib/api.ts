// The dashboard's only way to the control plane: same-origin fetch with the
// session cookie. State-changing calls always send a JSON body with
// Content-Type: application/json (the server refuses anything else). Any 401
// sends the browser to sign-in with the current page as return_to, once.
import { currentPath, signinURL } from './returnTo.ts';

export interface User {
  id: string;
  email: string;
  name: string;
  role: 'admin' | 'member' | string;
  provider: string;
}

export interface Me {
  user: User;
  session: { id: string; kind: string; created: Timestamp; last_seen: Timestamp; expires: Timestamp };
}

/** Timestamps from the session API: RFC 3339 strings or ms since the epoch. */
export type Timestamp = string | number;

export interface Session {
  id: string;
  kind: 'browser' | 'cli' | string;
  created: Timestamp;
  last_seen: Timestamp;
  idle_expires?: Timestamp;
  expires: Timestamp;
  user_agent?: string;
  current?: boolean;
  /** only in the admin listing (?all=1): the owner, as an object or an ID */
  user?: Partial<User> | string;
}

export interface Provider {
  id: string;
  name: string;
}

/** A run in the list (GET /v1/runs); the optional fields appear when the API has them. */
export interface RunSummary {
  id: string;
  number: number;
  state: string;
  filename: string;
  repository?: string;
  commit?: string;
  branch?: string;
  message?: string;
  /** who started it (a user's email or name, or an agent) */
  created_by?: string;
  created_ms: number;
  finished_ms?: number;
  /** the run this one rebuilt */
  rebuild_of?: string;
}

export interface Job {
  key: string;
  label: string;
  state: string;
  depends_on?: string[] | null;
  attempt: number;
  agent?: string;
  exit_status?: number | null;
  reason?: string;
  soft_failed?: boolean;
  queued_ms?: number;
  started_ms?: number;
  finished_ms?: number;
  log_seq: number;
  /** who last started the job again by hand */
  retried_by?: string;
}

export interface Run extends RunSummary {
  jobs: Job[];
}

export interface Agent {
  id: string;
  name: string;
  identity: string;
  pool: string;
  tags: Record<string, string> | null;
  slots: number;
  busy: number;
  version?: string;
  connected: boolean;
  connected_ms: number;
  /** the last heartbeat */
  last_seen_ms: number;
  /** when its connection ended; absent or 0 while connected */
  disconnected_ms?: number;
  /** the jobs it holds now */
  jobs?: AgentJob[] | null;
}

/** A job an agent holds. */
export interface AgentJob {
  run_id: string;
  run_number: number;
  key: string;
  label: string;
  /** 0 while assigned but not yet started */
  started_ms: number;
}

export interface LogPage {
  text: string;
  /** the last chunk included: pass it as after next time */
  seq: number;
  /** the attempt has ended and this page reached its end */
  end: boolean;
}

/** ApiError is a non-2xx answer other than 401. */
export class ApiError extends Error {
  status: number;
  details: unknown;
  constructor(status: number, message: string, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.details = details;
  }
}

/**
 * isNotFound tells a 404 from the control plane: the thing asked for does not
 * exist, and asking again on a timer will not change that.
 */
export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}

/** SignedOutError is a 401: the browser is already on its way to sign-in. */
export class SignedOutError extends Error {
  constructor() {
    super('signed out');
    this.name = 'SignedOutError';
  }
}

export interface ClientEnv {
  fetch: typeof fetch;
  /** the page the user is on, for return_to */
  location: () => { pathname: string; search: string };
  /** leaves the page (window.location.assign) */
  navigate: (url: string) => void;
}

export type Method = 'GET' | 'POST' | 'DELETE';

export interface RequestOptions {
  method?: Method;
  /** sent as JSON; unsafe methods send {} when it is absent */
  body?: unknown;
  /** answer a 401 with SignedOutError but stay on the page (sign-in page itself) */
  noRedirect?: boolean;
}

export class Client {
  private env: ClientEnv;
  private redirecting = false;

  constructor(env: ClientEnv) {
    this.env = env;
  }

  /** request makes one call and returns the raw response when it is 2xx. */
  async raw(path: string, opts: RequestOptions = {}): Promise<Response> {
    const method = opts.method ?? 'GET';
    const init: RequestInit = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' };
    if (method !== 'GET') {
      init.headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
      init.body = JSON.stringify(opts.body ?? {});
    }
    let res: Response;
    try {
      res = await this.env.fetch(path, init);
    } catch (e) {
      throw new ApiError(0, `The control plane could not be reached (${(e as Error).message || 'network error'}).`);
    }
    if (res.status === 401) {
      if (!opts.noRedirect && !this.redirecting) {
        this.redirecting = true;
        this.env.navigate(signinURL(currentPath(this.env.location())));
      }
      throw new SignedOutError();
    }
    if (!res.ok) {
      let message = `${method} ${path}: HTTP ${res.status}`;
      let details: unknown;
      try {
        const body = await res.json();
        if (body && typeof body.error === 'string') message = body.error;
        details = body?.details;
        if (body && typeof body.id === 'string') message += ` (error ID ${body.id})`;
      } catch {
        // not JSON: keep the status line
      }
      throw new ApiError(res.status, message, details);
    }
    return res;
  }

  async json<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(path, opts);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, `${path}: the answer is not JSON`);
    }
  }

  providers() {
    return this.json<{ providers: Provider[] }>('/auth/providers').then((r) => r?.providers ?? []);
  }
  me(opts: RequestOptions = {}) {
    return this.json<Me>('/v1/me', opts);
  }
  logout() {
    return this.json<void>('/auth/logout', { method: 'POST', body: {} });
  }
  sessions(all = false) {
    return this.json<Session[]>(all ? '/v1/sessions?all=1' : '/v1/sessions').then((r) => r ?? []);
  }
  endSession(id: string) {
    return this.json<void>(`/v1/sessions/${encodeURIComponent(id)}`, { method: 'DELETE', body: {} });
  }
  endUserSessions(userID: string) {
    return this.json<{ ended: number }>(`/v1/users/${encodeURIComponent(userID)}/sessions`, { method: 'DELETE', body: {} });
  }
  runs(limit = 100) {
    return this.json<{ runs: RunSummary[] }>(`/v1/runs?limit=${limit}`).then((r) => r?.runs ?? []);
  }
  run(id: string) {
    return this.json<Run>(`/v1/runs/${encodeURIComponent(id)}`);
  }
  cancelRun(id: string) {
    return this.json<Run>(`/v1/runs/${encodeURIComponent(id)}/cancel`, { method: 'POST', body: {} });
  }
  cancelJob(id: string, key: string) {
    return this.json<Run>(`/v1/runs/${encodeURIComponent(id)}/jobs/${encodeURIComponent(key)}/cancel`, { method: 'POST', body: {} });
  }
  /** retryJob starts a failed, cancelled, timed-out or lost job again (202; 409 when it is not retryable). */
  retryJob(id: string, key: string) {
    return this.json<Run>(`/v1/runs/${encodeURIComponent(id)}/jobs/${encodeURIComponent(key)}/retry`, { method: 'POST', body: {} });
  }
  /** rebuild starts a new run of the same pipeline and commit (201): the new run. */
  rebuild(id: string) {
    return this.json<Run>(`/v1/runs/${encodeURIComponent(id)}/rebuild`, { method: 'POST', body: {} });
  }
  agents() {
    return this.json<{ agents: Agent[] }>('/v1/agents').then((r) => r?.agents ?? []);
  }
  async log(id: string, key: string, after: number, attempt?: number): Promise<LogPage> {
    const q = new URLSearchParams({ after: String(after) });
    if (attempt) q.set('attempt', String(attempt));
    const res = await this.raw(`/v1/runs/${encodeURIComponent(id)}/jobs/${encodeURIComponent(key)}/log?${q}`, {});
    const text = await res.text();
    const seqHeader = res.headers.get('Airlock-Log-Seq');
    const seq = seqHeader !== null && /^\d+$/.test(seqHeader) ? Number(seqHeader) : after;
    return { text, seq, end: res.headers.get('Airlock-Log-End') === 'true' };
  }
}

/** browserClient is the client of the page, created on first use in the browser. */
let shared: Client | null = null;
export function api(): Client {
  if (!shared) {
    shared = new Client({
      fetch: (input, init) => window.fetch(input, init),
      location: () => window.location,
      navigate: (url) => window.location.assign(url),
    });
  }
  return shared;
}

/** isRetryable tells whether a job may be started again by hand: it ended without passing. */
export function isRetryable(state: string): boolean {
  return state === 'failed' || state === 'cancelled' || state === 'timed_out' || state === 'lost';
}

/** isTerminal tells whether a run or job state is final. */
export function isTerminal(state: string): boolean {
  return state === 'passed' || state === 'failed' || state === 'cancelled' || state === 'skipped' || state === 'timed_out' || state === 'lost';
}
