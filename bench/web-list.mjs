// The web console's VM list with 1,000 VMs (`make bench`): how long the page takes to build
// and lay out the list, measured in the page (headless Chromium against a real `vsrv serve`),
// beside the floor: the same rows as a bare DOM table built in the same page, the least any
// list of them can cost. The goal is under 200 ms here. Prints the median of 7 of
// each and the ratio. A benchmark, not a test: the figures follow the machine's load.
import { join } from 'node:path';
import { copyFileSync } from 'node:fs';
import { Api, MemoryStorage } from '../web/api.mjs';
import { startDaemon, ROOT } from '../tests/web/daemon.mjs';
import { openBrowser, noBrowser } from '../tests/web/chrome.mjs';

const N = 1000, RUNS = 7;

if (noBrowser) {
  console.log(`web-list: skipped: ${noBrowser}`);
  process.exit(0);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const d = await startDaemon('vsrv-bench-web.');
let b;
try {
  const api = new Api({ base: d.base, storage: new MemoryStorage() });
  await api.login('admin', 'adminpass1');
  copyFileSync(join(ROOT, 'build/guests/hello.elf'), join(d.tmp, 'data', 'images', 'k.elf'));
  for (let i = 0; i < N; i += 16)
    await Promise.all(Array.from({ length: Math.min(16, N - i) }, (_, j) =>
      api.createVm({ name: 'many' + String(i + j).padStart(4, '0'), kernel: 'k.elf', memory_mib: 16 })));
  b = await openBrowser(d.tmp);
  await b.login(d.base, 'admin', 'adminpass1');
  await b.page("location.hash = '#/vms'");
  await b.wait(`document.querySelector('#vm-list')?.getAttribute('data-rows') === '${N}'`, 60000, 'all rows');
  await b.wait(`document.querySelector('#vm-list').getAttribute('data-stale') === '0'`, 300000, 'the details');
  const vsrv = [];
  for (let i = 0; i < RUNS; i++) {
    await b.page("location.hash = '#/host'");
    await b.wait("!document.querySelector('#vm-list')");
    await b.page("location.hash = '#/vms'");
    await b.wait(`document.querySelector('#vm-list')?.getAttribute('data-rows') === '${N}'`);
    vsrv.push(Number(await b.page("document.querySelector('#vm-list').getAttribute('data-render-ms')")));
  }
  // The floor: the same rows' text (name, state, vCPUs, memory) as plain table rows, built,
  // inserted and laid out in the same page, then removed.
  const floor = [];
  for (let i = 0; i < RUNS; i++)
    floor.push(await b.page(`(() => {
      const rows = [...document.querySelectorAll('#vm-list .vm-body > [role=row]')]
        .map((r) => [...r.children].slice(0, 4).map((c) => c.textContent));
      const t0 = performance.now();
      const table = document.createElement('table');
      for (const r of rows) {
        const tr = table.insertRow();
        for (const c of r) tr.insertCell().textContent = c;
      }
      document.body.append(table);
      void table.offsetHeight;
      const ms = performance.now() - t0;
      table.remove();
      return ms;
    })()`));
  const mv = median(vsrv), mf = median(floor);
  console.log(`web-list: the VM list of ${N} VMs, median of ${RUNS} renders in headless Chromium`);
  console.log(`  vsrv web console  ${mv.toFixed(1)} ms   (all: ${vsrv.map((x) => x.toFixed(1)).join(' ')})`);
  console.log(`  floor (bare table) ${mf.toFixed(1)} ms   (all: ${floor.map((x) => x.toFixed(1)).join(' ')})`);
  console.log(`  ratio vsrv/floor  ${(mv / mf).toFixed(2)}   goal: vsrv under 200 ms: ${mv < 200 ? 'met' : 'NOT met'}`);
} finally {
  if (b) await b.close();
  await d.stop();
}
