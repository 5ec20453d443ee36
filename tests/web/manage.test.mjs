// The web console's terminal and management pages in headless Chromium against a real
// `vsrv serve`, without a guest (no /dev/kvm needed): xterm.js loads from the server and
// renders a recorded cursor-addressed screen (read back from its buffer) and encodes typed
// keys; each management page creates, changes and deletes its object (checked through the
// API); the API's validation message shows next to its field; a viewer sees no action it
// may not take; the VM list shows 1,000 VMs (and a 1,001st past the API's page), its render
// time measured in the page (the figure itself is a benchmark: bench/web-list.mjs, `make
// bench`, as a test it would depend on this machine's load); and no page logs an error or
// breaks the CSP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyFileSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Api, ApiError, MemoryStorage } from '../../web/api.mjs';
import { startDaemon, ROOT } from './daemon.mjs';
import { openBrowser, noBrowser } from './chrome.mjs';

let d, api, b;

// The API refusals these tests provoke on purpose (validation errors, a taken name), and
// the 404 of an off VM without undo disks (the VM page asks).
const allowed = (e) => (/ (400|409) /.test(e.text) && /\/api\/v1\//.test(e.url || '')) ||
  (/ 404 /.test(e.text) && /\/api\/v1\/vms\/[^/]+\/undo-disks$/.test(e.url || ''));

before(async () => {
  if (noBrowser)
    return;
  d = await startDaemon('vsrv-webmanage.');
  api = new Api({ base: d.base, storage: new MemoryStorage() });
  await api.login('admin', 'adminpass1');
  copyFileSync(join(ROOT, 'build/guests/hello.elf'), join(d.tmp, 'data', 'images', 'k.elf'));
  b = await openBrowser(d.tmp, { allowed });
});

after(async () => {
  if (b)
    await b.close();
  if (d)
    await d.stop(api);
});

const gone = (p) => api.request('GET', p).then(() => false, (e) => e instanceof ApiError && e.status === 404);

// Set form fields by selector and submit the form they are in.
async function fill(formSel, values, submit = true) {
  await b.page(`(() => {
    const f = document.querySelector(${JSON.stringify(formSel)});
    for (const [sel, v] of ${JSON.stringify(Object.entries(values))}) {
      const e = f.querySelector(sel);
      if (!e) throw new Error('no ' + sel);
      if (e.type === 'checkbox') e.checked = v; else e.value = v;
      e.dispatchEvent(new Event('change', { bubbles: true }));
    }
    if (${submit}) f.requestSubmit();
  })()`);
}

// The error shown next to a form's field (its data-field), '' when none.
const fieldError = (formSel, fieldName) => `(() => {
  const f = [...document.querySelectorAll(${JSON.stringify(formSel)} + ' [data-field]')]
    .find((e) => e.getAttribute('data-field') === ${JSON.stringify(fieldName)});
  const s = f && [...f.querySelectorAll('.field-error')].pop();
  return s && !s.hidden ? s.textContent : '';
})()`;

const click = (sel) => b.page(`document.querySelector(${JSON.stringify(sel)}).click()`);

test('terminal: xterm.js from the server renders a cursor-addressed screen and encodes keys', { skip: noBrowser }, async () => {
  await b.navigate(d.base + '/ui/');
  await b.wait("!!document.getElementById('login-user')");
  // The component of the VM page, on this page, fed a recorded stream: a line, clear the
  // screen, home, text, an absolute move to row 10 col 20 in red, a status line like top's.
  const rec = 'boot noise\r\n\x1b[2J\x1b[HTOP LEFT\x1b[10;20H\x1b[1;31mRED\x1b[0m plain' +
    '\x1b[3;5H\x1b[42mgreen bg\x1b[m\x1b[25;1H\x1b[7mstatus line\x1b[m\x1b[3;1Hab';
  const res = await b.page(`(async () => {
    const { ConsoleTerminal } = await import('/ui/terminal.mjs');
    const div = document.createElement('div');
    div.id = 'term-test';
    document.body.appendChild(div);
    const typed = [];
    const t = new ConsoleTerminal(div, { onInput: (d) => typed.push(d) });
    window.termTest = { t, typed };
    // in two chunks cut inside an escape sequence
    const rec = ${JSON.stringify(rec)};
    await t.write(rec.slice(0, 30));
    await t.write(rec.slice(30));
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const buf = t.term.buffer.active;
    const line = (i) => buf.getLine(buf.viewportY + i).translateToString();
    const cell = (y, x) => buf.getLine(buf.viewportY + y).getCell(x);
    return {
      rows: t.term.rows, cols: t.term.cols,
      l0: line(0), l2: line(2), l9: line(9), l24: line(24),
      redFg: cell(9, 19).getFgColor(), redPalette: cell(9, 19).isFgPalette(), redBold: !!cell(9, 19).isBold(),
      plainFg: !!cell(9, 23).isFgDefault(), greenBg: cell(2, 4).getBgColor(), inverse: !!cell(24, 0).isInverse(),
      cursor: [buf.cursorY, buf.cursorX],
      dom: div.querySelector('.xterm-rows') ? div.querySelector('.xterm-rows').textContent : null,
      xterm: !!div.querySelector('.xterm'),
    };
  })()`);
  assert.equal(res.xterm, true);
  assert.equal(res.rows, 25);
  assert.equal(res.cols, 80);
  assert.equal(res.l0.trimEnd(), 'TOP LEFT');                 // the screen was cleared: no boot noise
  assert.equal(res.l9, ' '.repeat(19) + 'RED plain' + ' '.repeat(80 - 28));
  assert.equal(res.l2.trimEnd(), 'ab  green bg');
  assert.equal(res.l24.trimEnd(), 'status line');
  assert.deepEqual([res.redFg, res.redPalette, res.redBold, res.plainFg], [1, true, true, true]);
  assert.equal(res.greenBg, 2);
  assert.equal(res.inverse, true);
  assert.deepEqual(res.cursor, [2, 2]);
  // rendered into the page's DOM as text
  assert.match(res.dom, /TOP LEFT/);
  assert.match(res.dom, /RED plain/);
  assert.doesNotMatch(res.dom, /boot noise/);

  // Typed keys come out as a terminal sends them.
  await b.page('termTest.t.focus()');
  await b.cdp.send('Input.insertText', { text: 'ls' }, b.session);
  for (const [key, code, keyCode] of [['Enter', 'Enter', 13], ['ArrowUp', 'ArrowUp', 38]]) {
    await b.cdp.send('Input.dispatchKeyEvent', { type: 'rawKeyDown', key, code, windowsVirtualKeyCode: keyCode }, b.session);
    await b.cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', key, code, windowsVirtualKeyCode: keyCode }, b.session);
  }
  await b.cdp.send('Input.dispatchKeyEvent', { type: 'rawKeyDown', key: 'c', code: 'KeyC', windowsVirtualKeyCode: 67,
    modifiers: 2 }, b.session);
  await b.cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', key: 'c', code: 'KeyC', windowsVirtualKeyCode: 67,
    modifiers: 2 }, b.session);
  await b.wait("termTest.typed.join('').length >= 6", 5000, 'the typed keys');
  assert.equal(await b.page("termTest.typed.join('')"), 'ls\r\x1b[A\x03');
  // Guest output that looks like markup stays text in the terminal.
  await b.page(`termTest.t.write('\\r\\n<img src=x id=evil onerror="document.title=1"><b>bold</b>')`);
  assert.equal(await b.page("document.getElementById('evil')"), null);
  assert.ok((await b.page('termTest.t.lines()')).includes('<img src=x id=evil onerror="document.title=1"><b>bold</b>'));
  await b.page("termTest.t.dispose(); document.getElementById('term-test').remove()");
  assert.deepEqual(b.problems, []);
});

