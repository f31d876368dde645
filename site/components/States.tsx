// Loading, empty and error states, the same on every page.
import type { ReactNode } from 'react';
import { ApiError } from '../lib/api.ts';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ title, children, testid }: { title: string; children?: ReactNode; testid?: string }) {
  return (
    <div className="state state-empty" data-testid={testid}>
      <p className="state-title">{title}</p>
      {children ? <div className="state-body">{children}</div> : null}
    </div>
  );
}

/**
 * ErrorBox is a request that failed with nothing to show instead: what went
 * wrong in words, the server's message, and "Try again". Pages keep polling
 * behind it, so it also goes away by itself once the control plane answers.
 */
export function ErrorBox({ error, retry, title }: { error: Error; retry?: () => void; title?: string }) {
  const status = error instanceof ApiError ? error.status : undefined;
  const heading =
    title ??
    (status === 0
      ? 'The control plane could not be reached'
      : status === 403
        ? 'You are not allowed to see this'
        : status === 404
          ? 'Not found'
          : status !== undefined && status >= 500
            ? `The control plane failed to answer (HTTP ${status})`
            : 'Something went wrong');
  const hint =
    status === 0
      ? 'Check your network connection. This page tries again on its own.'
      : status !== undefined && status >= 500
        ? 'This is usually brief. This page tries again on its own.'
        : null;
  return (
    <div className="state state-error" role="alert" data-testid="error-box">
      <p className="state-title">{heading}</p>
      <p className="state-body">{error.message}</p>
      {hint ? <p className="state-body small">{hint}</p> : null}
      {retry ? (
        <button type="button" className="btn" onClick={retry} data-testid="error-retry">
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** StaleNote tells that a refresh failed while older data is still shown. */
export function StaleNote({ error }: { error: Error | null }) {
  if (!error) return null;
  return (
    <p className="stale" role="status">
      Could not refresh: {error.message}. Showing the last data received.
    </p>
  );
}
