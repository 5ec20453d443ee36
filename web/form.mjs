// Forms of the management pages: labelled fields, each with a slot for its error, and the
// API's own validation message put next to the field it names. The API's 400 messages
// start with the field's path ("size: must be between ...", "disks[0]: no disk named 'x'",
// "grants[1].permissions[0]: one of ..."): the nearest element with that data-field (the
// path, then its shorter prefixes) shows it; a message naming no field of the form (or a
// 403, a 507...) goes to the form's own error line by the submit button.
import { h } from './dom.mjs';
import { errorText } from './api.mjs';

let seq = 0;

// A labelled field: <div class="field" data-field=NAME> label, input, hint, error slot.
// input: an element (or an array of them, the first one labelled).
export function field(name, label, input, hint) {
  const first = Array.isArray(input) ? input[0] : input;
  if (!first.id)
    first.id = 'f-' + name.replace(/[^A-Za-z0-9_-]/g, '-') + '-' + (++seq);
  const err = h('p', { class: 'field-error', id: first.id + '-err', hidden: true });
  first.setAttribute('aria-describedby', err.id);
  return h('div', { class: 'field', 'data-field': name }, h('label', { for: first.id }, label),
    h('div', {}, input, hint ? h('div', { class: 'hint' }, hint) : null, err));
}

export const input = (props = {}) => h('input', { autocomplete: 'off', ...props });

export function select(options, value, props = {}) {
  return h('select', props, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    const opt = h('option', { value: v }, label);
    opt.selected = v === value;
    return opt;
  }));
}

export function checkbox(checked, props = {}) {
  return h('input', { type: 'checkbox', checked, ...props });
}

// The path an API message starts with ("disks[0]" of "disks[0]: no disk named 'x'"), or null.
export function messagePath(message) {
  const m = /^([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?)*): /.exec(message || '');
  return m ? m[1] : null;
}

// The path and its shorter prefixes: "a[0].b[1]", "a[0].b", "a[0]", "a".
export function pathPrefixes(path) {
  const out = [];
  let p = path;
  while (p) {
    out.push(p);
    const cut = Math.max(p.lastIndexOf('['), p.lastIndexOf('.'));
    p = cut > 0 ? p.slice(0, cut) : '';
  }
  return out;
}

export function clearErrors(form) {
  for (const e of form.querySelectorAll('.field-error, .form-error')) {
    e.hidden = true;
    e.textContent = '';
  }
  for (const e of form.querySelectorAll('[aria-invalid]'))
    e.removeAttribute('aria-invalid');
}

// Show err (an ApiError or Error) in form: next to the field its message names, else on
// the form's error line. Returns the element that shows it.
export function placeError(form, err) {
  const msg = err && err.message ? err.message : String(err);
  let path = err && err.status === 400 ? messagePath(msg) : null;
  // a taken name: "a disk named 'd1' exists"
  if (!path && err && err.status === 409 && / named '[^']*' exists/.test(msg))
    path = 'name';
  for (const p of path ? pathPrefixes(path) : []) {
    const f = [...form.querySelectorAll('[data-field]')].find((e) => e.getAttribute('data-field') === p);
    if (!f)
      continue;
    const slot = [...f.querySelectorAll('.field-error')].pop();
    if (!slot)
      continue;
    slot.textContent = msg;
    slot.hidden = false;
    const inp = f.querySelector('input, select, textarea');
    if (inp) {
      inp.setAttribute('aria-invalid', 'true');
      inp.focus();
    }
    return slot;
  }
  let line = form.querySelector('.form-error');
  if (!line)
    form.appendChild(line = h('p', { class: 'form-error', role: 'alert' }));
  line.textContent = errorText(err);
  line.hidden = false;
  return line;
}

// A form that calls submit() (async) on submit: errors cleared first, shown by placeError
// after; the submit buttons are disabled meanwhile.
export function form(props, children, submit) {
  const f = h('form', { ...props, novalidate: true, on: { submit: async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    const buttons = [...f.querySelectorAll('button[type=submit]')];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await submit();
    } catch (e) {
      if (f.isConnected)
        placeError(f, e);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  } } }, children, h('p', { class: 'form-error', role: 'alert', hidden: true }));
  return f;
}

// A number field's value: an integer, or the text itself (the API says what is wrong).
export function intOf(el) {
  const s = el.value.trim();
  return /^-?\d+$/.test(s) ? Number(s) : s;
}

// A size in bytes from a number and a unit select (MiB, GiB): an integer, or the text.
export const UNITS = [['1048576', 'MiB'], ['1073741824', 'GiB']];
export function bytesOf(numEl, unitEl) {
  const s = numEl.value.trim();
  if (!/^\d+(\.\d+)?$/.test(s))
    return s;
  return Math.round(Number(s) * Number(unitEl.value));
}