test('disks and networks: create, validation next to the field, resize, delete', { skip: noBrowser }, async () => {
  await b.login(d.base, 'admin', 'adminpass1');
  // the other pages of an administrator load without an error too
  for (const [hash, ready] of [['#/create', "!!document.querySelector('#c-kernels option[value=\"k.elf\"]')"],
    ['#/host', "document.querySelector('main').innerText.includes('Running VMs')"],
    ['#/events', "document.querySelector('main').innerText.includes('login')"]]) {
    await b.page(`location.hash = '${hash}'`);
    await b.wait(ready, 10000, hash);
  }
  await b.page("location.hash = '#/disks'");
  await b.wait("!!document.querySelector('#disk-create') && !!document.querySelector('#disk-list')");
  // the API's message next to the size field
  await fill('#disk-create', { '[data-field=name] input': 'md1', '[data-field=size] input': 'lots' });
  await b.wait(fieldError('#disk-create', 'size'), 5000, 'the size error');
  assert.equal(await b.page(fieldError('#disk-create', 'size')), 'size: must be an integer');
  assert.equal(await b.page(fieldError('#disk-create', 'name')), '');
  await fill('#disk-create', { '[data-field=name] input': 'bad name', '[data-field=size] input': '2' });
  await b.wait(fieldError('#disk-create', 'name'), 5000, 'the name error');
  assert.match(await b.page(fieldError('#disk-create', 'name')), /^name: a name has only letters/);
  assert.equal(await b.page(fieldError('#disk-create', 'size')), '');
  await fill('#disk-create', { '[data-field=name] input': 'md1', '[data-field=size] input': '2',
    '[data-field=format] select': 'vhd' });
  await b.wait("document.querySelector('#disk-list').innerText.includes('md1')", 5000, 'the new disk');
  let disk = await api.request('GET', '/api/v1/disks/md1');
  assert.equal(disk.format, 'vhd');
  assert.ok(disk.size >= 2097152 && disk.size < 2200000, String(disk.size));
  // a taken name: next to the name field
  await fill('#disk-create', { '[data-field=name] input': 'md1', '[data-field=size] input': '2' });
  await b.wait(fieldError('#disk-create', 'name'), 5000, 'the conflict');
  assert.match(await b.page(fieldError('#disk-create', 'name')), /a disk named 'md1' exists/);
  // grow it; shrinking is refused next to the field
  await click('[data-key="disk/md1/resize"]');
  await b.wait("!!document.querySelector('#disk-resize')");
  await fill('#disk-resize', { '[data-field=size] input': '1' });
  await b.wait(fieldError('#disk-resize', 'size'), 5000, 'the shrink error');
  assert.match(await b.page(fieldError('#disk-resize', 'size')), /^size: shrinking a disk loses data/);
  await fill('#disk-resize', { '[data-field=size] input': '8' });
  await b.wait("!document.querySelector('#disk-resize')", 5000, 'the resize form closed');
  disk = await api.request('GET', '/api/v1/disks/md1');
  assert.ok(disk.size >= 8388608 && disk.size < 8500000, String(disk.size));
  await b.wait("document.querySelector('#disk-list').innerText.includes('8.0 MiB')", 5000, 'the new size listed');
  await click('[data-key="disk/md1/delete"]');
  await b.wait("!document.querySelector('#disk-list').innerText.includes('md1')", 5000, 'the disk gone');
  assert.equal(await gone('/api/v1/disks/md1'), true);

  await b.page("location.hash = '#/networks'");
  await b.wait("!!document.querySelector('#net-create')");
  await fill('#net-create', { '[data-field=name] input': 'mn1', '[data-field=kind] select': 'nat',
    '[data-field=subnet] input': '10.9.0.0/30' });
  await b.wait(fieldError('#net-create', 'subnet'), 5000, 'the subnet error');
  assert.match(await b.page(fieldError('#net-create', 'subnet')), /^subnet: an IPv4 network from \/8 to \/27/);
  await fill('#net-create', { '[data-field=subnet] input': '10.9.0.0/24', '[data-field=dhcp_start] input': '10.9.1.1' });
  await b.wait(fieldError('#net-create', 'dhcp_start'), 5000, 'the dhcp error');
  assert.equal(await b.page(fieldError('#net-create', 'subnet')), '');
  await fill('#net-create', { '[data-field=dhcp_start] input': '10.9.0.100' });
  await b.wait("document.querySelector('#net-list').innerText.includes('mn1')", 5000, 'the new network');
  const net = await api.request('GET', '/api/v1/networks/mn1');
  assert.deepEqual([net.kind, net.subnet, net.dhcp_start], ['nat', '10.9.0.0/24', '10.9.0.100']);
  await click('[data-key="net/mn1/delete"]');
  await b.wait("!document.querySelector('#net-list').innerText.includes('mn1')", 5000, 'the network gone');
  assert.equal(await gone('/api/v1/networks/mn1'), true);
  assert.deepEqual(b.problems, []);
});

