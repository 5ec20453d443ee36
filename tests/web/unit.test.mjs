// The web console's logic without a server or a DOM: the SSE parser, the VM list reducer,
// the permission-to-button mapping, the console's terminal text, form validation, and a
// check that no console code ever parses data as HTML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { SseParser } from '../../web/sse.mjs';
import { reduce, initialState, vmList } from '../../web/vmstate.mjs';
import { vmActions, consoleAccess, canCreate, has, emptyText } from '../../web/perms.mjs';
import { Terminal, stripAnsi } from './textterm.mjs';
import { liveAfterLog } from '../../web/consolefeed.mjs';
import { messagePath, pathPrefixes } from '../../web/form.mjs';
import { sample, series } from '../../web/usage.mjs';
import { vmSpec, fmtBytes, fmtSeconds, fmtExit, fmtAgent, fmtGuestOs, fmtAddresses, fmtDynamic,
  fmtDynamicRun } from '../../web/format.mjs';
import { Api, ApiError, MemoryStorage, seg } from '../../web/api.mjs';

const WEB = new URL('../../web/', import.meta.url);

test('sse: events split across chunks at every byte', () => {
  const text = ': keep-alive\n\nid: 7\nevent: vm-started\ndata: {"id":7,"type":"vm-started",' +
    '"object":"a"}\n\nid: 8\r\nevent: x\r\ndata: one\r\ndata: two\r\n\r\n';
  for (let cut = 0; cut <= text.length; cut++) {
    const p = new SseParser();
    const evs = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
    assert.equal(evs.length, 2, 'cut at ' + cut);
    assert.deepEqual(evs[0], { id: '7', type: 'vm-started', data: { id: 7, type: 'vm-started', object: 'a' } });
    assert.deepEqual(evs[1], { id: '8', type: 'x', data: 'one\ntwo' });
  }
});

test('sse: comments only and an unfinished event give nothing', () => {
  const p = new SseParser();
  assert.deepEqual(p.push(': keep-alive\n\n: again\n\nid: 3\ndata: {"a"'), []);
  assert.deepEqual(p.push(':1}\n\n'), [{ id: '3', type: 'message', data: { a: 1 } }]);
});

const ev = (id, type, object, data) => ({ id: String(id), type,
  data: { id, type, object_type: 'vm', object, data } });

test('vmstate: a list, then events change states, add and remove VMs', () => {
  let s = reduce(initialState, { type: 'loaded', vms: [
    { name: 'b', state: 'stopped', cpus: 1, memory_mib: 32 },
    { name: 'a', state: 'running', cpus: 2, memory_mib: 64 }] });
  assert.deepEqual(vmList(s).map((v) => v.name), ['a', 'b']);
  assert.deepEqual([...s.stale].sort(), ['a', 'b']);    // their details are fetched next
  s = reduce(s, { type: 'vm', vm: { name: 'a', state: 'running', permissions: ['full'], cpu_seconds: 1 } });
  s = reduce(s, { type: 'vm', vm: { name: 'b', state: 'stopped', permissions: ['view'] } });
  assert.deepEqual(s.stale, []);
  s = reduce(s, { type: 'event', event: ev(10, 'vm-started', 'b') });
  assert.equal(s.vms.b.state, 'running');
  assert.equal(s.vms.b.cpus, 1);                        // kept from the list
  assert.equal(s.lastEvent, 10);
  s = reduce(s, { type: 'event', event: ev(11, 'vm-paused', 'b') });
  assert.equal(s.vms.b.state, 'paused');
  s = reduce(s, { type: 'event', event: ev(12, 'vm-resumed', 'b') });
  assert.equal(s.vms.b.state, 'running');
  s = reduce(s, { type: 'event', event: ev(13, 'vm-stopping', 'a') });
  assert.equal(s.vms.a.state, 'stopping');
  s = reduce(s, { type: 'event', event: ev(14, 'vm-crashed', 'a', { exit: 'signal 9' }) });
  assert.equal(s.vms.a.state, 'crashed');
  assert.equal(s.vms.a.last_exit, 'signal 9');
  s = reduce(s, { type: 'event', event: ev(15, 'vm-created', 'c') });
  assert.equal(s.vms.c.state, 'stopped');
  assert.ok(s.stale.includes('c'));
  s = reduce(s, { type: 'event', event: ev(16, 'vm-deleted', 'a') });
  assert.equal(s.vms.a, undefined);
  assert.ok(!s.stale.includes('a'));
  // Other objects' events only move lastEvent.
  const before = s;
  s = reduce(s, { type: 'event', event: { id: '17', type: 'login', data: { id: 17, type: 'login', object_type: 'user', object: 'b' } } });
  assert.equal(s.vms, before.vms);
  assert.equal(s.lastEvent, 17);
  // The reducer never changes the state it was given.
  assert.equal(initialState.lastEvent, null);
  assert.deepEqual(Object.keys(initialState.vms), []);
});

