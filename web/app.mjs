// The vsrv web console: views over the REST API (api.mjs), the VM list kept live from the
// event stream (vmstate.mjs), actions by permission (perms.mjs), the serial console
// (terminal.mjs). Routes are in the URL's fragment: #/vms, #/vm/NAME, #/create, #/disks,
// #/networks, #/host, #/events.
import { Api, ApiError } from './api.mjs';
import { reduce, initialState, vmList } from './vmstate.mjs';
import { vmActions, consoleAccess, canCreate, emptyText } from './perms.mjs';
import { Terminal, liveAfterLog } from './terminal.mjs';
import { fmtBytes, fmtMib, fmtSeconds, fmtTime, fmtExit, fmtAgent, fmtGuestOs, fmtAddresses, vmSpec } from './format.mjs';
import { h, replace, kv, table } from './dom.mjs';

const $ = (id) => document.getElementById(id);
const main = $('main');

let storage;
try { storage = window.sessionStorage; } catch (e) { storage = undefined; }
const api = new Api({ storage, onUnauthorized: () => loggedOut('Your session ended: log in again.') });

const app = {
  state: initialState,
  me: null,                  // whoami
  events: [],                // the newest events seen, newest first
  stream: null,              // AbortController of the event stream
  view: null,                // { name, cleanup(), update() }
  fetching: new Set(),
};

// ---- errors -------------------------------------------------------------------------
function showError(e) {
  if (e && e.name === 'AbortError')
    return;
  const msg = e instanceof ApiError ? `${e.message} (${e.status} ${e.code})` : String(e && e.message || e);
  $('error-text').textContent = msg;
  $('error').hidden = false;
}
function clearError() { $('error').hidden = true; }
$('error-close').addEventListener('click', clearError);

// ---- session ------------------------------------------------------------------------
function loggedOut(message) {
  if (app.stream)
    app.stream.abort();
  app.stream = null;
  app.me = null;
  app.state = initialState;
  $('nav').hidden = true;
  $('who').hidden = true;
  setView(null);
  renderLogin(message);
}

$('logout').addEventListener('click', async () => {
  try { await api.logout(); } catch (e) { /* gone anyway */ }
  loggedOut('Logged out.');
});

function renderLogin(message) {
  const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true,
                            value: api.user || '' });
  const pw = h('input', { id: 'login-password', name: 'password', type: 'password', required: true,
                          autocomplete: 'current-password' });
  const status = h('p', { class: 'hint', role: 'status' }, message || '');
  const form = h('form', { class: 'panel login', 'aria-labelledby': 'login-title', on: { submit: async (ev) => {
    ev.preventDefault();
    clearError();
    status.textContent = 'Logging in…';
    try {
      await api.login(user.value.trim(), pw.value);
      pw.value = '';
      await start();
    } catch (e) {
      status.textContent = '';
      showError(e);
      pw.focus();
    }
  } } },
  h('h1', { id: 'login-title' }, 'Log in to vsrv'),
  h('div', { class: 'field' }, h('label', { for: 'login-user' }, 'User'), user),
  h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), pw),
  h('button', { class: 'primary', type: 'submit' }, 'Log in'), status);
  replace(main, form);
  (user.value ? pw : user).focus();
}

async function start() {
  app.me = await api.whoami();
  $('who-name').textContent = app.me.user;
  $('nav').hidden = false;
  $('who').hidden = false;
  await loadVms();
  startEvents();
  route();
}

function serverPerms() { return (app.me && app.me.server_permissions) || []; }

// ---- the VM list and the event stream -------------------------------------------------
function dispatch(action) {
  app.state = reduce(app.state, action);
  if (action.type === 'event') {
    app.events.unshift(action.event.data);
    app.events.length = Math.min(app.events.length, 200);
  }
  fetchStale();
  if (app.view && app.view.update)
    app.view.update(action);
}

async function loadVms() {
  const asOf = app.state.lastEvent;
  const js = await api.listVms();
  dispatch({ type: 'loaded', vms: js.vms, asOf });
}

