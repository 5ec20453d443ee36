// The serial console's bytes for the VM page, in order and without repeats: the live
// stream (control permission: the console's WebSocket where there is one, as in browsers,
// else the streamed GET) is connected first and the log read second, so nothing
// falls between them; what the stream brought before the log came is written only where
// it does not already end the log. Without control (or when the VM does not run) the log
// alone. The output goes to a sink { reset(), write(text) } (xterm.js in the page,
// tests/web/textterm.mjs in node). No DOM.

// The part of live that is not already at the log's end: live without its longest prefix
// that ends the log.
export function liveAfterLog(log, live) {
  for (let k = Math.min(log.length, live.length); k > 0; k--)
    if (log.endsWith(live.slice(0, k)))
      return live.slice(k);
  return live;
}

export class ConsoleFeed {
  // api: an Api; name: the VM's; sink: { reset(), write(text) };
  // onNote(text): what the feed is doing, for people; onError(e): a failed log read.
  constructor(api, name, sink, { onNote = () => {}, onError = () => {},
                                 socket = typeof WebSocket !== 'undefined' } = {}) {
    Object.assign(this, { api, name, sink, onNote, onError, socket });
    this.ws = null;            // the live WebSocket, open: typing goes there
    this.follow = null;        // AbortController of the live stream
    this.early = null;         // live text that came before the log (null: not waiting)
  }

  get live() { return !!this.follow; }

  // Type data into the guest over the live WebSocket: false when there is none open (the
  // caller posts it instead).
  send(data) {
    if (!this.ws || this.ws.readyState !== 1)
      return false;
    this.ws.send(new TextEncoder().encode(data));
    return true;
  }

  // The log's last 64 KiB; then what the live stream brought meanwhile, without overlap.
  async loadLog() {
    try {
      const text = await this.api.console(this.name, 65536);
      this.sink.reset();
      this.sink.write(text);
      if (this.early !== null)
        this.sink.write(liveAfterLog(text, this.early));
    } catch (e) { this.onError(e); }
    this.early = null;
  }

  stop() {
    if (this.follow)
      this.follow.abort();
    this.follow = null;
    this.ws = null;
  }

  // Follow the live output until the VM ends or stop(); resolves then.
  async start() {
    if (this.follow)
      return;
    const ctl = new AbortController();
    this.follow = ctl;
    this.onNote('Live: following the console.');
    try {
      const onOpen = () => { this.early = ''; this.loadLog(); };
      const src = this.socket
        ? this.api.consoleSocket(this.name, { signal: ctl.signal, onOpen, onSocket: (ws) => { this.ws = ws; } })
        : this.api.consoleFollow(this.name, { signal: ctl.signal, onOpen });
      for await (const text of src) {
        if (this.early !== null)
          this.early += text;
        else
          this.sink.write(text);
      }
      this.onNote('The console ended.');
    } catch (e) {
      if (!ctl.signal.aborted) {
        this.onNote('The live console is not available: ' + e.message);
        this.early = null;
        this.loadLog();
      }
    }
    if (this.follow === ctl) {
      this.follow = null;
      this.ws = null;
    }
  }
}
