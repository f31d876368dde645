// Times and durations as people read them.
import type { Timestamp } from './api.ts';

/** toMillis reads ms since the epoch, seconds since the epoch or an RFC 3339 string. */
export function toMillis(t: Timestamp | null | undefined): number | null {
  if (t === null || t === undefined || t === '') return null;
  if (typeof t === 'number') {
    if (!Number.isFinite(t) || t <= 0) return null;
    return t < 1e11 ? t * 1000 : t; // seconds, or ms
  }
  if (/^\d+$/.test(t)) return toMillis(Number(t));
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

/** duration is a span of ms as "1h 2m", "3m 4s" or "5s". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** ago is how long before now t was: "just now", "5 min ago", "3 h ago", or a date. */
export function ago(t: Timestamp | null | undefined, now = Date.now()): string {
  const ms = toMillis(t);
  if (ms === null) return '—';
  const d = now - ms;
  if (d < -60_000) return `in ${until(ms, now)}`;
  if (d < 45_000) return 'just now';
  if (d < 3_600_000) return `${Math.round(d / 60_000)} min ago`;
  if (d < 86_400_000) return `${Math.round(d / 3_600_000)} h ago`;
  if (d < 7 * 86_400_000) return `${Math.round(d / 86_400_000)} d ago`;
  return new Date(ms).toISOString().slice(0, 10);
}

/** until is how long from now to t, for expiries. */
export function until(t: Timestamp | null | undefined, now = Date.now()): string {
  const ms = toMillis(t);
  if (ms === null) return '—';
  const d = ms - now;
  if (d <= 0) return 'now';
  if (d < 3_600_000) return `${Math.max(1, Math.round(d / 60_000))} min`;
  if (d < 86_400_000) return `${Math.round(d / 3_600_000)} h`;
  return `${Math.round(d / 86_400_000)} d`;
}

/** absolute is a local date and time, for title attributes. */
export function absolute(t: Timestamp | null | undefined): string {
  const ms = toMillis(t);
  return ms === null ? '' : new Date(ms).toLocaleString();
}

/** shortCommit is the first 8 hex digits of a commit. */
export function shortCommit(c?: string): string {
  return c ? c.slice(0, 8) : '';
}

/** device names a browser from its user agent, roughly ("Chrome on Linux"). */
export function device(ua?: string): string {
  if (!ua) return 'Unknown device';
  if (/^airlock\//i.test(ua) || /\bairlock-cli\b/i.test(ua)) return 'Airlock CLI';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /HeadlessChrome\//.test(ua)
        ? 'Headless Chrome'
        : /Chrom(e|ium)\//.test(ua)
          ? 'Chrome'
          : /Safari\//.test(ua)
            ? 'Safari'
            : /curl\//.test(ua)
              ? 'curl'
              : null;
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /Mac OS X|Macintosh/.test(ua)
      ? 'macOS'
      : /Android/.test(ua)
        ? 'Android'
        : /iPhone|iPad/.test(ua)
          ? 'iOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : null;
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? ua.slice(0, 60);
}

/**
 * displayLabel is a job label as shown: Buildkite-style emoji shortcodes
 * (":rocket: Deploy") are dropped, since there is no emoji set to draw them.
 */
export function displayLabel(label: string | undefined, key: string): string {
  const text = (label ?? '').replace(/:[a-z][a-z0-9_+-]*:/gi, ' ').replace(/\s+/g, ' ').trim();
  return text || key;
}

/**
 * truncate shortens text to at most max characters (code points), ending in
 * "…". It cuts at the last word boundary when that keeps at least half of the
 * room ("lint this pipeline (With cache)" → "lint this pipeline…", not
 * "lint this pipeline (W…"), else mid-word; punctuation and open brackets left
 * dangling before the cut are dropped.
 */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  if (max < 2) return max < 1 ? '' : '…';
  const room = chars.slice(0, max - 1).join('');
  // A cut right before a space is a word boundary too.
  const atSpace = /\s/.test(chars[max - 1] ?? '');
  const boundary = atSpace ? room.length : Math.max(room.lastIndexOf(' '), room.lastIndexOf('\t'));
  const keep = boundary >= Math.ceil((max - 1) / 2) ? room.slice(0, boundary) : room;
  const trimmed = keep.replace(/[\s([{<"'`:;,.\-–—/\\|·]+$/u, '');
  return (trimmed || keep.trimEnd() || room) + '…';
}
