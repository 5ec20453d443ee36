// Charts of a VM's usage over time on its page, drawn with uPlot (vendored from npm:
// mk/npm.sh --web): CPU (% of one CPU), resident memory, disk and network throughput. The
// server keeps counters, not history: each fresh GET /api/v1/vms/NAME while the VM runs
// (runtime: cpu_seconds, memory_rss_bytes, disks[].read/write_bytes, nics[].rx/tx_bytes)
// is one sample, and rates are the counters' differences over the time between samples.
// A counter that went down (the VM restarted) starts the series over.
import uPlot from './uplot.mjs';
import { h, replace } from './dom.mjs';
import { fmtBytes } from './format.mjs';
import { sample, series } from './usage.mjs';

const KEEP = 300;              // samples kept (10 minutes at one every 2 s)

const bytesAxis = { values: (u, vals) => vals.map((v) => fmtBytes(Math.round(v)) + '/s'), size: 80 };

const CHARTS = [
  { id: 'cpu', title: 'CPU (% of one CPU)', series: [['cpu', 'CPU %', '#1f5fa8']], axis: {} },
  { id: 'mem', title: 'Resident memory (MiB)', series: [['mem', 'MiB', '#1d7a36']], axis: {} },
  { id: 'disk', title: 'Disk', series: [['rd', 'read', '#1f5fa8'], ['wr', 'written', '#b3261e']], axis: bytesAxis },
  { id: 'net', title: 'Network', series: [['rx', 'received', '#1f5fa8'], ['tx', 'sent', '#9a6200']], axis: bytesAxis },
];

export class VmCharts {
  constructor(name) {
    this.name = name;
    this.samples = [];
    this.plots = null;
    this.runtime = undefined;
    this.el = h('section', { 'aria-labelledby': 'charts-h', class: 'charts', hidden: true });
  }

  // The VM as the page knows it now: a sample when it is a fresh answer of the server.
  update(vm, now = Date.now() / 1000) {
    // An answer of the server is one sample (an event keeps the VM's runtime object).
    if (!vm || vm.runtime === this.runtime)
      return;
    this.runtime = vm.runtime;
    const s = sample(vm, now);
    if (!s)
      return;
    const last = this.samples[this.samples.length - 1];
    if (last && (s.cpu < last.cpu || s.rd < last.rd || s.wr < last.wr || s.rx < last.rx || s.tx < last.tx))
      this.samples = [];                     // counters went back: a new VMM
    else if (last && now - last.t < 0.5)
      return;                                // two answers at once: one sample
    this.samples.push(s);
    if (this.samples.length > KEEP)
      this.samples.splice(0, this.samples.length - KEEP);
    this.draw();
  }

  draw() {
    const d = series(this.samples);
    if (d.t.length < 1)
      return;
    this.el.hidden = false;
    if (!this.plots) {
      const boxes = CHARTS.map((c) => h('figure', { class: 'chart', id: 'chart-' + c.id },
        h('figcaption', {}, c.title)));
      replace(this.el, h('h2', { id: 'charts-h' }, 'Usage'), h('div', { class: 'chart-grid' }, boxes));
      const width = Math.max(260, Math.min(540, (this.el.clientWidth || 1000) / 2 - 24));
      this.plots = CHARTS.map((c, i) => new uPlot({
        width, height: 160, legend: { show: true },
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, c.id === 'cpu' ? 10 : 1)] } },
        axes: [{}, c.axis],
        series: [{}, ...c.series.map(([, label, stroke]) => ({ label, stroke, width: 1.5 }))],
      }, [d.t, ...c.series.map(([k]) => d[k])], boxes[i]));
    } else {
      this.plots.forEach((p, i) => p.setData([d.t, ...CHARTS[i].series.map(([k]) => d[k])]));
    }
  }

  dispose() {
    if (this.plots)
      this.plots.forEach((p) => p.destroy());
    this.plots = null;
  }
}
