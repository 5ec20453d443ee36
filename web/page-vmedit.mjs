// A VM's settings (#/edit/NAME): every field PATCH /api/v1/vms/NAME takes (docs/api.yaml
// VMInput but the name), for holders of modify. Hardware changes only while the VM is off
// (the API answers 409 otherwise). Only the fields that differ from the VM as loaded are
// sent, so an unchanged kernel (shown by its name in the image store) is not sent back.
import { api, app, main, setView, showError, dispatch, mayVm } from './core.mjs';
import { h, replace } from './dom.mjs';
import { field, input, select, checkbox, form, intOf } from './form.mjs';
import { seg } from './api.mjs';
import { FIRMWARES, bootSelect, cdromList, driveImages } from './drives.mjs';

function diskRow(i, d, disks, onRemove) {
  const name = select([...new Set([d.disk, ...disks].filter(Boolean))], d.disk, { 'aria-label': `Disk ${i + 1}` });
  const bus = select(['virtio-blk', 'scsi', 'ahci', 'ide'], d.bus || 'virtio-blk', { 'aria-label': `Disk ${i + 1} bus` });
  const ro = checkbox(!!d.readonly, { 'aria-label': `Disk ${i + 1} read-only` });
  const row = field('disks[' + i + ']', 'Disk ' + (i + 1), [name, ' ', bus, ' ',
    h('label', { class: 'choice' }, ro, ' read-only'), ' ',
    h('button', { type: 'button', class: 'danger', 'aria-label': `Remove disk ${i + 1}`, on: { click: onRemove } }, 'Remove')]);
  row.value = () => ({ disk: name.value, bus: bus.value, readonly: ro.checked });
  return row;
}

function nicRow(i, n, nets, onRemove) {
  const net = select([...new Set([n.network, ...nets].filter(Boolean))], n.network, { 'aria-label': `NIC ${i + 1} network` });
  const mac = input({ value: n.mac || '', placeholder: 'generated', 'aria-label': `NIC ${i + 1} MAC`, size: 17 });
  const model = select(['virtio', 'e1000'], n.model || 'virtio', { 'aria-label': `NIC ${i + 1} model` });
  const row = field('nics[' + i + ']', 'NIC ' + (i + 1), [net, ' ', mac, ' ', model, ' ',
    h('button', { type: 'button', class: 'danger', 'aria-label': `Remove NIC ${i + 1}`, on: { click: onRemove } }, 'Remove')]);
  row.value = () => ({ network: net.value, ...(mac.value.trim() ? { mac: mac.value.trim() } : {}), model: model.value });
  return row;
}

// A list of rows (disks or NICs) with Add and Remove.
function rowList(name, label, items, make, blank) {
  let rows = items.map((x) => ({ ...x }));
  const box = h('div');
  const collect = () => [...box.querySelectorAll(':scope > [data-field]')].map((r) => r.value());
  const paint = () => replace(box, rows.map((x, i) => make(i, x, () => {
    rows = collect();
    rows.splice(i, 1);
    paint();
  })));
  paint();
  const add = h('button', { type: 'button', 'data-key': name + '-add', on: { click: () => {
    rows = collect();
    rows.push(blank());
    paint();
  } } }, 'Add');
  const fs = h('fieldset', { 'data-field': name }, h('legend', {}, label), box, add,
    h('p', { class: 'field-error', hidden: true }));
  return { el: fs, value: collect };
}