// Fetch the VMs the reducer marked stale, four at a time.
function fetchStale() {
  for (const name of app.state.stale) {
    if (app.fetching.has(name) || app.fetching.size >= 4)
      continue;
    app.fetching.add(name);
    const asOf = app.state.lastEvent;
    api.getVm(name).then((vm) => dispatch({ type: 'vm', vm, asOf }), (e) => {
      if (e instanceof ApiError && (e.status === 404 || e.status === 403))
        dispatch({ type: 'removed', name });
      else
        showError(e);
    }).finally(() => {
      app.fetching.delete(name);
      fetchStale();
    });
  }
}

function setLive(on) {
  $('live').textContent = on ? 'live' : 'reconnecting…';
  $('live').classList.toggle('on', on);
}

function startEvents() {
  if (app.stream)
    app.stream.abort();
  const ctl = new AbortController();
  app.stream = ctl;
  (async () => {
    let delay = 500;
    while (!ctl.signal.aborted) {
      try {
        setLive(true);
        const since = app.state.lastEvent;
        for await (const ev of api.eventStream({ signal: ctl.signal, since })) {
          delay = 500;
          dispatch({ type: 'event', event: ev });
        }
      } catch (e) {
        if (ctl.signal.aborted || (e instanceof ApiError && e.status === 401))
          return;
      }
      setLive(false);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
      // Anything missed while away: the list again, then the stream from the last event.
      try { await loadVms(); } catch (e) { /* the next round tries again */ }
    }
  })();
}

// ---- actions ----------------------------------------------------------------------------
async function doAction(vm, a) {
  if (a.confirm && !window.confirm(a.confirm))
    return;
  clearError();
  try {
    if (a.id === 'delete') {
      await api.deleteVm(vm.name);
      dispatch({ type: 'removed', name: vm.name });
      if (location.hash.startsWith('#/vm/'))
        location.hash = '#/vms';
    } else {
      const asOf = app.state.lastEvent;
      const js = await api.vmAction(vm.name, a.id);
      if (js && js.name)
        dispatch({ type: 'vm', vm: js, asOf });
    }
  } catch (e) {
    showError(e);
  }
}

function actionButtons(vm) {
  return h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions on ' + vm.name },
    vmActions(vm, serverPerms()).map((a) => h('button', {
      type: 'button', class: a.id === 'delete' || a.id === 'off' ? 'danger' : null,
      'data-key': vm.name + '/' + a.id, disabled: !a.enabled,
      'aria-label': a.label + ' ' + vm.name, on: { click: () => doAction(vm, a) },
    }, a.label)));
}

// Two byte counters of a runtime device (none while the VM does not run).
function ioCells(dev, a, b) {
  return dev ? [fmtBytes(dev[a] ?? 0), fmtBytes(dev[b] ?? 0)] : ['–', '–'];
}

// A VM's state; stopped or crashed, with how its last run ended as the tooltip.
function stateBadge(state, lastExit) {
  const why = (state === 'crashed' || state === 'stopped') && lastExit ? fmtExit(lastExit) : null;
  return h('span', { class: 'state state-' + String(state).replace(/[^a-z]/g, ''), title: why },
    state || '?');
}

// ---- views ----------------------------------------------------------------------------
function setView(v) {
  if (app.view && app.view.cleanup)
    app.view.cleanup();
  app.view = v;
}

