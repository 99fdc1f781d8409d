// Small DOM builders: every text goes in as text, never as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let ids = 0;

// A labelled control: <div class=field><label for=ID>LABEL</label>CONTROL</div>.
export function field(label, control) {
  if (!control.id) control.id = `f${++ids}`;
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
}

export function select(name, options, value = '') {
  const s = h('select', { name });
  for (const [v, text] of options) s.append(h('option', { value: v, selected: v === value }, text));
  return s;
}

// A table with a caption, headers and rows of cells (a cell: text or a node).
export function table(caption, headers, rows) {
  const t = h('table', {}, h('caption', { class: 'muted' }, caption));
  t.append(h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))));
  const body = h('tbody');
  for (const r of rows) body.append(r instanceof Node ? r : h('tr', {}, r.map((c) => h('td', {}, c))));
  if (rows.length === 0) body.append(h('tr', {}, h('td', { colspan: headers.length }, 'None.')));
  // Each cell names its column, for the stacked rows of a narrow screen (app.css).
  for (const tr of body.rows) {
    [...tr.cells].forEach((td, i) => headers[i] && td.setAttribute('data-label', headers[i]));
  }
  t.append(body);
  return h('div', { class: 'scroll' }, t);
}

export function facts(pairs) {
  const dl = h('dl', { class: 'facts' });
  for (const [k, v] of pairs) dl.append(h('dt', {}, k), h('dd', {}, v ?? '-'));
  return dl;
}

// "2026-12-02T10:00:00Z" as the operator reads it: the date and time, UTC.
export function when(t) {
  if (!t) return '-';
  return t.replace('T', ' ').replace('Z', ' UTC');
}

export function daysLeft(t, now = Date.now()) {
  if (!t) return null;
  return Math.floor((Date.parse(t) - now) / 86400000);
}

// "2027-12-02 10:00:00 UTC (365 days left)", or "... (expired 3 days ago)".
export function expiry(t) {
  const d = daysLeft(t);
  if (d === null) return '-';
  const left = d >= 0 ? `${d} day${d === 1 ? '' : 's'} left` : `expired ${-d} days ago`;
  return `${when(t)} (${left})`;
}

export function heading(text) {
  return h('h1', { tabindex: '-1' }, text);
}