test("a VM's settings: every field PATCH takes, disks and NICs, errors by their field, then deleted", { skip: noBrowser }, async () => {
  await api.request('POST', '/api/v1/disks', { name: 'ed1', size: 1048576 });
  await api.request('POST', '/api/v1/networks', { name: 'en1', kind: 'nat' });
  await api.createVm({ name: 'ev1', kernel: 'k.elf', memory_mib: 32 });
  await b.page("location.hash = '#/vm/ev1'");
  await b.wait("!!document.querySelector('[data-key=\"ev1/edit\"]') && !!document.querySelector('#console .xterm')",
    10000, 'the VM page with its console and Settings');
  await click('[data-key="ev1/edit"]');
  await b.wait("!!document.querySelector('#vm-edit')");
  await fill('#vm-edit', { '[data-field=cpus] input': '100' });
  await b.wait(fieldError('#vm-edit', 'cpus'), 5000, 'the cpus error');
  assert.equal(await b.page(fieldError('#vm-edit', 'cpus')), 'cpus: must be between 1 and 64');
  await fill('#vm-edit', { '[data-field=cpus] input': '2', '[data-field=memory_mib] input': '128',
    '[data-field=memory_min_mib] input': '64', '[data-field=memory_buffer_pct] input': '35',
    '[data-field=description] input': 'edited', '[data-field=cmdline] input': 'a=1',
    '[data-field=cpu_limit] input': '50', '[data-field=restart_policy] select': 'on-failure',
    '[data-field=undo_disks] select': 'keep', '[data-field=autostart] input': true,
    '[data-field=display] select': 'bochs', '[data-field=enlightenments] select': 'hyperv',
    '[data-field=balloon] input': false, '[data-field=mem_merge] input': true }, false);
  await click('[data-key="disks-add"]');
  await click('[data-key="nics-add"]');
  await b.page(`document.querySelector('[aria-label="NIC 1 MAC"]').value = '01:00:00:00:00:01'`);
  await b.page("document.querySelector('#vm-edit').requestSubmit()");
  await b.wait(fieldError('#vm-edit', 'nics[0]'), 5000, 'the MAC error on its NIC');
  assert.match(await b.page(fieldError('#vm-edit', 'nics[0]')), /^nics\[0\]: mac: must be a unicast MAC/);
  await b.page(`document.querySelector('[aria-label="NIC 1 MAC"]').value = ''`);
  await b.page("document.querySelector('#vm-edit').requestSubmit()");
  await b.wait("document.querySelector('[role=status]') && [...document.querySelectorAll('[role=status]')].some((e) => e.textContent === 'Saved.')",
    5000, 'saved');
  const vm = await api.getVm('ev1');
  assert.deepEqual([vm.cpus, vm.memory_mib, vm.description, vm.cmdline, vm.cpu_limit, vm.restart_policy,
    vm.undo_disks, vm.autostart], [2, 128, 'edited', 'a=1', 50, 'on-failure', 'keep', true]);
  assert.deepEqual([vm.memory_min_mib, vm.memory_buffer_pct], [64, 35]);
  assert.deepEqual([vm.display, vm.enlightenments, vm.balloon, vm.mem_merge], ['bochs', 'hyperv', false, true]);
  assert.deepEqual(vm.disks, [{ disk: 'ed1', bus: 'virtio-blk', readonly: false }]);
  assert.equal(vm.nics.length === 1 && vm.nics[0].network, 'en1');
  // the disk off again
  await click('[aria-label="Remove disk 1"]');
  await b.page("document.querySelector('#vm-edit').requestSubmit()");
  await b.wait("[...document.querySelectorAll('[role=status]')].some((e) => e.textContent === 'Saved.')", 5000, 'saved');
  assert.deepEqual((await api.getVm('ev1')).disks, []);
  // deleted from its page (the confirmation accepted)
  await b.page("location.hash = '#/vm/ev1'");
  await b.wait("!!document.querySelector('[data-key=\"ev1/delete\"]')");
  await click('[data-key="ev1/delete"]');
  await b.wait("location.hash === '#/vms'", 5000, 'back on the list');
  assert.equal(await gone('/api/v1/vms/ev1'), true);
  assert.deepEqual(b.problems, []);
});

test("a VM's snapshot tree: taken from its page (no memory for a VM that is off), indented, a memory snapshot marked, reverted, deleted", { skip: noBrowser }, async () => {
  await api.request('POST', '/api/v1/disks', { name: 'sd1', size: 1048576, format: 'vhd' });
  await api.createVm({ name: 'sv1', kernel: 'k.elf', memory_mib: 32, disks: [{ disk: 'sd1' }] });
  await b.login(d.base, 'admin', 'adminpass1');
  await b.page("location.hash = '#/vm/sv1'");
  await b.wait("!!document.querySelector('#snap-take') && document.querySelector('#vm-snapshots').innerText.includes('No snapshots')",
    10000, 'the snapshot section');
  // off: the memory box is off and cannot be ticked
  assert.deepEqual(await b.page("[document.querySelector('#snap-memory').checked, document.querySelector('#snap-memory').disabled]"),
    [false, true]);
  await fill('#snap-take', { '#snap-name': 's1' });
  await b.wait("!!document.querySelector('[data-key=\"sv1/snap/s1/name\"]')", 5000, 'snapshot s1');
  await fill('#snap-take', { '#snap-name': 's2' });
  await b.wait("!!document.querySelector('[data-key=\"sv1/snap/s2/name\"]')", 5000, 'snapshot s2');
  let tree = await api.snapshots('sv1');
  assert.deepEqual(tree.snapshots.map((x) => [x.name, x.parent, x.memory, x.current]),
    [['s1', null, false, false], ['s2', 's1', false, true]]);
  assert.equal(await b.page("document.querySelector('[data-key=\"sv1/snap/s2/name\"]').textContent"), '└ s2 (current)');
  assert.equal(await b.page("document.querySelector('[data-key=\"sv1/snap/s2/name\"]').style.paddingLeft"), '1.5em');
  // s1 with memory, laid out as the server keeps it (docs/server.md "Snapshots with memory":
  // the state file's size in the inventory, the file DATA/vms/ID/snapshots/SNAPID.vsav; no
  // KVM here to save a guest): marked with its size
  const [vmId, snapId] = JSON.parse(execFileSync('python3', ['-c', `import sqlite3, json, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
v = c.execute("SELECT id FROM vms WHERE name = 'sv1'").fetchone()[0]
s = c.execute("SELECT id FROM snapshots WHERE vm_id = ? AND name = 's1'", (v,)).fetchone()[0]
c.execute("UPDATE snapshots SET memory_bytes = 2048 WHERE id = ?", (s,))
c.commit()
print(json.dumps([v, s]))`, join(d.tmp, 'data', 'inventory.db')]).toString());
  mkdirSync(join(d.tmp, 'data', 'vms', String(vmId), 'snapshots'), { recursive: true });
  writeFileSync(join(d.tmp, 'data', 'vms', String(vmId), 'snapshots', snapId + '.vsav'), Buffer.alloc(2048));
  await b.page("location.hash = '#/vms'");
  await b.page("location.hash = '#/vm/sv1'");
  await b.wait("!!document.querySelector('[data-key=\"sv1/snap/s1/memory\"]')", 10000, 'the memory mark');
  assert.equal(await b.page("document.querySelector('[data-key=\"sv1/snap/s1/memory\"]').textContent"), 'memory 2.0 KiB');
  assert.equal(await b.page("document.querySelector('[data-key=\"sv1/snap/s1/revert\"]').textContent"), 'Revert and resume');
  assert.equal(await b.page("document.querySelector('[data-key=\"sv1/snap/s2/revert\"]').textContent"), 'Revert');
  // s2 deleted from its row (the confirmation accepted): its parent s1 current again
  await click('[data-key="sv1/snap/s2/delete"]');
  await b.wait("!document.querySelector('[data-key=\"sv1/snap/s2/name\"]')", 10000, 's2 deleted');
  tree = await api.snapshots('sv1');
  assert.deepEqual(tree.snapshots.map((x) => [x.name, x.memory, x.current]), [['s1', true, true]]);
  assert.equal((await api.getVm('sv1')).state, 'stopped');
  assert.deepEqual(b.problems, []);
});

