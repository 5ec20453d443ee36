// What every page of the web console shares: the API client, the session's state (the
// VM list kept live by app.mjs from the event stream), the page-wide error bar, the
// current view, and the VM action buttons. Pages (page-*.mjs) import this; app.mjs
// owns the session and the routing.
import { Api, ApiError, errorText } from './api.mjs';
import { reduce, initialState, vmList } from './vmstate.mjs';
import { vmActions, has, union } from './perms.mjs';
import { fmtExit } from './format.mjs';
import { h } from './dom.mjs';

export const $ = (id) => document.getElementById(id);
export const main = $('main');

let storage;
try { storage = window.sessionStorage; } catch (e) { storage = undefined; }
export const api = new Api({ storage, onUnauthorized: (e) => hooks.unauthorized(e) });
// Set by app.mjs: what a 401 after login does.
export const hooks = { unauthorized: () => {} };

export const app = {
  state: initialState,
  me: null,                  // whoami
  events: [],                // the newest events seen, newest first
  stream: null,              // AbortController of the event stream
  view: null,                // { name, cleanup(), update() }
  fetching: new Set(),
  failed: new Set(),         // VMs whose fetch failed (not 404/403): not again until loadVms
  deleting: new Set(),       // VMs this page is deleting: not fetched meanwhile
};

// ---- errors -------------------------------------------------------------------------
export function showError(e) {
  if (e && e.name === 'AbortError')
    return;
  $('error-text').textContent = errorText(e);
  $('error').hidden = false;
}
export function clearError() { $('error').hidden = true; }

// ---- permissions ----------------------------------------------------------------------
export function serverPerms() { return (app.me && app.me.server_permissions) || []; }
export function isAdmin() { return !!(app.me && app.me.admin); }
// May the caller do p on the server (and so on every object: a server grant covers all)?
export function mayServer(p) { return isAdmin() || has(serverPerms(), p); }
// ... on a VM (its permissions from GET /api/v1/vms/NAME, with the server's)?
export function mayVm(vm, p) { return isAdmin() || has(union(vm && vm.permissions, serverPerms()), p); }

// ---- the VM list ------------------------------------------------------------------------
export function dispatch(action) {
  app.state = reduce(app.state, action);
  if (action.type === 'event') {
    app.events.unshift(action.event.data);
    app.events.length = Math.min(app.events.length, 200);
  }
  fetchStale();
  if (app.view && app.view.update)
    app.view.update(action);
}

export async function loadVms() {
  const asOf = app.state.lastEvent;
  const js = await api.listAllVms();
  app.failed.clear();
  dispatch({ type: 'loaded', vms: js.vms, asOf });
}

// Fetch the VMs the reducer marked stale, four at a time. One whose fetch failed (the
// server is away, the session ended) is not asked again at once: the next list is.
function fetchStale() {
  if (!api.token)
    return;
  for (const name of app.state.stale) {
    if (app.fetching.size >= 4)
      break;
    if (app.fetching.has(name) || app.failed.has(name) || app.deleting.has(name))
      continue;
    app.fetching.add(name);
    const asOf = app.state.lastEvent;
    api.getVm(name).then((vm) => dispatch({ type: 'vm', vm, asOf }), (e) => {
      if (e instanceof ApiError && (e.status === 404 || e.status === 403)) {
        dispatch({ type: 'removed', name });
      } else {
        app.failed.add(name);
        if (api.token)
          showError(e);
      }
    }).finally(() => {
      app.fetching.delete(name);
      fetchStale();
    });
  }
}

// Fetch one VM again (its runtime figures move without events).
export function refreshVm(name) {
  const asOf = app.state.lastEvent;
  return api.getVm(name).then((vm) => { dispatch({ type: 'vm', vm, asOf }); return vm; });
}

export { vmList };

// ---- views ------------------------------------------------------------------------------
export function setView(v) {
  if (app.view && app.view.cleanup)
    app.view.cleanup();
  app.view = v;
}

// ---- VM actions -------------------------------------------------------------------------
export async function doAction(vm, a) {
  if (a.confirm && !window.confirm(a.confirm))
    return;
  clearError();
  try {
    if (a.id === 'delete') {
      app.deleting.add(vm.name);
      try {
        await api.deleteVm(vm.name);
      } finally {
        app.deleting.delete(vm.name);
      }
      dispatch({ type: 'removed', name: vm.name, deleted: true });
      if (location.hash.startsWith('#/vm/') || location.hash.startsWith('#/edit/'))
        location.hash = '#/vms';
    } else {
      const asOf = app.state.lastEvent;
      const js = await api.vmAction(vm.name, a.id);
      if (js && js.name)
        dispatch({ type: 'vm', vm: js, asOf });
    }
  } catch (e) {
    showError(e);
  }
}

export function actionButtons(vm) {
  return h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions on ' + vm.name },
    vmActions(vm, serverPerms()).map((a) => h('button', {
      type: 'button', class: a.id === 'delete' || a.id === 'off' ? 'danger' : null,
      'data-key': vm.name + '/' + a.id, disabled: !a.enabled,
      'aria-label': a.label + ' ' + vm.name, on: { click: () => doAction(vm, a) },
    }, a.label)));
}

// A VM's state; stopped or crashed, with how its last run ended as the tooltip; saved, with
// what that means.
export function stateBadge(state, lastExit) {
  const why = state === 'saved' ? 'Its memory and devices are saved: Start resumes it'
    : (state === 'crashed' || state === 'stopped') && lastExit ? fmtExit(lastExit) : null;
  return h('span', { class: 'state state-' + String(state).replace(/[^a-z]/g, ''), title: why },
    state || '?');
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Wait for a task (GET /api/v1/tasks/ID) to end; throws with its error when it failed.
export async function waitTask(id, alive = () => true) {
  let t;
  while (alive() && (t = await api.task(id)).state === 'running')
    await sleep(500);
  if (t && t.state === 'failed')
    throw new Error('The task failed: ' + (t.error || 'no reason given'));
  return t;
}
