// The create-VM form (#/create), for holders of modify on the server: name, size, an OS
// type preset, the firmware (none: a kernel offered from GET /api/v1/images), the boot
// order, CD/DVD drives with ISOs of the store, free disks and networks (docs/api.yaml VMInput).
import { api, app, main, setView, dispatch, mayServer } from './core.mjs';
import { vmSpec, fmtBytes } from './format.mjs';
import { h, replace } from './dom.mjs';
import { field, placeError, clearErrors, select } from './form.mjs';
import { FIRMWARES, OS_TYPES, PRESETS, bootSelect, cdromList, driveImages } from './drives.mjs';

export async function viewCreate() {
  if (!mayServer('modify')) {
    replace(main, h('h1', {}, 'Create a virtual machine'),
      h('p', { class: 'empty' }, 'You may not create VMs (that takes modify on the server).'));
    setView({ name: 'create' });
    return;
  }
  // fields named as VMInput's, so that the API's message shows next to its field
  const NAMES = { 'c-name': 'name', 'c-desc': 'description', 'c-cpus': 'cpus', 'c-mem': 'memory_mib',
                  'c-kernel': 'kernel', 'c-cmdline': 'cmdline', 'c-autostart': 'autostart',
                  'c-os': 'os_type', 'c-firmware': 'firmware', 'c-boot': 'boot' };
  const f = (id, label, input, hint) => field(NAMES[id], label, input, hint);
  const name = h('input', { id: 'c-name', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,62}' });
  const desc = h('input', { id: 'c-desc' });
  const cpus = h('input', { id: 'c-cpus', type: 'number', min: 1, max: 64, value: '1' });
  const mem = h('input', { id: 'c-mem', type: 'number', min: 16, max: 1048576, value: '128' });
  const kernel = h('input', { id: 'c-kernel', required: true, list: 'c-kernels' });
  const kernels = h('datalist', { id: 'c-kernels' });
  const cmdline = h('input', { id: 'c-cmdline' });
  const autostart = h('input', { id: 'c-autostart', type: 'checkbox' });
  const osType = select(OS_TYPES, '', { id: 'c-os' });
  const firmware = select(FIRMWARES, 'none', { id: 'c-firmware' });
  const boot = bootSelect();
  boot.id = 'c-boot';
  const kernelField = f('c-kernel', 'Kernel', [kernel, kernels], 'a file in the server\'s images directory');
  const cmdlineField = f('c-cmdline', 'Command line', cmdline);
  const bootField = f('c-boot', 'Boot order', boot);
  // a firmware boots from the drives: no kernel; the boot order is the firmware's
  const showFirmware = () => {
    const fw = firmware.value !== 'none';
    kernelField.hidden = cmdlineField.hidden = fw;
    bootField.hidden = !fw;
  };
  firmware.addEventListener('change', showFirmware);
  osType.addEventListener('change', () => {
    const p = PRESETS[osType.value];
    if (p) {
      firmware.value = p.firmware;
      boot.value = p.boot;
      showFirmware();
    }
  });
  const drives = h('div');
  let cds = { value: () => [] };
  const disks = h('fieldset', { 'data-field': 'disks' }, h('legend', {}, 'Disks'));
  const nets = h('fieldset', { 'data-field': 'nics' }, h('legend', {}, 'Network interfaces'));
  const form = h('form', { class: 'panel', on: { submit: async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const checked = (fs) => [...fs.querySelectorAll('input:checked')].map((i) => i.value);
    try {
      const spec = vmSpec({ name: name.value, description: desc.value, cpus: cpus.value,
                            memory_mib: mem.value, kernel: kernel.value, cmdline: cmdline.value,
                            autostart: autostart.checked, disks: checked(disks), nics: checked(nets),
                            os_type: osType.value, firmware: firmware.value, boot: boot.order(),
                            cdroms: cds.value() });
      const asOf = app.state.lastEvent;
      const vm = await api.createVm(spec);
      dispatch({ type: 'vm', vm, asOf });
      location.hash = '#/vm/' + encodeURIComponent(vm.name);
    } catch (e) { placeError(form, e); }
  } } },
  f('c-name', 'Name', name), f('c-desc', 'Description', desc), f('c-cpus', 'vCPUs', cpus),
  f('c-mem', 'Memory (MiB)', mem),
  f('c-os', 'OS type', osType, 'a preset: firmware, boot order, disk, drive and NIC models'),
  f('c-firmware', 'Firmware', firmware), kernelField, cmdlineField, bootField,
  f('c-autostart', 'Start with the server', autostart),
  drives, disks, nets, h('button', { class: 'primary', type: 'submit' }, 'Create'));
  form.noValidate = true;
  replace(main, h('h1', {}, 'Create a virtual machine'), form);
  setView({ name: 'create' });
  name.focus();
  showFirmware();
  const choices = (fs, items, what) => {
    if (!items.length)
      fs.appendChild(h('p', { class: 'hint' }, 'No ' + what + ' you may use.'));
    items.forEach((it, i) => {
      const id = fs === disks ? 'c-disk-' + i : 'c-net-' + i;
      fs.appendChild(h('div', {}, h('input', { type: 'checkbox', id, value: it.name }),
        ' ', h('label', { for: id }, it.label)));
    });
    fs.appendChild(h('p', { class: 'field-error', hidden: true }));
  };
  const [im, dl, nl] = await Promise.allSettled([api.listImages(), api.listDisks(), api.listNetworks()]);
  if (im.status === 'fulfilled')
    im.value.images.forEach((i) => kernels.appendChild(h('option', { value: i.name })));
  cds = cdromList([], im.status === 'fulfilled' ? driveImages(im.value.images) : [], false);
  replace(drives, cds.el);
  const free = (d) => !d.used_by && !d.used_by_others;   // used by no VM, seen or not
  choices(disks, dl.status === 'fulfilled' ? dl.value.disks.filter(free).map((d) =>
    ({ name: d.name, label: `${d.name} (${d.format}, ${fmtBytes(d.size)})` })) : [], 'free disks');
  choices(nets, nl.status === 'fulfilled' ? nl.value.networks.map((n) =>
    ({ name: n.name, label: `${n.name} (${n.kind})` })) : [], 'networks');
}
