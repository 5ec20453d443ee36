// A VM's page (#/vm/NAME): its configuration and runtime figures, its actions, its CD/DVD
// drives (insert and eject for holders of control), its snapshot tree (snapshots.mjs), the undo disks its last run kept (commit or discard), charts of its usage (charts.mjs) and its
// serial console in xterm.js (terminal.mjs) fed by consolefeed.mjs.
import { api, app, main, setView, showError, clearError, dispatch, serverPerms, mayVm, mayServer,
         actionButtons, stateBadge, refreshVm, waitTask } from './core.mjs';
import { consoleAccess, graphicalAccess } from './perms.mjs';
import { ConsoleTerminal, inputQueue } from './terminal.mjs';
import { ConsoleFeed } from './consolefeed.mjs';
import { GraphicalConsole } from './vncview.mjs';
import { fmtBytes, fmtMib, fmtSeconds, fmtTime, fmtExit, fmtAgent, fmtGuestOs, fmtAddresses, fmtDynamic,
  fmtDynamicRun } from './format.mjs';
import { h, replace, kv, table } from './dom.mjs';
import { VmCharts } from './charts.mjs';
import { driveImages } from './drives.mjs';
import { snapshotSection } from './snapshots.mjs';

// Two byte counters of a runtime device (none while the VM does not run).
function ioCells(dev, a, b) {
  return dev ? [fmtBytes(dev[a] ?? 0), fmtBytes(dev[b] ?? 0)] : ['–', '–'];
}

// Live migration to another host of the cluster, for holders of control on a running VM
// that runs on a host (vm.host): a box of its own (the toolbar is drawn again on every
// update, a choice there would be lost) with the alive hosts but the VM's own, fetched when
// it opens, whether to copy the disks, and the migration's task followed to its end.
function migrateSection(name, alive, changed) {
  const to = h('select', { id: 'migrate-to', 'data-key': name + '/migrate-to' });
  const copy = h('input', { type: 'checkbox', id: 'migrate-copy', 'data-key': name + '/migrate-copy' });
  const status = h('p', { class: 'hint', role: 'status' });
  const go = h('button', { type: 'submit', 'data-key': name + '/migrate-go' }, 'Migrate');
  const cancel = h('button', { type: 'button', on: { click: () => { box.hidden = true; } } }, 'Cancel');
  let busy = false;
  const run = async () => {
    const host = to.value;
    if (!host || busy)
      return;
    clearError();
    busy = true;
    go.disabled = true;
    status.textContent = 'Migrating to ' + host + '…';
    try {
      const js = await api.migrateVm(name, { to: host, disks: copy.checked ? 'copy' : 'shared' });
      await waitTask(js.task, alive);
      status.textContent = 'Moved to ' + host + '.';
    } catch (e) {
      status.textContent = '';
      if (alive())
        showError(e);
    } finally {
      busy = false;
      go.disabled = false;
      if (alive())
        refreshVm(name).catch(() => {});
    }
  };
  const box = h('form', { id: 'vm-migrate', 'aria-labelledby': 'migrate-h', hidden: true,
    on: { submit: (e) => { e.preventDefault(); run(); } } },
    h('h2', { id: 'migrate-h' }, 'Migrate to another host'),
    h('label', { for: 'migrate-to' }, 'Host'), to,
    h('label', { for: 'migrate-copy' }, copy, ' Copy its disks (not on storage both hosts share)'),
    h('div', { class: 'actions' }, go, cancel), status);
  const show = async () => {
    const vm = app.state.vms[name];
    clearError();
    try {
      const js = await api.hosts();
      const others = (js.hosts || []).filter((x) => x.alive && x.name !== (vm && vm.host));
      if (!alive())
        return;
      replace(to, ...others.map((x) => h('option', { value: x.name },
        x.name + (x.free_memory_mib !== undefined ? ' (' + fmtMib(x.free_memory_mib) + ' free)' : ''))));
      status.textContent = others.length ? '' : 'No other host of the cluster is alive.';
      go.disabled = !others.length;
      box.hidden = false;
    } catch (e) { showError(e); }
  };
  // Whether the toolbar offers it: vm runs on a host of a cluster of several hosts, and the
  // caller holds control on it and may see the hosts (view on the server). GET /api/v1/hosts
  // is asked the first time the rest holds; changed() draws the page again with its answer.
  let several = false, asked = false;
  const offered = (vm) => {
    const may = vm.state === 'running' && !!vm.host && consoleAccess(vm, serverPerms()).live &&
      mayServer('view');
    if (may && !asked) {
      asked = true;
      api.hosts().then((js) => {
        several = !!js.cluster && (js.hosts || []).length > 1;
        if (several && alive())
          changed();
      }, () => {});
    }
    return may && several;
  };
  return { el: box, show, offered };
}

