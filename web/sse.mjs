// A Server-Sent Events parser (the text/event-stream format of the HTML standard), fed
// with text as it arrives from the network in chunks of any size. No DOM.

export class SseParser {
  constructor() {
    this.buf = '';
    this.reset();
    this.lastId = null;
  }

  reset() {
    this.data = [];
    this.type = '';
    this.id = null;
  }

  // Feed text; returns the events completed by it: { id, type, data } where data is the
  // parsed JSON of the data lines (or the text when it is not JSON).
  push(text) {
    const out = [];
    this.buf += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m)
        break;
      // A lone \r at the end of a chunk may be the first half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === this.buf.length - 1)
        break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line, out);
    }
    return out;
  }

  line(line, out) {
    if (line === '') {
      if (this.data.length) {
        const text = this.data.join('\n');
        let data = text;
        try { data = JSON.parse(text); } catch (e) { /* keep the text */ }
        if (this.id !== null)
          this.lastId = this.id;
        out.push({ id: this.id !== null ? this.id : this.lastId, type: this.type || 'message', data });
      }
      this.reset();
      return;
    }
    if (line[0] === ':')
      return;                       // a comment (the server's keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ')
      value = value.slice(1);
    if (field === 'data')
      this.data.push(value);
    else if (field === 'event')
      this.type = value;
    else if (field === 'id' && !value.includes('\0'))
      this.id = value;
  }
}