test('vmstate: an event for an unknown VM asks for it; garbage is ignored', () => {
  let s = reduce(initialState, { type: 'event', event: ev(3, 'vm-started', 'x') });
  assert.deepEqual(s.stale, ['x']);
  assert.equal(s.vms.x, undefined);
  for (const bad of [null, {}, { data: 'text' }, { data: { object_type: 'vm', object: 5 } }])
    s = reduce(s, { type: 'event', event: bad });
  assert.deepEqual(s.stale, ['x']);
});

test('vmstate: an answer sent before an event does not undo it', () => {
  let s = reduce(initialState, { type: 'loaded', vms: [{ name: 'a', state: 'running' }] });
  s = reduce(s, { type: 'vm', vm: { name: 'a', state: 'running', permissions: ['full'] } });
  s = reduce(s, { type: 'event', event: ev(20, 'vm-stopping', 'a') });
  const asOf = s.lastEvent;                             // a fetch (or `off`) sent now...
  s = reduce(s, { type: 'event', event: ev(21, 'vm-stopped', 'a') });
  s = reduce(s, { type: 'vm', vm: { name: 'a', state: 'stopping', cpu_seconds: 3 }, asOf });
  assert.equal(s.vms.a.state, 'stopped');               // ...answers after the newer event
  assert.equal(s.vms.a.cpu_seconds, 3);                 // its other fields are taken
  assert.ok(s.stale.includes('a'));                     // and the VM is fetched again
  s = reduce(s, { type: 'vm', vm: { name: 'a', state: 'stopped' }, asOf: s.lastEvent });
  assert.equal(s.vms.a.state, 'stopped');
  assert.deepEqual(s.stale, []);
  // Sent before any event was seen: older than the events that came since.
  let t = reduce(initialState, { type: 'loaded', vms: [{ name: 'b', state: 'running' }] });
  t = reduce(t, { type: 'event', event: ev(5, 'vm-paused', 'b') });
  t = reduce(t, { type: 'vm', vm: { name: 'b', state: 'running' }, asOf: null });
  assert.equal(t.vms.b.state, 'paused');
  // Without asOf an answer counts as the newest.
  t = reduce(t, { type: 'vm', vm: { name: 'b', state: 'running' } });
  assert.equal(t.vms.b.state, 'running');
});

