// Sign-in: the identity providers the control plane offers, as links that
// start the server's sign-in and come back to return_to.
import Head from 'next/head';
import { useRouter } from 'next/router';
import { useEffect, useState } from 'react';
import { api } from '../lib/api.ts';
import type { Me, Provider } from '../lib/api.ts';
import { loginURL, safeReturnTo } from '../lib/returnTo.ts';
import { ErrorBox, Loading, Empty } from '../components/States.tsx';

export default function SignIn() {
  const router = useRouter();
  const [providers, setProviders] = useState<Provider[] | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const [attempt, setAttempt] = useState(0);

  const raw = router.query.return_to;
  const returnTo = safeReturnTo(Array.isArray(raw) ? raw[0] : raw);
  const serverError = typeof router.query.error === 'string' ? router.query.error : null;

  useEffect(() => {
    let live = true;
    setError(null);
    api()
      .providers()
      .then((p) => live && setProviders(p))
      .catch((e) => live && setError(e as Error));
    api()
      .me({ noRedirect: true })
      .then((m) => live && setMe(m))
      .catch(() => {
        // Signed out (the usual case here) or unknown: show the providers.
      });
    return () => {
      live = false;
    };
  }, [attempt]);

  return (
    <div className="center-page">
      <Head>
        <title>Sign in · Airlock</title>
      </Head>
      <main className="card narrow signin" id="main">
        <div className="signin-brand">
          <span className="brand-mark large" aria-hidden="true" />
          <h1>Sign in to Airlock</h1>
        </div>
        {router.isReady && returnTo !== '/' ? (
          <p className="muted">
            You will come back to <code className="return-to">{returnTo}</code>.
          </p>
        ) : (
          <p className="muted">Choose how to sign in.</p>
        )}
        {serverError ? (
          <p className="notice notice-error" role="alert">
            Sign-in did not complete: {serverError}
          </p>
        ) : null}
        {me ? (
          <div className="notice">
            <p>
              You are already signed in as <strong>{me.user.name || me.user.email}</strong>.
            </p>
            <a className="btn btn-primary" href={returnTo}>
              Continue
            </a>
          </div>
        ) : null}
        {error ? (
          <ErrorBox error={error} title="The sign-in options could not be loaded" retry={() => setAttempt((a) => a + 1)} />
        ) : providers === null || !router.isReady ? (
          <Loading label="Loading sign-in options…" />
        ) : providers.length === 0 ? (
          <Empty title="No sign-in provider is configured">
            Ask your Airlock administrator to set up an identity provider.
          </Empty>
        ) : (
          <ul className="providers" aria-label="Sign-in providers">
            {providers.map((p) => (
              <li key={p.id}>
                <a className="btn btn-provider" href={loginURL(p.id, returnTo)} data-provider={p.id}>
                  Continue with {p.name}
                </a>
              </li>
            ))}
          </ul>
        )}
      </main>
    </div>
  );
}
