// The web console in headless Chromium against a real server: log in through the form,
// the VM list updates live when the VM starts (clicked in the page), the VM page's live
// console (xterm.js) shows guest output that looks like HTML as text (no element made
// from it) and sends keys typed into it, its usage charts appear,
// power off through its confirmation, logout. No CSP violation or script error on the
// way. Chromium is driven over its DevTools protocol on a pipe (--remote-debugging-pipe:
// JSON messages ending in NUL on fds 3 and 4), so no driver is needed. Skipped without
// chromium, /dev/kvm or the test guest.
import { test, before, beforeEach, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync, copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Api, MemoryStorage } from '../../web/api.mjs';
import { startDaemon, kvmReason, until, within, ROOT } from './daemon.mjs';
import { CHROMIUM, noBrowser, Cdp } from './chrome.mjs';

const skip = kvmReason || noBrowser;      // the tests that run a guest

let d, api, chrome, cdp, session, context, kvmLink;

// VSRV_WEB_SHOTS=DIR: save screenshots of the pages on the way (to look at the layout).
async function shot(name) {
  if (!process.env.VSRV_WEB_SHOTS)
    return;
  const { data } = await cdp.send('Page.captureScreenshot', { format: 'png' }, session);
  writeFileSync(join(process.env.VSRV_WEB_SHOTS, name + '.png'), Buffer.from(data, 'base64'));
}
const problems = [];     // CSP violations, script errors, exceptions

