// ANSI escape sequences in job logs, parsed into styled spans. The dashboard
// renders these spans as React text nodes with class names, never as HTML, so a
// log line can never inject markup. Only SGR (colour/weight) sequences are kept;
// every other control sequence (cursor movement, OSC titles and links, …) is
// dropped.

/** The text attributes that SGR sequences set. */
export interface Style {
  /** 0–15: the 16 palette colours (class names); 16–255 and truecolor: a CSS colour. */
  fg?: number | string;
  bg?: number | string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
  strike?: boolean;
}

export interface Span {
  text: string;
  style: Style;
}

const ESC = '\u001b';

/** applySGR returns the style after one SGR sequence's parameters. */
export function applySGR(style: Style, params: number[]): Style {
  const s: Style = { ...style };
  if (params.length === 0) params = [0];
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (p === 0) {
      for (const k of Object.keys(s)) delete (s as Record<string, unknown>)[k];
    } else if (p === 1) s.bold = true;
    else if (p === 2) s.dim = true;
    else if (p === 3) s.italic = true;
    else if (p === 4) s.underline = true;
    else if (p === 7) s.inverse = true;
    else if (p === 9) s.strike = true;
    else if (p === 22) { delete s.bold; delete s.dim; }
    else if (p === 23) delete s.italic;
    else if (p === 24) delete s.underline;
    else if (p === 27) delete s.inverse;
    else if (p === 29) delete s.strike;
    else if (p >= 30 && p <= 37) s.fg = p - 30;
    else if (p >= 90 && p <= 97) s.fg = p - 90 + 8;
    else if (p === 39) delete s.fg;
    else if (p >= 40 && p <= 47) s.bg = p - 40;
    else if (p >= 100 && p <= 107) s.bg = p - 100 + 8;
    else if (p === 49) delete s.bg;
    else if (p === 38 || p === 48) {
      const key = p === 38 ? 'fg' : 'bg';
      const mode = params[i + 1];
      if (mode === 5 && i + 2 < params.length) {
        const n = params[i + 2];
        if (n >= 0 && n <= 255) s[key] = n < 16 ? n : xterm256(n);
        i += 2;
      } else if (mode === 2 && i + 4 < params.length) {
        const [r, g, b] = params.slice(i + 2, i + 5);
        if ([r, g, b].every((c) => c >= 0 && c <= 255)) s[key] = `rgb(${r}, ${g}, ${b})`;
        i += 4;
      } else {
        break; // malformed: ignore the rest of this sequence
      }
    }
  }
  return s;
}