test('images: upload an ISO made here (SHA-256 listed), a Windows VM from it (UEFI), eject and insert, delete refused while used', { skip: noBrowser }, async () => {
  // a small ISO made now
  const dir = join(d.tmp, 'isodir');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'readme.txt'), 'an installer, or so it says\n');
  const iso = join(d.tmp, 'inst.iso');
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, dir], { stdio: 'ignore' });
  const sha = createHash('sha256').update(readFileSync(iso)).digest('hex');
  await b.login(d.base, 'admin', 'adminpass1');
  await b.page("location.hash = '#/images'");
  await b.wait("!!document.querySelector('#image-upload') && document.querySelector('#image-list').innerText.includes('k.elf')");
  // the file chosen as a person would (the file input), sent by the browser
  const setFile = async (path) => {
    const r = await b.cdp.send('Runtime.evaluate', { expression: "document.querySelector('#image-upload input[type=file]')" }, b.session);
    await b.cdp.send('DOM.setFileInputFiles', { files: [path], objectId: r.result.objectId }, b.session);
  };
  // a checksum that does not match: refused, shown next to its field, nothing kept
  await setFile(iso);
  await fill('#image-upload', { '[data-field=name] input': 'bad.iso', '[data-field=sha256] input': '0'.repeat(64) });
  await b.wait(`(${fieldError('#image-upload', 'sha256')}) || document.querySelector('#image-upload .form-error:not([hidden])')`,
    10000, 'the checksum refusal');
  assert.equal(await gone('/api/v1/images/bad.iso'), true);
  await fill('#image-upload', { '[data-field=name] input': 'inst.iso', '[data-field=sha256] input': sha });
  await b.wait(`document.querySelector('#image-list').innerText.includes(${JSON.stringify(sha)})`, 10000, 'the upload listed');
  const img = await api.request('GET', '/api/v1/images/inst.iso');
  assert.deepEqual([img.kind, img.sha256, img.size], ['iso', sha, readFileSync(iso).length]);
  assert.match(await b.page("[...document.querySelectorAll('#image-list tr')].find((r) => r.innerText.includes('inst.iso')).innerText"),
    /inst\.iso\s+iso\s+[\d.]+ KiB\s+admin\s+yes: make private\s+[0-9a-f]{64}\s+–/);
  // an administrator's upload is public; the Public button makes it private, and public again
  await click('[data-key="image/inst.iso/public"]');
  await b.wait("document.querySelector('[data-key=\"image/inst.iso/public\"]').innerText.includes('make public')",
    10000, 'made private');
  assert.equal((await api.request('GET', '/api/v1/images/inst.iso')).public, false);
  await click('[data-key="image/inst.iso/public"]');
  await b.wait("document.querySelector('[data-key=\"image/inst.iso/public\"]').innerText.includes('make private')",
    10000, 'made public');
  assert.equal((await api.request('GET', '/api/v1/images/inst.iso')).public, true);

  // a Windows VM with the ISO in a drive: the preset's firmware shows, no kernel asked
  await b.page("location.hash = '#/create'");
  await b.wait("!!document.querySelector('[data-key=\"cdroms-add\"]')", 10000, 'the drives');
  await fill('main form.panel', { '#c-name': 'win1', '#c-mem': '64', '#c-os': 'windows' }, false);
  await click('[data-key="cdroms-add"]');
  assert.deepEqual(await b.page("[document.querySelector('#c-firmware').value, document.querySelector('#c-boot').value, " +
    "document.querySelector('#c-kernel').closest('[data-field]').hidden, document.querySelector('[aria-label=\"Drive 1 image\"]').value]"),
  ['uefi', 'cdrom,disk', true, 'inst.iso']);
  await b.page("document.querySelector('main form.panel').requestSubmit()");
  await b.wait("location.hash === '#/vm/win1'", 10000, 'the new VM');
  let vm = await api.getVm('win1');
  assert.deepEqual([vm.os_type, vm.firmware, vm.boot, vm.kernel, vm.cdroms],
    ['windows', 'uefi', ['cdrom', 'disk'], null, [{ image: 'inst.iso', bus: 'ahci' }]]);
  await b.wait("document.querySelector('#vm-media') && document.querySelector('#vm-media').innerText.includes('inst.iso') && " +
    "document.querySelector('main').innerText.includes('uefi')", 10000, 'the drive and the firmware on the VM page');
  // eject and insert on the off VM
  await click('[data-key="win1/media-0/eject"]');
  await b.wait("document.querySelector('#vm-media').innerText.includes('(empty)')", 10000, 'ejected');
  assert.equal((await api.getVm('win1')).cdroms[0].image, null);
  await b.page("document.querySelector('[data-key=\"win1/media-0/image\"]').value = 'inst.iso'");
  await click('[data-key="win1/media-0/insert"]');
  await b.wait("!document.querySelector('#vm-media').innerText.includes('(empty)')", 10000, 'inserted');
  assert.equal((await api.getVm('win1')).cdroms[0].image, 'inst.iso');
  // its settings: the same fields while off
  await b.page("location.hash = '#/edit/win1'");
  await b.wait("!!document.querySelector('#vm-edit [aria-label=\"Drive 1 image\"]')");
  assert.deepEqual(await b.page("['firmware', 'boot'].map((n) => document.querySelector('#vm-edit [data-field=' + n + '] select').value)"),
    ['uefi', 'cdrom,disk']);
  await fill('#vm-edit', { '[data-field=boot] select': 'disk,cdrom' });
  await b.wait("[...document.querySelectorAll('[role=status]')].some((e) => e.textContent === 'Saved.')", 5000, 'saved');
  vm = await api.getVm('win1');
  assert.deepEqual([vm.boot, vm.firmware, vm.cdroms], [['disk', 'cdrom'], 'uefi', [{ image: 'inst.iso', bus: 'ahci' }]]);

  // in use: listed as such, and its delete refused with the API's message
  let refusal = null;
  await api.request('DELETE', '/api/v1/images/inst.iso').catch((e) => { refusal = e; });
  assert.equal(refusal && refusal.status, 409);
  await b.page("location.hash = '#/images'");
  await b.wait("[...document.querySelectorAll('#image-list tr')].some((r) => r.innerText.includes('inst.iso') && r.innerText.includes('win1'))",
    10000, 'used by win1');
  await click('[data-key="image/inst.iso/delete"]');
  await b.wait("!document.getElementById('error').hidden", 5000, 'the refusal');
  assert.equal(await b.page("document.getElementById('error-text').textContent"), refusal.message + ' (409 conflict)');
  // the VM deleted from its page (the confirmation accepted), then the image can go
  await b.page("location.hash = '#/vm/win1'");
  await b.wait("!!document.querySelector('[data-key=\"win1/delete\"]')");
  await click('[data-key="win1/delete"]');
  await b.wait("location.hash === '#/vms'", 5000, 'back on the list');
  assert.equal(await gone('/api/v1/vms/win1'), true);
  await b.page("location.hash = '#/images'");
  await b.wait("!!document.querySelector('[data-key=\"image/inst.iso/delete\"]')");
  await click('[data-key="image/inst.iso/delete"]');
  await b.wait("!document.querySelector('#image-list').innerText.includes('inst.iso')", 5000, 'the image gone');
  assert.equal(await gone('/api/v1/images/inst.iso'), true);
  assert.deepEqual(b.problems, []);
});

