// A user's quota and usage (PUT /api/v1/users/{name}/quota, GET /api/v1/users/{name}): a
// panel of the Users page with one row per limit (a delegated manager's also with what its
// users own, total_usage; a managed user's manager named); administrators change the limits
// there (an empty field: unlimited).
import { api } from './core.mjs';
import { h, replace, table } from './dom.mjs';
import { fmtBytes, fmtMib } from './format.mjs';
import { field, input, form, intOf } from './form.mjs';
import { seg } from './api.mjs';

const LIMITS = [['vms', 'VMs', String], ['cpus', 'vCPUs', String], ['memory_mib', 'Memory (MiB)', fmtMib],
  ['disks', 'Disks', String], ['disk_bytes', 'Disk bytes', fmtBytes], ['snapshots', 'Snapshots', String]];

// Whether u manages users that own something: its limits bound its usage with theirs
// (total_usage), shown as a column of its own then.
function manages(u) {
  return !!u.total_usage && LIMITS.some(([k]) => u.total_usage[k] !== u.usage[k]);
}

function rows(u) {
  return LIMITS.map(([k, label, fmt]) => [label, fmt(u.usage[k]),
    ...(manages(u) ? [fmt(u.total_usage[k])] : []),
    u.quota[k] === null ? 'unlimited' : fmt(u.quota[k])]);
}

// The panel for user name; close removes it. admin: the limits may be changed.
export function quotaPanel(name, admin, close) {
  const panel = h('section', { class: 'panel', id: 'user-quota', 'aria-label': 'Quota of ' + name });
  const show = (u) => {
    const inputs = LIMITS.map(([k]) => input({ name: k, inputmode: 'numeric',
      value: u.quota[k] === null ? '' : String(u.quota[k]) }));
    const note = u.manager ? [h('p', {}, 'Managed by ' + u.manager + ": the manager's quota also " +
      'bounds what it and all its users own together.')] : [];
    replace(panel, h('h2', {}, 'Quota of ' + name), ...note,
      table('Quota and usage of ' + name, [{ label: 'Limit' }, { label: 'Usage', num: true },
        ...(manages(u) ? [{ label: 'With its users', num: true }] : []),
        { label: 'Quota', num: true }], rows(u)),
      admin ? form({ 'aria-label': 'Change the quota of ' + name },
        [...LIMITS.map(([k, label], i) => field(k, label, inputs[i], 'empty: unlimited')),
          h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Save quota'),
            h('button', { type: 'button', on: { click: close } }, 'Close'))], async () => {
          const body = {};
          // a value that is no whole number goes as typed, for the API to refuse (400)
          // (Number('10G') is NaN, which JSON sends as null: unlimited)
          LIMITS.forEach(([k], i) => {
            body[k] = inputs[i].value.trim() === '' ? null : intOf(inputs[i]);
          });
          show(await api.request('PUT', '/api/v1/users/' + seg(name) + '/quota', body));
        })
        : h('div', { class: 'actions' }, h('button', { type: 'button', on: { click: close } }, 'Close')));
  };
  api.request('GET', '/api/v1/users/' + seg(name)).then(show,
    (e) => replace(panel, h('p', { class: 'form-error' }, String(e.message || e))));
  return panel;
}
