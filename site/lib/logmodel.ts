// A job's log as it arrives page by page: complete lines parsed into spans, and
// the unfinished last line held back until its newline arrives (or the log ends).
import { parseLine, plainText } from './ansi.ts';
import type { Span, Style } from './ansi.ts';

export interface LogLine {
  spans: Span[];
  /** the text without escape sequences, lower-cased, for search */
  search: string;
}

/** MaxLines bounds what the browser keeps; older lines are dropped first. */
export const MaxLines = 200_000;

export class LogModel {
  lines: LogLine[] = [];
  /** lines dropped from the front because of MaxLines */
  dropped = 0;
  private partial = '';
  private style: Style = {};
  private maxLines: number;

  constructor(maxLines = MaxLines) {
    this.maxLines = maxLines;
  }

  /** append adds a page of text; it returns how many complete lines it added. */
  append(text: string): number {
    if (!text) return 0;
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const raw of parts) this.push(raw);
    this.trim();
    return parts.length;
  }

  /** end flushes an unfinished last line, when the log has ended. */
  end(): void {
    if (this.partial) {
      this.push(this.partial);
      this.partial = '';
      this.trim();
    }
  }

  /** pending is the unfinished last line, parsed (shown while the job runs). */
  pending(): LogLine | null {
    if (!this.partial) return null;
    const { spans } = parseLine(this.partial, this.style);
    return { spans, search: plainText(spans).toLowerCase() };
  }

  private push(raw: string) {
    const { spans, end } = parseLine(raw, this.style);
    this.style = end;
    this.lines.push({ spans, search: plainText(spans).toLowerCase() });
  }

  private trim() {
    const over = this.lines.length - this.maxLines;
    if (over > 0) {
      this.lines.splice(0, over);
      this.dropped += over;
    }
  }
}

/** matchingLines are the indexes of lines that contain query (case-insensitive). */
export function matchingLines(lines: LogLine[], query: string): number[] {
  const q = query.toLowerCase();
  if (!q) return [];
  const out: number[] = [];
  for (let i = 0; i < lines.length; i++) if (lines[i].search.includes(q)) out.push(i);
  return out;
}

/**
 * visibleRange is the slice of lines to render for a scroll position: the
 * lines in view plus overscan on each side. Log lines have one fixed height.
 */
export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  lineHeight: number,
  total: number,
  overscan = 20,
): { start: number; end: number } {
  if (total <= 0 || lineHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / lineHeight);
  const count = Math.ceil(Math.max(0, viewportHeight) / lineHeight) + 1;
  const start = Math.max(0, Math.min(total, first - overscan));
  const end = Math.max(start, Math.min(total, first + count + overscan));
  return { start, end };
}
