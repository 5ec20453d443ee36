// A VM's snapshot tree (GET /api/v1/vms/NAME/snapshots) as the page shows it, without a DOM:
// rows in tree order with their depth, and what a snapshot with memory changes about taking
// and reverting (docs/server.md "Snapshots with memory").

// The snapshots of tree (its "snapshots": oldest first, each with parent and children by
// name) as rows depth-first from the roots, children oldest first: [{snap, depth}]. A
// snapshot whose parent is not in the list counts as a root; none is shown twice.
export function snapshotRows(tree) {
  const list = (tree && tree.snapshots) || [];
  const byName = new Map(list.map((s) => [s.name, s]));
  const rows = [], seen = new Set();
  const walk = (s, depth) => {
    if (seen.has(s.name))
      return;
    seen.add(s.name);
    rows.push({ snap: s, depth });
    for (const c of s.children || [])
      if (byName.has(c))
        walk(byName.get(c), depth + 1);
  };
  for (const s of list)
    if (s.parent === null || s.parent === undefined || !byName.has(s.parent))
      walk(s, 0);
  for (const s of list)   // a cycle the server would never send: still listed once
    walk(s, 0);
  return rows;
}

// Whether a snapshot taken now keeps the VM's memory by default (the server's default: a VM
// that runs or is paused), and whether memory may be asked for at all (a saved VM gives its
// saved state; a VM that is off has none).
export function memoryChoice(state) {
  const up = state === 'running' || state === 'paused';
  return { checked: up, allowed: up || state === 'saved' };
}

// The question before a revert to snap of VM name in state.
export function revertQuestion(name, snap, state) {
  if (snap.memory)
    return `Revert ${name} to ${snap.name}? ` + (state === 'running' || state === 'paused'
      ? 'It is turned off, its disks go back, and it comes back running from that point.'
      : 'Its disks go back, and it starts running from that point.') +
      ' What it did since is lost.';
  return `Revert the disks of ${name} to ${snap.name}? What was written since is lost; ` +
    'it stays off.';
}
