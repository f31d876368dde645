// Secrets masked by the agent. Before a line of output leaves the agent,
// every secret value in it is replaced by `[REDACTED:NAME]` (agent/redact),
// NAME being the secret's name with "[", "]" and control characters turned
// into "_". The dashboard never sees a value; it shows these tokens as
// "masked secret NAME" so that a reader cannot mistake them for output.
import type { Segment } from './ansi.ts';

/** MaskPattern matches one mask token; group 1 is the secret's name. */
export const MaskPattern = /\[REDACTED:([^[\]\u0000-\u001f\u007f]{1,256})\]/g;

/** maskRanges are the [start, end, name] of the mask tokens in text. */
export function maskRanges(text: string): Array<[number, number, string]> {
  const out: Array<[number, number, string]> = [];
  for (const m of text.matchAll(MaskPattern)) out.push([m.index!, m.index! + m[0].length, m[1]]);
  return out;
}

/** A piece of a line: plain segments, or the segments of one mask token. */
export type Piece = { kind: 'text'; segment: Segment } | { kind: 'masked'; name: string; segments: Segment[] };

/**
 * maskPieces groups a line's segments (colours and search matches, from
 * highlight) so that each mask token is one piece, however its text was
 * split: a search match or a colour change inside a token stays inside it.
 */
export function maskPieces(segments: Segment[]): Piece[] {
  const text = segments.map((s) => s.text).join('');
  const ranges = maskRanges(text);
  if (ranges.length === 0) return segments.map((segment) => ({ kind: 'text', segment }));
  const out: Piece[] = [];
  let pos = 0;
  let r = 0; // the next (or current) range
  for (const seg of segments) {
    let cut = 0;
    while (cut < seg.text.length) {
      const at = pos + cut;
      while (r < ranges.length && ranges[r][1] <= at) r++;
      const range = ranges[r];
      let take: number;
      let inside = false;
      if (!range || at < range[0]) {
        take = Math.min(seg.text.length - cut, (range ? range[0] : Infinity) - at);
      } else {
        inside = true;
        take = Math.min(seg.text.length - cut, range[1] - at);
      }
      const piece: Segment = { ...seg, text: seg.text.slice(cut, cut + take) };
      if (inside) {
        const last = out[out.length - 1];
        // The same token continues when the previous piece is its start.
        if (last && last.kind === 'masked' && at > range[0]) last.segments.push(piece);
        else out.push({ kind: 'masked', name: range[2], segments: [piece] });
      } else {
        out.push({ kind: 'text', segment: piece });
      }
      cut += take;
    }
    pos += seg.text.length;
  }
  return out;
}
