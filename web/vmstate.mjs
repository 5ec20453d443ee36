// The VM list's state, changed only by reduce(state, action), so the list follows the
// server's event stream the same way in the browser and in node's tests. No DOM.
//
// state: { vms: { NAME: vm }, stale: [NAME...], lastEvent: id|null }
//   vm: what GET /api/v1/vms (name, state, cpus, memory_mib) and GET /api/v1/vms/NAME
//   (everything, permissions included) said, with later events applied to it.
//   stale: VMs whose fields an event changed in ways the event does not carry (created,
//   updated): the caller fetches them (GET /api/v1/vms/NAME) and reduces 'vm' with them.

export const initialState = Object.freeze({ vms: Object.freeze({}), stale: Object.freeze([]),
                                            lastEvent: null });

// The state a VM is in after an event of this type.
export const eventStates = Object.freeze({
  'vm-started': 'running',
  'vm-resumed': 'running',
  'vm-reset': 'running',
  'vm-paused': 'paused',
  'vm-stopping': 'stopping',
  'vm-stopped': 'stopped',
  'vm-crashed': 'crashed',
});

function withStale(stale, name) {
  return stale.includes(name) ? stale : [...stale, name];
}

// actions:
//   { type: 'loaded', vms: [...] }       the whole list (replaces everything)
//   { type: 'vm', vm }                   one VM's fresh fields (merged; clears stale)
//   { type: 'removed', name }
//   { type: 'event', event: {id, type, data} }   one event of the stream (data: the Event)
export function reduce(state, action) {
  switch (action.type) {
  case 'loaded': {
    const vms = {};
    for (const v of action.vms)
      vms[v.name] = { ...(state.vms[v.name] || {}), ...v };
    // The list has no permissions or usage: every VM's details are fetched next.
    return { ...state, vms, stale: Object.keys(vms) };
  }
  case 'vm': {
    const v = action.vm;
    return { ...state, vms: { ...state.vms, [v.name]: { ...(state.vms[v.name] || {}), ...v } },
             stale: state.stale.filter((n) => n !== v.name) };
  }
  case 'removed': {
    if (!(action.name in state.vms))
      return state;
    const vms = { ...state.vms };
    delete vms[action.name];
    return { ...state, vms, stale: state.stale.filter((n) => n !== action.name) };
  }
  case 'event':
    return applyEvent(state, action.event);
  default:
    return state;
  }
}

function applyEvent(state, ev) {
  const e = ev && ev.data && typeof ev.data === 'object' ? ev.data : null;
  const id = ev && ev.id != null ? Number(ev.id) : (e && e.id != null ? Number(e.id) : null);
  const next = id != null && Number.isFinite(id) ? { ...state, lastEvent: id } : state;

  if (!e || e.object_type !== 'vm' || typeof e.object !== 'string')
    return next;
  const name = e.object, type = e.type || ev.type;
  if (type === 'vm-deleted')
    return reduce(next, { type: 'removed', name });
  if (type === 'vm-created' || type === 'vm-updated')
    return { ...next, vms: type === 'vm-created' && !next.vms[name]
               ? { ...next.vms, [name]: { name, state: 'stopped' } } : next.vms,
             stale: withStale(next.stale, name) };
  const st = eventStates[type];
  if (!st)
    return next;
  const old = next.vms[name];
  if (!old)                          // a VM we did not know: fetch it
    return { ...next, stale: withStale(next.stale, name) };
  const vm = { ...old, state: st };
  if (type === 'vm-stopped' || type === 'vm-crashed') {
    if (e.data && typeof e.data.exit === 'string')
      vm.last_exit = e.data.exit;
  }
  // Usage figures are the running VMM's: fetch them again once it runs or ended.
  return { ...next, vms: { ...next.vms, [name]: vm }, stale: withStale(next.stale, name) };
}

// The VMs sorted by name, for display.
export function vmList(state) {
  return Object.values(state.vms).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
