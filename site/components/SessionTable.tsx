// A table of sessions (device, when signed in, last active, expiry) with an
// "End session" button each (asking first); pages/sessions.tsx shows the user's own and,
// to administrators, everyone's.
import type { Session } from '../lib/api.ts';
import { ConfirmButton } from './ConfirmButton.tsx';
import { absolute, ago, device, toMillis, until } from '../lib/format.ts';

/** Expiry is when a session ends: the sooner of its idle and absolute limits. */
export function Expiry({ s, now }: { s: Session; now: number }) {
  const limits = [toMillis(s.idle_expires), toMillis(s.expires)].filter((x): x is number => x !== null);
  if (limits.length === 0) return <span className="muted">—</span>;
  const at = Math.min(...limits);
  return <span title={absolute(at)}>{at <= now ? 'expired' : `in ${until(at, now)}`}</span>;
}

export function SessionTable({
  sessions,
  now,
  onEnd,
  ending,
}: {
  sessions: Session[];
  now: number;
  onEnd: (s: Session) => Promise<void>;
  ending: Set<string>;
}) {
  return (
    <div className="table-wrap">
      <table className="table sessions-table">
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Signed in</th>
            <th scope="col">Last active</th>
            <th scope="col">Expires</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {sessions.map((s) => (
            <tr key={s.id} data-testid="session-row" data-session-id={s.id} className={s.current ? 'current' : undefined}>
              <td data-label="Device">
                <span className="device">{device(s.user_agent)}</span>
                <span className={`kind kind-${s.kind === 'cli' ? 'cli' : 'browser'}`}>{s.kind === 'cli' ? 'CLI' : 'Browser'}</span>
                {s.current ? (
                  <span className="current-marker" data-testid="current-session">
                    This browser
                  </span>
                ) : null}
                {s.user_agent ? <span className="ua muted small" title={s.user_agent}>{s.user_agent}</span> : null}
              </td>
              <td data-label="Signed in">
                <span title={absolute(s.created)}>{ago(s.created, now)}</span>
              </td>
              <td data-label="Last active">
                <span title={absolute(s.last_seen)}>{ago(s.last_seen, now)}</span>
              </td>
              <td data-label="Expires">
                <Expiry s={s} now={now} />
              </td>
              <td className="cell-action">
                {ending.has(s.id) ? (
                  <button type="button" className="btn btn-danger btn-small" disabled data-testid="end-session">
                    Ending…
                  </button>
                ) : (
                  <ConfirmButton
                    small
                    label={s.current ? 'Sign out here' : 'End session'}
                    ariaLabel={`End session on ${device(s.user_agent)}${s.current ? ' (this browser: signs you out)' : ''}`}
                    confirm={s.current ? 'Sign this browser out?' : `End the session on ${device(s.user_agent)}?`}
                    yesLabel={s.current ? 'Yes, sign out' : 'Yes, end it'}
                    noLabel="Keep it"
                    busyLabel="Ending…"
                    testid="end-session"
                    onConfirm={() => onEnd(s)}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