function viewVms() {
  const body = h('div');
  const render = () => {
    const vms = vmList(app.state);
    replace(body, vms.length ? table('Virtual machines', [
      { label: 'Name' }, { label: 'State' }, { label: 'vCPUs', num: true },
      { label: 'Memory', num: true }, { label: 'CPU time', num: true },
      { label: 'Resident', num: true }, { label: 'Actions' }],
    vms.map((vm) => [
      h('a', { href: '#/vm/' + encodeURIComponent(vm.name), 'data-key': vm.name }, vm.name),
      stateBadge(vm.state, vm.last_exit), String(vm.cpus ?? '–'), fmtMib(vm.memory_mib),
      vm.runtime?.cpu_seconds !== undefined ? fmtSeconds(vm.runtime.cpu_seconds) : '–',
      vm.runtime?.memory_rss_bytes ? fmtBytes(vm.runtime.memory_rss_bytes) : '–',
      actionButtons(vm)])) : h('p', { class: 'empty' }, emptyText(app.me) === 'None yet.'
      ? 'No virtual machines yet.' : 'No virtual machines you may see.'));
  };
  replace(main, h('h1', {}, 'Virtual machines'),
    h('div', { class: 'toolbar' },
      canCreate(serverPerms()) ? h('a', { href: '#/create', class: 'button primary' }, 'Create VM') : null,
      h('button', { type: 'button', on: { click: () => loadVms().catch(showError) } }, 'Refresh')),
    body);
  render();
  // CPU time and resident memory move without events: fetch the running VMs every 5 s.
  const timer = setInterval(() => {
    const asOf = app.state.lastEvent;
    for (const vm of vmList(app.state))
      if (vm.state === 'running' && !app.fetching.has(vm.name))
        api.getVm(vm.name).then((v) => dispatch({ type: 'vm', vm: v, asOf }), () => {});
  }, 5000);
  setView({ name: 'vms', update: render, cleanup: () => clearInterval(timer) });
}

