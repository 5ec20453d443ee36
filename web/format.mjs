// Number and time formatting for the console's tables. No DOM.

export function fmtBytes(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n)))
    return '–';
  n = Number(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}

export function fmtMib(m) {
  return m === null || m === undefined ? '–' : fmtBytes(Number(m) * 1048576);
}

export function fmtSeconds(s) {
  if (s === null || s === undefined || !Number.isFinite(Number(s)))
    return '–';
  s = Number(s);
  if (s < 60)
    return s.toFixed(s < 10 ? 2 : 1) + ' s';
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + Math.floor(s % 60) + 's';
}

export function fmtTime(unix) {
  if (!unix)
    return '–';
  return new Date(Number(unix) * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

// A VM's last_exit (docs/api.yaml: {exit, status, signal, reason, at_start, time}, or the
// exit text of an older server, or null) as one line for people.
export function fmtExit(le) {
  if (le === null || le === undefined || le === '')
    return '–';
  if (typeof le !== 'object')
    return String(le);
  const why = le.reason || le.exit || '?';
  const when = le.time ? ', ' + fmtTime(le.time) : '';
  return le.exit && le.reason ? `${why} (${le.exit}${when})` : why + (when ? ` (${when.slice(2)})` : '');
}

// A create-VM form's fields -> the body of POST /api/v1/vms (docs/api.yaml VMInput).
// f: { name, description, cpus, memory_mib, kernel, cmdline, autostart, disks: [names],
// nics: [network names] } as strings/booleans from the form. Throws Error on bad input.
export function vmSpec(f) {
  const name = String(f.name || '').trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name))
    throw new Error('A name is 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit.');
  const kernel = String(f.kernel || '').trim();
  const firmware = f.firmware === 'bios' || f.firmware === 'uefi';
  if (!kernel && !firmware)
    throw new Error('Choose a kernel (or a firmware).');
  const spec = firmware ? { name } : { name, kernel };
  if (f.os_type)
    spec.os_type = f.os_type;
  if (f.firmware)
    spec.firmware = f.firmware;
  if (firmware && f.boot && f.boot.length)
    spec.boot = f.boot;
  if (f.cdroms && f.cdroms.length)
    spec.cdroms = f.cdroms;
  const cpus = Number(f.cpus || 1), mem = Number(f.memory_mib || 128);
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64)
    throw new Error('vCPUs: 1 to 64.');
  if (!Number.isInteger(mem) || mem < 16 || mem > 1048576)
    throw new Error('Memory: 16 to 1048576 MiB.');
  spec.cpus = cpus;
  spec.memory_mib = mem;
  if (f.description && String(f.description).trim())
    spec.description = String(f.description).trim();
  if (!firmware && f.cmdline && String(f.cmdline).trim())
    spec.cmdline = String(f.cmdline).trim();
  if (f.autostart)
    spec.autostart = true;
  if (f.disks && f.disks.length)
    spec.disks = f.disks.map((d) => ({ disk: d }));
  if (f.nics && f.nics.length)
    spec.nics = f.nics.map((n) => ({ network: n }));
  return spec;
}

// A VM's dynamic memory settings for people: "off", or "256 MiB to 1 GiB, buffer 20 %".
export function fmtDynamic(vm) {
  if (!vm || vm.memory_min_mib === undefined || vm.memory_min_mib === null)
    return null;
  if (vm.memory_min_mib >= vm.memory_mib || vm.balloon === false)
    return 'off';
  return `${fmtMib(vm.memory_min_mib)} to ${fmtMib(vm.memory_mib)}, buffer ${vm.memory_buffer_pct ?? 20} %`;
}

// What dynamic memory does with a running VM (docs/api.yaml DynamicMemory): its mode, the
// target, what the guest uses and the policy's last decision; null when there is no target.
export function fmtDynamicRun(dm) {
  if (!dm || typeof dm !== 'object' || dm.target_mib === null || dm.target_mib === undefined)
    return null;
  let s = `${dm.mode || '?'}: target ${fmtMib(dm.target_mib)}`;
  if (dm.guest_used_mib !== null && dm.guest_used_mib !== undefined)
    s += `, guest uses ${fmtMib(dm.guest_used_mib)}`;
  if (dm.decision)
    s += ` (${dm.decision})`;
  return s;
}

// A VM's guest agent (docs/api.yaml Agent) for people: its status and when it last
// answered, the guest's OS, and its addresses ("eth0 192.0.2.10/24, ..."; loopback left out).
export function fmtAgent(a) {
  if (!a || typeof a !== 'object' || !a.status)
    return '–';
  return a.status + (a.last_seen ? ' (last seen ' + fmtTime(a.last_seen) + ')' : '');
}

export function fmtGuestOs(a) {
  const os = a && a.os;
  if (!os || typeof os !== 'object')
    return null;
  const name = os.pretty_name || os.name || '?';
  return os.kernel_release ? `${name}, kernel ${os.kernel_release}` : name;
}

export function fmtAddresses(a) {
  const ifs = a && Array.isArray(a.interfaces) ? a.interfaces : [];
  const out = [];
  for (const i of ifs) {
    if (!i || i.name === 'lo')
      continue;
    for (const ip of Array.isArray(i.ip_addresses) ? i.ip_addresses : [])
      if (ip && ip.address)
        out.push(`${i.name || '?'} ${ip.address}${ip.prefix !== null && ip.prefix !== undefined ? '/' + ip.prefix : ''}`);
  }
  return out.length ? out.join(', ') : null;
}
