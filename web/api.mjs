// The REST API client of the web console (docs/api.yaml). No DOM: node's tests import it.
// The bearer token lives in the given storage (sessionStorage in the browser) and goes in
// an Authorization header on every call, streams included: the server takes no token in
// a URL, so EventSource (which cannot send headers) is not used; streams are read with
// fetch() and a ReadableStream reader instead. The WebSocket consoles (serial, VNC) are the
// exception a browser forces: its WebSocket sends no header, so there the session cookie
// that login set goes (the server takes it on those endpoints only, from this origin only).
import { SseParser } from './sse.mjs';

const TOKEN_KEY = 'vsrv.token';
const USER_KEY = 'vsrv.user';

// An error answer of the API: status, its code ("conflict", ...) and its message.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

// An error as one line for people: the API's message with its status and code.
export function errorText(e) {
  return e instanceof ApiError ? `${e.message} (${e.status} ${e.code})` : String(e && e.message || e);
}

// A path segment: names are checked by the server, but are escaped here all the same.
export function seg(s) {
  return encodeURIComponent(String(s));
}

// A memory-only storage for tests and for browsers that refuse sessionStorage.
export class MemoryStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}

async function errorOf(res) {
  let code = 'http_' + res.status, message = res.statusText || ('HTTP ' + res.status);
  try {
    const js = await res.json();
    if (js && js.error) {
      code = js.error.code || code;
      message = js.error.message || message;
    }
  } catch (e) { /* not JSON: keep the status line */ }
  return new ApiError(res.status, code, message);
}

export class Api {
  // base: the server's origin ('' in the browser); fetch: the fetch function;
  // storage: where the token is kept; onUnauthorized(): called on any 401 after login.
  constructor({ base = '', fetch = globalThis.fetch, storage = new MemoryStorage(),
                onUnauthorized = null } = {}) {
    this.base = base;
    this.fetch = (url, init) => fetch(url, init);   // a browser's fetch wants no `this`
    this.storage = storage;
    this.onUnauthorized = onUnauthorized;
    this.session = new AbortController();     // aborts the session's requests when it ends
  }

  get token() { return this.storage.getItem(TOKEN_KEY); }
  get user() { return this.storage.getItem(USER_KEY); }

  // End the session here: the token is forgotten and its requests still on their way are
  // cancelled (their answers would be 401s).
  forget() {
    this.storage.removeItem(TOKEN_KEY);
    this.storage.removeItem(USER_KEY);
    this.session.abort();
    this.session = new AbortController();
  }