function viewVm(name) {
  const info = h('div');
  const term = new Terminal();
  const pre = h('pre', { class: 'term', id: 'console', tabindex: '0', 'aria-label': 'Serial console of ' + name });
  const note = h('p', { class: 'hint', role: 'status' });
  const input = h('input', { id: 'console-input', autocomplete: 'off', spellcheck: 'false' });
  const sendBox = h('form', { class: 'term-input', on: { submit: async (ev) => {
    ev.preventDefault();
    try {
      await api.consoleInput(name, input.value + '\r');
      input.value = '';
    } catch (e) { showError(e); }
  } } }, h('label', { for: 'console-input' }, 'Type'), input, h('button', { type: 'submit' }, 'Send'));
  let follow = null;

  const paint = () => {
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = term.text();    // text only: guest output is never markup
    if (atEnd)
      pre.scrollTop = pre.scrollHeight;
  };
  // The log's last 64 KiB; then what the live stream brought meanwhile, without overlap.
  let early = null;
  const loadLog = async () => {
    try {
      const text = await api.console(name, 65536);
      term.clear();
      term.write(text);
      if (early !== null)
        term.write(liveAfterLog(text, early));
      paint();
    } catch (e) { showError(e); }
    early = null;
  };
  const stopFollow = () => { if (follow) follow.abort(); follow = null; };
  const startFollow = async () => {
    if (follow)
      return;
    const ctl = new AbortController();
    follow = ctl;
    note.textContent = 'Live: following the console.';
    try {
      // Connected first, the log read second: output between the two is not lost.
      const onOpen = () => { early = ''; loadLog(); };
      for await (const text of api.consoleFollow(name, { signal: ctl.signal, onOpen })) {
        if (early !== null) {
          early += text;
          continue;
        }
        term.write(text);
        paint();
      }
      note.textContent = 'The console ended.';
    } catch (e) {
      if (!ctl.signal.aborted) {
        note.textContent = 'The live console is not available: ' + e.message;
        early = null;
        loadLog();
      }
    }
    if (follow === ctl)
      follow = null;
  };
  // The undo disks its last run kept (an off VM's), with Commit and Discard for holders of
  // control; loaded when the page opens, when the VM goes off and after an action.
  const undoBox = h('section', { 'aria-labelledby': 'undo-h', hidden: true });
  let undoSeen = null, undoBusy = false, gone = false;
  const paintUndo = (js) => {
    const vm = app.state.vms[name];
    undoBox.hidden = !js;
    if (!js || !vm)
      return replace(undoBox);
    const control = consoleAccess(vm, serverPerms()).live;
    const busy = undoBusy || js.committing;
    const bad = js.undo_disks.some((u) => u.error);
    const act = (action, label, confirm) => h('button', {
      type: 'button', class: action === 'discard' ? 'danger' : null, 'data-key': name + '/undo-' + action,
      disabled: busy, on: { click: () => undoAct(action, confirm) } }, label);
    replace(undoBox, h('h2', { id: 'undo-h' }, 'Undo disks'),
      h('p', { class: 'hint' }, busy ? 'Committing them into the disks…' : 'Kept from its last run: the ' +
        'next start continues on them. Commit merges them into the disks; Discard throws them away.'),
      table('Undo disks of ' + name, [{ label: 'Slot', num: true }, { label: 'Over disk' },
        { label: 'Size', num: true }, { label: 'On the host', num: true }, { label: 'Created' },
        ...(bad ? [{ label: 'Problem' }] : [])],
      js.undo_disks.map((u) => [String(u.index), u.disk ?? '(gone)', fmtBytes(u.virtual_size),
        fmtBytes(u.allocated), fmtTime(u.created), ...(bad ? [u.error ?? ''] : [])])),
      control ? h('div', { class: 'actions', role: 'group', 'aria-label': 'Undo disks of ' + name },
        act('commit', 'Commit', `Merge the undo disks of ${name} into its disks?`),
        act('discard', 'Discard', `Discard the undo disks of ${name}? What its runs wrote since is lost.`))
        : null);
  };
  const loadUndo = async () => {
    let js = null;
    try { js = await api.undoDisks(name); } catch (e) { if (e.status !== 404) showError(e); }
    if (!gone)
      paintUndo(js);
  };
  const undoAct = async (action, confirm) => {
    if (!window.confirm(confirm))
      return;
    clearError();
    undoBusy = true;
    try {
      const js = await api.undoAction(name, action);
      if (js.task !== null) {
        paintUndo(await api.undoDisks(name).catch(() => null));
        let t;
        while (!gone && (t = await api.task(js.task)).state === 'running')
          await new Promise((r) => setTimeout(r, 500));
        if (t && t.state === 'failed')
          showError(new Error('The commit of the undo disks failed: ' + (t.error || 'no reason given')));
      }
    } catch (e) { showError(e); }
    undoBusy = false;
    if (!gone)
      loadUndo();
  };
  const render = () => {
    const vm = app.state.vms[name];
    if (!vm) {
      replace(info, h('p', { class: 'empty' }, 'No VM named ' + name + ' (or you may not see it).'));
      return;
    }
    const off = vm.state === 'stopped' || vm.state === 'crashed';
    if (off !== undoSeen) {
      undoSeen = off;
      if (off)
        loadUndo();
      else
        paintUndo(null);
    }
    // Configuration (disks, nics) and what the running VMM reports (runtime) are apart;
    // runtime.disks[i] / runtime.nics[i] count the i-th configured disk / NIC.
    const rt = vm.runtime || {}, rtDisks = rt.disks || [], rtNics = rt.nics || [];
    const acc = consoleAccess(vm, serverPerms());
    sendBox.hidden = !(acc.live && vm.state === 'running');
    if (acc.live && (vm.state === 'running' || vm.state === 'paused'))
      startFollow();
    replace(info,
      h('div', { class: 'toolbar' }, stateBadge(vm.state), actionButtons(vm)),
      h('div', { class: 'grid2' },
        h('section', { 'aria-labelledby': 'cfg' }, h('h2', { id: 'cfg' }, 'Configuration'), kv([
          ['Description', vm.description], ['vCPUs', String(vm.cpus ?? '–')],
          ['Memory', fmtMib(vm.memory_mib)], ['Kernel', vm.kernel], ['Initrd', vm.initrd],
          ['Command line', vm.cmdline], ['Restart policy', vm.restart_policy],
          ['Autostart', vm.autostart === undefined ? null : vm.autostart ? 'yes' : 'no'],
          ['Undo disks', vm.undo_disks], ['CPU limit', vm.cpu_limit ? vm.cpu_limit + ' %' : 'none'],
          ['Your permissions', (vm.permissions || []).join(', ')]])),
        h('section', { 'aria-labelledby': 'rt' }, h('h2', { id: 'rt' }, 'Runtime'), kv([
          ['State', vm.state], ['Last exit', vm.last_exit ? fmtExit(vm.last_exit) : null],
          ['Started', fmtTime(vm.started)],
          ['Restarts', String(vm.restarts ?? 0)], ['PID', rt.pid ? String(rt.pid) : null],
          ['CPU time', rt.cpu_seconds !== undefined ? fmtSeconds(rt.cpu_seconds) : null],
          ['Resident memory', rt.memory_rss_bytes ? fmtBytes(rt.memory_rss_bytes) : null],
          ['Guest agent', vm.agent ? fmtAgent(vm.agent) : null], ['Guest OS', fmtGuestOs(vm.agent)],
          ['Guest host name', vm.agent && vm.agent.hostname], ['Guest addresses', fmtAddresses(vm.agent)],
          ['Created', fmtTime(vm.created)]]))),
      h('h2', {}, 'Disks'),
      vm.disks && vm.disks.length ? table('Disks of ' + name, [{ label: 'Disk' }, { label: 'Bus' }, { label: 'Read-only' },
        { label: 'Read', num: true }, { label: 'Written', num: true }],
        vm.disks.map((d, i) => [d.disk, d.bus, d.readonly ? 'yes' : 'no', ...ioCells(rtDisks[i], 'read_bytes', 'write_bytes')]))
        : h('p', { class: 'hint' }, 'No disks.'),
      h('h2', {}, 'Network interfaces'),
      vm.nics && vm.nics.length ? table('NICs of ' + name, [{ label: 'Network' }, { label: 'MAC' },
        { label: 'Received', num: true }, { label: 'Sent', num: true }],
        vm.nics.map((n, i) => [n.network, n.mac, ...ioCells(rtNics[i], 'rx_bytes', 'tx_bytes')]))
        : h('p', { class: 'hint' }, 'No NICs.'));
  };
  replace(main, h('p', {}, h('a', { href: '#/vms' }, '← Virtual machines')), h('h1', {}, name), info,
    undoBox, h('h2', {}, 'Serial console'), h('div', { class: 'toolbar' },
      h('button', { type: 'button', on: { click: loadLog } }, 'Reload log'),
      h('button', { type: 'button', on: { click: () => { term.clear(); paint(); } } }, 'Clear')),
    pre, sendBox, note);
  const asOf = app.state.lastEvent;
  api.getVm(name).then((vm) => dispatch({ type: 'vm', vm, asOf }), showError);
  render();
  if (!follow)            // not live (stopped, or view permission only): the log alone
    loadLog();
  // The runtime figures (CPU time, disk and NIC counters) move without events: fetch the
  // VM again every 5 s while it runs.
  const timer = setInterval(() => {
    const vm = app.state.vms[name], asOf = app.state.lastEvent;
    if (vm && vm.state === 'running' && !app.fetching.has(name))
      api.getVm(name).then((v) => dispatch({ type: 'vm', vm: v, asOf }), () => {});
  }, 5000);
  setView({ name: 'vm', cleanup: () => { gone = true; stopFollow(); clearInterval(timer); }, update: (a) => {
    render();
    // A new boot: its console starts over on the live stream.
    if (a.type === 'event' && a.event.data && a.event.data.object === name &&
        a.event.data.type === 'vm-started' && !follow)
      loadLog();
  } });
}

