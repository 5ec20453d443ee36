// The VM list's state, changed only by reduce(state, action), so the list follows the
// server's event stream the same way in the browser and in node's tests. No DOM.
//
// state: { vms: { NAME: vm }, stale: [NAME...], lastEvent: id|null, deleted: { NAME: true } }
//   vm: what GET /api/v1/vms (name, state, cpus, memory_mib) and GET /api/v1/vms/NAME
//   (everything, permissions included) said, with later events applied to it.
//   stale: VMs whose fields an event changed in ways the event does not carry (created,
//   updated): the caller fetches them (GET /api/v1/vms/NAME) and reduces 'vm' with them.
//   vm._event: the id of the last event applied to the VM. An answer the server gave before
//   that event (action.asOf: state.lastEvent when the request was sent) is older than what
//   the event said: its state does not win and the VM stays stale (fetched again).
//   deleted: VMs this page deleted ('removed' with deleted: true); answers and events about
//   them that were on their way do not bring them back, until a vm-created or a new list.

export const initialState = Object.freeze({ vms: Object.freeze({}), stale: Object.freeze([]),
                                            lastEvent: null });

// The state a VM is in after an event of this type.
export const eventStates = Object.freeze({
  'vm-starting': 'starting',       // its VMM is being built; vm-started when it answers
  'vm-started': 'running',
  'vm-resumed': 'running',
  'vm-reset': 'running',
  'vm-paused': 'paused',
  'vm-stopping': 'stopping',
  'vm-stopped': 'stopped',
  'vm-crashed': 'crashed',
  'vm-saved': 'saved',             // its state is in a file: start resumes it
  'vm-restore-failed': 'saved',    // a start from it ended before the VM ran: still saved
  'vm-saved-discarded': 'stopped',
});

// Events after which a VM runs on another host (its "host"), its state unchanged: the VM is
// fetched again.
export const hostEvents = Object.freeze(['vm-migrated', 'vm-migrated-in', 'vm-failover',
                                         'vm-migrate-failed']);

function withStale(stale, name) {
  return stale.includes(name) ? stale : [...stale, name];
}

// Whether an answer sent as of event asOf (undefined: newer than every event; null: sent
// before any event was seen) predates the last event applied to old.
function olderThan(old, asOf) {
  return !!old && old._event != null && asOf !== undefined &&
         (asOf === null || Number(asOf) < old._event);
}

// Merge a fetched VM into old; an older answer keeps the event's state.
function merge(old, v, asOf) {
  const vm = { ...(old || {}), ...v };
  if (olderThan(old, asOf)) {
    vm.state = old.state;
    vm._event = old._event;
  }
  return vm;
}

// actions:
//   { type: 'loaded', vms: [...], asOf }  the whole list (replaces everything)
//   { type: 'vm', vm, asOf }             one VM's fresh fields (merged; clears stale)
//   (asOf: state.lastEvent when the request was sent, null before any event; absent: newer
//   than every event)
//   { type: 'removed', name }
//   { type: 'event', event: {id, type, data} }   one event of the stream (data: the Event)
export function reduce(state, action) {
  switch (action.type) {
  case 'loaded': {
    const vms = {};
    for (const v of action.vms)
      vms[v.name] = merge(state.vms[v.name], v, action.asOf);
    // The list has no permissions or usage: every VM's details are fetched next.
    return { ...state, vms, stale: Object.keys(vms), deleted: undefined };
  }
  case 'vm': {
    const v = action.vm, old = state.vms[v.name];
    if (!old && state.deleted && state.deleted[v.name])
      return state;                          // an answer from before this page deleted it
    return { ...state, vms: { ...state.vms, [v.name]: merge(old, v, action.asOf) },
             stale: olderThan(old, action.asOf) ? withStale(state.stale, v.name)
                                                : state.stale.filter((n) => n !== v.name) };
  }
  case 'removed': {
    // deleted: this page deleted it; the events of its last changes, still on their way,
    // do not bring it back (until its vm-deleted, or a vm-created of the name).
    const deleted = action.deleted ? { ...(state.deleted || {}), [action.name]: true } : state.deleted;
    if (!(action.name in state.vms))       // (an event may have marked it stale after it went)
      return state.stale.includes(action.name) || deleted !== state.deleted
        ? { ...state, deleted, stale: state.stale.filter((n) => n !== action.name) } : state;
    const vms = { ...state.vms };
    delete vms[action.name];
    return { ...state, vms, deleted, stale: state.stale.filter((n) => n !== action.name) };
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
  let next = id != null && Number.isFinite(id) ? { ...state, lastEvent: id } : state;

  if (!e || e.object_type !== 'vm' || typeof e.object !== 'string')
    return next;
  const name = e.object, type = e.type || ev.type;
  const deleted = next.deleted && next.deleted[name];
  if (deleted && type === 'vm-created') {
    const rest = { ...next.deleted };
    delete rest[name];
    next = { ...next, deleted: rest };
  }
  if (type === 'vm-deleted')
    return reduce(next, { type: 'removed', name });
  if (deleted && !(name in next.vms) && type !== 'vm-created')
    return next;                             // an event of a VM this page deleted
  if (type === 'vm-created' || type === 'vm-updated') {
    const cur = next.vms[name] || (type === 'vm-created' ? { name, state: 'stopped' } : null);
    return { ...next, vms: cur ? { ...next.vms, [name]: { ...cur, _event: id ?? cur._event } } : next.vms,
             stale: withStale(next.stale, name) };
  }
  if (hostEvents.includes(type)) {
    const cur = next.vms[name];
    return { ...next, vms: cur ? { ...next.vms, [name]: { ...cur, _event: id ?? cur._event } } : next.vms,
             stale: withStale(next.stale, name) };
  }
  const st = eventStates[type];
  if (!st)
    return next;
  const old = next.vms[name];
  if (!old)                          // a VM we did not know: fetch it
    return { ...next, stale: withStale(next.stale, name) };
  const vm = { ...old, state: st, _event: id ?? old._event };
  if (type === 'vm-stopped' || type === 'vm-crashed' || type === 'vm-saved') {
    // last_exit: the server's record ({exit, status, signal, reason, at_start, time});
    // an older server's event carries only the exit text.
    if (e.data && e.data.last_exit && typeof e.data.last_exit === 'object')
      vm.last_exit = e.data.last_exit;
    else if (e.data && typeof e.data.exit === 'string')
      vm.last_exit = e.data.exit;
  }
  // Usage figures are the running VMM's: fetch them again once it runs or ended.
  return { ...next, vms: { ...next.vms, [name]: vm }, stale: withStale(next.stale, name) };
}

// The VMs sorted by name, for display.
export function vmList(state) {
  return Object.values(state.vms).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