// Evaluate an expression in the page; its value (JSON-able).
async function page(expr) {
  const r = await cdp.send('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true }, session);
  if (r.exceptionDetails)
    throw new Error('page: ' + expr + ': ' + JSON.stringify(r.exceptionDetails).slice(0, 300));
  return r.result.value;
}

before(async () => {
  if (noBrowser)
    return;
  // its KVM device: a link to /dev/null (the real /dev/kvm is the VMM's), taken away to
  // show a host without KVM on the Host page
  kvmLink = join(tmpdir(), `vsrv-webui-kvm.${process.pid}`);
  rmSync(kvmLink, { force: true });
  symlinkSync('/dev/null', kvmLink);
  d = await startDaemon('vsrv-webui.', [], kvmLink);
  api = new Api({ base: d.base, storage: new MemoryStorage() });
  await api.login('admin', 'adminpass1');
  if (!kvmReason) {
    await api.request('POST', '/api/v1/disks', { name: 'wd1', size: 1048576 });
    await api.createVm({ name: 'web1', kernel: 'console.elf', memory_mib: 32, disks: [{ disk: 'wd1' }] });
  }
  chrome = spawn(CHROMIUM, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-extensions', '--disable-dev-shm-usage', '--remote-debugging-pipe',
    '--user-data-dir=' + join(d.tmp, 'chromium'), 'about:blank'],
  { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
  cdp = new Cdp(chrome);
  cdp.handlers.push((m) => {
    if (m.sessionId !== session)
      return;
    if (m.method === 'Runtime.exceptionThrown')
      problems.push('exception: ' + JSON.stringify(m.params.exceptionDetails).slice(0, 300));
    else if (m.method === 'Log.entryAdded' && m.params.entry.level === 'error' &&
             // the wrong password's 401, the refused create's 409 and the 404 of an off VM
             // without undo disks are expected
             !(m.params.entry.source === 'network' && (/ (401|409) /.test(m.params.entry.text) ||
               (/ 404 /.test(m.params.entry.text) && /\/undo-disks$/.test(m.params.entry.url || '')))))
      problems.push('log: ' + m.params.entry.text);
    else if (m.method === 'Runtime.consoleAPICalled' && m.params.type === 'error')
      problems.push('console.error: ' + JSON.stringify(m.params.args).slice(0, 300));
    else if (m.method === 'Page.javascriptDialogOpening')
      cdp.send('Page.handleJavaScriptDialog', { accept: true }, session);
  });
});

// Each test starts on a page of its own, in a browser context of its own (its own
// sessionStorage and cookies), with no problem seen yet: what an earlier test left (logged
// in because it failed before its logout, on some page) is not the next one's start.
beforeEach(async () => {
  if (noBrowser)
    return;
  if (context)
    await cdp.send('Target.disposeBrowserContext', { browserContextId: context });
  ({ browserContextId: context } = await cdp.send('Target.createBrowserContext', {}));
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank', browserContextId: context });
  ({ sessionId: session } = await cdp.send('Target.attachToTarget', { targetId, flatten: true }));
  problems.length = 0;
  for (const dom of ['Runtime', 'Log', 'Page'])
    await cdp.send(dom + '.enable', {}, session);
});

after(async () => {
  if (chrome && chrome.exitCode === null) {
    const gone = new Promise((r) => chrome.once('exit', r));
    chrome.kill('SIGTERM');
    await within(gone, 5000);
  }
  if (d)
    await d.stop(api);
  if (kvmLink)
    rmSync(kvmLink, { force: true });
});

test('browser: log in, live VM list, console in xterm.js (typed into; HTML stays text), charts, power off, log out', { skip }, async () => {
  await cdp.send('Page.navigate', { url: d.base + '/' }, session);
  await until(() => page("!!document.getElementById('login-user')"), 10000, 'the login form');
  assert.equal(await page('location.pathname'), '/ui/');

  await shot('1-login');
  // A wrong password: the API's message, and still the form.
  await page(`(() => { document.getElementById('login-user').value = 'admin';
    document.getElementById('login-password').value = 'nope';
    document.querySelector('form').requestSubmit(); })()`);
  await until(() => page("!document.getElementById('error').hidden"), 5000, 'the error');
  assert.match(await page("document.getElementById('error-text').textContent"), /wrong user name or password \(401/);

  await page(`(() => { document.getElementById('login-password').value = 'adminpass1';
    document.querySelector('form').requestSubmit(); })()`);
  await until(() => page("!!document.querySelector('[data-key=\"web1/start\"]')"), 10000,
    async () => 'the VM list: ' + await page('document.body.innerText'));
  assert.equal(await page("sessionStorage.getItem('vsrv.token') !== null"), true);
  assert.equal(await page("document.getElementById('who-name').textContent"), 'admin');

  // Start from the list; the row follows the event stream.
  await page("document.querySelector('[data-key=\"web1/start\"]').click()");
  await until(() => page("document.querySelector('#vm-list .vm-body .state').textContent === 'running'"), 15000,
    async () => 'running in the list: ' + await page("document.querySelector('#vm-list').innerText"));
  // the list offers what can be done now: no Start for a running VM
  assert.equal(await page("document.querySelector('[data-key=\"web1/start\"]')"), null);
  await shot('2-list');
  assert.equal(await page("document.querySelector('[data-key=\"web1/off\"]').disabled"), false);

  // The VM page: configuration, the live console, input that looks like HTML.
  await page("location.hash = '#/vm/web1'");
  // the console is xterm.js (web/terminal.mjs): its text read from its buffer
  const consoleText = "(document.getElementById('console')?.vsrvTerminal?.text() ?? '')";
  await until(() => page(consoleText + ".includes('console: ready')"),
    15000, 'the console');
  await until(() => page("!document.querySelector('.term-input').hidden"), 5000, 'the input box');
  assert.match(await page("document.querySelector('dl.kv').innerText"), /console\.elf/);
  // The running VM's Disks table: its configured disk, with the VMM's counters beside it.
  await until(() => page(`[...document.querySelectorAll('table')].some((t) =>
    t.querySelector('caption').textContent === 'Disks of web1' &&
    /^wd1\tvirtio-blk\tno\t[\\d.]+ \\w*B\t[\\d.]+ \\w*B$/.test(t.querySelector('tbody tr').innerText))`), 10000,
  async () => 'the Disks table: ' + await page("document.querySelector('main').innerText"));
  // Its usage charts (uPlot), from the runtime figures the page fetches every 2 s.
  await until(() => page("!document.querySelector('section.charts').hidden && " +
    "document.querySelectorAll('section.charts canvas').length === 4"), 15000, 'the usage charts');
  const evil = '<img src=x id=evil onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>';
  await page(`(() => { document.getElementById('console-input').value = ${JSON.stringify(evil)};
    document.querySelector('.term-input').requestSubmit(); })()`);
  await until(() => page(`${consoleText}.includes(${JSON.stringify('echo: ' + evil)})`),
    10000, async () => 'the echo: ' + await page(consoleText));
  // keys typed into the terminal itself reach the guest too
  await page("document.getElementById('console').vsrvTerminal.focus()");
  await cdp.send('Input.insertText', { text: 'typed in xterm' }, session);
  await cdp.send('Input.dispatchKeyEvent', { type: 'rawKeyDown', key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13 }, session);
  await cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13 }, session);
  await until(() => page(consoleText + ".includes('echo: typed in xterm')"), 10000,
    async () => 'the typed echo: ' + await page(consoleText));
  await shot('3-vm');
  assert.equal(await page("document.getElementById('evil')"), null);
  assert.equal(await page('document.scripts.length'), 1);
  assert.notEqual(await page('document.title'), 'pwned');

  // Power off (a confirmation dialog, accepted), followed live on this page.
  await page("document.querySelector('[data-key=\"web1/off\"]').click()");
  await until(() => page("document.querySelector('.toolbar .state').textContent === 'stopped'"), 15000,
    'stopped on the VM page');

  // Create a VM through the form (the kernel offered from GET /api/v1/images).
  await page("location.hash = '#/create'");
  await until(() => page("!!document.querySelector('#c-kernels option[value=\"console.elf\"]')"), 5000, 'the kernels');
  await page(`(() => { document.getElementById('c-name').value = 'web2';
    document.getElementById('c-kernel').value = 'console.elf';
    document.getElementById('c-mem').value = '48';
    document.querySelector('main form').requestSubmit(); })()`);
  await until(() => page("location.hash === '#/vm/web2'"), 5000, 'the new VM page');
  assert.equal((await api.getVm('web2')).memory_mib, 48);
  // A refused create shows the API's message.
  await page("location.hash = '#/create'");
  await until(() => page("!!document.getElementById('c-name')"), 5000, 'the form');
  await page(`(() => { document.getElementById('c-name').value = 'web2';
    document.getElementById('c-kernel').value = 'console.elf';
    document.querySelector('main form').requestSubmit(); })()`);
  await until(() => page("!document.getElementById('error').hidden"), 5000, 'the error');
  assert.match(await page("document.getElementById('error-text').textContent"), /\(409 conflict\)/);

  // The other pages load.
  for (const [hash, text] of [['#/host', 'Running VMs'], ['#/disks', 'Disks'], ['#/networks', 'Networks'],
                              ['#/events', 'vm-created']]) {
    await page(`location.hash = '${hash}'`);
    await until(() => page(`document.querySelector('main').innerText.includes('${text}') &&
      !document.querySelector('main').innerText.includes('Loading')`), 5000, hash);
  }
  await shot('4-events');

  // Log out: the login form again, and the token is gone.
  await page("document.getElementById('logout').click()");
  await until(() => page("!!document.getElementById('login-user')"), 5000, 'the login form');
  assert.equal(await page("sessionStorage.getItem('vsrv.token')"), null);
  assert.deepEqual(problems, []);
});

test('browser: the login page shows no navigation and no log out; empty lists for an admin; why a VM failed to start',
     { skip: noBrowser }, async () => {
  await cdp.send('Page.navigate', { url: d.base + '/' }, session);
  await until(() => page("!!document.getElementById('login-user')"), 10000, 'the login form');
  // hidden, and not displayed: a display rule (nav and .who are flex) must not show them
  const shown = (id) => page(`document.getElementById('${id}').getClientRects().length > 0`);
  assert.equal(await page("document.getElementById('nav').hidden"), true);
  assert.equal(await shown('nav'), false);
  assert.equal(await shown('who'), false);
  assert.equal(await shown('logout'), false);
  await page(`(() => { document.getElementById('login-user').value = 'admin';
    document.getElementById('login-password').value = 'adminpass1';
    document.querySelector('form').requestSubmit(); })()`);
  await until(() => shown('nav'), 10000, 'the navigation after logging in');
  assert.equal(await shown('logout'), true);
  // An administrator sees every object: an empty list is empty, not hidden from them.
  await page("location.hash = '#/networks'");
  await until(() => page(`document.querySelector('main').innerText.includes('None yet.')`), 5000,
    async () => 'the empty list: ' + await page("document.querySelector('main').innerText"));
  assert.equal(await page("document.querySelector('main').innerText.includes('you may see')"), false);
  // The Host page says whether VMs can run here, and when not why and what to do.
  await page("location.hash = '#/host'");
  await until(() => page("(document.getElementById('host-kvm') || {}).textContent === 'available (' + " +
    JSON.stringify(kvmLink) + " + ')'"), 5000, 'KVM available on the Host page');
  rmSync(kvmLink);
  await page("location.hash = '#/disks'");
  await page("location.hash = '#/host'");
  await until(() => page(`(() => { const e = document.getElementById('host-kvm');
    return !!e && e.textContent.startsWith('not available: this host has no ') &&
      e.textContent.includes('modprobe kvm_intel'); })()`), 5000,
  async () => 'KVM not available on the Host page: ' + await page("(document.getElementById('host-kvm') || {}).textContent"));
  symlinkSync('/dev/null', kvmLink);
  // A VM whose VMM fails at start (its kernel, valid at create, is junk by then; or no
  // KVM here): crashed, and its page and the list say why.
  const k = join(d.tmp, 'data', 'images', 'swap.elf');
  copyFileSync(join(ROOT, 'build/guests/hello.elf'), k);
  await api.createVm({ name: 'failing', kernel: 'swap.elf', memory_mib: 32 });
  writeFileSync(k, 'no longer a kernel\n');
  await api.vmAction('failing', 'start');
  await until(async () => (await api.getVm('failing')).state === 'crashed', 15000, 'the crash');
  await page("location.hash = '#/vm/failing'");
  await until(() => page(`[...document.querySelectorAll('dl.kv dt')].some((dt) => dt.textContent === 'Last exit' &&
    dt.nextElementSibling.textContent.startsWith('failed to start: '))`), 10000,
  async () => 'the reason on the VM page: ' + await page("location.hash + ': ' + document.querySelector('main').innerText") +
    '; the server says ' + JSON.stringify((await api.getVm('failing')).last_exit));
  await page("location.hash = '#/vms'");
  await until(() => page(`[...document.querySelectorAll('#vm-list .vm-body > [role=row]')].some((tr) => tr.innerText.includes('failing') &&
    (tr.querySelector('.state').title || '').startsWith('failed to start: '))`), 10000, 'the reason in the list');
  await page("document.getElementById('logout').click()");
  await until(() => page("!!document.getElementById('login-user')"), 5000, 'the login form');
  assert.equal(await shown('nav'), false);
  assert.equal(await shown('who'), false);
  assert.deepEqual(problems, []);
});

test("browser: a stopped VM's kept undo disks on its page, committed and discarded with its buttons",
     { skip: noBrowser }, async () => {
  // Laid out as a `keep` stop leaves them (DATA/vms/ID/undo-IDX.vhd over the disk in slot IDX,
  // src/server/undo.c): no VM runs without /dev/kvm; t-server-undo makes them with a real run.
  const data = join(d.tmp, 'data');
  copyFileSync(join(ROOT, 'build/guests/hello.elf'), join(data, 'images', 'k.elf'));
  await api.request('POST', '/api/v1/disks', { name: 'ud1', size: 2097152, format: 'vhd' });
  await api.createVm({ name: 'keeper', kernel: 'k.elf', memory_mib: 32, undo_disks: 'keep',
                      disks: [{ disk: 'ud1' }] });
  const id = execFileSync('python3', ['-c', 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(' +
    '"SELECT id FROM vms WHERE name = \'keeper\'").fetchone()[0])', join(data, 'inventory.db')]).toString().trim();
  const undo = join(data, 'vms', id, 'undo-0.vhd');
  const keep = () => {
    mkdirSync(join(data, 'vms', id), { recursive: true });
    execFileSync(join(ROOT, 'build/vsrv'), ['img', 'create', '-q', '-f', 'vhd', '-b', join(data, 'disks', 'ud1.vhd'),
      '-F', 'vhd', undo]);
  };
  const undoTable = `[...document.querySelectorAll('table')].find((t) =>
    t.querySelector('caption').textContent === 'Undo disks of keeper')`;
  keep();
  await cdp.send('Page.navigate', { url: d.base + '/ui/#/vm/keeper' }, session);
  await until(() => page("!!document.getElementById('login-user')"), 10000, 'the login form');
  await page(`(() => { document.getElementById('login-user').value = 'admin';
    document.getElementById('login-password').value = 'adminpass1';
    document.querySelector('form').requestSubmit(); })()`);
  await until(() => page("location.hash === '#/vm/keeper' || (location.hash = '#/vm/keeper', false)"), 10000, 'the VM page');
  await until(() => page(`(${undoTable} || {}).querySelector?.('tbody tr')?.innerText.startsWith('0\\tud1\\t')`),
    10000, 'the undo disks on the page').catch(async (e) => {
    throw new Error(e.message + ': ' + await page("document.querySelector('main').innerText"));
  });
  await page("document.getElementById('undo-h').scrollIntoView()");
  await shot('5-undo');
  // Commit (its confirmation accepted): the task merges and deletes it, the section goes.
  await page("document.querySelector('[data-key=\"keeper/undo-commit\"]').click()");
  await until(() => !existsSync(undo), 10000, 'the commit');
  await until(() => page(`!${undoTable}`), 10000, 'the section gone after the commit');
  const tasks = (await api.request('GET', '/api/v1/tasks')).tasks.filter((t) => t.object === 'keeper');
  assert.equal(tasks.length === 1 && tasks[0].kind === 'undo-commit' && tasks[0].state, 'done');
  // Discard, after a reload of the page.
  keep();
  await page("location.reload()");
  await until(() => page(`!!(${undoTable})`), 10000, 'the undo disks again');
  await page("document.querySelector('[data-key=\"keeper/undo-discard\"]').click()");
  await until(() => !existsSync(undo), 10000, 'the discard');
  await until(() => page(`!${undoTable}`), 10000, 'the section gone after the discard');
  assert.deepEqual(problems, []);
  await page("document.getElementById('logout').click()");
  await until(() => page("!!document.getElementById('login-user')"), 5000, 'the login form');
});