test("images of tenants: one's own upload private (Owner, Public), another's not listed, Delete only on one's own", { skip: noBrowser }, async () => {
  for (const n of ['tena', 'tenb'])
    await api.request('POST', '/api/v1/users', { name: n, password: n + 'pass1' });
  await api.request('PUT', '/api/v1/permissions', { grants: ['tena', 'tenb'].map((n) =>
    ({ user: n, permissions: ['modify', 'remove'] })) });
  const ta = new Api({ base: d.base, storage: new MemoryStorage() });
  await ta.login('tena', 'tenapass1');
  const img = await ta.uploadImage('tena.iso', new Uint8Array(4096));
  assert.deepEqual([img.owner, img.public], ['tena', false]);
  const row = (n) => `[...document.querySelectorAll('#image-list tr')].find((r) => r.innerText.includes(${JSON.stringify(n)}))`;
  await b.logout();
  await b.login(d.base, 'tena', 'tenapass1');
  await b.page("location.hash = '#/images'");
  await b.wait(`!!(${row('tena.iso')}) && !!(${row('k.elf')})`, 10000, 'her image and the host\'s');
  assert.match(await b.page(`${row('tena.iso')}.innerText`), /tena\.iso\s+raw\s+[\d.]+ KiB\s+tena\s+no \(yours\)/);
  assert.match(await b.page(`${row('k.elf')}.innerText`), /\(the host\)\s+yes/);
  assert.deepEqual(await b.page("[...document.querySelectorAll('#image-list [data-key$=\"/delete\"]')].map((e) => e.dataset.key)"),
    ['image/tena.iso/delete']);
  await b.logout();
  await b.login(d.base, 'tenb', 'tenbpass1');
  await b.page("location.hash = '#/images'");
  await b.wait(`!!(${row('k.elf')})`, 10000, 'the host\'s image');
  assert.equal(await b.page(`!!(${row('tena.iso')})`), false);
  // back to the administrator (the next tests go on from its session), then tidy up
  await b.logout();
  await b.login(d.base, 'admin', 'adminpass1');
  await api.request('DELETE', '/api/v1/images/tena.iso');
  await api.request('PUT', '/api/v1/permissions', { grants: [] });
  for (const n of ['tena', 'tenb'])
    await api.request('DELETE', '/api/v1/users/' + n);
  assert.deepEqual(b.problems, []);
});

