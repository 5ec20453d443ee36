// DOM helpers of the console. Everything the server or a guest sends reaches the page
// through text nodes (h()'s string children, textContent): no HTML is ever parsed from
// data; the console's code uses none of the DOM's HTML-parsing setters or writers
// (tests/web/unit.test.mjs checks every file for them).

// h('button', { class: 'x', type: 'button', on: { click: fn } }, 'text', child, ...)
// Attributes are set with setAttribute (never "on..." attributes: handlers go in `on`);
// `text` sets textContent; boolean true sets an empty attribute, false/null skips it.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false)
      continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v))
        el.addEventListener(ev, fn);
    } else if (k === 'text') {
      el.textContent = String(v);
    } else if (k === 'value') {
      el.value = v;
    } else if (k === 'checked') {
      el.checked = !!v;
    } else if (k.startsWith('on')) {
      throw new Error('h(): event handlers go in props.on');
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false)
      continue;
    if (Array.isArray(c))
      append(el, c);
    else if (typeof c === 'string' || typeof c === 'number')
      el.appendChild(document.createTextNode(String(c)));
    else
      el.appendChild(c);
  }
}

// Replace el's children, keeping keyboard focus on the element with the same data-key
// (a button re-rendered by a live update keeps the focus).
export function replace(el, ...children) {
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.getAttribute('data-key') : null;
  el.replaceChildren();
  append(el, children);
  if (key) {
    const again = [...el.querySelectorAll('[data-key]')].find((e) => e.getAttribute('data-key') === key);
    if (again)
      again.focus();
  }
}

// A <dl> of [label, value] pairs (values are text or elements).
export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).flatMap(([k, v]) =>
    [h('dt', {}, k), h('dd', {}, v === null || v === undefined || v === '' ? '–' : v)]));
}

// A table: columns [{ label, num }], rows of cell values (text or elements).
export function table(caption, columns, rows) {
  return h('table', {},
    h('caption', { class: 'skip' }, caption),
    h('thead', {}, h('tr', {}, columns.map((c) =>
      h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((cell, i) =>
      h('td', { class: columns[i] && columns[i].num ? 'num' : null }, cell))))));
}
