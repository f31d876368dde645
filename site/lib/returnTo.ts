// Where to come back to after signing in. A return_to is only ever a path on
// this site: anything that could leave it (another origin, a protocol-relative
// or backslash path, a scheme) or loop back to sign-in becomes "/".

/** The sign-in page. */
export const SigninPath = '/signin/';

/**
 * safeReturnTo returns raw when it is a same-site relative path (with its
 * query and fragment), and "/" otherwise.
 */
export function safeReturnTo(raw: string | null | undefined): string {
  if (typeof raw !== 'string' || raw === '') return '/';
  if (raw.length > 2048) return '/';
  if (!raw.startsWith('/') || raw.startsWith('//')) return '/';
  // Browsers treat "\" like "/" in URLs ("/\evil.example" is protocol-relative),
  // and control characters are stripped before parsing.
  if (/[\\\u0000-\u001f\u007f]/.test(raw)) return '/';
  let u: URL;
  try {
    u = new URL(raw, 'https://airlock.invalid');
  } catch {
    return '/';
  }
  if (u.origin !== 'https://airlock.invalid') return '/';
  const path = u.pathname;
  // Never back to sign-in (a loop) or to the server's own auth endpoints.
  if (path === '/signin' || path.startsWith('/signin/') || path.startsWith('/auth/')) return '/';
  return path + u.search + u.hash;
}

/** signinURL is the sign-in page that will bring the user back to current. */
export function signinURL(current: string): string {
  return `${SigninPath}?return_to=${encodeURIComponent(safeReturnTo(current))}`;
}

/** loginURL starts the server's sign-in with provider, ending on returnTo. */
export function loginURL(provider: string, returnTo: string): string {
  const q = new URLSearchParams({ provider, return_to: safeReturnTo(returnTo) });
  return `/auth/login?${q.toString()}`;
}

/** currentPath is a location's path and query, as return_to carries it. */
export function currentPath(loc: { pathname: string; search: string }): string {
  return loc.pathname + loc.search;
}
