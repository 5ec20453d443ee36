// A guest's serial output as plain text, for the node tests that read the console through
// the API (the page itself shows it in xterm.js: web/terminal.mjs): a tiny terminal that
// takes raw output in chunks and keeps plain text lines. Escape sequences (CSI, OSC, other
// ESC sequences) are dropped, even when split across chunks; \r returns to the line's start
// and later text overwrites it, \b steps back, other control characters are dropped. No DOM.

const ESC = '\x1b';

// Remove ANSI/VT100 escape sequences and control characters but \n and \t from s.
export function stripAnsi(s) {
  const t = new Terminal();
  t.write(s);
  return t.text();
}

export class Terminal {
  // maxLines: the oldest lines are dropped beyond it.
  constructor(maxLines = 5000) {
    this.maxLines = maxLines;
    this.lines = [];
    this.cur = [];                 // the current line's characters
    this.col = 0;
    this.esc = '';                 // an escape sequence in progress ('' when none)
  }

  clear() {
    this.lines = [];
    this.cur = [];
    this.col = 0;
    this.esc = '';
  }

  put(ch) {
    if (this.col < this.cur.length)
      this.cur[this.col] = ch;
    else
      this.cur.push(ch);
    this.col++;
  }

  newline() {
    this.lines.push(this.cur.join(''));
    if (this.lines.length > this.maxLines)
      this.lines.splice(0, this.lines.length - this.maxLines);
    this.cur = [];
    this.col = 0;
  }

  // Is the escape sequence in this.esc complete?
  escDone() {
    const s = this.esc;
    if (s.length < 2)
      return false;
    const k = s[1];
    if (k === '[') {                           // CSI: parameters, then a final byte
      const c = s.charCodeAt(s.length - 1);
      return s.length > 2 && c >= 0x40 && c <= 0x7e;
    }
    if (k === ']' || k === 'P' || k === '_' || k === '^') {  // OSC, DCS...: to BEL or ST
      return s.endsWith('\x07') || s.endsWith(ESC + '\\');
    }
    if (k === '(' || k === ')' || k === '#' || k === '%')    // one more byte
      return s.length >= 3;
    return true;                               // two-byte sequences (ESC c, ESC 7, ...)
  }

  write(s) {
    for (const ch of String(s)) {
      if (this.esc) {
        this.esc += ch;
        if (this.escDone() || this.esc.length > 256)
          this.esc = '';
        continue;
      }
      const c = ch.codePointAt(0);
      if (ch === ESC)
        this.esc = ESC;
      else if (ch === '\n')
        this.newline();
      else if (ch === '\r')
        this.col = 0;
      else if (ch === '\b')
        this.col = Math.max(0, this.col - 1);
      else if (ch === '\t')
        do this.put(' '); while (this.col % 8);
      else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0))
        continue;                              // other C0/C1 controls: dropped
      else
        this.put(ch);
    }
  }

  // The whole text: the finished lines and the current one.
  text() {
    const cur = this.cur.join('');
    return this.lines.length ? this.lines.join('\n') + '\n' + cur : cur;
  }
}