test('perms: buttons follow permissions and state', () => {
  const ids = (vm, sp) => vmActions(vm, sp).map((a) => a.id + (a.enabled ? '+' : '-'));
  assert.deepEqual(ids({ name: 'v', state: 'stopped', permissions: ['view'] }), []);
  assert.deepEqual(ids({ name: 'v', state: 'stopped', permissions: ['view', 'control'] }),
    ['start+', 'shutdown-', 'off-', 'reset-', 'pause-', 'resume-', 'save-', 'discard-saved-']);
  assert.deepEqual(ids({ name: 'v', state: 'running', permissions: ['full'] }),
    ['start-', 'shutdown+', 'off+', 'reset+', 'pause+', 'resume-', 'save+', 'discard-saved-', 'delete-']);
  // saved: start resumes it, or its saved state is discarded, or it is deleted
  assert.deepEqual(ids({ name: 'v', state: 'saved', permissions: ['full'] }),
    ['start+', 'shutdown-', 'off-', 'reset-', 'pause-', 'resume-', 'save-', 'discard-saved+', 'delete+']);
  assert.deepEqual(ids({ name: 'v', state: 'paused', permissions: ['view', 'remove'] }), ['delete-']);
  assert.deepEqual(ids({ name: 'v', state: 'crashed', permissions: ['view'] }, ['control', 'remove']),
    ['start+', 'shutdown-', 'off-', 'reset-', 'pause-', 'resume-', 'save-', 'discard-saved-', 'delete+']);
  assert.deepEqual(ids({ name: 'v', state: 'paused' }, ['full']),
    ['start-', 'shutdown-', 'off+', 'reset+', 'pause-', 'resume+', 'save+', 'discard-saved-', 'delete-']);
  const del = vmActions({ name: 'web1', state: 'stopped', permissions: ['full'] }).find((a) => a.id === 'delete');
  assert.match(del.confirm, /Delete web1\?/);
  assert.deepEqual(consoleAccess({ permissions: ['view'] }), { read: true, live: false });
  assert.deepEqual(consoleAccess({ permissions: ['view'] }, ['control']), { read: true, live: true });
  assert.equal(canCreate(['view']), false);
  assert.equal(canCreate(['full']), true);
  assert.equal(has(undefined, 'view'), false);
});

test('terminal: escapes stripped, also when split; \\r and \\b overwrite', () => {
  const raw = '\x1b[1;32mgreen\x1b[0m plain\x1b]0;title\x07 \x1b(Bx\r\nnext\x1bc\n';
  for (let cut = 0; cut <= raw.length; cut++) {
    const t = new Terminal();
    t.write(raw.slice(0, cut));
    t.write(raw.slice(cut));
    assert.equal(t.text(), 'green plain x\nnext\n', 'cut at ' + cut);
  }
  assert.equal(stripAnsi('abc\rX\n'), 'Xbc\n');
  assert.equal(stripAnsi('abc\b\bZ\n'), 'aZc\n');
  assert.equal(stripAnsi('a\tb\x00\x07\x7f\x9bc'), 'a       bc');
  const t = new Terminal(3);
  t.write('1\n2\n3\n4\n5');
  assert.equal(t.text(), '2\n3\n4\n5');
});

test('terminal: the live stream joins the log without repeating it', () => {
  assert.equal(liveAfterLog('boot\nready\n', 'ready\necho: x\n'), 'echo: x\n');
  assert.equal(liveAfterLog('boot\nready\n', ''), '');
  assert.equal(liveAfterLog('', 'abc'), 'abc');
  assert.equal(liveAfterLog('abc', 'abc'), '');
  assert.equal(liveAfterLog('abc', 'xyz'), 'xyz');
  assert.equal(liveAfterLog('aaa', 'aab'), 'b');
});

test('vmstate: a VM removed after an event marked it stale is not fetched again', () => {
  let s = reduce(initialState, { type: 'loaded', vms: [{ name: 'a', state: 'stopped' }] });
  s = reduce(s, { type: 'vm', vm: { name: 'a', state: 'stopped' } });
  s = reduce(s, { type: 'removed', name: 'a' });
  s = reduce(s, { type: 'event', event: { id: 9, data: { id: 9, type: 'vm-updated', object_type: 'vm', object: 'a' } } });
  assert.deepEqual(s.stale, ['a']);          // not known: fetched once
  s = reduce(s, { type: 'removed', name: 'a' });   // the fetch's 404
  assert.deepEqual(s.stale, []);
  assert.deepEqual(s.vms, {});
});

