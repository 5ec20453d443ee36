// The web console's consoles over WebSockets in headless Chromium against a real
// `vsrv serve`. Without a guest (no /dev/kvm): noVNC is served from the server (its module
// graph loads under the page's CSP, with the right types), the VM page of a VM with a display
// loads without errors, the graphical console is offered to control only (a viewer sees no
// console button), and the serial console's WebSocket carries raw bytes both ways from a
// real browser logged in through the form (its session cookie, its Origin): the test
// listens on the VM's console.sock where the VM's monitor would. With /dev/kvm: the noVNC
// canvas shows the guest's screen (pixel for pixel the API's screenshot) and keys typed
// into it reach the guest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, copyFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Api, MemoryStorage } from '../../web/api.mjs';
import { startDaemon, kvmReason, until, sleep, ROOT } from './daemon.mjs';
import { openBrowser, noBrowser } from './chrome.mjs';

let d, api, b;

// The 404 of an off VM without undo disks (the VM page asks) is expected.
const allowed = (e) => / 404 /.test(e.text) && /\/api\/v1\/vms\/[^/]+\/undo-disks$/.test(e.url || '');

before(async () => {
  if (noBrowser)
    return;
  d = await startDaemon('vsrv-webdisplay.');
  api = new Api({ base: d.base, storage: new MemoryStorage() });
  await api.login('admin', 'adminpass1');
  copyFileSync(join(ROOT, 'build/guests/hello.elf'), join(d.tmp, 'data', 'images', 'k.elf'));
  // the first VM of this inventory: id 1, its directory DATA/vms/1
  await api.createVm({ name: 'gfx', kernel: 'k.elf', memory_mib: 32, display: 'bochs' });
  await api.request('POST', '/api/v1/users', { name: 'viewer', password: 'viewerpass1' });
  await api.request('PUT', '/api/v1/vms/gfx/permissions', { grants: [{ user: 'viewer', permissions: ['view'] }] });
  b = await openBrowser(d.tmp, { allowed });
});

after(async () => {
  if (b)
    await b.close();
  if (d)
    await d.stop(api);
});

test('noVNC is served from the server with the right types and loads under the CSP', { skip: noBrowser }, async () => {
  for (const p of ['/ui/novnc/core/rfb.js', '/ui/novnc/core/decoders/tight.js',
                   '/ui/novnc/vendor/pako/lib/zlib/inflate.js', '/ui/vncview.mjs']) {
    const res = await fetch(d.base + p);
    assert.equal(res.status, 200, p);
    assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8', p);
    assert.match(res.headers.get('content-security-policy'), /script-src 'self';/);
  }
  assert.equal((await fetch(d.base + '/ui/novnc/core/nothere.js')).status, 404);
  await b.login(d.base, 'admin', 'adminpass1');
  const r = await b.page(`(async () => {
    const m = await import('/ui/novnc/core/rfb.js');
    return { type: typeof m.default, ctrlAltDel: typeof m.default.prototype.sendCtrlAltDel };
  })()`);
  assert.deepEqual(r, { type: 'function', ctrlAltDel: 'function' });
  // every module came from this server
  const urls = await b.page("performance.getEntriesByType('resource').map((e) => e.name)");
  assert.ok(urls.filter((u) => u.includes('/novnc/')).length > 20);
  assert.deepEqual(urls.filter((u) => !u.startsWith(d.base + '/')), []);
  assert.deepEqual(b.problems, []);
});

test('the VM page of a VM with a display loads; the graphical console only for control', { skip: noBrowser }, async () => {
  await b.login(d.base, 'admin', 'adminpass1');
  await b.navigate(d.base + '/ui/#/vm/gfx');
  await b.wait("document.querySelector('main') && document.querySelector('main').innerText.includes('bochs')");
  // off: no console yet (it opens while the VM runs)
  assert.equal(await b.page("document.getElementById('graphical').hidden"), true);
  const { graphicalAccess } = await import('../../web/perms.mjs');
  const vm = { display: 'bochs', permissions: ['view', 'control'] };
  assert.equal(graphicalAccess(vm), true);
  assert.equal(graphicalAccess({ ...vm, permissions: ['view'] }), false);
  assert.equal(graphicalAccess({ ...vm, permissions: ['view'] }, ['full']), true);
  assert.equal(graphicalAccess({ ...vm, display: 'none' }), false);
  assert.deepEqual(b.problems, []);

  await b.login(d.base, 'viewer', 'viewerpass1');
  await b.navigate(d.base + '/ui/#/vm/gfx');
  await b.wait("document.querySelector('main') && document.querySelector('main').innerText.includes('bochs')");
  const seen = await b.page(`(() => {
    const g = document.getElementById('graphical');
    const visible = (e) => !!e && !e.closest('[hidden]');
    return { section: visible(g), buttons: [...document.querySelectorAll('[data-key^="gfx/vnc-"]')].filter(visible).length };
  })()`);
  assert.equal(seen.section, false);
  assert.equal(seen.buttons, 0);
  assert.deepEqual(b.problems, []);
  await b.logout();
});

