// The frame of every signed-in page: the header with navigation, who is signed
// in and "Sign out", and the page below. It loads /v1/me once; a 401 there (or
// from any other call) sends the browser to sign-in.
import Head from 'next/head';
import Link from 'next/link';
import { useRouter } from 'next/router';
import { useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { api, ApiError, SignedOutError } from '../lib/api.ts';
import type { Me } from '../lib/api.ts';

// The signed-in user, loaded once per page load and shared by the header and
// the pages (a page renders Layout, so a context inside Layout would not
// reach the page itself).
let cachedMe: Me | null = null;
let loadingMe: Promise<Me> | null = null;
function loadMe(): Promise<Me> {
  if (!loadingMe) {
    loadingMe = api()
      .me()
      .then((m) => (cachedMe = m));
    loadingMe.catch(() => (loadingMe = null));
  }
  return loadingMe;
}

/** useMe is the signed-in user (null while it loads) and the error loading it. */
export function useMe(): { me: Me | null; error: Error | null } {
  const [me, setMe] = useState<Me | null>(cachedMe);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    let live = true;
    loadMe()
      .then((m) => live && setMe(m))
      .catch((e) => {
        if (live && !(e instanceof SignedOutError)) setError(e as Error);
      });
    return () => {
      live = false;
    };
  }, []);
  return { me, error };
}

const nav = [
  { href: '/', label: 'Runs', match: (p: string) => p === '/' || p.startsWith('/runs') },
  { href: '/services/', label: 'Services', match: (p: string) => p.startsWith('/services') },
  { href: '/agents/', label: 'Agents', match: (p: string) => p.startsWith('/agents') },
  { href: '/sessions/', label: 'Sessions', match: (p: string) => p.startsWith('/sessions') },
];

export function Layout({ title, children }: { title: string; children: ReactNode }) {
  const router = useRouter();
  const { me, error: meError } = useMe();
  const [signingOut, setSigningOut] = useState(false);

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
    <>
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
              <span className="who-error" title={meError.message}>
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
    </>
  );
}
