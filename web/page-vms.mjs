// The VM list (#/vms), kept live from the event stream. Built for large inventories: a
// grid of rows (ARIA table roles) that the browser lays out only when on screen
// (content-visibility: auto in style.css; a thousand-row <table> took most of a render
// in layout); one row per VM, kept while the VM object (vmstate.mjs makes a new one only when it changed)
// stays the same, so an update rebuilds only the rows that changed; a row offers only the
// actions its VM's state allows now (the VM's page shows the others disabled); the buttons'
// clicks are taken by one listener on the table. Each render's time (performance.now()
// around building the rows and the layout they cause) is kept in the list's
// data-render-ms, for the page's tests. Running VMs with a display show a thumbnail of their
// screen (GET .../screenshot with the token, shown from a blob: URL), renewed every 10 s.
import { app, api, main, setView, showError, loadVms, serverPerms, doAction, stateBadge,
         vmList, refreshVm } from './core.mjs';
import { vmActions, canCreate, emptyText } from './perms.mjs';
import { fmtMib, fmtBytes, fmtSeconds } from './format.mjs';
import { h, replace } from './dom.mjs';

const COLUMNS = [['Name'], ['State'], ['Host'], ['vCPUs', true], ['Memory', true], ['CPU time', true],
  ['Resident', true], ['Actions']];

// Screenshots of the running VMs with a display: name -> blob: URL.
const THUMBS_MAX = 24;            // at most this many fetched a round
const thumbs = new Map();

function thumbImg(name, url) {
  const img = document.createElement('img');
  img.className = 'vm-thumb';
  img.alt = 'Screen of ' + name;
  img.src = url;
  return img;
}

// A row: a clone of one template row, its texts and attributes filled in (cheaper than
// building each element anew).
let template = null;
function row(vm, perms) {
  if (!template)
    template = h('div', { role: 'row', class: 'vm-row' }, h('span', { role: 'cell' }, h('a', {})),
      h('span', { role: 'cell' }), h('span', { role: 'cell' }),
      ...[3, 4, 5, 6].map(() => h('span', { role: 'cell', class: 'num' })),
      h('span', { role: 'cell' }, h('div', { class: 'actions', role: 'group' })));
  const tr = template.cloneNode(true);
  const td = tr.children;
  const a = td[0].firstChild;
  a.href = '#/vm/' + encodeURIComponent(vm.name);
  a.setAttribute('data-key', vm.name);
  a.textContent = vm.name;
  if (thumbs.has(vm.name) && (vm.state === 'running' || vm.state === 'paused'))
    td[0].appendChild(thumbImg(vm.name, thumbs.get(vm.name)));
  td[1].replaceChildren(stateBadge(vm.state, vm.last_exit));
  td[2].textContent = vm.host ?? '–';           // the host running it (a cluster's VMs move)
  td[3].textContent = String(vm.cpus ?? '–');
  td[4].textContent = fmtMib(vm.memory_mib);
  td[5].textContent = vm.runtime?.cpu_seconds !== undefined ? fmtSeconds(vm.runtime.cpu_seconds) : '–';
  td[6].textContent = vm.runtime?.memory_rss_bytes ? fmtBytes(vm.runtime.memory_rss_bytes) : '–';
  const box = td[7].firstChild;
  box.setAttribute('aria-label', 'Actions on ' + vm.name);
  for (const x of vmActions(vm, perms)) {
    if (!x.enabled)                     // the list offers what can be done now (the VM page all)
      continue;
    const b = document.createElement('button');
    b.type = 'button';
    if (x.id === 'delete' || x.id === 'off')
      b.className = 'danger';
    b.setAttribute('data-key', vm.name + '/' + x.id);
    b.setAttribute('data-action', x.id);
    b.setAttribute('aria-label', x.label + ' ' + vm.name);
    b.disabled = !x.enabled;
    b.textContent = x.label;
    box.appendChild(b);
  }
  return tr;
}

