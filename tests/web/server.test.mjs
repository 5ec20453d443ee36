// The web console's API client and reducer against a real vsrv-server started here (on a
// temporary data directory and a free port): login, lists, a VM created, started, paused,
// resumed, saved and started again (restored), turned off with its state followed through
// the event stream, its live console read and typed into (guest HTML stays text), delete,
// logout. Needs /dev/kvm and
// build/guests/console.elf for the VM part (skipped without).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, ApiError, MemoryStorage } from '../../web/api.mjs';
import { reduce, initialState } from '../../web/vmstate.mjs';
import { vmActions } from '../../web/perms.mjs';
import { Terminal } from './textterm.mjs';
import { startDaemon, kvmReason, until, sleep, ROOT } from './daemon.mjs';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

let d, base, api;

// Every answer the console's client gets (streams but for their status), for the check
// against docs/api.yaml at the end (tests/server/openapi_check.py, as the server tests do).
const answers = [];
async function recordingFetch(url, init = {}) {
  const res = await fetch(url, init);
  const type = res.headers.get('content-type') || '';
  const a = { method: init.method || 'GET', path: new URL(url).pathname + new URL(url).search,
              status: res.status, type, body: '' };
  if (!/^(text\/event-stream|application\/octet-stream)/.test(type))
    a.body = await res.clone().text();
  answers.push(a);
  return res;
}

before(async () => {
  d = await startDaemon('vsrv-webjs.');
  base = d.base;
  api = new Api({ base, fetch: recordingFetch, storage: new MemoryStorage() });
});

after(async () => {
  if (d)
    await d.stop(api);
});

test('the console page itself is served', async () => {
  const res = await fetch(base + '/ui/app.mjs');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/javascript/);
  assert.match(res.headers.get('content-security-policy'), /default-src 'self'/);
  assert.match(await res.text(), /from '\.\/api\.mjs'/);
});

test('login: a wrong password is refused with the server message', async () => {
  await assert.rejects(api.login('admin', 'wrong-password'), (e) =>
    e instanceof ApiError && e.status === 401 && /wrong user name or password/.test(e.message));
  assert.equal(api.token, null);
  await assert.rejects(api.listVms(), (e) => e.status === 401);
});

test('login, whoami, lists', async () => {
  await api.login('admin', 'adminpass1');
  assert.match(api.token, /^[0-9a-f]{16,}$/);
  const me = await api.whoami();
  assert.equal(me.user, 'admin');
  assert.ok(me.server_permissions.includes('full'));
  assert.deepEqual((await api.listVms()).vms, []);
  assert.ok(Array.isArray((await api.listDisks()).disks));
  assert.ok(Array.isArray((await api.listNetworks()).networks));
  const host = await api.host();
  assert.ok(host.cpus >= 1 && host.memory_mib.total > 0, JSON.stringify(host));
  const images = (await api.listImages()).images.map((i) => i.name);
  assert.deepEqual(images, kvmReason ? [] : ['console.elf']);
});

test('bad requests show the API error', async () => {
  await assert.rejects(api.createVm({ name: 'bad name', kernel: 'x' }),
    (e) => e.status === 400 && e.code === 'bad_request' && e.message.length > 0);
  await assert.rejects(api.getVm('nope'), (e) => e.status === 404 && /no VM named 'nope'/.test(e.message));
});

