// The frame of every signed-in page: the header with navigation, who is signed
// in and "Sign out", and the page below. It loads /v1/me once; a 401 there (or
// from any other call) sends the browser to sign-in.
import Head from 'next/head';
import Link from 'next/link';
import { useRouter } from 'next/router';
import { createContext, useContext, useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { api, ApiError, SignedOutError } from '../lib/api.ts';
import type { Me } from '../lib/api.ts';

const MeContext = createContext<Me | null>(null);

/** useMe is the signed-in user, or null while it loads. */
export function useMe(): Me | null {
  return useContext(MeContext);
}

const nav = [
  { href: '/', label: 'Runs', match: (p: string) => p === '/' || p.startsWith('/runs') },
  { href: '/agents/', label: 'Agents', match: (p: string) => p.startsWith('/agents') },
  { href: '/sessions/', label: 'Sessions', match: (p: string) => p.startsWith('/sessions') },
];

export function Layout({ title, children }: { title: string; children: ReactNode }) {
  const router = useRouter();
  const [me, setMe] = useState<Me | null>(null);
  const [meError, setMeError] = useState<string | null>(null);
  const [signingOut, setSigningOut] = useState(false);

  useEffect(() => {
    let live = true;
    api()
      .me()
      .then((m) => live && setMe(m))
      .catch((e) => {
        if (live && !(e instanceof SignedOutError)) setMeError((e as Error).message);
      });
    return () => {
      live = false;
    };
  }, []);

  const signOut = async () => {
    setSigningOut(true);
    try {
      await api().logout();
    } catch (e) {
      if (e instanceof SignedOutError) return; // already signed out: on the way to sign-in
      if (!(e instanceof ApiError)) throw e;
    }
    window.location.assign('/signin/');
  };

  return (
    <MeContext.Provider value={me}>
      <Head>
        <title>{`${title} · Airlock`}</title>
      </Head>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <Link href="/" className="brand" aria-label="Airlock home">
            <span className="brand-mark" aria-hidden="true" />
            Airlock
          </Link>
          <nav aria-label="Main" className="nav">
            {nav.map((n) => (
              <Link key={n.href} href={n.href} className="nav-link" aria-current={n.match(router.pathname) ? 'page' : undefined}>
                {n.label}
              </Link>
            ))}
          </nav>
          <div className="who">
            {me ? (
              <>
                <span className="who-name" data-testid="user-name" title={me.user.email}>
                  {me.user.name || me.user.email}
                </span>
                <span className={`role role-${me.user.role === 'admin' ? 'admin' : 'member'}`} data-testid="user-role">
                  {me.user.role}
                </span>
              </>
            ) : meError ? (
              <span className="who-error" title={meError}>
                Account unavailable
              </span>
            ) : (
              <span className="who-loading">Loading account…</span>
            )}
            <button type="button" className="btn btn-quiet" onClick={signOut} disabled={signingOut} data-testid="sign-out">
              {signingOut ? 'Signing out…' : 'Sign out'}
            </button>
          </div>
        </div>
      </header>
      <main id="main" className="main" tabIndex={-1}>
        {children}
      </main>
    </MeContext.Provider>
  );
}
