// A vsrv daemon for the web console's node tests: `vsrv serve` on a temporary data
// directory and a free port, the test guest copied into its images directory.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, accessSync, rmSync, constants, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VSRV = join(ROOT, 'build/vsrv');
const GUEST = join(ROOT, 'build/guests/console.elf');

// Why the VM tests cannot run here, or null.
export const kvmReason = (() => {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    accessSync(GUEST, constants.R_OK);
    return null;
  } catch (e) {
    return 'no usable /dev/kvm or build/guests/console.elf';
  }
})();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Wait for promise p, at most ms. The timer goes with the wait: one left running would hold
// node (and the test file) up until it fired.
export async function within(p, ms) {
  let t;
  try {
    return await Promise.race([p, new Promise((r) => { t = setTimeout(r, ms); })]);
  } finally {
    clearTimeout(t);
  }
}

// Poll fn until it returns something true (its value), or throw after ms.
export async function until(fn, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v)
      return v;
    if (Date.now() > end)
      throw new Error('timed out waiting for ' + (typeof what === 'function' ? await what() : what));
    await sleep(50);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

// Start a daemon (admin:adminpass1), with extra command-line arguments and the KVM device its
// starts check (kvm); resolves to
// { base, tmp, stop() }.
export async function startDaemon(prefix, extra = [], kvm = '/dev/null') {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const data = join(tmp, 'data');
  mkdirSync(join(data, 'images'), { recursive: true });
  if (!kvmReason)
    copyFileSync(GUEST, join(data, 'images', 'console.elf'));
  const port = await freePort();
  const base = 'http://127.0.0.1:' + port;
  const log = openSync(join(tmp, 'daemon.log'), 'a');
  const proc = spawn(VSRV, ['serve', '--data-dir', data, '--listen', '127.0.0.1:' + port,
                            '--init-admin', 'admin:adminpass1', ...extra],
                     // kvm: the device its starts check (VSRV_TEST_KVM, as tests/server/lib.py's
                     // Daemon): by default /dev/null, so that starts are not refused for want
                     // of /dev/kvm and a VM that fails without KVM crashes as the tests expect
                     { stdio: ['ignore', log, log], env: { ...process.env, VSRV_TEST_KVM: kvm } });
  await until(async () => {
    try { return (await fetch(base + '/api/v1/health')).ok; } catch (e) { return false; }
  }, 10000, 'the daemon');
  return {
    base, tmp,
    // Turn off the VMs still running (api: a logged-in Api), end the daemon, clean up.
    async stop(api) {
      if (api && api.token) {
        try {
          for (const vm of (await api.listVms()).vms)
            if (vm.state !== 'stopped')
              await api.vmAction(vm.name, 'off').catch(() => {});
        } catch (e) { /* the daemon is gone */ }
      }
      if (proc.exitCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await within(gone, 10000);
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

// One etcd member (Debian's etcd-server) on free ports, its data in a temporary directory;
// null when etcd is not installed (noEtcd says why). Resolves to { url, kv, stop() } once it
// answers: kv is a small client of its v3 JSON gateway (get(key) -> {value, lease} or null,
// put(key, value, lease)).
const ETCD = '/usr/bin/etcd';
export const noEtcd = (() => {
  try { accessSync(ETCD, constants.X_OK); return false; } catch (e) { return 'etcd is not installed (etcd-server)'; }
})();

export async function startEtcd() {
  if (noEtcd)
    return null;
  const dir = mkdtempSync(join(tmpdir(), 'vsrv-webetcd.'));
  const cport = await freePort(), pport = await freePort();
  const url = 'http://127.0.0.1:' + cport, purl = 'http://127.0.0.1:' + pport;
  const proc = spawn(ETCD, ['--name', 'm0', '--data-dir', join(dir, 'm0'), '--listen-client-urls', url,
    '--advertise-client-urls', url, '--listen-peer-urls', purl, '--initial-advertise-peer-urls', purl,
    '--initial-cluster', 'm0=' + purl], { stdio: 'ignore' });
  await until(async () => {
    try { return (await fetch(url + '/v3/maintenance/status', { method: 'POST', body: '{}' })).ok; }
    catch (e) { return false; }
  }, 30000, 'etcd');
  const b64 = (s) => Buffer.from(s).toString('base64');
  const call = async (path, body) => (await fetch(url + path, { method: 'POST', body: JSON.stringify(body) })).json();
  const kv = {
    async get(key) {
      const js = await call('/v3/kv/range', { key: b64(key) });
      const x = js.kvs && js.kvs[0];
      return x ? { value: Buffer.from(x.value || '', 'base64').toString(), lease: x.lease || '0' } : null;
    },
    put: (key, value, lease) => call('/v3/kv/put', { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) }),
  };
  return {
    url, kv,
    stop() {
      if (proc.exitCode === null)
        proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
