// Sessions: where the user is signed in, with "End session" for each; admins
// also see everyone's sessions, grouped by user, and can end all of a user's.
// Both ask first (components/ConfirmButton.tsx).
import { useState } from 'react';
import { ConfirmButton } from '../components/ConfirmButton.tsx';
import { Layout, useMe } from '../components/Layout.tsx';
import { SessionTable } from '../components/SessionTable.tsx';
import { Empty, ErrorBox, Loading, StaleNote } from '../components/States.tsx';
import { useNow, usePoll } from '../components/usePoll.ts';
import { api, SignedOutError } from '../lib/api.ts';
import type { Session, User } from '../lib/api.ts';
import { device } from '../lib/format.ts';

const RefreshMs = 10000;

function userOf(s: Session): { id: string; label: string; sub?: string } {
  const u = s.user;
  if (typeof u === 'string') return { id: u, label: u };
  if (u && typeof u === 'object') {
    const p = u as Partial<User>;
    return { id: p.id ?? p.email ?? '?', label: p.name || p.email || p.id || 'Unknown user', sub: p.name && p.email ? p.email : undefined };
  }
  return { id: '?', label: 'Unknown user' };
}

export default function Sessions() {
  const { me } = useMe();
  const isAdmin = me?.user.role === 'admin';
  const mine = usePoll(() => api().sessions(false), RefreshMs, 'sessions');
  const everyone = usePoll(isAdmin ? () => api().sessions(true) : null, RefreshMs, `all-sessions:${isAdmin}`);
  const now = useNow(10000);
  const [ending, setEnding] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);

  const refreshAll = () => {
    mine.refresh();
    if (isAdmin) everyone.refresh();
  };

  const guard = async (key: string, f: () => Promise<string>) => {
    setEnding((s) => new Set(s).add(key));
    setMessage(null);
    try {
      setMessage({ kind: 'ok', text: await f() });
      refreshAll();
    } catch (e) {
      if (!(e instanceof SignedOutError)) setMessage({ kind: 'error', text: (e as Error).message });
    } finally {
      setEnding((s) => {
        const n = new Set(s);
        n.delete(key);
        return n;
      });
    }
  };

  const endSession = (s: Session) =>
    guard(s.id, async () => {
      await api().endSession(s.id);
      if (s.current) window.location.assign('/signin/');
      return `Ended the session on ${device(s.user_agent)}.`;
    });

  const endUser = (userID: string, label: string) =>
    guard(`user:${userID}`, async () => {
      const r = await api().endUserSessions(userID);
      if (userID === me?.user.id) window.location.assign('/signin/');
      return `Ended ${r?.ended ?? 0} session${r?.ended === 1 ? '' : 's'} of ${label}.`;
    });

  const groups = new Map<string, { label: string; sub?: string; sessions: Session[] }>();
  for (const s of everyone.data ?? []) {
    const u = userOf(s);
    const g = groups.get(u.id) ?? { label: u.label, sub: u.sub, sessions: [] };
    g.sessions.push(s);
    groups.set(u.id, g);
  }

  return (
    <Layout title="Sessions">
      <div className="page-head">
        <h1>Sessions</h1>
      </div>
      {message ? (
        <p className={`notice${message.kind === 'error' ? ' notice-error' : ' notice-ok'}`} role={message.kind === 'error' ? 'alert' : 'status'}>
          {message.text}
        </p>
      ) : null}
      <section className="section" aria-labelledby="mine-h" data-testid="my-sessions">
        <h2 id="mine-h">Your sessions</h2>
        <p className="muted">Everywhere you are signed in, in browsers and the CLI. Ending a session signs that device out at once.</p>
        <StaleNote error={mine.data ? mine.error : null} />
        {mine.loading ? (
          <Loading label="Loading your sessions…" />
        ) : !mine.data && mine.error ? (
          <ErrorBox error={mine.error} retry={mine.refresh} />
        ) : !mine.data || mine.data.length === 0 ? (
          <Empty title="No active session" />
        ) : (
          <SessionTable sessions={mine.data} now={now} onEnd={endSession} ending={ending} />
        )}
      </section>
      {isAdmin ? (
        <section className="section" aria-labelledby="all-h" data-testid="all-sessions">
          <h2 id="all-h">All users</h2>
          <p className="muted">As an administrator you can end anyone's sessions.</p>
          <StaleNote error={everyone.data ? everyone.error : null} />
          {everyone.loading ? (
            <Loading label="Loading all sessions…" />
          ) : !everyone.data && everyone.error ? (
            <ErrorBox error={everyone.error} retry={everyone.refresh} />
          ) : groups.size === 0 ? (
            <Empty title="No active session" />
          ) : (
            [...groups.entries()]
              .sort(([, a], [, b]) => a.label.localeCompare(b.label))
              .map(([userID, g]) => (
                <div key={userID} className="user-group" data-testid="user-group" data-user-id={userID}>
                  <div className="user-group-head">
                    <h3>
                      {g.label} {g.sub ? <span className="muted small">{g.sub}</span> : null}
                      <span className="count">
                        {g.sessions.length} session{g.sessions.length === 1 ? '' : 's'}
                      </span>
                    </h3>
                    <ConfirmButton
                      small
                      label="End all sessions of this user"
                      ariaLabel={`End all sessions of ${g.label}`}
                      confirm={`End all ${g.sessions.length} session${g.sessions.length === 1 ? '' : 's'} of ${g.label}?${userID === me?.user.id ? ' This signs you out too.' : ''}`}
                      yesLabel="Yes, end them"
                      noLabel="Keep them"
                      busyLabel="Ending…"
                      disabled={ending.has(`user:${userID}`)}
                      testid="end-user-sessions"
                      onConfirm={() => endUser(userID, g.label)}
                    />
                  </div>
                  <SessionTable sessions={g.sessions} now={now} onEnd={endSession} ending={ending} />
                </div>
              ))
          )}
        </section>
      ) : null}
    </Layout>
  );
}