export function viewVms() {
  const rows = new Map();              // name -> { vm, tr }
  const tbody = h('div', { role: 'rowgroup', class: 'vm-body' });
  const tableEl = h('div', { id: 'vm-table', role: 'table', 'aria-label': 'Virtual machines' },
    h('div', { role: 'rowgroup' }, h('div', { role: 'row', class: 'vm-row vm-head' }, COLUMNS.map(([label, num]) =>
      h('span', { role: 'columnheader', class: num ? 'num' : null }, label)))), tbody);
  const empty = h('p', { class: 'empty', hidden: true });
  const list = h('div', { id: 'vm-list' }, tableEl, empty);
  let perms = null;

  tableEl.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-action]');
    if (!b)
      return;
    const name = b.getAttribute('data-key').slice(0, -(b.getAttribute('data-action').length + 1));
    const vm = app.state.vms[name];
    const a = vm && vmActions(vm, serverPerms()).find((x) => x.id === b.getAttribute('data-action'));
    if (a && a.enabled)
      doAction(vm, a);
  });

  const render = () => {
    const t0 = performance.now();
    const vms = vmList(app.state);
    const p = serverPerms();
    if (p !== perms) {                // other permissions: every row again
      perms = p;
      rows.clear();
    }
    const active = document.activeElement;
    const focusKey = active && tbody.contains(active) ? active.getAttribute('data-key') : null;
    const order = [];
    const seen = new Set();
    let changed = false;
    for (const vm of vms) {
      seen.add(vm.name);
      let r = rows.get(vm.name);
      if (!r || r.vm !== vm) {
        const tr = row(vm, p);
        // in the old row's place, so that the rows after it do not all move
        if (r && r.tr.parentNode === tbody)
          tbody.replaceChild(tr, r.tr);
        r = { vm, tr };
        rows.set(vm.name, r);
        changed = true;
      }
      order.push(r.tr);
    }
    for (const [name, r] of rows)
      if (!seen.has(name)) {
        r.tr.remove();
        rows.delete(name);
        changed = true;
      }
    if (changed || tbody.children.length !== order.length) {
      // Only the rows that are new or out of place move.
      let at = tbody.firstElementChild;
      for (const tr of order) {
        if (tr !== at)
          tbody.insertBefore(tr, at);
        else
          at = at.nextElementSibling;
      }
      while (at) {
        const next = at.nextElementSibling;
        at.remove();
        at = next;
      }
    }
    tableEl.hidden = !vms.length;
    empty.hidden = !!vms.length;
    empty.textContent = emptyText(app.me) === 'None yet.' ? 'No virtual machines yet.'
      : 'No virtual machines you may see.';
    if (focusKey && !tbody.contains(document.activeElement)) {
      const again = tbody.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      if (again)
        again.focus();
    }
    void list.offsetHeight;           // the layout the new rows cause counts too
    list.setAttribute('data-render-ms', (performance.now() - t0).toFixed(1));
    list.setAttribute('data-rows', String(tbody.children.length));
    list.setAttribute('data-stale', String(app.state.stale.length));   // details still to fetch
  };
  replace(main, h('h1', {}, 'Virtual machines'),
    h('div', { class: 'toolbar' },
      canCreate(serverPerms()) ? h('a', { href: '#/create', class: 'button primary' }, 'Create VM') : null,
      h('button', { type: 'button', on: { click: () => loadVms().catch(showError) } }, 'Refresh')),
    list);
  render();
  // The thumbnails: fetched for the running VMs with a display, every 10 s.
  let shooting = false;
  const shoot = async () => {
    if (shooting)
      return;
    shooting = true;
    const up = vmList(app.state).filter((vm) => (vm.state === 'running' || vm.state === 'paused') &&
                                                vm.display === 'bochs').slice(0, THUMBS_MAX);
    for (const vm of up) {
      try {
        const url = URL.createObjectURL(await api.screenshot(vm.name));
        const old = thumbs.get(vm.name);
        thumbs.set(vm.name, url);
        const r = rows.get(vm.name);
        if (r) {
          const cell = r.tr.children[0];
          const img = cell.querySelector('img.vm-thumb');
          if (img)
            img.src = url;
          else
            cell.appendChild(thumbImg(vm.name, url));
        }
        if (old)
          URL.revokeObjectURL(old);
      } catch (e) { /* stopped meanwhile: no thumbnail */ }
    }
    shooting = false;
  };
  shoot();
  const shots = setInterval(shoot, 10000);
  // CPU time and resident memory move without events: fetch the running VMs every 5 s.
  const timer = setInterval(() => {
    for (const vm of vmList(app.state))
      if (vm.state === 'running' && !app.fetching.has(vm.name))
        refreshVm(vm.name).catch(() => {});
  }, 5000);
  // Updates (a burst of them while the VMs' details come in) render once a frame.
  let frame = 0;
  const update = () => {
    if (!frame)
      frame = requestAnimationFrame(() => { frame = 0; render(); });
  };
  setView({ name: 'vms', update, render, cleanup: () => {
    clearInterval(timer);
    clearInterval(shots);
    if (frame)
      cancelAnimationFrame(frame);
  } });
}