/** xterm256 is the CSS colour of palette entry 16–255. */
export function xterm256(n: number): string {
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v}, ${v}, ${v})`;
  }
  const i = n - 16;
  const level = (c: number) => (c === 0 ? 0 : 55 + c * 40);
  return `rgb(${level(Math.floor(i / 36))}, ${level(Math.floor(i / 6) % 6)}, ${level(i % 6)})`;
}

/**
 * parseLine splits one line of text into spans, starting in style start. It
 * returns the spans and the style at the end of the line (a colour set on one
 * line carries on to the next, as in a terminal). A carriage return starts the
 * line over (progress bars), as a terminal would show it.
 */
export function parseLine(line: string, start: Style = {}): { spans: Span[]; end: Style } {
  const cr = line.lastIndexOf('\r', line.length - 2);
  if (cr >= 0) {
    // Keep the styles set before the last \r: parse and discard the text.
    start = parseLine(line.slice(0, cr), start).end;
    line = line.slice(cr + 1);
  }
  if (line.endsWith('\r')) line = line.slice(0, -1);
  const spans: Span[] = [];
  let style = start;
  let text = '';
  const flush = () => {
    if (text) spans.push({ text, style });
    text = '';
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === ESC) {
      const next = line[i + 1];
      if (next === '[') {
        // CSI: parameters 0x30–0x3F, intermediates 0x20–0x2F, final 0x40–0x7E.
        let j = i + 2;
        while (j < line.length && line.charCodeAt(j) >= 0x30 && line.charCodeAt(j) <= 0x3f) j++;
        while (j < line.length && line.charCodeAt(j) >= 0x20 && line.charCodeAt(j) <= 0x2f) j++;
        if (j >= line.length) break; // cut off: drop it
        const final = line[j];
        if (final === 'm') {
          const body = line.slice(i + 2, j);
          if (/^[0-9;:]*$/.test(body)) {
            flush();
            const params = body === '' ? [] : body.split(/[;:]/).map((x) => (x === '' ? 0 : parseInt(x, 10)));
            style = applySGR(style, params);
          }
        }
        i = j;
        continue;
      }
      if (next === ']') {
        // OSC: ends with BEL or ST (ESC \).
        let j = i + 2;
        while (j < line.length && line[j] !== '\u0007' && !(line[j] === ESC && line[j + 1] === '\\')) j++;
        i = line[j] === ESC ? j + 1 : j;
        continue;
      }
      // Any other escape (charset selection "ESC ( B", keypad modes, …):
      // intermediates 0x20–0x2F, then one final character. Drop it all.
      let j = i + 1;
      while (j < line.length && line.charCodeAt(j) >= 0x20 && line.charCodeAt(j) <= 0x2f) j++;
      i = j;
      continue;
    }
    const code = c.charCodeAt(0);
    if (code < 0x20 && c !== '\t') continue; // other C0 controls are not shown
    if (code === 0x7f) continue;
    text += c;
  }
  flush();
  return { spans, end: style };
}

/** plainText is a line with every escape sequence removed (for search). */
export function plainText(spans: Span[]): string {
  return spans.map((s) => s.text).join('');
}

/** classNames are the CSS classes for a style; palette colours only. */
export function classNames(style: Style): string {
  const c: string[] = [];
  let fg = style.fg;
  let bg = style.bg;
  if (style.inverse) [fg, bg] = [bg ?? 'default-bg', fg ?? 'default-fg'];
  if (typeof fg === 'number') c.push(`ansi-fg-${fg}`);
  else if (fg === 'default-fg') c.push('ansi-fg-default');
  else if (fg === 'default-bg') c.push('ansi-fg-inverse');
  if (typeof bg === 'number') c.push(`ansi-bg-${bg}`);
  else if (bg === 'default-fg') c.push('ansi-bg-inverse');
  if (style.bold) c.push('ansi-bold');
  if (style.dim) c.push('ansi-dim');
  if (style.italic) c.push('ansi-italic');
  if (style.underline) c.push('ansi-underline');
  if (style.strike) c.push('ansi-strike');
  return c.join(' ');
}

/** cssColors are the colours a class cannot express (256-colour and truecolor). */
export function cssColors(style: Style): { color?: string; backgroundColor?: string } | undefined {
  let fg = style.fg;
  let bg = style.bg;
  if (style.inverse) [fg, bg] = [bg, fg];
  const out: { color?: string; backgroundColor?: string } = {};
  if (typeof fg === 'string' && fg.startsWith('rgb')) out.color = fg;
  if (typeof bg === 'string' && bg.startsWith('rgb')) out.backgroundColor = bg;
  return out.color || out.backgroundColor ? out : undefined;
}

/** A piece of a span, marked when it is part of a search match. */
export interface Segment extends Span {
  match: boolean;
}

/**
 * highlight splits spans where they overlap case-insensitive matches of query,
 * so a match that crosses a colour change is still marked.
 */
export function highlight(spans: Span[], query: string): Segment[] {
  if (!query) return spans.map((s) => ({ ...s, match: false }));
  const text = plainText(spans).toLowerCase();
  const q = query.toLowerCase();
  const ranges: Array<[number, number]> = [];
  for (let at = text.indexOf(q); at >= 0; at = text.indexOf(q, at + q.length)) ranges.push([at, at + q.length]);
  if (ranges.length === 0) return spans.map((s) => ({ ...s, match: false }));
  const out: Segment[] = [];
  let pos = 0;
  for (const span of spans) {
    const end = pos + span.text.length;
    let cut = pos;
    // Cut points inside this span: every range start and end.
    const points = new Set<number>();
    for (const [a, b] of ranges) {
      if (a > pos && a < end) points.add(a);
      if (b > pos && b < end) points.add(b);
    }
    for (const p of [...[...points].sort((x, y) => x - y), end]) {
      const piece = span.text.slice(cut - pos, p - pos);
      if (piece) out.push({ text: piece, style: span.style, match: ranges.some(([a, b]) => cut >= a && cut < b) });
      cut = p;
    }
    pos = end;
  }
  return out;
}