test('vmstate: the events of a VM this page deleted, still on their way, do not bring it back', () => {
  let s = reduce(initialState, { type: 'loaded', vms: [{ name: 'a', state: 'stopped' }] });
  s = reduce(s, { type: 'vm', vm: { name: 'a', state: 'stopped' } });
  s = reduce(s, { type: 'removed', name: 'a', deleted: true });
  s = reduce(s, { type: 'event', event: { id: 9, data: { id: 9, type: 'vm-updated', object_type: 'vm', object: 'a' } } });
  assert.deepEqual([s.stale, s.vms], [[], {}]);
  // the answer to a GET sent before the delete
  s = reduce(s, { type: 'vm', vm: { name: 'a', state: 'stopped' }, asOf: 8 });
  assert.deepEqual([s.stale, s.vms], [[], {}]);
  s = reduce(s, { type: 'event', event: { id: 10, data: { id: 10, type: 'vm-deleted', object_type: 'vm', object: 'a' } } });
  // a new VM of the name is a VM again
  s = reduce(s, { type: 'event', event: { id: 11, data: { id: 11, type: 'vm-created', object_type: 'vm', object: 'a' } } });
  assert.deepEqual([s.stale, Object.keys(s.vms)], [['a'], ['a']]);
  s = reduce(s, { type: 'removed', name: 'a', deleted: true });
  s = reduce(s, { type: 'event', event: { id: 12, data: { id: 12, type: 'vm-created', object_type: 'vm', object: 'a' } } });
  assert.deepEqual(Object.keys(s.vms), ['a']);
});

test('forms: the field an API message names, then its shorter paths', () => {
  assert.equal(messagePath('size: must be between 512 and 2190433320960'), 'size');
  assert.equal(messagePath("disks[0]: no disk named 'zz'"), 'disks[0]');
  assert.equal(messagePath('nics[0]: mac: must be a unicast MAC like 52:54:00:12:34:56'), 'nics[0]');
  assert.equal(messagePath('grants[1].permissions[0]: one of view, control'), 'grants[1].permissions[0]');
  assert.equal(messagePath("a disk named 'd1' exists"), null);
  assert.equal(messagePath('cannot create disk huge: not enough space'), null);
  assert.deepEqual(pathPrefixes('grants[1].permissions[0]'),
    ['grants[1].permissions[0]', 'grants[1].permissions', 'grants[1]', 'grants']);
  assert.deepEqual(pathPrefixes('size'), ['size']);
});

test('charts: rates from the runtime counters; none without a VMM', () => {
  const vm = (cpu, rss, rd, tx) => ({ runtime: { pid: 7, cpu_seconds: cpu, memory_rss_bytes: rss,
    disks: [{ read_bytes: rd, write_bytes: 0 }, { read_bytes: rd, write_bytes: 10 }],
    nics: [{ rx_bytes: 0, tx_bytes: tx }] } });
  assert.equal(sample({ runtime: { pid: null } }, 1), null);
  const s = [sample(vm(1, 1048576, 0, 0), 100), sample(vm(1.5, 2097152, 1000, 400), 102)];
  assert.deepEqual(s[1], { t: 102, cpu: 1.5, rss: 2097152, rd: 2000, wr: 10, rx: 0, tx: 400 });
  assert.deepEqual(series(s), { t: [102], cpu: [25], mem: [2], rd: [1000], wr: [0], rx: [0], tx: [200] });
});

test('terminal: guest HTML stays text', () => {
  const evil = '<script>alert(1)</script><img src=x onerror=alert(2)>&amp;\x1b[31m<b>';
  assert.equal(stripAnsi(evil), '<script>alert(1)</script><img src=x onerror=alert(2)>&amp;<b>');
});

test('no console code parses data as HTML', () => {
  const files = readdirSync(WEB).filter((f) => f.endsWith('.mjs') || f.endsWith('.html'));
  assert.ok(files.includes('app.mjs') && files.includes('dom.mjs'));
  for (const f of files) {
    const src = readFileSync(new URL(f, WEB), 'utf8');
    for (const bad of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(',
                       'new Function', 'DOMParser', 'createContextualFragment', 'srcdoc'])
      assert.ok(!src.includes(bad), `${f} uses ${bad}`);
    if (f.endsWith('.html'))
      assert.ok(!/<script(?![^>]*\bsrc=)/.test(src) && !/\son[a-z]+=/.test(src) && !/style=/.test(src),
        `${f} has inline script or style`);
  }
});

