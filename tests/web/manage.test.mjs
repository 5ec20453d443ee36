// The web console's terminal and management pages in headless Chromium against a real
// `vsrv serve`, without a guest (no /dev/kvm needed): xterm.js loads from the server and
// renders a recorded cursor-addressed screen (read back from its buffer) and encodes typed
// keys; each management page creates, changes and deletes its object (checked through the
// API); the API's validation message shows next to its field; a viewer sees no action it
// may not take; the VM list with 1,000 VMs renders in under 200 ms (median of several
// renders, measured in the page); and no page logs an error or breaks the CSP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyFileSync } from 'node:fs';
import { Api, ApiError, MemoryStorage } from '../../web/api.mjs';
import { startDaemon, ROOT } from './daemon.mjs';
import { openBrowser, noBrowser } from './chrome.mjs';

let d, api, b;

// The API refusals these tests provoke on purpose (validation errors, a taken name).
const allowed = (e) => / (400|409) /.test(e.text) && /\/api\/v1\//.test(e.url || '');

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