test('users, groups and grants: create, change, delete; a refused grant shows on its row', { skip: noBrowser }, async () => {
  await b.page("location.hash = '#/users'");
  await b.wait("!!document.querySelector('#user-create')");
  await fill('#user-create', { '[data-field=name] input': 'mu1', '[data-field=password] input': 'short' });
  await b.wait(fieldError('#user-create', 'password'), 5000, 'the password error');
  assert.equal(await b.page(fieldError('#user-create', 'password')), 'password: at least 8 characters');
  await fill('#user-create', { '[data-field=password] input': 'longenough1' });
  await b.wait("document.querySelector('#user-list').innerText.includes('mu1')", 5000, 'the user');
  assert.equal((await api.request('GET', '/api/v1/users/mu1')).admin, false);

  await b.page("location.hash = '#/groups'");
  await b.wait("!!document.querySelector('#group-create')");
  await fill('#group-create', { '[data-field=name] input': 'mg1', 'input[value="mu1"]': true });
  await b.wait("document.querySelector('#group-list').innerText.includes('mg1')", 5000, 'the group');
  assert.deepEqual((await api.request('GET', '/api/v1/groups/mg1')).members, ['mu1']);
  await click('[data-key="group/mg1/edit"]');
  await b.wait("!!document.querySelector('#group-edit')");
  await fill('#group-edit', { 'input[value="mu1"]': false });
  await b.wait("!document.querySelector('#group-edit')");
  assert.deepEqual((await api.request('GET', '/api/v1/groups/mg1')).members, []);

  await b.page("location.hash = '#/users'");
  await b.wait("!!document.querySelector('[data-key=\"user/mu1/edit\"]')");
  await click('[data-key="user/mu1/edit"]');
  await b.wait("!!document.querySelector('#user-edit')");
  await fill('#user-edit', { 'input[value="mg1"]': true, '[data-field=admin] input': true });
  await b.wait("!document.querySelector('#user-edit')");
  const u = await api.request('GET', '/api/v1/users/mu1');
  assert.deepEqual([u.admin, u.groups], [true, ['mg1']]);

  // a user's quota (web/quota.mjs): usage and limits one row each; an administrator sets them
  await click('[data-key="user/mu1/quota"]');
  await b.wait("!!document.querySelector('#user-quota form')");
  await fill('#user-quota form', { '[data-field=vms] input': '3', '[data-field=memory_mib] input': '2048' });
  await b.wait("document.querySelector('#user-quota tbody tr td:nth-child(3)').innerText === '3'", 5000,
    'the saved quota');
  const q = (await api.request('GET', '/api/v1/users/mu1')).quota;
  assert.deepEqual([q.vms, q.memory_mib, q.cpus], [3, 2048, null]);
  // a limit that is no whole number is refused, never saved as unlimited
  await fill('#user-quota form', { '[data-field=vms] input': '10G' });
  await b.wait(`!!((${fieldError('#user-quota form', 'vms')}) ||
    document.querySelector('#user-quota .form-error:not([hidden])'))`, 5000, 'the refusal of 10G');
  assert.equal((await api.request('GET', '/api/v1/users/mu1')).quota.vms, 3);
  await click('#user-quota .actions button[type=button]');
  await b.wait("!document.querySelector('#user-quota')");

  // the server's grants: one added and saved; one for a user deleted meanwhile is refused on its row
  await b.page("location.hash = '#/permissions'");
  await b.wait("!!document.querySelector('#grants-form')");
  await b.page("[...document.querySelectorAll('#grants-form button')].find((x) => x.textContent === 'Add grant').click()");
  await fill('#grants-form', { '[aria-label="Grant 1: who"]': 'mu1', '[aria-label="Grant 1: control"]': true });
  await b.wait("[...document.querySelectorAll('[role=status]')].some((e) => e.textContent === 'Saved.')", 5000, 'saved');
  assert.deepEqual((await api.request('GET', '/api/v1/permissions')).grants,
    [{ user: 'mu1', permissions: ['view', 'control'] }]);
  await api.request('POST', '/api/v1/users', { name: 'mu2', password: 'longenough2' });
  await b.page("window.oldPage = true; location.reload()");
  await b.wait("!window.oldPage && !!document.querySelector('#grants-form [aria-label=\"Grant 1: who\"]')");
  await b.page("[...document.querySelectorAll('#grants-form button')].find((x) => x.textContent === 'Add grant').click()");
  await fill('#grants-form', { '[aria-label="Grant 2: who"]': 'mu2' }, false);
  await api.request('DELETE', '/api/v1/users/mu2');
  await b.page("document.querySelector('#grants-form').requestSubmit()");
  await b.wait(fieldError('#grants-form', 'grants[1]'), 5000, 'the refused grant');
  assert.equal(await b.page(fieldError('#grants-form', 'grants[1]')), "grants[1]: no user named 'mu2'");
  assert.equal(await b.page(fieldError('#grants-form', 'grants[0]')), '');
  // an object's grants (a disk's)
  await api.request('POST', '/api/v1/disks', { name: 'gd1', size: 1048576 });
  await b.page("location.hash = '#/disks'");
  await b.wait("!!document.querySelector('[data-key=\"disk/gd1/grants\"]')");
  await click('[data-key="disk/gd1/grants"]');
  await b.wait("location.hash === '#/grants/disks/gd1' && !!document.querySelector('#grants-form')");
  await b.page("[...document.querySelectorAll('#grants-form button')].find((x) => x.textContent === 'Add grant').click()");
  await fill('#grants-form', { '[aria-label="Grant 1: user or group"]': 'group' }, false);
  await fill('#grants-form', { '[aria-label="Grant 1: who"]': 'mg1', '[aria-label="Grant 1: view"]': false,
    '[aria-label="Grant 1: modify"]': true });
  await b.wait("[...document.querySelectorAll('[role=status]')].some((e) => e.textContent === 'Saved.')", 5000, 'saved');
  assert.deepEqual((await api.request('GET', '/api/v1/disks/gd1/permissions')).grants,
    [{ group: 'mg1', permissions: ['modify'] }]);
  await b.page("[...document.querySelectorAll('#grants-form button')].find((x) => x.textContent === 'Remove').click()");
  await b.page("document.querySelector('#grants-form').requestSubmit()");
  await b.wait("[...document.querySelectorAll('[role=status]')].some((e) => e.textContent === 'Saved.')", 5000, 'saved');
  assert.deepEqual((await api.request('GET', '/api/v1/disks/gd1/permissions')).grants, []);

  // deletes
  await api.request('PUT', '/api/v1/permissions', { grants: [] });
  await b.page("location.hash = '#/groups'");
  await b.wait("!!document.querySelector('[data-key=\"group/mg1/delete\"]')");
  await click('[data-key="group/mg1/delete"]');
  await b.wait("!document.querySelector('#group-list').innerText.includes('mg1')", 5000, 'the group gone');
  assert.equal(await gone('/api/v1/groups/mg1'), true);
  await b.page("location.hash = '#/users'");
  await b.wait("!!document.querySelector('[data-key=\"user/mu1/delete\"]')");
  await click('[data-key="user/mu1/delete"]');
  await b.wait("!document.querySelector('#user-list').innerText.includes('mu1')", 5000, 'the user gone');
  assert.equal(await gone('/api/v1/users/mu1'), true);
  assert.deepEqual(b.problems, []);
});

// The controls on the page that do something, but for those anyone may use (navigation,
// Refresh, the console's Reload log and Clear, Log out, the error bar's close).
const ACTIONS = `[...document.querySelectorAll('main button, main a.button, main form, main input, main select')]
  .filter((e) => !e.disabled && e.getClientRects().length > 0 &&
    !(e.tagName === 'BUTTON' && ['Refresh', 'Reload log', 'Clear'].includes(e.textContent)) &&
    !(e.tagName === 'INPUT' && e.closest('.xterm')))
  .map((e) => e.tagName + ':' + (e.textContent || e.getAttribute('aria-label') || e.id || e.name))`;

