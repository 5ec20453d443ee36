// The Disks page (#/disks): the disks one may see; create (server modify), grow (modify),
// delete (remove) and their grants (change-permissions). A server grant covers every disk,
// so the buttons follow the caller's server permissions; the API has the last word.
import { api, app, main, setView, showError, clearError, mayServer } from './core.mjs';
import { h, replace, table } from './dom.mjs';
import { fmtBytes } from './format.mjs';
import { emptyText } from './perms.mjs';
import { field, input, select, form, bytesOf, UNITS } from './form.mjs';
import { seg } from './api.mjs';

// The VMs using a disk: those one may see by name, the others counted.
export function usedBy(d) {
  const others = d.used_by_others ? `${d.used_by_others} other VM${d.used_by_others > 1 ? 's' : ''}` : '';
  return [d.used_by, others].filter(Boolean).join(', ') || '–';
}

function createForm(reload) {
  const name = input({ name: 'name' });
  const size = input({ name: 'size', inputmode: 'decimal', value: '1024' });
  const unit = select(UNITS, '1048576', { 'aria-label': 'Size unit' });
  const format = select(['raw', 'vhd'], 'raw');
  const sub = select(['dynamic', 'fixed'], 'dynamic');
  const subField = field('subformat', 'VHD kind', sub, 'dynamic grows as the guest writes; fixed takes its size at once');
  subField.hidden = true;
  format.addEventListener('change', () => { subField.hidden = format.value !== 'vhd'; });
  const f = form({ class: 'panel', id: 'disk-create', 'aria-label': 'Create a disk' }, [
    h('h2', {}, 'Create a disk'),
    field('name', 'Name', name), field('size', 'Size', [size, ' ', unit]),
    field('format', 'Format', format), subField,
    h('button', { class: 'primary', type: 'submit' }, 'Create disk')], async () => {
    const body = { name: name.value.trim(), size: bytesOf(size, unit), format: format.value };
    if (format.value === 'vhd')
      body.subformat = sub.value;
    await api.request('POST', '/api/v1/disks', body);
    name.value = '';
    await reload();
  });
  return f;
}

function resizeForm(d, reload, close) {
  const size = input({ name: 'size', inputmode: 'decimal', value: String(Math.ceil(d.size / 1048576)) });
  const unit = select(UNITS, '1048576', { 'aria-label': 'Size unit' });
  return form({ class: 'panel', id: 'disk-resize', 'aria-label': 'Resize ' + d.name }, [
    h('h2', {}, 'Grow ' + d.name),
    h('p', { class: 'hint' }, `Now ${fmtBytes(d.size)}. Disks only grow; no running VM may use it.`),
    field('size', 'New size', [size, ' ', unit]),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Resize'),
      h('button', { type: 'button', on: { click: close } }, 'Cancel'))], async () => {
    await api.request('PATCH', '/api/v1/disks/' + seg(d.name), { size: bytesOf(size, unit) });
    close();
    await reload();
  });
}

export function viewDisks() {
  const list = h('div', { id: 'disk-list' });
  const side = h('div');
  let gone = false;
  const reload = async () => {
    const disks = (await api.listDisks()).disks;
    if (gone)
      return;
    const may = { modify: mayServer('modify'), remove: mayServer('remove'),
                  perms: mayServer('change-permissions') };
    replace(list, disks.length ? table('Disks', [{ label: 'Name' }, { label: 'Format' },
      { label: 'Size', num: true }, { label: 'Allocated', num: true }, { label: 'Used by' },
      ...(may.modify || may.remove || may.perms ? [{ label: 'Actions' }] : [])],
    disks.map((d) => [d.name, d.format, fmtBytes(d.size), fmtBytes(d.allocated), usedBy(d),
      ...(may.modify || may.remove || may.perms ? [h('div', { class: 'actions' },
        may.modify ? h('button', { type: 'button', 'data-key': 'disk/' + d.name + '/resize',
          on: { click: () => replace(side, resizeForm(d, reload, () => replace(side))) } }, 'Resize') : null,
        may.perms ? h('a', { class: 'button', href: '#/grants/disks/' + encodeURIComponent(d.name),
          'data-key': 'disk/' + d.name + '/grants' }, 'Permissions') : null,
        may.remove ? h('button', { type: 'button', class: 'danger', 'data-key': 'disk/' + d.name + '/delete',
          disabled: !!(d.used_by || d.used_by_others), title: d.used_by || d.used_by_others ? 'in use' : null,
          on: { click: async () => {
            if (!window.confirm(`Delete the disk ${d.name}? Its data is lost.`))
              return;
            clearError();
            try {
              await api.request('DELETE', '/api/v1/disks/' + seg(d.name));
              await reload();
            } catch (e) { showError(e); }
          } } }, 'Delete') : null)] : [])]))
      : h('p', { class: 'empty' }, emptyText(app.me)));
  };
  replace(main, h('h1', {}, 'Disks'), list, side, mayServer('modify') ? createForm(reload) : null);
  setView({ name: 'disks', cleanup: () => { gone = true; } });
  reload().catch(showError);
}
