// The Networks page (#/networks): the networks one may see; create (server modify; bridged
// for administrators), delete (remove) and their grants (change-permissions).
import { api, app, main, setView, showError, clearError, mayServer, isAdmin } from './core.mjs';
import { h, replace, table } from './dom.mjs';
import { emptyText } from './perms.mjs';
import { field, input, select, form } from './form.mjs';
import { seg } from './api.mjs';

function createForm(reload) {
  const name = input({ name: 'name' });
  const kinds = isAdmin() ? ['nat', 'internal', 'bridged'] : ['nat', 'internal'];
  const kind = select(kinds, 'nat');
  const subnet = input({ name: 'subnet', placeholder: '10.0.2.0/24' });
  const dhcp = input({ name: 'dhcp_start', placeholder: '10.0.2.15' });
  const bridge = input({ name: 'bridge', placeholder: 'br0' });
  const nat = [field('subnet', 'Subnet', subnet, 'NAT only, /8 to /27 (empty: 10.0.2.0/24)'),
    field('dhcp_start', 'First DHCP address', dhcp, 'NAT only (empty: .15 of the subnet)')];
  const br = field('bridge', 'Host bridge', bridge, 'an existing Linux bridge on the host');
  const show = () => {
    nat.forEach((f) => { f.hidden = kind.value !== 'nat'; });
    br.hidden = kind.value !== 'bridged';
  };
  kind.addEventListener('change', show);
  show();
  return form({ class: 'panel', id: 'net-create', 'aria-label': 'Create a network' }, [
    h('h2', {}, 'Create a network'), field('name', 'Name', name), field('kind', 'Kind', kind), ...nat, br,
    h('button', { class: 'primary', type: 'submit' }, 'Create network')], async () => {
    const body = { name: name.value.trim(), kind: kind.value };
    if (kind.value === 'nat' && subnet.value.trim())
      body.subnet = subnet.value.trim();
    if (kind.value === 'nat' && dhcp.value.trim())
      body.dhcp_start = dhcp.value.trim();
    if (kind.value === 'bridged')
      body.bridge = bridge.value.trim();
    await api.request('POST', '/api/v1/networks', body);
    name.value = '';
    await reload();
  });
}

export function viewNetworks() {
  const list = h('div', { id: 'net-list' });
  let gone = false;
  const reload = async () => {
    const nets = (await api.listNetworks()).networks;
    if (gone)
      return;
    const may = { remove: mayServer('remove'), perms: mayServer('change-permissions') };
    const acts = may.remove || may.perms;
    replace(list, nets.length ? table('Networks', [{ label: 'Name' }, { label: 'Kind' }, { label: 'Bridge' },
      { label: 'Subnet' }, { label: 'DHCP' }, ...(acts ? [{ label: 'Actions' }] : [])],
    nets.map((n) => [n.name, n.kind, n.bridge || '–', n.subnet || '–',
      n.dhcp_start ? n.dhcp_start + ' – ' + (n.dhcp_end || '') : '–',
      ...(acts ? [h('div', { class: 'actions' },
        may.perms ? h('a', { class: 'button', href: '#/grants/networks/' + encodeURIComponent(n.name),
          'data-key': 'net/' + n.name + '/grants' }, 'Permissions') : null,
        may.remove ? h('button', { type: 'button', class: 'danger', 'data-key': 'net/' + n.name + '/delete',
          on: { click: async () => {
            if (!window.confirm(`Delete the network ${n.name}?`))
              return;
            clearError();
            try {
              await api.request('DELETE', '/api/v1/networks/' + seg(n.name));
              await reload();
            } catch (e) { showError(e); }
          } } }, 'Delete') : null)] : [])]))
      : h('p', { class: 'empty' }, emptyText(app.me)));
  };
  replace(main, h('h1', {}, 'Networks'), list, mayServer('modify') ? createForm(reload) : null);
  setView({ name: 'networks', cleanup: () => { gone = true; } });
  reload().catch(showError);
}
