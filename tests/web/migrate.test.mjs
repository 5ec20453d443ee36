// The VM page's Migrate action in headless Chromium: two `vsrv serve --cluster --inventory
// etcd` hosts on one real etcd member. A VM is laid out as running on web-a (its status row
// "running" and its ownership key bound to web-a's lease, written into etcd as the server
// writes them: no /dev/kvm here to run a guest, as tests/server/migrate.py does); its page
// offers Migrate…, whose box lists the other alive host only; the migration then fails (the
// destination cannot build a VMM without KVM), the page says why, and the VM still runs on
// web-a with its ownership key untouched. A stopped VM is not offered the action.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Api, MemoryStorage } from '../../web/api.mjs';
import { startDaemon, startEtcd, noEtcd, until, ROOT } from './daemon.mjs';
import { openBrowser, noBrowser } from './chrome.mjs';

const skip = noBrowser || noEtcd;
const PREFIX = '/webmig/';
// What the laid-out VM provokes on purpose: its serial console's WebSocket refused (409: no
// VMM runs it), and the 404 of an off VM without undo disks (the VM page asks).
const allowed = (e) => /\/api\/v1\/vms\/mig\/console\/serial' failed: .* 409$/.test(e.text) ||
  (/ 404 /.test(e.text) && /\/api\/v1\/vms\/[^/]+\/undo-disks$/.test(e.url || ''));
let etcd, a, bHost, api, b;

before(async () => {
  if (skip)
    return;
  etcd = await startEtcd();
  const args = (name) => ['--cluster', etcd.url, '--inventory', 'etcd', '--inventory-prefix', PREFIX,
    '--host-name', name, '--cluster-ttl', '5'];
  a = await startDaemon('vsrv-webmig-a.', args('web-a'));
  bHost = await startDaemon('vsrv-webmig-b.', args('web-b'));
  for (const d of [a, bHost])
    copyFileSync(join(ROOT, 'build/guests/hello.elf'), join(d.tmp, 'data', 'images', 'hello.elf'));
  api = new Api({ base: a.base, storage: new MemoryStorage() });
  await api.login('admin', 'adminpass1');
  b = await openBrowser(a.tmp, { allowed });
});

after(async () => {
  if (b)
    await b.close();
  for (const d of [a, bHost])
    if (d)
      await d.stop();
  if (etcd)
    etcd.stop();
});

// VM name laid out as running on host (see above).
async function layOutRunning(name, host) {
  const id = Number((await etcd.kv.get(PREFIX + 'u/vms.name/' + name)).value);
  const key = PREFIX + 't/vm_status/' + String(id).padStart(20, '0');
  const status = JSON.parse((await etcd.kv.get(key)).value);
  await etcd.kv.put(key, JSON.stringify({ ...status, state: 'running', monitor_pid: 999999 }));
  const lease = (await etcd.kv.get('/vsrv/hosts/' + host + '/alive')).lease;
  await etcd.kv.put('/vsrv/vms/' + name + '/owner',
    JSON.stringify({ host, lease: BigInt(lease).toString(16) }), lease);
}

test('Migrate…: offered for a running VM of a cluster, lists the other hosts, says why it failed', { skip }, async () => {
  await until(async () => (await api.hosts()).hosts.filter((x) => x.alive).length === 2, 15000, 'both hosts registered');
  await api.createVm({ name: 'mig', kernel: 'hello.elf', memory_mib: 32 });
  await api.createVm({ name: 'still', kernel: 'hello.elf', memory_mib: 32 });
  await layOutRunning('mig', 'web-a');
  const owner = await etcd.kv.get('/vsrv/vms/mig/owner');
  assert.equal((await api.vmStatus('mig')).host, 'web-a');

  await b.login(a.base, 'admin', 'adminpass1');
  // a stopped VM: no Migrate…
  await b.page("location.hash = '#/vm/still'");
  await b.wait("document.querySelector('[data-key=\"still/start\"]')", 10000, "the stopped VM's page");
  assert.equal(await b.page("!!document.querySelector('[data-key=\"still/migrate\"]')"), false);

  await b.page("location.hash = '#/vm/mig'");
  await b.wait("document.querySelector('[data-key=\"mig/migrate\"]')", 10000, 'the Migrate… button');
  await b.page("document.querySelector('[data-key=\"mig/migrate\"]').click()");
  await b.wait("!document.querySelector('#vm-migrate').hidden && document.querySelector('#migrate-to').options.length > 0",
    10000, 'the migrate box with its hosts');
  assert.deepEqual(await b.page("[...document.querySelector('#migrate-to').options].map((o) => o.value)"), ['web-b']);
  await b.page("document.querySelector('[data-key=\"mig/migrate-go\"]').click()");
  // no KVM: the destination cannot build the VM, the task fails and the page says why
  await b.wait("!document.querySelector('#error').hidden && /task failed/i.test(document.querySelector('#error-text').textContent)",
    60000, 'the failure shown');
  const why = await b.page("document.querySelector('#error-text').textContent");
  // (which step fails without KVM varies: the destination's VMM, or the source's supervisor
  // that has no run of the laid-out VM; tests/server/migrate.py says the same)
  assert.match(why, /web-b|destination|incoming|VMM|KVM|kvm|supervisor/, why);
  // the VM runs on where it was, its ownership key the same
  const st = await api.vmStatus('mig');
  assert.equal(st.state, 'running');
  assert.equal(st.host, 'web-a');
  assert.deepEqual(await etcd.kv.get('/vsrv/vms/mig/owner'), owner);
  assert.deepEqual(b.problems, []);
});