test('format: the create form becomes a valid VMInput', () => {
  assert.deepEqual(vmSpec({ name: ' web1 ', kernel: 'hello.elf', cpus: '2', memory_mib: '64',
    description: '', disks: ['d1'], nics: ['n1'], autostart: true }),
  { name: 'web1', kernel: 'hello.elf', cpus: 2, memory_mib: 64, autostart: true,
    disks: [{ disk: 'd1' }], nics: [{ network: 'n1' }] });
  for (const bad of [{ name: '', kernel: 'k' }, { name: '../x', kernel: 'k' }, { name: 'a', kernel: '' },
                     { name: 'a', kernel: 'k', cpus: '0' }, { name: 'a', kernel: 'k', cpus: '1.5' },
                     { name: 'a', kernel: 'k', memory_mib: '8' }, { name: 'x'.repeat(64), kernel: 'k' }])
    assert.throws(() => vmSpec(bad), Error, JSON.stringify(bad));
  // with a firmware: no kernel (nor its command line) sent, the boot order and drives are
  assert.deepEqual(vmSpec({ name: 'w', kernel: 'k', cmdline: 'x', os_type: 'windows', firmware: 'uefi',
    boot: ['cdrom', 'disk'], cdroms: [{ image: 'a.iso' }] }),
  { name: 'w', os_type: 'windows', firmware: 'uefi', boot: ['cdrom', 'disk'], cdroms: [{ image: 'a.iso' }],
    cpus: 1, memory_mib: 128 });
  assert.throws(() => vmSpec({ name: 'a', kernel: '', firmware: 'none' }), /Choose a kernel/);
  assert.equal(fmtBytes(1536), '1.5 KiB');
  assert.equal(fmtSeconds(3725), '1h 2m 5s');
});

test('api: errors carry the server message; 401 forgets the token', async () => {
  const calls = [];
  let unauthorized = 0;
  const reply = (status, body) => new Response(JSON.stringify(body), { status,
    headers: { 'Content-Type': 'application/json' } });
  const fake = async (url, init) => {
    calls.push([url, init]);
    if (url.endsWith('/login'))
      return reply(200, { token: 'T0K', expires: 1, expires_in: 1 });
    if (url.includes('/vms/a%2Fb'))
      return reply(409, { error: { code: 'conflict', message: 'a/b: cannot start' } });
    return reply(401, { error: { code: 'unauthorized', message: 'authentication required' } });
  };
  const api = new Api({ fetch: fake, storage: new MemoryStorage(), onUnauthorized: () => unauthorized++ });
  await api.login('u', 'p');
  assert.equal(api.token, 'T0K');
  assert.equal(JSON.parse(calls[0][1].body).user, 'u');
  await assert.rejects(api.vmAction('a/b', 'start'), (e) => e instanceof ApiError && e.status === 409 &&
    e.code === 'conflict' && e.message === 'a/b: cannot start');
  assert.equal(calls[1][1].headers.Authorization, 'Bearer T0K');
  assert.equal(seg('a/b'), 'a%2Fb');
  await assert.rejects(api.listVms(), (e) => e.status === 401);
  assert.equal(unauthorized, 1);
  assert.equal(api.token, null);
});

test('vmstate: starting until the VMM answers; last_exit is the server\'s record', () => {
  let s = reduce(initialState, { type: 'loaded', vms: [{ name: 'a', state: 'stopped' }] });
  s = reduce(s, { type: 'event', event: ev(20, 'vm-starting', 'a') });
  assert.equal(s.vms.a.state, 'starting');
  s = reduce(s, { type: 'event', event: ev(21, 'vm-started', 'a') });
  assert.equal(s.vms.a.state, 'running');
  const le = { exit: 'exited 1', status: 1, signal: null, at_start: true, time: 1700000000,
               reason: 'failed to start: kernel k: not a bzImage, ELF64 vmlinux or multiboot image' };
  s = reduce(s, { type: 'event', event: ev(22, 'vm-crashed', 'a', { exit: 'exited 1', last_exit: le }) });
  assert.equal(s.vms.a.state, 'crashed');
  assert.deepEqual(s.vms.a.last_exit, le);
  assert.deepEqual(vmActions({ name: 'a', state: 'starting', permissions: ['full'] })
    .filter((x) => x.enabled).map((x) => x.id), ['off']);
});

