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

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <p className="state-title">{title}</p>
      {children ? <div className="state-body">{children}</div> : null}
    </div>
  );
}

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
          : 'Something went wrong');
  return (
    <div className="state state-error" role="alert">
      <p className="state-title">{heading}</p>
      <p className="state-body">{error.message}</p>
      {retry ? (
        <button type="button" className="btn" onClick={retry}>
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