test('a delegated manager\'s quota: its usage with its users\' in a column, a managed user names its manager', { skip: noBrowser }, async () => {
  await api.request('POST', '/api/v1/users', { name: 'mgw', password: 'mgwpass12' });
  await api.request('PUT', '/api/v1/permissions', { grants: [
    { user: 'mgw', permissions: ['view', 'modify', 'change-permissions'] }] });
  await api.request('PUT', '/api/v1/users/mgw/quota', { disks: 4, disk_bytes: 64 << 20 });
  const tm = new Api({ base: d.base, storage: new MemoryStorage() });
  await tm.login('mgw', 'mgwpass12');
  await tm.request('POST', '/api/v1/users', { name: 'mwu', password: 'mwupass12' });
  await api.request('PUT', '/api/v1/permissions', { grants: [
    { user: 'mgw', permissions: ['view', 'modify', 'change-permissions'] },
    { user: 'mwu', permissions: ['modify', 'remove'] }] });
  const tu = new Api({ base: d.base, storage: new MemoryStorage() });
  await tu.login('mwu', 'mwupass12');
  await tu.request('POST', '/api/v1/disks', { name: 'mwd', size: 1 << 20 });
  // (the page may show the users already: away and back, so the new ones are listed)
  await b.page("location.hash = '#/disks'");
  await b.wait("document.querySelector('#user-list') === null");
  await b.page("location.hash = '#/users'");
  await b.wait("!!document.querySelector('[data-key=\"user/mgw/quota\"]')");
  await click('[data-key="user/mgw/quota"]');
  await b.wait("!!document.querySelector('#user-quota table')");
  assert.deepEqual(await b.page("[...document.querySelectorAll('#user-quota thead th')].map((e) => e.innerText)"),
    ['Limit', 'Usage', 'With its users', 'Quota']);
  assert.match(await b.page("[...document.querySelectorAll('#user-quota tbody tr')][3].innerText"), /Disks\s+0\s+1\s+4/);
  await click('#user-quota .actions button[type=button]');
  await b.wait("!document.querySelector('#user-quota')");
  await click('[data-key="user/mwu/quota"]');
  await b.wait("!!document.querySelector('#user-quota table')");
  assert.match(await b.page("document.querySelector('#user-quota').innerText"), /Managed by mgw/);
  assert.equal(await b.page("document.querySelectorAll('#user-quota thead th').length"), 3);
  await click('#user-quota .actions button[type=button]');
  await b.wait("!document.querySelector('#user-quota')");
  await api.request('DELETE', '/api/v1/disks/mwd');
  await api.request('PUT', '/api/v1/permissions', { grants: [] });
  for (const n of ['mwu', 'mgw'])
    await api.request('DELETE', '/api/v1/users/' + n);
  assert.deepEqual(b.problems, []);
});

test('a viewer (view on the server) sees no action it may not take, on any page', { skip: noBrowser }, async () => {
  await api.request('POST', '/api/v1/users', { name: 'viewer', password: 'viewerpass1' });
  await api.request('PUT', '/api/v1/permissions', { grants: [{ user: 'viewer', permissions: ['view'] }] });
  await api.request('POST', '/api/v1/disks', { name: 'vd1', size: 1048576 });
  await api.request('POST', '/api/v1/networks', { name: 'vn1', kind: 'nat' });
  await api.createVm({ name: 'vv1', kernel: 'k.elf', memory_mib: 32, disks: [{ disk: 'vd1' }], nics: [{ network: 'vn1' }],
    cdroms: [{ image: null }] });
  await b.logout();
  await b.login(d.base, 'viewer', 'viewerpass1');
  for (const [hash, ready] of [
    ['#/vms', "!!document.querySelector('#vm-list .vm-body') && document.querySelector('#vm-list').innerText.includes('vv1')"],
    ['#/vm/vv1', "!!document.querySelector('#console .xterm') && document.querySelector('main').innerText.includes('vd1') && " +
      "document.querySelector('#vm-media').innerText.includes('(empty)')"],
    ['#/edit/vv1', "document.querySelector('main').innerText.includes('You may not change this VM.')"],
    ['#/create', "!!document.querySelector('main h1')"],
    ['#/disks', "document.querySelector('#disk-list').innerText.includes('vd1')"],
    ['#/images', "document.querySelector('main').innerText.includes('You may not see the image store')"],
    ['#/networks', "document.querySelector('#net-list').innerText.includes('vn1')"],
    ['#/users', "document.querySelector('#user-list').innerText.includes('viewer')"],
    ['#/groups', "!!document.querySelector('#group-list') && !document.querySelector('main').innerText.includes('Loading')"],
    ['#/permissions', "!!document.querySelector('#grant-rows [aria-label=\"Grant 1: who\"]')"],
    ['#/grants/vms/vv1', "!!document.querySelector('#grant-rows') && !document.querySelector('main').innerText.includes('Loading')"],
    ['#/host', "document.querySelector('main').innerText.includes('Running VMs')"],
    ['#/events', "document.querySelector('main').innerText.includes('vm-created')"]]) {
    await b.page(`location.hash = '${hash}'`);
    await b.wait(ready, 10000, hash);
    await b.page('new Promise((r) => setTimeout(r, 300))');
    const acts = await b.page(ACTIONS);
    if (hash === '#/create')        // the form is there, but the API refuses it: it must not be offered
      assert.deepEqual(acts, [], hash);
    else
      assert.deepEqual(acts, [], hash);
  }
  // The nav shows what the viewer may see, and the list offers no Create.
  assert.equal(await b.page("document.querySelector('#nav a[href=\"#/users\"]').hidden"), false);
  await b.logout();
  assert.deepEqual(b.problems, []);
});