test('vmstate: saved, a failed restore stays saved, discard stops it', () => {
  let s = reduce(initialState, { type: 'loaded', vms: [{ name: 'a', state: 'running' }] });
  s = reduce(s, { type: 'event', event: ev(30, 'vm-saved', 'a', { exit: 'exited 0', saved: { bytes: 4096, saved_at: 1 } }) });
  assert.equal(s.vms.a.state, 'saved');
  s = reduce(s, { type: 'event', event: ev(31, 'vm-starting', 'a') });
  assert.equal(s.vms.a.state, 'starting');
  s = reduce(s, { type: 'event', event: ev(32, 'vm-restore-failed', 'a') });
  assert.equal(s.vms.a.state, 'saved');
  s = reduce(s, { type: 'event', event: ev(33, 'vm-saved-discarded', 'a') });
  assert.equal(s.vms.a.state, 'stopped');
});

test('vmstate: a VM that moves to another host (migrated, failed over) is fetched again, its state kept', () => {
  for (const type of ['vm-migrated', 'vm-migrated-in', 'vm-failover', 'vm-migrate-failed']) {
    let s = reduce(initialState, { type: 'loaded', vms: [{ name: 'a', state: 'running', host: 'h1' }] });
    s = reduce(s, { type: 'vm', vm: { name: 'a', state: 'running', host: 'h1' } });
    assert.deepEqual(s.stale, []);
    s = reduce(s, { type: 'event', event: ev(40, type, 'a', { from: 'h1', to: 'h2' }) });
    assert.deepEqual(s.stale, ['a'], type);
    assert.equal(s.vms.a.state, 'running', type);
    assert.equal(s.vms.a._event, 40, type);
    // the answer fetched after it carries the new host
    s = reduce(s, { type: 'vm', vm: { name: 'a', state: 'running', host: 'h2' }, asOf: 40 });
    assert.equal(s.vms.a.host, 'h2', type);
    assert.deepEqual(s.stale, [], type);
  }
});

test('format: a last exit for people', () => {
  assert.equal(fmtExit(null), '–');
  assert.equal(fmtExit('exited 33'), 'exited 33');
  assert.equal(fmtExit({ exit: 'exited 1', reason: 'failed to start: no /dev/kvm', time: 0 }),
    'failed to start: no /dev/kvm (exited 1)');
  assert.equal(fmtExit({ exit: 'signal 9', reason: 'turned off on request', time: 1700000000 }),
    'turned off on request (signal 9, 2023-11-14 22:13:20 UTC)');
});

test('format: a guest agent for people', () => {
  const absent = { status: 'absent', last_seen: null, os: null, hostname: null, interfaces: null, users: null };
  assert.equal(fmtAgent(absent), 'absent');
  assert.equal(fmtAgent(undefined), '–');
  assert.equal(fmtGuestOs(absent), null);
  assert.equal(fmtAddresses(absent), null);
  const a = { status: 'responding', last_seen: 1700000000, hostname: 'vm',
    os: { name: 'Debian GNU/Linux', pretty_name: 'Debian GNU/Linux 12 (bookworm)', kernel_release: '6.1.0-13-amd64' },
    interfaces: [{ name: 'lo', ip_addresses: [{ type: 'ipv4', address: '127.0.0.1', prefix: 8 }] },
      { name: 'eth0', hardware_address: '52:54:00:12:34:56', ip_addresses: [
        { type: 'ipv4', address: '192.0.2.10', prefix: 24 }, { type: 'ipv6', address: '2001:db8::10', prefix: null }] },
      { name: 'eth1' }, null], users: [] };
  assert.equal(fmtAgent(a), 'responding (last seen 2023-11-14 22:13:20 UTC)');
  assert.equal(fmtGuestOs(a), 'Debian GNU/Linux 12 (bookworm), kernel 6.1.0-13-amd64');
  assert.equal(fmtAddresses(a), 'eth0 192.0.2.10/24, eth0 2001:db8::10');
});