test('the serial console WebSocket: raw bytes both ways from the browser, by its session cookie', { skip: noBrowser }, async () => {
  // The VM's console.sock, as its monitor would listen on it.
  const dir = join(d.tmp, 'data', 'vms', '1');
  mkdirSync(dir, { recursive: true });
  let conn = null, typed = Buffer.alloc(0);
  const srv = createServer((c) => {
    conn = c;
    c.on('data', (x) => { typed = Buffer.concat([typed, x]); });
  });
  await new Promise((r) => srv.listen(join(dir, 'console.sock'), r));
  try {
    await b.login(d.base, 'admin', 'adminpass1');
    await b.page(`(async () => {
      const { api } = await import('/ui/core.mjs');
      const ctl = new AbortController();
      window.wsTest = { chunks: [], ctl, sock: null, done: false };
      (async () => {
        for await (const t of api.consoleSocket('gfx', { signal: ctl.signal, onSocket: (ws) => { wsTest.sock = ws; } }))
          wsTest.chunks.push(t);
        wsTest.done = true;
      })().catch((e) => { wsTest.error = String(e); });
    })()`);
    await until(() => conn, 10000, 'the bridge to connect to console.sock');
    await b.wait('!!wsTest.sock && wsTest.sock.readyState === 1');
    const screen = '\x1b[2J\x1b[H\x1b[1;31mred\x1b[0m <b>not markup</b> \u2500 top\r\n';
    conn.write(Buffer.from(screen, 'utf-8').subarray(0, 9));      // cut inside a sequence
    conn.write(Buffer.from(screen, 'utf-8').subarray(9));
    await b.wait(`wsTest.chunks.join('') === ${JSON.stringify(screen)}`);
    await b.page("wsTest.sock.send(new TextEncoder().encode('vi x\\r\\x1b:q!\\r'))");
    await until(() => typed.toString() === 'vi x\r\x1b:q!\r', 10000, () => 'typed bytes, got ' + JSON.stringify(typed.toString()));
    conn.end();             // the console ends: the stream ends
    await b.wait('wsTest.done');
    assert.equal(await b.page('wsTest.error || null'), null);
    assert.deepEqual(b.problems, []);
  } finally {
    if (conn)
      conn.destroy();
    srv.close();
  }
});

// --- with a guest -----------------------------------------------------------------------------

// The pixels (RGBA) of the page's noVNC canvas and of the API's screenshot, compared in the
// page: { w, h, differ } (differing pixels), or null before the canvas has the screen's size.
const compareScreens = (name) => `(async () => {
  const c = document.getElementById('vnc').vsrvConsole.canvas();
  const { api } = await import('/ui/core.mjs');
  const bmp = await createImageBitmap(await api.screenshot(${JSON.stringify(name)}));
  if (!c || c.width !== bmp.width || c.height !== bmp.height)
    return null;
  const o = new OffscreenCanvas(bmp.width, bmp.height).getContext('2d');
  o.drawImage(bmp, 0, 0);
  const a = o.getImageData(0, 0, bmp.width, bmp.height).data;
  const v = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let differ = 0, lit = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (a[i] !== v[i] || a[i + 1] !== v[i + 1] || a[i + 2] !== v[i + 2])
      differ++;
    if (a[i] || a[i + 1] || a[i + 2])
      lit++;
  }
  return { w: bmp.width, h: bmp.height, differ, lit };
})()`;

test('the noVNC canvas shows the guest screen (the screenshot, pixel for pixel)', { skip: noBrowser || kvmReason }, async () => {
  // SeaBIOS draws its text on the display (bochs-display with its VGA BIOS)
  await api.createVm({ name: 'fwv', firmware: 'bios', memory_mib: 64 });
  await b.login(d.base, 'admin', 'adminpass1');
  await b.navigate(d.base + '/ui/#/vm/fwv');
  await b.wait("!!document.querySelector('[data-key=\"fwv/start\"]')");
  await b.page("document.querySelector('[data-key=\"fwv/start\"]').click()");
  await b.wait("!document.getElementById('graphical').hidden", 30000);
  await b.wait("document.getElementById('vnc').vsrvConsole.open", 30000);
  // the screen settles (SeaBIOS waits at its last message); then both views agree
  const same = await until(async () => {
    const r = await b.page(compareScreens('fwv'));
    return r && r.lit > 0 && r.differ === 0 ? r : null;
  }, 60000, 'the canvas to match the screenshot');
  assert.ok(same.w >= 640 && same.h >= 400);
  // the buttons work on an open console
  await b.page("document.querySelector('[data-key=\"fwv/vnc-cad\"]').click()");
  assert.deepEqual(b.problems, []);
  await api.vmAction('fwv', 'off');
});

test('keys typed into the noVNC canvas reach the guest', { skip: noBrowser || kvmReason }, async () => {
  // SeaBIOS's boot menu: ESC typed while it offers the menu opens it, and the menu stays
  // (it waits for a choice), so the settled screen differs from an untouched twin's.
  await api.createVm({ name: 'kb1', firmware: 'bios', memory_mib: 64 });
  await api.createVm({ name: 'kb2', firmware: 'bios', memory_mib: 64 });
  await api.vmAction('kb2', 'start');
  await b.login(d.base, 'admin', 'adminpass1');
  await b.navigate(d.base + '/ui/#/vm/kb1');
  await b.wait("!!document.querySelector('[data-key=\"kb1/start\"]')");
  await b.page("document.querySelector('[data-key=\"kb1/start\"]').click()");
  await b.wait("document.getElementById('vnc') && document.getElementById('vnc').vsrvConsole.open", 30000);
  await b.page("document.querySelector('#vnc canvas').focus()");
  const end = Date.now() + 8000;
  while (Date.now() < end) {
    for (const type of ['keyDown', 'keyUp'])
      await b.cdp.send('Input.dispatchKeyEvent', { type, key: 'Escape', code: 'Escape', windowsVirtualKeyCode: 27 }, b.session);
    await sleep(200);
  }
  await sleep(3000);
  const shot = async (n) => Buffer.from(await (await api.screenshot(n)).arrayBuffer());
  const [a1, a2] = [await shot('kb1'), await shot('kb2')];
  assert.notDeepEqual(a1, a2);
  assert.deepEqual(b.problems, []);
  await api.vmAction('kb1', 'off');
  await api.vmAction('kb2', 'off');
});