test('a VM through its life, followed on the event stream', { skip: kvmReason || false }, async () => {
  let state = reduce(initialState, { type: 'loaded', vms: (await api.listVms()).vms });
  const ctl = new AbortController();
  const seen = [];
  // The stream starts after the newest event so far: nothing this test causes is missed,
  // however late the stream connects.
  const newest = (await api.events(1)).events;
  const since = newest.length ? newest[newest.length - 1].id : 0;
  const reader = (async () => {
    try {
      for await (const ev of api.eventStream({ signal: ctl.signal, since })) {
        seen.push(ev.type);
        state = reduce(state, { type: 'event', event: ev });
        // What the page does with stale VMs: fetch them.
        for (const n of state.stale) {
          const asOf = state.lastEvent;
          state = reduce(state, { type: 'vm', vm: await api.getVm(n), asOf });
        }
      }
    } catch (e) {
      if (!ctl.signal.aborted)
        throw e;
    }
  })();
  const stateOf = (name, want) => until(() => state.vms[name] && state.vms[name].state === want,
    15000, `${name} ${want} (events: ${seen.join(' ')})`);
  try {
    const vm = await api.createVm({ name: 'webjs', kernel: 'console.elf', memory_mib: 32 });
    assert.equal(vm.state, 'stopped');
    await stateOf('webjs', 'stopped');
    await until(() => state.vms.webjs.permissions, 5000, 'the details');
    assert.deepEqual(vmActions(state.vms.webjs).filter((a) => a.enabled).map((a) => a.id), ['start', 'delete']);

    await api.vmAction('webjs', 'start');
    await stateOf('webjs', 'running');
    assert.deepEqual(vmActions(state.vms.webjs).filter((a) => a.enabled).map((a) => a.id),
      ['shutdown', 'off', 'reset', 'pause']);
    await assert.rejects(api.vmAction('webjs', 'start'), (e) => e.status === 409 && e.code === 'conflict');
    await until(async () => (await api.console('webjs')).includes('console: ready'), 15000, 'the guest');

    // The live console, and guest output that looks like HTML.
    const term = new Terminal();
    const cctl = new AbortController();
    let opened = false;
    const follower = (async () => {
      try {
        for await (const t of api.consoleFollow('webjs', { signal: cctl.signal, onOpen: () => { opened = true; } }))
          term.write(t);
      } catch (e) {
        if (!cctl.signal.aborted)
          throw e;
      }
    })();
    await until(() => opened, 10000, 'the live console');
    const evil = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    await api.consoleInput('webjs', evil + '\r');
    await until(() => term.text().includes('echo: ' + evil), 10000, 'the echo (got ' + JSON.stringify(term.text()) + ')');
    cctl.abort();
    await follower;
    const log = new Terminal();
    log.write(await api.console('webjs'));
    assert.ok(log.text().includes('echo: ' + evil), log.text());

    await api.vmAction('webjs', 'pause');
    await stateOf('webjs', 'paused');
    await api.vmAction('webjs', 'resume');
    await stateOf('webjs', 'running');
    // Saved (its state in a file), then started again: resumed from it, running.
    const saved = await api.vmAction('webjs', 'save');
    assert.equal(saved.state, 'saved');
    await stateOf('webjs', 'saved');
    await api.vmAction('webjs', 'start');
    await stateOf('webjs', 'running');
    await api.vmAction('webjs', 'off');
    await stateOf('webjs', 'stopped');
    // The state may come first from fetching the VM (the page refreshes a VM an event made
    // stale); its vm-stopped event follows.
    await until(() => seen.includes('vm-stopped'), 10000, 'vm-stopped (events: ' + seen.join(' ') + ')');
    for (const t of ['vm-created', 'vm-started', 'vm-paused', 'vm-resumed', 'vm-saved', 'vm-stopping', 'vm-stopped'])
      assert.ok(seen.includes(t), t + ' in ' + seen.join(' '));

    await api.deleteVm('webjs');
    await until(() => !state.vms.webjs, 5000, 'the delete event');
  } finally {
    ctl.abort();
    await reader;
  }
});

test('logout ends the session; the next call is 401 and the page is told', async () => {
  let told = 0;
  api.onUnauthorized = () => told++;
  const token = api.token;
  await api.logout();
  assert.equal(api.token, null);
  api.storage.setItem('vsrv.token', token);       // an old token is no longer good
  await assert.rejects(api.whoami(), (e) => e.status === 401);
  assert.equal(told, 1);
  assert.equal(api.token, null);
});

test('a 401 to a request sent with an earlier token leaves the newer session alone', async () => {
  // The answers to requests made with the old token are held until the new login is done.
  let oldToken = null, release;
  const held = new Promise((r) => { release = r; });
  const slow = async (url, init) => {
    const res = await fetch(url, init);
    if (oldToken && init.method === 'GET' && init.headers.Authorization === 'Bearer ' + oldToken)
      await held;
    return res;
  };
  let told = 0;
  const a = new Api({ base, fetch: slow, storage: new MemoryStorage(), onUnauthorized: () => told++ });
  await a.login('admin', 'adminpass1');
  oldToken = a.token;
  const other = new Api({ base, storage: new MemoryStorage() });
  other.storage.setItem('vsrv.token', oldToken);
  await other.logout();                         // the old session ends on the server
  const late = a.listVms().then(() => 'ok', (e) => e.status);
  await a.login('admin', 'adminpass1');         // a new session meanwhile (the page logged in again)
  const newToken = a.token;
  release();
  assert.equal(await late, 401);
  assert.equal(a.token, newToken);
  assert.equal(told, 0);
  assert.ok((await a.listVms()).vms);
  await a.logout();
});

test('every answer the client got matches docs/api.yaml', () => {
  assert.ok(answers.length >= 10, `only ${answers.length} answers recorded`);
  const file = join(d.tmp, 'answers.jsonl');
  writeFileSync(file, answers.map((a) => JSON.stringify(a)).join('\n') + '\n');
  try {
    execFileSync('python3', [join(ROOT, 'tests/server/openapi_check.py'), '--answers', file],
      { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail('answers that do not match docs/api.yaml:\n' + (e.stdout || '') + (e.stderr || ''));
  }
});