async function viewCreate() {
  const f = (id, label, input, hint) => h('div', { class: 'field' }, h('label', { for: id }, label),
    h('div', {}, input, hint ? h('div', { class: 'hint' }, hint) : null));
  const name = h('input', { id: 'c-name', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,62}' });
  const desc = h('input', { id: 'c-desc' });
  const cpus = h('input', { id: 'c-cpus', type: 'number', min: 1, max: 64, value: '1' });
  const mem = h('input', { id: 'c-mem', type: 'number', min: 16, max: 1048576, value: '128' });
  const kernel = h('input', { id: 'c-kernel', required: true, list: 'c-kernels' });
  const kernels = h('datalist', { id: 'c-kernels' });
  const cmdline = h('input', { id: 'c-cmdline' });
  const autostart = h('input', { id: 'c-autostart', type: 'checkbox' });
  const disks = h('fieldset', {}, h('legend', {}, 'Disks'));
  const nets = h('fieldset', {}, h('legend', {}, 'Network interfaces'));
  const form = h('form', { class: 'panel', on: { submit: async (ev) => {
    ev.preventDefault();
    clearError();
    const checked = (fs) => [...fs.querySelectorAll('input:checked')].map((i) => i.value);
    try {
      const spec = vmSpec({ name: name.value, description: desc.value, cpus: cpus.value,
                            memory_mib: mem.value, kernel: kernel.value, cmdline: cmdline.value,
                            autostart: autostart.checked, disks: checked(disks), nics: checked(nets) });
      const asOf = app.state.lastEvent;
      const vm = await api.createVm(spec);
      dispatch({ type: 'vm', vm, asOf });
      location.hash = '#/vm/' + encodeURIComponent(vm.name);
    } catch (e) { showError(e); }
  } } },
  f('c-name', 'Name', name), f('c-desc', 'Description', desc), f('c-cpus', 'vCPUs', cpus),
  f('c-mem', 'Memory (MiB)', mem),
  f('c-kernel', 'Kernel', [kernel, kernels], 'a file in the server\'s images directory'),
  f('c-cmdline', 'Command line', cmdline), f('c-autostart', 'Start with the server', autostart),
  disks, nets, h('button', { class: 'primary', type: 'submit' }, 'Create'));
  replace(main, h('h1', {}, 'Create a virtual machine'), form);
  setView({ name: 'create' });
  name.focus();
  const choices = (fs, items, what) => {
    if (!items.length)
      fs.appendChild(h('p', { class: 'hint' }, 'No ' + what + ' you may use.'));
    items.forEach((it, i) => {
      const id = fs === disks ? 'c-disk-' + i : 'c-net-' + i;
      fs.appendChild(h('div', {}, h('input', { type: 'checkbox', id, value: it.name }),
        ' ', h('label', { for: id }, it.label)));
    });
  };
  const [im, dl, nl] = await Promise.allSettled([api.listImages(), api.listDisks(), api.listNetworks()]);
  if (im.status === 'fulfilled')
    im.value.images.forEach((i) => kernels.appendChild(h('option', { value: i.name })));
  const free = (d) => !d.used_by && !d.used_by_others;   // used by no VM, seen or not
  choices(disks, dl.status === 'fulfilled' ? dl.value.disks.filter(free).map((d) =>
    ({ name: d.name, label: `${d.name} (${d.format}, ${fmtBytes(d.size)})` })) : [], 'free disks');
  choices(nets, nl.status === 'fulfilled' ? nl.value.networks.map((n) =>
    ({ name: n.name, label: `${n.name} (${n.kind})` })) : [], 'networks');
}

async function viewList(title, load, columns, row) {
  replace(main, h('h1', {}, title), h('p', { class: 'hint' }, 'Loading…'));
  setView({ name: title });
  try {
    const items = await load();
    replace(main, h('h1', {}, title), items.length ? table(title, columns, items.map(row))
      : h('p', { class: 'empty' }, emptyText(app.me)));
  } catch (e) { showError(e); }
}

// The VMs using a disk: those one may see by name, the others counted.
function usedBy(d) {
  const others = d.used_by_others ? `${d.used_by_others} other VM${d.used_by_others > 1 ? 's' : ''}` : '';
  return [d.used_by, others].filter(Boolean).join(', ') || '–';
}

function viewDisks() {
  return viewList('Disks', async () => (await api.listDisks()).disks,
    [{ label: 'Name' }, { label: 'Format' }, { label: 'Size', num: true },
     { label: 'Allocated', num: true }, { label: 'Used by' }],
    (d) => [d.name, d.format, fmtBytes(d.size), fmtBytes(d.allocated), usedBy(d)]);
}

function viewNetworks() {
  return viewList('Networks', async () => (await api.listNetworks()).networks,
    [{ label: 'Name' }, { label: 'Kind' }, { label: 'Bridge' }, { label: 'Subnet' }, { label: 'DHCP' }],
    (n) => [n.name, n.kind, n.bridge || '–', n.subnet || '–',
            n.dhcp_start ? n.dhcp_start + ' – ' + (n.dhcp_end || '') : '–']);
}

async function viewHost() {
  replace(main, h('h1', {}, 'Host'), h('p', { class: 'hint' }, 'Loading…'));
  setView({ name: 'host' });
  try {
    const js = await api.host();
    const m = js.memory_mib || {};
    const meter = (label, v, max) => h('span', {}, h('meter', { min: 0, max: max || 1, value: v || 0,
      'aria-label': label }), ' ' + fmtMib(v) + ' of ' + fmtMib(max));
    replace(main, h('h1', {}, 'Host'), kv([
      ['CPUs', String(js.cpus ?? '–')],
      ['Memory total', fmtMib(m.total)], ['Memory available', fmtMib(m.available)],
      ['Allocatable to VMs', fmtMib(m.allocatable)],
      ['Reserved by running VMs', meter('memory reserved', m.reserved, m.allocatable)],
      ['Free for VMs', fmtMib(m.free)],
      ['Running VMs', String((js.vms && js.vms.running) ?? '–')],
      ['Their vCPUs', h('span', {}, h('meter', { min: 0, max: Math.max(js.cpus || 1, (js.vms && js.vms.vcpus) || 0),
        value: (js.vms && js.vms.vcpus) || 0, 'aria-label': 'vCPUs of running VMs' }),
        ` ${(js.vms && js.vms.vcpus) ?? 0} on ${js.cpus ?? '?'} host CPUs`)],
      ['cgroups', String(js.cgroups ?? '–')]]));
  } catch (e) { showError(e); }
}

function viewEvents() {
  const body = h('div');
  const render = () => replace(body, app.events.length ? table('Events',
    [{ label: 'Time' }, { label: 'Type' }, { label: 'Object' }, { label: 'User' }, { label: 'Message' }],
    app.events.map((e) => [fmtTime(e.time), e.type, e.object || '–', e.user || '–', e.message || '']))
    : h('p', { class: 'empty' }, 'No events yet.'));
  replace(main, h('h1', {}, 'Events'), body);
  setView({ name: 'events', update: render });
  api.events(50).then((js) => {
    const known = new Set(app.events.map((e) => e.id));
    app.events.push(...js.events.reverse().filter((e) => !known.has(e.id)));
    app.events.sort((a, b) => b.id - a.id);
    render();
  }, showError);
  render();
}

// ---- routing ------------------------------------------------------------------------------
function route() {
  if (!api.token || !app.me)
    return;
  const hash = location.hash || '#/vms';
  const [, what, arg] = hash.match(/^#\/([a-z]*)\/?(.*)$/) || [];
  for (const a of document.querySelectorAll('#nav a'))
    a.toggleAttribute('aria-current', a.getAttribute('href') === '#/' + (what === 'vm' || what === 'create' ? 'vms' : what));
  for (const a of document.querySelectorAll('#nav a[aria-current]'))
    a.setAttribute('aria-current', 'page');
  clearError();
  setView(null);
  if (what === 'vm' && arg)
    viewVm(decodeURIComponent(arg));
  else if (what === 'create')
    viewCreate();
  else if (what === 'disks')
    viewDisks();
  else if (what === 'networks')
    viewNetworks();
  else if (what === 'host')
    viewHost();
  else if (what === 'events')
    viewEvents();
  else
    viewVms();
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);

if (api.token)
  start().catch((e) => { if (!(e instanceof ApiError && e.status === 401)) showError(e); loggedOut(); });
else
  renderLogin();
