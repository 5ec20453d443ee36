// The grants of the server (#/permissions) or of one object (#/grants/vms/NAME,
// #/grants/disks/NAME, #/grants/networks/NAME): who holds which permissions. Anyone with
// view sees them; holders of change-permissions edit the list, and Save replaces it
// (PUT, the whole list). A refused entry ("grants[1]: no user named 'x'") shows on its row.
import { api, main, setView, showError, mayServer, mayVm, app } from './core.mjs';
import { h, replace } from './dom.mjs';
import { field, select, checkbox, form } from './form.mjs';
import { seg } from './api.mjs';

export const PERMS = ['view', 'control', 'modify', 'remove', 'change-permissions', 'full'];
const KINDS = { vms: 'VM', disks: 'disk', networks: 'network' };

function grantRow(i, g, users, groups, onRemove, editable) {
  const kind = select([['user', 'user'], ['group', 'group']], g.group ? 'group' : 'user',
    { 'aria-label': `Grant ${i + 1}: user or group`, disabled: !editable });
  const who = h('select', { 'aria-label': `Grant ${i + 1}: who`, disabled: !editable });
  const fill = () => {
    const names = kind.value === 'group' ? groups : users;
    const cur = g.group || g.user || '';
    replace(who, [...new Set([...(cur ? [cur] : []), ...names])].map((n) => {
      const o = h('option', { value: n }, n);
      o.selected = n === cur;
      return o;
    }));
  };
  kind.addEventListener('change', () => { g = {}; fill(); });
  fill();
  const boxes = PERMS.map((p) => checkbox((g.permissions || []).includes(p),
    { value: p, 'aria-label': `Grant ${i + 1}: ${p}`, disabled: !editable }));
  const row = field('grants[' + i + ']', 'Grant ' + (i + 1), [kind, ' ', who, ' ',
    h('span', { class: 'choices' }, boxes.map((b) => h('label', { class: 'choice' }, b, ' ' + b.value))),
    editable ? h('button', { type: 'button', class: 'danger', 'aria-label': `Remove grant ${i + 1}`,
      on: { click: onRemove } }, 'Remove') : null]);
  row.grant = () => ({ [kind.value]: who.value, permissions: boxes.filter((b) => b.checked).map((b) => b.value) });
  return row;
}

// coll: null for the server, else 'vms', 'disks' or 'networks'; name: the object's.
export async function viewGrants(coll, name) {
  const server = !coll;
  const title = server ? 'Permissions on the server' : `Permissions on the ${KINDS[coll] || coll} ${name}`;
  replace(main, h('h1', {}, title), h('p', { class: 'hint' }, 'Loading…'));
  let gone = false;
  setView({ name: 'grants', cleanup: () => { gone = true; } });
  const get = () => server ? api.request('GET', '/api/v1/permissions')
    : api.request('GET', '/api/v1/' + seg(coll) + '/' + seg(name) + '/permissions');
  try {
    const [grants, users, groups, vm] = await Promise.all([get(),
      api.request('GET', '/api/v1/users').then((js) => js.users.map((u) => u.name), () => []),
      api.request('GET', '/api/v1/groups').then((js) => js.groups.map((g) => g.name), () => []),
      coll === 'vms' ? api.getVm(name).catch(() => null) : null]);
    if (gone)
      return;
    const editable = coll === 'vms' ? mayVm(vm, 'change-permissions') : mayServer('change-permissions');
    let rows = grants.grants.map((g) => ({ ...g }));
    const box = h('div', { id: 'grant-rows' });
    const paint = () => replace(box, rows.length ? rows.map((g, i) => grantRow(i, g, users, groups, () => {
      rows = collect();
      rows.splice(i, 1);
      paint();
    }, editable)) : h('p', { class: 'hint' }, 'No grants: only administrators' +
      (server ? '' : ' and holders of server grants') + ' have access.'));
    const collect = () => [...box.querySelectorAll('[data-field]')].map((r) => r.grant());
    paint();
    const f = !editable ? h('div', { class: 'panel', id: 'grants-form', 'aria-label': title }, box)
      : form({ class: 'panel', id: 'grants-form', 'aria-label': title }, [box,
      editable ? h('div', { class: 'actions' },
        h('button', { type: 'button', on: { click: () => {
          rows = collect();
          rows.push({ user: users[0] || '', permissions: ['view'] });
          paint();
        } } }, 'Add grant'),
        h('button', { class: 'primary', type: 'submit' }, 'Save')) : null], async () => {
      status.textContent = '';
      const body = { grants: collect() };
      const js = server ? await api.request('PUT', '/api/v1/permissions', body)
        : await api.request('PUT', '/api/v1/' + seg(coll) + '/' + seg(name) + '/permissions', body);
      rows = js.grants.map((g) => ({ ...g }));
      paint();
      status.textContent = 'Saved.';
      if (server)       // one's own server permissions may have changed
        app.me = await api.whoami();
    });
    const status = h('p', { class: 'hint', role: 'status' });
    f.addEventListener('input', () => { status.textContent = ''; });
    replace(main, h('h1', {}, title),
      h('p', { class: 'hint' }, server ? 'A grant on the server holds on every VM, disk and network.'
        : 'Besides these, grants on the server hold here too.'), f, status);
  } catch (e) {
    showError(e);
  }
}