test('the VM list with 1,000 VMs: every row, re-rendered on each visit with its time measured in the page, and past the API page', { skip: noBrowser }, async () => {
  const have = (await api.listVms()).vms.length;
  const N = 1000;
  const names = [];
  for (let i = 0; names.length + have < N; i++)
    names.push('many' + String(i).padStart(4, '0'));
  for (let i = 0; i < names.length; i += 16)
    await Promise.all(names.slice(i, i + 16).map((name) => api.createVm({ name, kernel: 'k.elf', memory_mib: 16 })));
  assert.equal((await api.listVms()).vms.length, N);
  await b.login(d.base, 'admin', 'adminpass1');
  await b.page("location.hash = '#/vms'");
  await b.wait(`document.querySelector('#vm-list').getAttribute('data-rows') === '${N}'`, 30000, 'all rows');
  // measured once the page has fetched every VM's details (not while the server answers them)
  await b.wait(`document.querySelector('#vm-list').getAttribute('data-stale') === '0'`, 120000, 'the details');
  const times = [];
  for (let i = 0; i < 7; i++) {
    // a whole new list each time: away and back
    await b.page("location.hash = '#/host'");
    await b.wait("!document.querySelector('#vm-list')");
    await b.page("location.hash = '#/vms'");
    await b.wait(`document.querySelector('#vm-list') && document.querySelector('#vm-list').getAttribute('data-rows') === '${N}'`);
    times.push(Number(await b.page("document.querySelector('#vm-list').getAttribute('data-render-ms')")));
  }
  // each visit built a new list and timed it (the figure against the 200 ms goal is
  // bench/web-list.mjs's: it depends on the machine's load, so it is no test)
  for (const t of times)
    assert.ok(Number.isFinite(t) && t > 0, `render times ${times.join(', ')}`);
  console.log('# VM list of %d: render times %s ms', N, times.join(' '));
  // and the rows are the VMs, with their actions
  assert.equal(await b.page("document.querySelectorAll('#vm-list .vm-body > [role=row]').length"), N);
  assert.equal(await b.page("!!document.querySelector('[data-key=\"many0500/start\"]')"), true);
  // one VM changed (its event, its details fetched again): its row alone is replaced, the
  // 499 rows after it stay where they are (a MutationObserver on the rows names each row
  // added or removed; one moved is both)
  await b.page(`(() => { window.rowsTouched = new Set();
    new MutationObserver((ms) => { for (const m of ms) for (const n of [...m.addedNodes, ...m.removedNodes])
      window.rowsTouched.add(n.querySelector('a[data-key]')?.getAttribute('data-key')); })
      .observe(document.querySelector('#vm-list .vm-body'), { childList: true }); })()`);
  await api.request('PATCH', '/api/v1/vms/many0500', { memory_mib: 24 });
  await b.wait(`[...document.querySelector('[data-key="many0500"]').closest('[role=row]').children].some((c) => c.textContent === '24 MiB') &&
    document.querySelector('#vm-list').getAttribute('data-stale') === '0'`, 10000, 'the changed row');
  assert.deepEqual(await b.page('[...window.rowsTouched]'), ['many0500']);
  // more than a page of the API's list (1,000 by default): all of them
  await api.createVm({ name: 'zz-last', kernel: 'k.elf', memory_mib: 16 });
  await b.page('location.reload()');
  await b.wait(`document.querySelector('#vm-list')?.getAttribute('data-rows') === '${N + 1}'`, 30000, 'all 1,001 rows');
  assert.equal(await b.page("document.querySelector('#vm-list .vm-body').lastElementChild.textContent.startsWith('zz-last')"), true);
  await api.deleteVm('zz-last');
  assert.deepEqual(b.problems, []);
});

test("a VM's page: its console log through the API in xterm.js; usage charts drawn by uPlot", { skip: noBrowser }, async () => {
  // The log a run left (DATA/vms/ID/console.log, as the monitor writes it; no VM runs
  // without /dev/kvm): a full-screen program's output, then a shell line.
  await api.createVm({ name: 'cv1', kernel: 'k.elf', memory_mib: 32 });
  const { execFileSync } = await import('node:child_process');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const data = join(d.tmp, 'data');
  const id = execFileSync('python3', ['-c', 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(' +
    '"SELECT id FROM vms WHERE name = \'cv1\'").fetchone()[0])', join(data, 'inventory.db')]).toString().trim();
  mkdirSync(join(data, 'vms', id), { recursive: true });
  writeFileSync(join(data, 'vms', id, 'console.log'), 'Linux booting\r\n\x1b[2J\x1b[H' +
    'top - 12:00:00 up 1 min\x1b[7;1H\x1b[7m  PID USER\x1b[m\x1b[8;3H1 root\x1b[24;1H\x1b[2J\x1b[H~ # ');
  await b.login(d.base, 'admin', 'adminpass1');
  await b.page("location.hash = '#/vm/cv1'");
  await b.wait("(document.getElementById('console')?.vsrvTerminal?.text() ?? '').includes('~ #')", 10000, 'the log');
  const lines = await b.page("document.getElementById('console').vsrvTerminal.lines()");
  // the screen cleared twice: only the prompt is left on it (blank rows above it when the
  // terminal had its final size only after the log was drawn)
  assert.equal(lines.find((l) => l !== ''), '~ # ', JSON.stringify(lines));
  assert.ok(!lines.some((l) => l.includes('PID') || l.includes('booting')), JSON.stringify(lines));
  // (xterm.js draws only while on screen: the pane may be below the window's fold)
  await b.page("document.getElementById('console').scrollIntoView()");
  await b.wait("document.querySelector('#console .xterm-rows').textContent.includes('~ #')", 5000, 'drawn');

  // The charts of its page take the VM as GET /api/v1/vms/NAME gives it, sample by sample.
  const res = await b.page(`(async () => {
    const { VmCharts } = await import('/ui/charts.mjs');
    const c = new VmCharts('cv1');
    document.querySelector('main').appendChild(c.el);
    const vm = (cpu, rss, rd, wr, rx, tx) => ({ name: 'cv1', state: 'running', runtime: { pid: 42,
      cpu_seconds: cpu, memory_rss_bytes: rss,
      disks: [{ name: 'disk0', read_bytes: rd, write_bytes: wr }], nics: [{ name: 'net0', rx_bytes: rx, tx_bytes: tx }] } });
    c.update(vm(10, 64 << 20, 0, 0, 0, 0), 1000);
    c.update(vm(11, 80 << 20, 4096, 8192, 1000, 500), 1002);
    c.update(vm(11.5, 96 << 20, 4096, 16384, 3000, 500), 1004);
    c.update({ ...vm(0, 0, 0, 0, 0, 0), runtime: c.runtime }, 1005);        // the same answer: no sample
    const out = { hidden: c.el.hidden, canvases: c.el.querySelectorAll('canvas').length,
      captions: [...c.el.querySelectorAll('figcaption')].map((f) => f.textContent),
      data: c.plots.map((p) => p.data.map((s) => [...s])) };
    c.dispose();
    c.el.remove();
    return out;
  })()`);
  assert.equal(res.hidden, false);
  assert.equal(res.canvases, 4);
  assert.deepEqual(res.captions, ['CPU (% of one CPU)', 'Resident memory (MiB)', 'Disk', 'Network']);
  assert.deepEqual(res.data[0], [[1002, 1004], [50, 25]]);
  assert.deepEqual(res.data[1], [[1002, 1004], [80, 96]]);
  assert.deepEqual(res.data[2], [[1002, 1004], [2048, 0], [4096, 4096]]);
  assert.deepEqual(res.data[3], [[1002, 1004], [500, 1000], [250, 0]]);
  assert.deepEqual(b.problems, []);
});
