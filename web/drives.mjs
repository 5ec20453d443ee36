// The firmware, boot order and CD/DVD drive fields of the create and settings pages
// (docs/api.yaml VMInput firmware, boot, cdroms; os_type presets at create).
import { h, replace } from './dom.mjs';
import { field, select } from './form.mjs';

export const FIRMWARES = [['none', 'none (boot the kernel)'], ['bios', 'BIOS (SeaBIOS)'], ['uefi', 'UEFI (OVMF)']];
export const OS_TYPES = [['', '(none)'], ['linux', 'Linux (virtio)'], ['windows', 'Windows (UEFI, AHCI, e1000)'],
  ['legacy', 'Older systems (BIOS, IDE, e1000)']];
// What each os_type preset gives (the server fills the same; shown in the form).
export const PRESETS = { linux: { firmware: 'none', boot: '' }, windows: { firmware: 'uefi', boot: 'cdrom,disk' },
  legacy: { firmware: 'bios', boot: 'cdrom,disk' } };
const ORDERS = ['cdrom,disk', 'disk,cdrom', 'cdrom,disk,net', 'disk,net', 'net,disk', 'disk', 'cdrom'];

// The images a drive may hold: those of kind iso or raw.
export const driveImages = (images) => images.filter((i) => i.kind === 'iso' || i.kind === 'raw').map((i) => i.name);

// A boot order select; value() is the array the API takes ([]: the firmware's own).
export function bootSelect(boot = []) {
  const now = boot.join(',');
  const s = select([['', '(the firmware\'s own)'], ...[...new Set([...ORDERS, now].filter(Boolean))]
    .map((o) => [o, o.split(',').join(', ')])], now, { name: 'boot' });
  s.order = () => (s.value ? s.value.split(',') : []);
  return s;
}

// The CD/DVD drives (data-field cdroms, each row cdroms[i]) with Add and Remove: an image
// of the store or empty, and a bus select when withBus (else the server's default or the
// os_type preset decides). value(): the cdroms array of the API.
export function cdromList(drives, images, withBus) {
  let rows = drives.map((d) => ({ ...d }));
  const box = h('div');
  const collect = () => [...box.querySelectorAll(':scope > [data-field]')].map((r) => r.value());
  const paint = () => replace(box, rows.map((d, i) => {
    const img = select([['', '(empty)'], ...[...new Set([d.image, ...images].filter(Boolean))]], d.image || '',
      { 'aria-label': `Drive ${i + 1} image` });
    const bus = withBus ? select(['virtio-scsi', 'ahci', 'ide'], d.bus || 'virtio-scsi', { 'aria-label': `Drive ${i + 1} bus` }) : null;
    const row = field('cdroms[' + i + ']', 'Drive ' + (i + 1), [img, ' ', bus, ' ',
      h('button', { type: 'button', class: 'danger', 'aria-label': `Remove drive ${i + 1}`, on: { click: () => {
        rows = collect();
        rows.splice(i, 1);
        paint();
      } } }, 'Remove')]);
    row.value = () => ({ image: img.value || null, ...(bus ? { bus: bus.value } : {}) });
    return row;
  }));
  paint();
  const add = h('button', { type: 'button', 'data-key': 'cdroms-add', on: { click: () => {
    rows = collect();
    if (rows.length < 4)
      rows.push({ image: images[0] || null });
    paint();
  } } }, 'Add a drive');
  const fs = h('fieldset', { 'data-field': 'cdroms' }, h('legend', {}, 'CD/DVD drives'), box, add,
    images.length ? null : h('p', { class: 'hint' }, 'No ISO images in the store (see Images).'),
    h('p', { class: 'field-error', hidden: true }));
  return { el: fs, value: collect };
}
