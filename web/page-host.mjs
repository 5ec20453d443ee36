// The Host page (#/host: capacity and what running VMs reserve, and the hosts of the cluster
// with theirs) and the Events page (#/events: the newest events, kept live from the event
// stream by app.mjs).
import { api, app, main, setView, showError } from './core.mjs';
import { fmtMib, fmtTime } from './format.mjs';
import { h, replace, kv, table } from './dom.mjs';

export async function viewHost() {
  replace(main, h('h1', {}, 'Host'), h('p', { class: 'hint' }, 'Loading…'));
  const view = { name: 'host' };
  setView(view);
  try {
    const js = await api.host();
    const hosts = await hostsSection();
    if (app.view !== view)          // left meanwhile: the page is another's now
      return;
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
      ['cgroups', String(js.cgroups ?? '–')],
      // whether VMs can run here at all, and if not why and what to do (the server's words)
      ['KVM', h('span', { id: 'host-kvm' },
        !js.kvm ? '–' : js.kvm.available ? `available (${js.kvm.device})`
          : `not available: ${js.kvm.message || js.kvm.device}`)]]), hosts);
  } catch (e) { showError(e); }
}

// The hosts of the cluster (GET /hosts: this host alone without one), or a line saying why
// they cannot be listed (etcd unreachable: 503; not allowed: 403).
async function hostsSection() {
  let js;
  try {
    js = await api.hosts();
  } catch (e) {
    return h('p', { class: 'hint', id: 'host-list' }, 'Hosts of the cluster: ' + (e.message || String(e)));
  }
  const c = js.cluster;
  const rows = js.hosts.map((x) => [
    x.name + (x.this ? ' (this host)' : ''), x.alive ? 'alive' : 'gone', x.address || '–',
    String(x.cpus ?? '–'), fmtMib(x.memory_mib), fmtMib(x.free_memory_mib),
    x.vms.length ? x.vms.join(', ') : '–']);
  const cols = ['Host', 'Lease', 'Address', 'CPUs', 'Memory for VMs', 'Free', 'VMs running there']
    .map((label) => ({ label }));
  const list = table('Hosts', cols, rows);
  list.id = 'host-list';
  list.setAttribute('data-hosts', String(js.hosts.length));
  return h('section', {}, h('h2', {}, c ? 'Cluster' : 'Hosts'),
    c ? kv([['etcd', c.endpoints], ['Lease', `${c.lease_ttl_ms / 1000} s, renewed every ${c.renew_ms / 1000} s`],
      ['Watchdog', `turns this host's VMs off after ${c.watchdog_ms / 1000} s without a renewal (fired ${c.fences} times)`]])
      : h('p', { class: 'hint' }, 'A single host (no --cluster).'),
    list);
}

export function viewEvents() {
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
