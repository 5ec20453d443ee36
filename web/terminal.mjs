// The serial console pane: a real terminal (xterm.js, vendored from npm: mk/npm.sh --web),
// so a guest's cursor-addressed screens (vi, top) show as on a VT100. It renders guest
// bytes into its own screen buffer and the page's DOM as text (xterm.js never parses them
// as markup). Keys typed into it go to onInput(data) in order, as xterm.js encodes them
// (Enter "\r", arrows "ESC [ A"...), which the VM page posts to the console.
// A bare "\n" also returns the carriage (convertEol), as QEMU's -serial stdio shows it:
// a guest's tty with onlcr sends "\r\n" anyway.
import { Terminal } from './xterm.mjs';

export class ConsoleTerminal {
  // parent: the element to fill; onInput(data): typed keys (null: read only).
  constructor(parent, { onInput = null, label = 'Serial console', rows = 25, cols = 80 } = {}) {
    this.term = new Terminal({
      rows, cols, scrollback: 5000, convertEol: true, disableStdin: !onInput,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', fontSize: 13,
      theme: { background: '#0e1013', foreground: '#d8dee4' },
    });
    this.el = parent;
    this.el.classList.add('term');
    this.el.setAttribute('aria-label', label);
    this.term.open(this.el);
    this.el.vsrvTerminal = this;            // for the page's tests (the buffer, below)
    this.onInput = onInput;
    this.sub = this.term.onData((d) => { if (this.onInput) this.onInput(d); });
  }

  // Let keys through (control, VM running) or not.
  setInput(onInput) {
    this.onInput = onInput;
    this.term.options.disableStdin = !onInput;
  }

  // Resolves once xterm.js has parsed data into its buffer.
  write(data) {
    return new Promise((resolve) => this.term.write(data, resolve));
  }

  reset() { this.term.reset(); }

  focus() { this.term.focus(); }

  // The screen and scrollback as text lines (wrapped lines joined, trailing blanks cut).
  lines() {
    const b = this.term.buffer.active, out = [];
    for (let i = 0; i < b.length; i++) {
      const l = b.getLine(i);
      const s = l.translateToString(true);
      if (l.isWrapped && out.length)
        out[out.length - 1] += s;
      else
        out.push(s);
    }
    return out;
  }

  text() { return this.lines().join('\n').replace(/\n+$/, ''); }

  dispose() {
    this.sub.dispose();
    this.term.dispose();
  }
}

// Typed keys posted in order, one request at a time: what is typed while one is on its way
// goes in the next one. post(text) sends (returns a promise); onError(e) is told.
export function inputQueue(post, onError) {
  let pending = '', busy = false;
  const pump = async () => {
    busy = true;
    while (pending) {
      const chunk = pending.slice(0, 4096);
      pending = pending.slice(chunk.length);
      try { await post(chunk); } catch (e) { pending = ''; onError(e); }
    }
    busy = false;
  };
  return (data) => {
    pending += data;
    if (!busy)
      pump();
  };
}
