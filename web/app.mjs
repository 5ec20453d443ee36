// The vsrv web console: the session (log in, log out), the VM list kept live from the event
// stream (vmstate.mjs through core.mjs) and the routes, each a page module (page-*.mjs).
// Routes are in the URL's fragment: #/vms, #/vm/NAME, #/edit/NAME, #/create, #/disks, #/images,
// #/networks, #/users, #/groups, #/permissions, #/grants/KIND/NAME, #/host, #/events.
import { ApiError } from './api.mjs';
import { $, api, app, hooks, main, showError, clearError, dispatch, loadVms, setView,
         mayServer } from './core.mjs';
import { initialState } from './vmstate.mjs';
import { h, replace } from './dom.mjs';
import { viewVms } from './page-vms.mjs';
import { viewVm } from './page-vm.mjs';
import { viewVmEdit } from './page-vmedit.mjs';
import { viewCreate } from './page-create.mjs';
import { viewDisks } from './page-disks.mjs';
import { viewImages } from './page-images.mjs';
import { viewNetworks } from './page-networks.mjs';
import { viewUsers, viewGroups } from './page-users.mjs';
import { viewGrants } from './page-grants.mjs';
import { viewHost, viewEvents } from './page-host.mjs';

$('error-close').addEventListener('click', clearError);
hooks.unauthorized = () => loggedOut('Your session ended: log in again.');

// ---- session ------------------------------------------------------------------------
function loggedOut(message) {
  if (app.stream)
    app.stream.abort();
  app.stream = null;
  app.me = null;
  app.state = initialState;
  $('nav').hidden = true;
  $('who').hidden = true;
  setView(null);
  renderLogin(message);
}

$('logout').addEventListener('click', async () => {
  try { await api.logout(); } catch (e) { /* gone anyway */ }
  loggedOut('Logged out.');
});

function renderLogin(message) {
  const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true,
                            value: api.user || '' });
  const pw = h('input', { id: 'login-password', name: 'password', type: 'password', required: true,
                          autocomplete: 'current-password' });
  const status = h('p', { class: 'hint', role: 'status' }, message || '');
  const form = h('form', { class: 'panel login', 'aria-labelledby': 'login-title', on: { submit: async (ev) => {
    ev.preventDefault();
    clearError();
    status.textContent = 'Logging in…';
    try {
      await api.login(user.value.trim(), pw.value);
      pw.value = '';
      await start();
    } catch (e) {
      status.textContent = '';
      showError(e);
      pw.focus();
    }
  } } },
  h('h1', { id: 'login-title' }, 'Log in to vsrv'),
  h('div', { class: 'field' }, h('label', { for: 'login-user' }, 'User'), user),
  h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), pw),
  h('button', { class: 'primary', type: 'submit' }, 'Log in'), status);
  replace(main, form);
  (user.value ? pw : user).focus();
}

async function start() {
  // A logout (or another login) while this one waits ends it: the newer session rules.
  const token = api.token;
  const me = await api.whoami();
  if (api.token !== token)
    return;
  app.me = me;
  $('who-name').textContent = app.me.user;
  $('nav').hidden = false;
  $('who').hidden = false;
  // Users, groups and the server's grants: for those who may see them (server view).
  for (const a of document.querySelectorAll('#nav a[data-needs]'))
    a.hidden = !mayServer(a.getAttribute('data-needs'));
  await loadVms();
  if (api.token !== token)
    return;
  startEvents();
  route();
}

// ---- the event stream ---------------------------------------------------------------------
function setLive(on) {
  $('live').textContent = on ? 'live' : 'reconnecting…';
  $('live').classList.toggle('on', on);
}

function startEvents() {
  if (app.stream)
    app.stream.abort();
  const ctl = new AbortController();
  app.stream = ctl;
  (async () => {
    let delay = 500;
    while (!ctl.signal.aborted) {
      try {
        setLive(true);
        const since = app.state.lastEvent;
        for await (const ev of api.eventStream({ signal: ctl.signal, since })) {
          delay = 500;
          dispatch({ type: 'event', event: ev });
        }
      } catch (e) {
        // ended here (this stream, or the session: logged out, cancelled) or by the server
        if (ctl.signal.aborted || (e && e.name === 'AbortError') || (e instanceof ApiError && e.status === 401))
          return;
      }
      setLive(false);
      await new Promise((r) => setTimeout(r, delay));
      if (ctl.signal.aborted || !api.token)
        return;
      delay = Math.min(delay * 2, 10000);
      // Anything missed while away: the list again, then the stream from the last event.
      try { await loadVms(); } catch (e) { /* the next round tries again */ }
    }
  })();
}

// ---- routing ------------------------------------------------------------------------------
const NAV_OF = { vm: 'vms', create: 'vms', edit: 'vms', grants: null };

function route() {
  if (!api.token || !app.me)
    return;
  const hash = location.hash || '#/vms';
  const [, what, arg] = hash.match(/^#\/([a-z]*)\/?(.*)$/) || [];
  let nav = what in NAV_OF ? NAV_OF[what] : what;
  if (what === 'grants')
    nav = arg.split('/')[0];
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === '#/' + nav)
      a.setAttribute('aria-current', 'page');
    else
      a.removeAttribute('aria-current');
  }
  clearError();
  setView(null);
  if (what === 'vm' && arg)
    viewVm(decodeURIComponent(arg));
  else if (what === 'edit' && arg)
    viewVmEdit(decodeURIComponent(arg));
  else if (what === 'create')
    viewCreate();
  else if (what === 'disks')
    viewDisks();
  else if (what === 'images')
    viewImages();
  else if (what === 'networks')
    viewNetworks();
  else if (what === 'users')
    viewUsers();
  else if (what === 'groups')
    viewGroups();
  else if (what === 'permissions')
    viewGrants(null, null);
  else if (what === 'grants' && /^(vms|disks|networks)\/./.test(arg))
    viewGrants(arg.split('/')[0], decodeURIComponent(arg.slice(arg.indexOf('/') + 1)));
  else if (what === 'host')
    viewHost();
  else if (what === 'events')
    viewEvents();
  else
    viewVms();
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);

if (api.token)
  start().catch((e) => { if (!(e instanceof ApiError && e.status === 401)) showError(e); loggedOut(); });
else
  renderLogin();
