// A VM's snapshot tree on its page: each snapshot indented under its parent, marked current
// and "memory" (with its size) when it keeps the VM's memory; for holders of control a form
// to take one (with memory by default while the VM runs) and Revert and Delete per snapshot.
// A revert to a snapshot with memory brings the VM back running (snaptree.mjs says so
// before). Loaded when the page opens, when the VM's state changes and after an action.
import { api, app, showError, clearError, mayVm, waitTask } from './core.mjs';
import { fmtBytes, fmtTime } from './format.mjs';
import { h, replace, table } from './dom.mjs';
import { snapshotRows, memoryChoice, revertQuestion } from './snaptree.mjs';

// el indented by depth levels (through the CSSOM: the page's policy allows no inline style
// attribute).
function indent(el, depth) {
  el.style.paddingLeft = depth * 1.5 + 'em';
  return el;
}

export function snapshotSection(name, alive) {
  const box = h('section', { 'aria-labelledby': 'snap-h', id: 'vm-snapshots' });
  const snapName = h('input', { id: 'snap-name', 'data-key': name + '/snap-name', required: true,
    maxlength: 63, autocomplete: 'off' });
  const memory = h('input', { type: 'checkbox', id: 'snap-memory', 'data-key': name + '/snap-memory' });
  const status = h('p', { class: 'hint', role: 'status' });
  let tree = null, busy = false, lastState = null, touched = false;
  memory.addEventListener('change', () => { touched = true; });
  const form = h('form', { id: 'snap-take', on: { submit: (e) => { e.preventDefault(); take(); } } },
    h('label', { for: 'snap-name' }, 'Name'), snapName,
    h('label', { for: 'snap-memory' }, memory, ' With its memory (the VM resumes from it on revert)'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-key': name + '/snap-take' },
      'Take snapshot')));
  const act = async (what, fn) => {
    clearError();
    busy = true;
    status.textContent = what;
    paint();
    try {
      await fn();
      status.textContent = '';
    } catch (e) {
      status.textContent = '';
      if (alive())
        showError(e);
    }
    busy = false;
    if (alive())
      load();
  };
  const take = () => {
    const snap = snapName.value.trim();
    if (!snap)
      return;
    const body = { name: snap };
    if (!memory.disabled)
      body.memory = memory.checked;
    act(body.memory ? 'Saving its memory and taking the snapshot…' : 'Taking the snapshot…', async () => {
      tree = await api.takeSnapshot(name, body);
      snapName.value = '';
    });
  };
  const revert = (s) => {
    const vm = app.state.vms[name];
    if (!window.confirm(revertQuestion(name, s, vm && vm.state)))
      return;
    act('Reverting to ' + s.name + '…', async () => { tree = await api.revertSnapshot(name, s.name); });
  };
  const remove = (s) => {
    if (!window.confirm(`Delete snapshot ${s.name} of ${name}? Its images merge with the one over them` +
        (s.memory ? '; its saved memory is deleted.' : '.')))
      return;
    act('Deleting ' + s.name + '…', async () => {
      const js = await api.deleteSnapshot(name, s.name);
      await waitTask(js.task, alive);
    });
  };
  function paint() {
    const vm = app.state.vms[name];
    if (!vm || !tree)
      return replace(box);
    const control = mayVm(vm, 'control');
    const choice = memoryChoice(vm.state);
    if (vm.state !== lastState) {
      lastState = vm.state;
      if (!touched)
        memory.checked = choice.checked;
    }
    memory.disabled = !choice.allowed;
    if (!choice.allowed)
      memory.checked = false;
    const rows = snapshotRows(tree);
    const btn = (key, label, fn, danger) => h('button', { type: 'button', class: danger ? 'danger' : null,
      'data-key': `${name}/snap/${key}`, disabled: busy, on: { click: fn } }, label);
    replace(box, h('h2', { id: 'snap-h' }, 'Snapshots'),
      rows.length ? table('Snapshots of ' + name, [{ label: 'Snapshot' }, { label: 'Memory' },
        { label: 'Taken' }, { label: 'Description' }, ...(control ? [{ label: 'Actions' }] : [])],
      rows.map(({ snap: s, depth }) => [
        indent(h('span', { class: 'snap-name', 'data-key': `${name}/snap/${s.name}/name` },
          (depth ? '└ ' : '') + s.name + (s.current ? ' (current)' : '')), depth),
        s.memory ? h('span', { class: 'snap-mem', 'data-key': `${name}/snap/${s.name}/memory`,
          title: 'keeps the memory and device state: a revert resumes the VM' },
          'memory' + (s.memory_bytes !== null && s.memory_bytes !== undefined ?
            ' ' + fmtBytes(s.memory_bytes) : '')) : '–',
        fmtTime(s.created), s.description || '',
        ...(control ? [h('div', { class: 'actions' },
          btn(s.name + '/revert', s.memory ? 'Revert and resume' : 'Revert', () => revert(s)),
          btn(s.name + '/delete', 'Delete', () => remove(s), true))] : [])]))
        : h('p', { class: 'hint' }, 'No snapshots.'),
      control ? form : null, status);
    for (const el of form.querySelectorAll('button, input'))
      if (el !== memory)
        el.disabled = busy;
  }
  async function load() {
    try {
      const js = await api.snapshots(name);
      if (alive()) {
        tree = js;
        paint();
      }
    } catch (e) {
      if (alive() && e.status !== 404)
        showError(e);
    }
  }
  return { el: box, load, paint };
}