test('format: dynamic memory for people', () => {
  assert.equal(fmtDynamic({ memory_mib: 1024, memory_min_mib: 1024, memory_buffer_pct: 20, balloon: true }), 'off');
  assert.equal(fmtDynamic({ memory_mib: 1024, memory_min_mib: 256, memory_buffer_pct: 20, balloon: false }), 'off');
  assert.equal(fmtDynamic({ memory_mib: 1024, memory_min_mib: 256, memory_buffer_pct: 35, balloon: true }),
    fmtBytes(256 << 20) + ' to ' + fmtBytes(1 << 30) + ', buffer 35 %');
  assert.equal(fmtDynamic({ memory_mib: 64 }), null);
  assert.equal(fmtDynamicRun({ mode: 'off', target_mib: null }), null);
  assert.equal(fmtDynamicRun(undefined), null);
  assert.equal(fmtDynamicRun({ mode: 'policy', target_mib: 512, guest_used_mib: 300, decision: 'shrink' }),
    'policy: target ' + fmtBytes(512 << 20) + ', guest uses ' + fmtBytes(300 << 20) + ' (shrink)');
  assert.equal(fmtDynamicRun({ mode: 'manual', target_mib: 480, guest_used_mib: null, decision: null }),
    'manual: target ' + fmtBytes(480 << 20));
});

test('perms: an empty list says "None yet." to whoever may see everything', () => {
  assert.equal(emptyText({ user: 'admin', admin: true, server_permissions: [] }), 'None yet.');
  assert.equal(emptyText({ user: 'v', admin: false, server_permissions: ['view'] }), 'None yet.');
  assert.equal(emptyText({ user: 't', admin: false, server_permissions: [] }), 'None you may see.');
  assert.equal(emptyText(null), 'None you may see.');
});

test('style: [hidden] hides whatever display a rule sets (the nav is flex)', () => {
  const css = readFileSync(new URL('style.css', WEB), 'utf8');
  assert.match(css, /(^|\n)\[hidden\]\s*\{\s*display:\s*none\s*!important;?\s*\}/);
});

test('snaptree: rows depth-first under their parents, the memory choice and the revert question', async () => {
  const { snapshotRows, memoryChoice, revertQuestion } = await import('../../web/snaptree.mjs');
  const s = (name, parent, children, extra = {}) => ({ name, parent, children, current: false,
    memory: false, memory_bytes: null, ...extra });
  // a, b (child of a) with c and d under it, e a second child of a; listed oldest first
  const tree = { current: 'd', snapshots: [s('a', null, ['b', 'e']), s('b', 'a', ['c', 'd']),
    s('c', 'b', []), s('e', 'a', []), s('d', 'b', [], { current: true, memory: true, memory_bytes: 4096 })] };
  assert.deepEqual(snapshotRows(tree).map((r) => [r.snap.name, r.depth]),
    [['a', 0], ['b', 1], ['c', 2], ['d', 2], ['e', 1]]);
  assert.deepEqual(snapshotRows({ snapshots: [] }), []);
  assert.deepEqual(snapshotRows(null), []);
  // a parent missing from the list: a root; a cycle: each once
  assert.deepEqual(snapshotRows({ snapshots: [s('x', 'gone', []), s('p', 'q', ['q']), s('q', 'p', ['p'])] })
    .map((r) => r.snap.name), ['x', 'p', 'q']);
  assert.deepEqual(memoryChoice('running'), { checked: true, allowed: true });
  assert.deepEqual(memoryChoice('paused'), { checked: true, allowed: true });
  assert.deepEqual(memoryChoice('saved'), { checked: false, allowed: true });
  assert.deepEqual(memoryChoice('stopped'), { checked: false, allowed: false });
  const mem = tree.snapshots[4];
  assert.match(revertQuestion('vm1', mem, 'running'), /turned off.*comes back running from that point/);
  assert.match(revertQuestion('vm1', mem, 'stopped'), /starts running from that point/);
  assert.match(revertQuestion('vm1', tree.snapshots[0], 'stopped'), /it stays off/);
});