  // token: another token than the session's (the logout's own)
  // data: a body sent as it is (a File or Blob: the browser streams it), not as JSON
  async raw(method, path, { body, data, signal, accept, token } = {}) {
    const sent = token || this.token;
    const h = { ...(accept ? { Accept: accept } : {}), ...(sent ? { Authorization: 'Bearer ' + sent } : {}) };
    const sig = !signal ? this.session.signal
      : AbortSignal.any ? AbortSignal.any([signal, this.session.signal]) : signal;   // (any: 2023's browsers)
    const init = { method, headers: h, signal: sig, cache: 'no-store' };
    if (body !== undefined) {
      h['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    } else if (data !== undefined) {
      h['Content-Type'] = 'application/octet-stream';
      init.body = data;
    }
    const res = await this.fetch(this.base + path, init);
    if (!res.ok) {
      const err = await errorOf(res);
      // (a 401 to a request made with an earlier token says nothing of a newer session)
      if (res.status === 401 && this.token && this.token === sent) {
        this.forget();
        if (this.onUnauthorized)
          this.onUnauthorized(err);
      }
      throw err;
    }
    return res;
  }

  // A call with a JSON answer (null for 204, text for text/plain).
  async request(method, path, body, opts = {}) {
    const res = await this.raw(method, path, { ...opts, body });
    if (res.status === 204)
      return null;
    const type = res.headers.get('Content-Type') || '';
    if (type.startsWith('application/json'))
      return res.json();
    return res.text();
  }

  async login(user, password) {
    const js = await this.request('POST', '/api/v1/login', { user, password });
    this.storage.setItem(TOKEN_KEY, js.token);
    this.storage.setItem(USER_KEY, user);
    return js;
  }

  // The session ends here first: its requests on their way are cancelled (answered after
  // the logout they would only be 401s) and no new one starts; then the server is told.
  async logout() {
    const token = this.token;
    this.forget();
    if (token)
      await this.request('POST', '/api/v1/logout', undefined, { token });
  }

  whoami() { return this.request('GET', '/api/v1/whoami'); }
  host() { return this.request('GET', '/api/v1/host'); }
  hosts() { return this.request('GET', '/api/v1/hosts'); }
  listVms() { return this.request('GET', '/api/v1/vms'); }
  // Every VM one may see: the list comes in pages (1,000 VMs by default).
  async listAllVms() {
    const vms = [];
    for (;;) {
      const js = await this.request('GET', '/api/v1/vms?limit=1000&offset=' + vms.length);
      vms.push(...js.vms);
      if (!js.vms.length || vms.length >= js.total)
        return { vms, total: js.total };
    }
  }
  getVm(name) { return this.request('GET', '/api/v1/vms/' + seg(name)); }
  vmStatus(name) { return this.request('GET', '/api/v1/vms/' + seg(name) + '/status'); }
  createVm(spec) { return this.request('POST', '/api/v1/vms', spec); }
  deleteVm(name) { return this.request('DELETE', '/api/v1/vms/' + seg(name)); }
  vmAction(name, action) {
    return this.request('POST', '/api/v1/vms/' + seg(name) + '/' + seg(action));
  }
  // Live-migrate a running VM to another host of the cluster: {to, disks: 'shared'|'copy'};
  // answers {task} (docs/api.yaml).
  migrateVm(name, body) {
    return this.request('POST', '/api/v1/vms/' + seg(name) + '/migrate', body);
  }
  // A stopped VM's kept undo disks (404 when it has none); commit (a task) or discard them.
  undoDisks(name) { return this.request('GET', '/api/v1/vms/' + seg(name) + '/undo-disks'); }
  undoAction(name, action) {
    return this.request('POST', '/api/v1/vms/' + seg(name) + '/undo-disks?action=' + seg(action));
  }
  // A VM's snapshot tree; take one ({name, description?, memory?}), revert to one (both
  // answer the tree), delete one (answers {task}).
  snapshots(name) { return this.request('GET', '/api/v1/vms/' + seg(name) + '/snapshots'); }
  takeSnapshot(name, body) {
    return this.request('POST', '/api/v1/vms/' + seg(name) + '/snapshots', body);
  }
  revertSnapshot(name, snap) {
    return this.request('POST', '/api/v1/vms/' + seg(name) + '/snapshots/' + seg(snap) + '/revert');
  }
  deleteSnapshot(name, snap) {
    return this.request('DELETE', '/api/v1/vms/' + seg(name) + '/snapshots/' + seg(snap));
  }
  task(id) { return this.request('GET', '/api/v1/tasks/' + Number(id)); }
  listDisks() { return this.request('GET', '/api/v1/disks'); }
  listNetworks() { return this.request('GET', '/api/v1/networks'); }
  listImages() { return this.request('GET', '/api/v1/images'); }
  // Upload a file (File or Blob) into the image store; sha256: the checksum it must have.
  async uploadImage(name, data, sha256 = '') {
    const q = sha256 ? '?sha256=' + seg(sha256) : '';
    const res = await this.raw('PUT', '/api/v1/images/' + seg(name) + q, { data });
    return res.json();
  }
  deleteImage(name) { return this.request('DELETE', '/api/v1/images/' + seg(name)); }
  setImagePublic(name, pub) { return this.request('PATCH', '/api/v1/images/' + seg(name), { public: pub }); }
  // Put image (null: eject) in a CD/DVD drive of a VM.
  vmMedia(name, drive, image) {
    return this.request('POST', '/api/v1/vms/' + seg(name) + '/media', { drive, image });
  }
  events(limit = 50) { return this.request('GET', '/api/v1/events?limit=' + limit); }

  // The console log's last bytes, as text.
  async console(name, bytes = 16384) {
    const res = await this.raw('GET', '/api/v1/vms/' + seg(name) + '/console?bytes=' + bytes);
    return res.text();
  }

  consoleInput(name, input) {
    return this.request('POST', '/api/v1/vms/' + seg(name) + '/console', { input });
  }

  // The VM's screen as a PNG Blob (view; 409 when it does not run or has no display).
  async screenshot(name, { signal } = {}) {
    const res = await this.raw('GET', '/api/v1/vms/' + seg(name) + '/screenshot', { signal, accept: 'image/png' });
    return res.blob();
  }

  // The ws: (wss: under https) URL of a VM's console WebSocket, kind 'serial' or 'vnc', at
  // the page's origin (loc: a Location) or at base.
  consoleUrl(name, kind, loc = globalThis.location) {
    const origin = this.base || loc.origin;
    return origin.replace(/^http/, 'ws') + '/api/v1/vms/' + seg(name) + '/console/' + kind;
  }

  // The live serial console over its WebSocket (control): text chunks (UTF-8 decoded across
  // messages; escape sequences as the guest sent them) until the VM ends or signal aborts.
  // onOpen() once connected; onSocket(ws) gives the socket, for typing (ws.send).
  async *consoleSocket(name, { signal, onOpen, onSocket } = {}) {
    const ws = new WebSocket(this.consoleUrl(name, 'serial'), ['binary']);
    ws.binaryType = 'arraybuffer';
    const queue = [];
    let wake = null, ended = false, failed = null, opened = false;
    const kick = () => { if (wake) { wake(); wake = null; } };
    ws.onopen = () => { opened = true; if (onSocket) onSocket(ws); if (onOpen) onOpen(); };
    ws.onmessage = (ev) => { queue.push(ev.data); kick(); };
    ws.onerror = () => { if (!opened) failed = new Error('the console WebSocket did not connect'); };
    ws.onclose = () => { ended = true; kick(); };
    const abort = () => ws.close(1000);
    if (signal)
      signal.addEventListener('abort', abort);
    const dec = new TextDecoder('utf-8');
    try {
      for (;;) {
        while (queue.length) {
          const m = queue.shift();
          yield typeof m === 'string' ? m : dec.decode(new Uint8Array(m), { stream: true });
        }
        if (ended)
          break;
        await new Promise((r) => { wake = r; });
      }
      if (failed && !(signal && signal.aborted))
        throw failed;
    } finally {
      if (signal)
        signal.removeEventListener('abort', abort);
      if (ws.readyState <= 1)
        ws.close(1000);
    }
  }

  // The bytes of a streaming answer, as they come (an async iterator of Uint8Array).
  // onOpen() is called once the server answered (the stream is connected).
  async *stream(path, { signal, accept, onOpen } = {}) {
    const res = await this.raw('GET', path, { signal, accept });
    if (onOpen)
      onOpen();
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done)
          return;
        yield value;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  // The live console (control permission): text chunks until the VM ends or signal aborts.
  async *consoleFollow(name, { signal, onOpen } = {}) {
    const dec = new TextDecoder('utf-8');
    for await (const chunk of this.stream('/api/v1/vms/' + seg(name) + '/console?follow=1',
                                          { signal, onOpen }))
      yield dec.decode(chunk, { stream: true });
  }

  // The event stream (SSE over fetch): parsed events { id, type, data } from after
  // `since` (an event id; null: from now on) until signal aborts or the stream ends.
  async *eventStream({ signal, since = null } = {}) {
    const dec = new TextDecoder('utf-8');
    const p = new SseParser();
    let path = '/api/v1/events?follow=1';
    if (since !== null && since !== undefined)
      path += '&since=' + Number(since);
    for await (const chunk of this.stream(path, { signal, accept: 'text/event-stream' }))
      for (const ev of p.push(dec.decode(chunk, { stream: true })))
        yield ev;
  }
}