export async function viewVmEdit(name) {
  replace(main, h('h1', {}, 'Settings of ' + name), h('p', { class: 'hint' }, 'Loading…'));
  let gone = false;
  setView({ name: 'edit', cleanup: () => { gone = true; } });
  let vm, images = [], isos = [], disks = [], nets = [];
  try {
    const asOf = app.state.lastEvent;
    vm = await api.getVm(name);
    dispatch({ type: 'vm', vm, asOf });
    // what to choose from: only for those who may change the VM (images need server modify)
    const none = Promise.resolve(null);
    const may = mayVm(vm, 'modify');
    const [im, dl, nl] = await Promise.allSettled(may ? [api.listImages(), api.listDisks(), api.listNetworks()]
      : [none, none, none]);
    images = im.status === 'fulfilled' && im.value ? im.value.images.map((i) => i.name) : [];
    isos = im.status === 'fulfilled' && im.value ? driveImages(im.value.images) : [];
    // disks used by no other VM (this one's are in its own list)
    disks = dl.status === 'fulfilled' && dl.value ? dl.value.disks.filter((d) => !d.used_by_others &&
      (!d.used_by || d.used_by.split(',').map((s) => s.trim()).every((u) => u === name))).map((d) => d.name) : [];
    nets = nl.status === 'fulfilled' && nl.value ? nl.value.networks.map((n) => n.name) : [];
  } catch (e) {
    showError(e);
    return;
  }
  if (gone)
    return;
  const off = vm.state === 'stopped' || vm.state === 'crashed';
  const t = (k, props = {}) => input({ name: k, value: vm[k] === null || vm[k] === undefined ? '' : String(vm[k]), ...props });
  const el = {
    description: t('description'), cpus: t('cpus', { inputmode: 'numeric' }),
    memory_mib: t('memory_mib', { inputmode: 'numeric' }),
    memory_reserve_mib: t('memory_reserve_mib', { inputmode: 'numeric' }),
    memory_min_mib: t('memory_min_mib', { inputmode: 'numeric' }),
    memory_buffer_pct: t('memory_buffer_pct', { inputmode: 'numeric' }),
    cpu_limit: t('cpu_limit', { inputmode: 'numeric' }), cpu_weight: t('cpu_weight', { inputmode: 'numeric' }),
    kernel: t('kernel', { list: 'e-images' }), initrd: t('initrd', { list: 'e-images' }), cmdline: t('cmdline'),
    restart_policy: select(['never', 'on-failure', 'always'], vm.restart_policy),
    undo_disks: select(['off', 'keep', 'commit', 'discard'], vm.undo_disks),
    autostart: checkbox(vm.autostart),
    display: select(['none', 'bochs'], vm.display || 'none'),
    enlightenments: select(['kvm', 'hyperv', 'xen', 'none'], vm.enlightenments || 'kvm'),
    balloon: checkbox(!!vm.balloon),
    mem_merge: checkbox(!!vm.mem_merge),
  };
  const firmware = select(FIRMWARES, vm.firmware || 'none', { name: 'firmware' });
  const boot = bootSelect(vm.boot || []);
  const cl = cdromList(vm.cdroms || [], isos, true);
  const ints = ['cpus', 'memory_mib', 'memory_reserve_mib', 'memory_min_mib', 'memory_buffer_pct',
    'cpu_limit', 'cpu_weight'];
  const dl = rowList('disks', 'Disks', vm.disks, (i, d, rm) => diskRow(i, d, disks, rm),
    () => ({ disk: disks.find((d) => !vm.disks.some((x) => x.disk === d)) || disks[0] || '' }));
  const nl = rowList('nics', 'Network interfaces', vm.nics, (i, n, rm) => nicRow(i, n, nets, rm),
    () => ({ network: nets[0] || '' }));
  const status = h('p', { class: 'hint', role: 'status' });
  const f = form({ class: 'panel', id: 'vm-edit', 'aria-label': 'Settings of ' + name }, [
    h('datalist', { id: 'e-images' }, images.map((i) => h('option', { value: i }))),
    field('description', 'Description', el.description),
    field('cpus', 'vCPUs', el.cpus, '1 to 64'),
    field('memory_mib', 'Memory (MiB)', el.memory_mib),
    field('memory_reserve_mib', 'Reserved memory (MiB)', el.memory_reserve_mib, '0: all of its memory'),
    field('memory_min_mib', 'Minimum memory (MiB)', el.memory_min_mib,
      'dynamic memory: the least the server balloons it down to while it runs (at least 64); ' +
      'its memory: off'),
    field('memory_buffer_pct', 'Memory buffer (%)', el.memory_buffer_pct,
      'dynamic memory: free memory the guest keeps, in percent of what it uses (default 20)'),
    field('cpu_limit', 'CPU limit (%)', el.cpu_limit, 'percent of one CPU; 0: no limit'),
    field('cpu_weight', 'CPU weight', el.cpu_weight, '1 to 10000 (default 100)'),
    field('firmware', 'Firmware', firmware, 'bios or uefi boot from the drives (the kernel is dropped)'),
    field('boot', 'Boot order', boot, 'with a firmware'),
    field('kernel', 'Kernel', el.kernel, 'a file in the server\'s images directory'),
    field('initrd', 'Initrd', el.initrd, 'empty: none'),
    field('cmdline', 'Command line', el.cmdline),
    field('restart_policy', 'Restart policy', el.restart_policy),
    field('undo_disks', 'Undo disks', el.undo_disks),
    field('autostart', 'Start with the server', el.autostart),
    field('display', 'Display', el.display, 'bochs: a graphical console (VNC in the browser)'),
    field('enlightenments', 'Enlightenments', el.enlightenments, 'hyperv for Windows, kvm for Linux, xen for guests built for Xen'),
    field('balloon', 'Memory balloon', el.balloon, 'the guest can give memory back'),
    field('mem_merge', 'Share identical memory (KSM)', el.mem_merge, 'saves memory; lets guests time each other'),
    cl.el, dl.el, nl.el,
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Save'),
      h('a', { class: 'button', href: '#/vm/' + encodeURIComponent(name) }, 'Back'))], async () => {
    status.textContent = '';
    const body = {};
    for (const [k, e] of Object.entries(el)) {
      const v = e.type === 'checkbox' ? e.checked : ints.includes(k) ? intOf(e) : e.value.trim();
      const old = vm[k] === null || vm[k] === undefined ? '' : vm[k];
      if (v !== old && !(k === 'initrd' && v === '' && vm.initrd === null))
        body[k] = v;
    }
    const d = dl.value(), n = nl.value();
    if (JSON.stringify(d) !== JSON.stringify(vm.disks.map((x) => ({ disk: x.disk, bus: x.bus, readonly: x.readonly }))))
      body.disks = d;
    if (JSON.stringify(n) !== JSON.stringify(vm.nics.map((x) => ({ network: x.network, mac: x.mac, model: x.model || 'virtio' }))))
      body.nics = n;
    if (firmware.value !== (vm.firmware || 'none'))
      body.firmware = firmware.value;
    if (boot.value !== (vm.boot || []).join(','))
      body.boot = boot.order();
    const c = cl.value();
    if (JSON.stringify(c) !== JSON.stringify((vm.cdroms || []).map((x) => ({ image: x.image, bus: x.bus }))))
      body.cdroms = c;
    if (!Object.keys(body).length) {
      status.textContent = 'Nothing changed.';
      return;
    }
    const asOf = app.state.lastEvent;
    vm = await api.request('PATCH', '/api/v1/vms/' + seg(name), body);
    dispatch({ type: 'vm', vm, asOf });
    status.textContent = 'Saved.';
  });
  f.addEventListener('input', () => { status.textContent = ''; });
  replace(main, h('p', {}, h('a', { href: '#/vm/' + encodeURIComponent(name) }, '← ' + name)),
    h('h1', {}, 'Settings of ' + name),
    off ? null : h('p', { class: 'hint', role: 'note' }, `${name} is ${vm.state}: hardware (vCPUs, memory, ` +
      'disks, NICs, drives, firmware, display, kernel) changes only while it is off; its minimum ' +
      'memory and memory buffer change at any time.'),
    mayVm(vm, 'modify') ? f : h('p', { class: 'empty' }, 'You may not change this VM.'), status);
}
