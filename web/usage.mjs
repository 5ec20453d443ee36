// A VM's usage over time from the server's counters (GET /api/v1/vms/NAME "runtime"), for
// the charts of its page (charts.mjs): samples of the counters, and the rates between them.
// No DOM.

// One sample from a VM's runtime, or null when no VMM reports.
export function sample(vm, t) {
  const rt = vm && vm.runtime;
  if (!rt || !rt.pid || rt.cpu_seconds === undefined)
    return null;
  const sum = (list, k) => (list || []).reduce((a, d) => a + (Number(d[k]) || 0), 0);
  return { t, cpu: Number(rt.cpu_seconds) || 0, rss: Number(rt.memory_rss_bytes) || 0,
           rd: sum(rt.disks, 'read_bytes'), wr: sum(rt.disks, 'write_bytes'),
           rx: sum(rt.nics, 'rx_bytes'), tx: sum(rt.nics, 'tx_bytes') };
}

// Series for the charts from samples (oldest first): x in seconds, rates per second.
export function series(samples) {
  const out = { t: [], cpu: [], mem: [], rd: [], wr: [], rx: [], tx: [] };
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1], b = samples[i], dt = b.t - a.t;
    if (dt <= 0)
      continue;
    const rate = (k) => Math.max(0, (b[k] - a[k]) / dt);
    out.t.push(b.t);
    out.cpu.push(rate('cpu') * 100);
    out.mem.push(b.rss / 1048576);
    out.rd.push(rate('rd'));
    out.wr.push(rate('wr'));
    out.rx.push(rate('rx'));
    out.tx.push(rate('tx'));
  }
  return out;
}