// The undo disks its last run kept (an off VM's), with Commit and Discard for holders of
// control; loaded when the page opens, when the VM goes off and after an action.
function undoSection(name, alive) {
  const box = h('section', { 'aria-labelledby': 'undo-h', hidden: true });
  let busy = false;
  const paint = (js) => {
    const vm = app.state.vms[name];
    box.hidden = !js;
    if (!js || !vm)
      return replace(box);
    const control = consoleAccess(vm, serverPerms()).live;
    const working = busy || js.committing;
    const bad = js.undo_disks.some((u) => u.error);
    const act = (action, label, confirm) => h('button', {
      type: 'button', class: action === 'discard' ? 'danger' : null, 'data-key': name + '/undo-' + action,
      disabled: working, on: { click: () => run(action, confirm) } }, label);
    replace(box, h('h2', { id: 'undo-h' }, 'Undo disks'),
      h('p', { class: 'hint' }, working ? 'Committing them into the disks…' : 'Kept from its last run: the ' +
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
  const load = async () => {
    let js = null;
    try { js = await api.undoDisks(name); } catch (e) { if (e.status !== 404) showError(e); }
    if (alive())
      paint(js);
  };
  const run = async (action, confirm) => {
    if (!window.confirm(confirm))
      return;
    clearError();
    busy = true;
    try {
      const js = await api.undoAction(name, action);
      if (js.task !== null) {
        paint(await api.undoDisks(name).catch(() => null));
        await waitTask(js.task, alive).catch((e) =>
          showError(new Error('The commit of the undo disks failed: ' + e.message.replace(/^The task failed: /, ''))));
      }
    } catch (e) { showError(e); }
    busy = false;
    if (alive())
      load();
  };
  return { el: box, load, hide: () => paint(null) };
}

// The CD/DVD drives with, for holders of control, an image to insert (from the store when
// the caller may list it, else typed) and Eject (POST /api/v1/vms/NAME/media). Painted again
// only when the drives or the caller's rights change, so a choice being made is kept.
function mediaSection(name, alive) {
  const box = h('section', { 'aria-labelledby': 'media-h', id: 'vm-media', hidden: true });
  let seen = null, isos = null;
  const change = async (drive, image) => {
    clearError();
    try {
      const asOf = app.state.lastEvent;
      const vm = await api.vmMedia(name, drive, image);
      if (alive())
        dispatch({ type: 'vm', vm, asOf });
    } catch (e) { showError(e); }
  };
  const paint = (vm) => {
    const control = mayVm(vm, 'control');
    const key = JSON.stringify([vm.cdroms || [], control, isos]);
    if (key === seen)
      return;
    seen = key;
    const cds = vm.cdroms || [];
    box.hidden = !cds.length;
    if (control && isos === null && mayServer('modify')) {
      isos = [];
      api.listImages().then((js) => {
        isos = driveImages(js.images);
        seen = null;
        const now = app.state.vms[name];
        if (alive() && now)
          paint(now);
      }, () => {});
    }
    replace(box, h('h2', { id: 'media-h' }, 'CD/DVD drives'),
      table('CD/DVD drives of ' + name, [{ label: 'Drive', num: true }, { label: 'Bus' }, { label: 'Medium' },
        ...(control ? [{ label: 'Change' }] : [])],
      cds.map((c, i) => {
        if (!control)
          return [String(i), c.bus, c.image || '(empty)'];
        const pick = h('input', { list: 'vm-media-isos', value: '', placeholder: 'an image',
          'aria-label': `Image for drive ${i}`, 'data-key': `${name}/media-${i}/image` });
        return [String(i), c.bus, c.image || '(empty)', h('div', { class: 'actions' }, pick,
          h('button', { type: 'button', 'data-key': `${name}/media-${i}/insert`,
            on: { click: () => pick.value.trim() && change(i, pick.value.trim()) } }, 'Insert'),
          h('button', { type: 'button', 'data-key': `${name}/media-${i}/eject`, disabled: !c.image,
            on: { click: () => change(i, null) } }, 'Eject'))];
      })),
      h('datalist', { id: 'vm-media-isos' }, (isos || []).map((i) => h('option', { value: i }))));
  };
  return { el: box, paint };
}

export function viewVm(name) {
  let gone = false;
  const alive = () => !gone;
  const info = h('div');
  const pane = h('div', { id: 'console', tabindex: '-1' });
  const note = h('p', { class: 'hint', role: 'status' });
  const post = inputQueue((text) => api.consoleInput(name, text), showError);
  // keys go over the console's WebSocket when it is open, else posted
  const send = (data) => { if (!feed.send(data)) post(data); };
  const input = h('input', { id: 'console-input', autocomplete: 'off', spellcheck: 'false' });
  const sendBox = h('form', { class: 'term-input', on: { submit: async (ev) => {
    ev.preventDefault();
    try {
      await api.consoleInput(name, input.value + '\r');
      input.value = '';
    } catch (e) { showError(e); }
  } } }, h('label', { for: 'console-input' }, 'Send a line'), input, h('button', { type: 'submit' }, 'Send'));
  const undo = undoSection(name, alive);
  const migrate = migrateSection(name, alive, () => render());
  const media = mediaSection(name, alive);
  const snaps = snapshotSection(name, alive);
  const charts = new VmCharts(name);
  // The graphical console: for control on a VM with a display (vm.display), while it runs.
  const gnote = h('p', { class: 'hint', role: 'status' });
  const gpane = h('div', { id: 'vnc' });
  const gbtn = (key, label, fn) => h('button', { type: 'button', 'data-key': `${name}/${key}`,
    on: { click: fn } }, label);
  const gui = h('section', { id: 'graphical', hidden: true, 'aria-labelledby': 'gfx' },
    h('h2', { id: 'gfx' }, 'Graphical console'),
    h('div', { class: 'toolbar' },
      gbtn('vnc-connect', 'Connect', () => gcon.connect().catch(showError)),
      gbtn('vnc-cad', 'Ctrl-Alt-Del', () => gcon.ctrlAltDel()),
      gbtn('vnc-fullscreen', 'Full screen', () => gcon.fullScreen())),
    gpane, gnote);
  const gcon = new GraphicalConsole(gpane, api.consoleUrl(name, 'vnc'),
    { onNote: (t) => { gnote.textContent = t; } });
  let gshown = null;
  replace(main, h('p', {}, h('a', { href: '#/vms' }, '← Virtual machines')), h('h1', {}, name), info,
    migrate.el, gui, media.el, undo.el, snaps.el, charts.el, h('h2', {}, 'Serial console'), h('div', { class: 'toolbar' },
      h('button', { type: 'button', on: { click: () => feed.loadLog() } }, 'Reload log'),
      h('button', { type: 'button', on: { click: () => term.reset() } }, 'Clear')),
    pane, sendBox, note);
  const term = new ConsoleTerminal(pane, { label: 'Serial console of ' + name });
  const feed = new ConsoleFeed(api, name, term, { onNote: (t) => { note.textContent = t; }, onError: showError });
  let undoSeen = null, typing = null, snapSeen = null;

  const render = () => {
    const vm = app.state.vms[name];
    if (!vm) {
      replace(info, h('p', { class: 'empty' }, 'No VM named ' + name + ' (or you may not see it).'));
      return;
    }
    const off = vm.state === 'stopped' || vm.state === 'crashed';
    if (vm.state !== snapSeen) {   // a revert or a snapshot with memory changes the state
      snapSeen = vm.state;
      snaps.load();
    }
    if (off !== undoSeen) {
      undoSeen = off;
      if (off)
        undo.load();
      else
        undo.hide();
    }
    charts.update(vm);
    media.paint(vm);
    // Configuration (disks, nics) and what the running VMM reports (runtime) are apart;
    // runtime.disks[i] / runtime.nics[i] count the i-th configured disk / NIC.
    const rt = vm.runtime || {}, rtDisks = rt.disks || [], rtNics = rt.nics || [];
    const acc = consoleAccess(vm, serverPerms());
    const canType = acc.live && vm.state === 'running';
    sendBox.hidden = !canType;
    if (canType !== typing) {
      typing = canType;
      term.setInput(canType ? send : null);
    }
    if (acc.live && (vm.state === 'running' || vm.state === 'paused'))
      feed.start();
    const gshow = graphicalAccess(vm, serverPerms()) && (vm.state === 'running' || vm.state === 'paused');
    if (gshow !== gshown) {
      gshown = gshow;
      gui.hidden = !gshow;
      if (gshow)
        gcon.connect().catch(showError);
      else
        gcon.disconnect();
    }
    const links = [
      mayVm(vm, 'modify') ? h('a', { class: 'button', href: '#/edit/' + encodeURIComponent(name),
        'data-key': name + '/edit' }, 'Settings') : null,
      mayVm(vm, 'change-permissions') ? h('a', { class: 'button', href: '#/grants/vms/' + encodeURIComponent(name),
        'data-key': name + '/grants' }, 'Permissions') : null,
      migrate.offered(vm) ? h('button', { type: 'button', 'data-key': name + '/migrate',
        on: { click: () => migrate.show() } }, 'Migrate…') : null];
    replace(info,
      h('div', { class: 'toolbar' }, stateBadge(vm.state), actionButtons(vm), ...links),
      h('div', { class: 'grid2' },
        h('section', { 'aria-labelledby': 'cfg' }, h('h2', { id: 'cfg' }, 'Configuration'), kv([
          ['Description', vm.description], ['vCPUs', String(vm.cpus ?? '–')],
          ['Memory', fmtMib(vm.memory_mib)], ['OS type', vm.os_type], ['Firmware', vm.firmware],
          ['Display', vm.display], ['Enlightenments', vm.enlightenments],
          ['Boot order', vm.boot && vm.boot.length ? vm.boot.join(', ') : null], ['Kernel', vm.kernel], ['Initrd', vm.initrd],
          ['Command line', vm.cmdline], ['Restart policy', vm.restart_policy],
          ['Autostart', vm.autostart === undefined ? null : vm.autostart ? 'yes' : 'no'],
          ['Undo disks', vm.undo_disks], ['CPU limit', vm.cpu_limit ? vm.cpu_limit + ' %' : 'none'],
          ['Memory balloon', vm.balloon === undefined ? null : vm.balloon ? 'yes' : 'no'],
          ['Shared memory (KSM)', vm.mem_merge === undefined ? null : vm.mem_merge ? 'yes' : 'no'],
          ['Dynamic memory', fmtDynamic(vm)],
          ['Your permissions', (vm.permissions || []).join(', ')]])),
        h('section', { 'aria-labelledby': 'rt' }, h('h2', { id: 'rt' }, 'Runtime'), kv([
          ['State', vm.state], ['Last exit', vm.last_exit ? fmtExit(vm.last_exit) : null],
          ['Started', fmtTime(vm.started)],
          ['Restarts', String(vm.restarts ?? 0)], ['PID', rt.pid ? String(rt.pid) : null],
          ['CPU time', rt.cpu_seconds !== undefined ? fmtSeconds(rt.cpu_seconds) : null],
          ['Resident memory', rt.memory_rss_bytes ? fmtBytes(rt.memory_rss_bytes) : null],
          ['Guest memory', rt.balloon ? rt.balloon.actual_mib + ' MiB of ' + fmtMib(rt.balloon.ram_mib) +
            ' (target ' + rt.balloon.target_mib + ' MiB)' : null],
          ['Guest free memory', rt.balloon && rt.balloon.stats && rt.balloon.stats.free !== undefined
            ? fmtBytes(rt.balloon.stats.free) : null],
          ['Memory policy', fmtDynamicRun(vm.dynamic_memory)],
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
  const asOf = app.state.lastEvent;
  api.getVm(name).then((vm) => dispatch({ type: 'vm', vm, asOf }), showError);
  render();
  if (!feed.live)            // not live (stopped, or view permission only): the log alone
    feed.loadLog();
  // The runtime figures (CPU time, disk and NIC counters) move without events: fetch the
  // VM again every 5 s while it runs (2 s while its charts are drawn).
  const timer = setInterval(() => {
    const vm = app.state.vms[name];
    if (vm && vm.state === 'running' && !app.fetching.has(name))
      refreshVm(name).catch(() => {});
  }, 2000);
  setView({ name: 'vm', cleanup: () => {
    gone = true;
    feed.stop();
    gcon.disconnect();
    clearInterval(timer);
    charts.dispose();
    term.dispose();
  }, update: (a) => {
    render();
    // A new boot: its console starts over on the live stream.
    if (a.type === 'event' && a.event.data && a.event.data.object === name &&
        a.event.data.type === 'vm-started' && !feed.live)
      feed.loadLog();
  } });
}
