// The Users page (#/users) and the Groups page (#/groups): lists for holders of view on
// the server; create, change and delete for holders of change-permissions (the admin flag
// for administrators). What else the API refuses (a non-administrator changing someone
// who holds more than they do: 403) shows on the form.
import { api, main, setView, showError, clearError, mayServer, isAdmin, app } from './core.mjs';
import { h, replace, table } from './dom.mjs';
import { fmtTime } from './format.mjs';
import { field, input, checkbox, form } from './form.mjs';
import { seg } from './api.mjs';
import { quotaPanel } from './quota.mjs';

// Checkboxes for a list of names (groups of a user, members of a group).
function choices(name, label, all, chosen) {
  const boxes = all.map((n) => checkbox(chosen.includes(n), { value: n, 'aria-label': n }));
  const fs = h('fieldset', { class: 'choices' }, h('legend', {}, label),
    all.length ? boxes.map((b) => h('label', { class: 'choice' }, b, ' ' + b.value))
      : h('span', { class: 'hint' }, 'none yet'));
  return { el: field(name, label, fs), value: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

const del = (what, call, reload) => async () => {
  if (!window.confirm(`Delete ${what}?`))
    return;
  clearError();
  try {
    await call();
    await reload();
  } catch (e) { showError(e); }
};

function userForm(u, groups, reload, close) {
  const name = input({ name: 'name', value: u ? u.name : '' });
  const pw = input({ name: 'password', type: 'password', autocomplete: 'new-password' });
  const admin = checkbox(u ? u.admin : false);
  const gs = choices('groups', 'Groups', groups, u ? u.groups : []);
  return form({ class: 'panel', id: u ? 'user-edit' : 'user-create', 'aria-label': u ? 'Change ' + u.name : 'Create a user' }, [
    h('h2', {}, u ? 'Change user ' + u.name : 'Create a user'),
    u ? null : field('name', 'Name', name),
    field('password', u ? 'New password' : 'Password', pw, u ? 'empty: unchanged; changing it ends their sessions' : 'at least 8 characters'),
    isAdmin() ? field('admin', 'Administrator', admin) : null,
    gs.el,
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, u ? 'Save' : 'Create user'),
      u ? h('button', { type: 'button', on: { click: close } }, 'Cancel') : null)], async () => {
    const body = {};
    if (!u)
      body.name = name.value.trim();
    if (!u || pw.value)
      body.password = pw.value;
    if (isAdmin() && (!u || admin.checked !== u.admin))
      body.admin = admin.checked;
    const g = gs.value();
    if (!u || g.join() !== u.groups.join())
      body.groups = g;
    if (u)
      await api.request('PATCH', '/api/v1/users/' + seg(u.name), body);
    else
      await api.request('POST', '/api/v1/users', body);
    if (close)
      close();
    await reload();
  });
}

export function viewUsers() {
  const list = h('div', { id: 'user-list' });
  const side = h('div');
  const create = h('div');
  let gone = false;
  const reload = async () => {
    const [{ users }, groups] = await Promise.all([api.request('GET', '/api/v1/users'),
      api.request('GET', '/api/v1/groups').then((js) => js.groups.map((g) => g.name), () => [])]);
    if (gone)
      return;
    const may = mayServer('change-permissions');
    replace(list, table('Users', [{ label: 'Name' }, { label: 'Administrator' }, { label: 'Groups' },
      { label: 'Created' }, ...(may ? [{ label: 'Actions' }] : [])],
    users.map((u) => [u.name, u.admin ? 'yes' : 'no', u.groups.join(', ') || '–', fmtTime(u.created),
      ...(may ? [h('div', { class: 'actions' },
        h('button', { type: 'button', 'data-key': 'user/' + u.name + '/quota',
          on: { click: () => replace(side, quotaPanel(u.name, isAdmin(), () => replace(side))) } }, 'Quota'),
        h('button', { type: 'button', 'data-key': 'user/' + u.name + '/edit',
          on: { click: () => replace(side, userForm(u, groups, reload, () => replace(side))) } }, 'Change'),
        u.name === (app.me && app.me.user) ? null : h('button', { type: 'button', class: 'danger',
          'data-key': 'user/' + u.name + '/delete',
          on: { click: del('the user ' + u.name, () => api.request('DELETE', '/api/v1/users/' + seg(u.name)), reload) } }, 'Delete'))] : [])])));
    replace(create, may ? userForm(null, groups, reload, null) : null);
  };
  replace(main, h('h1', {}, 'Users'), list, side, create);
  setView({ name: 'users', cleanup: () => { gone = true; } });
  reload().catch(showError);
}

function groupForm(g, users, reload, close) {
  const name = input({ name: 'name' });
  const ms = choices('members', 'Members', users, g ? g.members : []);
  return form({ class: 'panel', id: g ? 'group-edit' : 'group-create', 'aria-label': g ? 'Change ' + g.name : 'Create a group' }, [
    h('h2', {}, g ? 'Members of ' + g.name : 'Create a group'),
    g ? null : field('name', 'Name', name), ms.el,
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, g ? 'Save' : 'Create group'),
      g ? h('button', { type: 'button', on: { click: close } }, 'Cancel') : null)], async () => {
    if (g) {
      await api.request('PATCH', '/api/v1/groups/' + seg(g.name), { members: ms.value() });
      close();
    } else {
      await api.request('POST', '/api/v1/groups', { name: name.value.trim(), members: ms.value() });
    }
    await reload();
  });
}

export function viewGroups() {
  const list = h('div', { id: 'group-list' });
  const side = h('div');
  const create = h('div');
  let gone = false;
  const reload = async () => {
    const [{ groups }, users] = await Promise.all([api.request('GET', '/api/v1/groups'),
      api.request('GET', '/api/v1/users').then((js) => js.users.map((u) => u.name), () => [])]);
    if (gone)
      return;
    const may = mayServer('change-permissions');
    replace(list, groups.length ? table('Groups', [{ label: 'Name' }, { label: 'Members' },
      ...(may ? [{ label: 'Actions' }] : [])],
    groups.map((g) => [g.name, g.members.join(', ') || '–', ...(may ? [h('div', { class: 'actions' },
      h('button', { type: 'button', 'data-key': 'group/' + g.name + '/edit',
        on: { click: () => replace(side, groupForm(g, users, reload, () => replace(side))) } }, 'Members'),
      h('button', { type: 'button', class: 'danger', 'data-key': 'group/' + g.name + '/delete',
        on: { click: del('the group ' + g.name, () => api.request('DELETE', '/api/v1/groups/' + seg(g.name)), reload) } }, 'Delete'))] : [])]))
      : h('p', { class: 'empty' }, 'No groups yet.'));
    replace(create, may ? groupForm(null, users, reload, null) : null);
  };
  replace(main, h('h1', {}, 'Groups'), list, side, create);
  setView({ name: 'groups', cleanup: () => { gone = true; } });
  reload().catch(showError);
}
