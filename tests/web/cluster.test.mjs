// The Host page's view of the cluster in headless Chromium: two `vsrv serve --cluster`
// hosts on one real etcd member (Debian's etcd-server), each listed with its lease, address,
// capacity and VMs; a host that stops shows as gone once its lease has run out; a host
// without --cluster lists itself alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, MemoryStorage } from '../../web/api.mjs';
import { startDaemon, startEtcd, noEtcd, until, sleep } from './daemon.mjs';
import { openBrowser, noBrowser } from './chrome.mjs';

const skip = noBrowser || noEtcd;

let etcd, a, bHost, alone, api, b;

before(async () => {
  if (skip)
    return;
  etcd = await startEtcd();
  const curl = etcd.url;
  a = await startDaemon('vsrv-webclus-a.', ['--cluster', curl, '--host-name', 'web-a', '--cluster-ttl', '3', '--inventory', 'sqlite']);
  bHost = await startDaemon('vsrv-webclus-b.', ['--cluster', curl, '--host-name', 'web-b', '--cluster-ttl', '3', '--inventory', 'sqlite']);
  alone = await startDaemon('vsrv-webclus-alone.');
  api = new Api({ base: a.base, storage: new MemoryStorage() });
  await api.login('admin', 'adminpass1');
  b = await openBrowser(a.tmp);
});

after(async () => {
  if (b)
    await b.close();
  for (const d of [a, bHost, alone])
    if (d)
      await d.stop();
  if (etcd)
    etcd.stop();
});

// The Host page's hosts table as [[cell, ...], ...].
const rows = () => b.page(`[...document.querySelectorAll('#host-list tbody tr')]
  .map((r) => [...r.cells].map((c) => c.textContent))`);

test('the Host page lists the hosts of the cluster and marks a host whose lease ran out', { skip }, async () => {
  await until(async () => (await api.hosts()).hosts.filter((x) => x.alive).length === 2, 15000, 'both hosts registered');
  await b.login(a.base, 'admin', 'adminpass1');
  await b.page("location.hash = '#/host'");
  await b.wait("document.querySelector('#host-list')?.getAttribute('data-hosts') === '2'", 10000, 'the hosts table');
  const r = await rows();
  assert.deepEqual(r.map((x) => [x[0], x[1]]), [['web-a (this host)', 'alive'], ['web-b', 'alive']]);
  const cpus = (await api.hosts()).hosts.find((x) => x.name === 'web-b').cpus;
  assert.equal(r[1][3], String(cpus));
  assert.equal(r[1][2], '127.0.0.1');
  assert.ok(await b.page("document.querySelector('main').innerText.includes('Cluster')"));
  // web-b stops: its lease is revoked or runs out, and the page shows it gone
  await bHost.stop();
  bHost = null;
  await until(async () => !(await api.hosts()).hosts.find((x) => x.name === 'web-b').alive, 15000, 'web-b gone');
  await b.page("location.hash = '#/events'");
  await b.wait("!document.querySelector('#host-list')");
  await b.page("location.hash = '#/host'");
  await b.wait("document.querySelector('#host-list')?.getAttribute('data-hosts') === '2'", 10000, 'the hosts table again');
  assert.deepEqual((await rows()).map((x) => [x[0], x[1]]), [['web-a (this host)', 'alive'], ['web-b', 'gone']]);
  assert.deepEqual(b.problems, []);
});

test('without --cluster the Host page lists this host alone', { skip }, async () => {
  await b.login(alone.base, 'admin', 'adminpass1');
  await b.page("location.hash = '#/host'");
  await b.wait("document.querySelector('#host-list')?.getAttribute('data-hosts') === '1'", 10000, 'the hosts table');
  const r = await rows();
  assert.equal(r.length, 1);
  assert.match(r[0][0], / \(this host\)$/);
  assert.equal(r[0][1], 'alive');
  assert.ok(await b.page("document.querySelector('main').innerText.includes('A single host (no --cluster).')"));
  assert.deepEqual(b.problems, []);
  await sleep(0);
});
