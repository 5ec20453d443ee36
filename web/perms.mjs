// Which VM actions the console offers: by the caller's permissions on the VM (GET
// /api/v1/vms/NAME "permissions", or the server's from whoami) and the VM's state, as
// the server decides them (src/server/api_vm.c, sup.c). No DOM.

export const ACTIONS = Object.freeze([
  { id: 'start', label: 'Start', perm: 'control', states: ['stopped', 'crashed', 'saved'] },
  { id: 'shutdown', label: 'Shut down', perm: 'control', states: ['running'] },
  { id: 'off', label: 'Power off', perm: 'control', states: ['starting', 'running', 'paused', 'stopping'],
    confirm: 'Power off %s now? The guest is not asked to shut down first.' },
  { id: 'reset', label: 'Reset', perm: 'control', states: ['running', 'paused'],
    confirm: 'Reset %s? The guest restarts at once.' },
  { id: 'pause', label: 'Pause', perm: 'control', states: ['running'] },
  { id: 'resume', label: 'Resume', perm: 'control', states: ['paused'] },
  // save state: the VMM writes memory and devices to a file and ends; start resumes it
  { id: 'save', label: 'Save', perm: 'control', states: ['running', 'paused'] },
  { id: 'discard-saved', label: 'Discard saved state', perm: 'control', states: ['saved'],
    confirm: 'Discard the saved state of %s? Its next start boots it afresh.' },
  { id: 'delete', label: 'Delete', perm: 'remove', states: ['stopped', 'crashed', 'saved'],
    confirm: 'Delete %s? Its configuration is removed; its disks are kept.' },
]);

// Does a permission list (["view", "control", ...]) grant p? "full" grants everything.
export function has(perms, p) {
  return Array.isArray(perms) && (perms.includes(p) || perms.includes('full'));
}

// The union of two permission lists (the VM's and the server's).
export function union(a, b) {
  return [...new Set([...(a || []), ...(b || [])])];
}

// The actions to show for vm (needs vm.state; vm.permissions when known) given the
// server permissions: [{ id, label, enabled, confirm }]. Actions the caller may never do
// on this VM are left out; those the VM's state forbids now are shown disabled.
export function vmActions(vm, serverPerms = []) {
  const perms = union(vm.permissions, serverPerms);
  return ACTIONS.filter((a) => has(perms, a.perm)).map((a) => ({
    id: a.id,
    label: a.label,
    enabled: a.states.includes(vm.state),
    confirm: a.confirm ? a.confirm.replace('%s', vm.name) : null,
  }));
}

// May the caller watch the live console and type into it (control), or only read the
// log (view)?
export function consoleAccess(vm, serverPerms = []) {
  const perms = union(vm.permissions, serverPerms);
  return { read: has(perms, 'view'), live: has(perms, 'control') };
}

// May the caller open vm's graphical console: control on it, and a display (vm.display)?
export function graphicalAccess(vm, serverPerms = []) {
  return has(union(vm.permissions, serverPerms), 'control') && vm.display === 'bochs';
}

// What an empty list says: "None yet." to someone who sees every object (an administrator,
// or view on the server), "None you may see." to someone who may see only some.
// me: GET /api/v1/whoami's answer ({admin, server_permissions}).
export function emptyText(me) {
  return me && (me.admin || has(me.server_permissions, 'view')) ? 'None yet.' : 'None you may see.';
}

// May the caller create VMs (modify on the server)?
export function canCreate(serverPerms) {
  return has(serverPerms, 'modify');
}
