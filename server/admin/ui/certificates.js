// Certificates: search by subject, SAN, serial, state and expiry, page through, one
// certificate's details with its PEM, revoke it with a reason.
import { api, query } from './api.js';
import { expiry, facts, field, h, heading, select, table, when } from './dom.js';

export const title = 'Certificates';

const REASONS = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded',
  'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn'];

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/x-pem-file' }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function revokeForm(c, ctx, after) {
  const reason = select('reason', REASONS.map((r) => [r, r]), 'unspecified');
  reason.disabled = !ctx.canOperate;
  const form = h('form', { class: 'fields' }, field('Revocation reason', reason),
    h('button', { type: 'submit', class: 'danger', 'aria-label': `Revoke ${c.serial}`,
      disabled: !ctx.canOperate || c.state !== 'valid' }, 'Revoke'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const done = await api('POST', `certificates/${c.serial}/revoke`, { reason: reason.value });
      ctx.done(`Certificate ${done.serial} is revoked (${done.reason}); CRL ${done.crl_number} issued.`);
      await after(done.serial);
    } catch (e) {
      ctx.error(e);
    }
  });
  return form;
}

function details(c, ctx, after) {
  const pem = h('button', { type: 'button', onclick: () => download(`${c.serial}.pem`, c.pem) },
    'Download PEM');
  return h('section', { class: 'panel', id: 'certificate', 'aria-label': `Certificate ${c.serial}` },
    h('h2', { tabindex: '-1' }, `Certificate ${c.serial}`),
    facts([['Serial', h('span', { class: 'mono' }, c.serial)], ['Subject', c.subject],
      ['SANs', (c.sans || []).join(', ') || 'none'], ['Valid from', when(c.not_before)],
      ['Valid until', expiry(c.not_after)], ['State', c.state],
      ['Revoked at', when(c.revoked_at)], ['Reason', c.reason || '-'],
      ['Transaction', c.transaction_id || '-']]),
    h('div', { class: 'actions' }, pem), revokeForm(c, ctx, after),
    h('details', {}, h('summary', {}, 'The certificate as text'), h('pre', { class: 'text' }, c.text || '')));
}

function searchForm(onSearch) {
  const inputs = {
    subject: h('input', { name: 'subject', type: 'search' }),
    san: h('input', { name: 'san', type: 'search' }),
    serial: h('input', { name: 'serial', type: 'search', class: 'mono' }),
    state: select('state', [['', 'any'], ['valid', 'valid'], ['revoked', 'revoked'], ['expired', 'expired']]),
    expires_within_days: h('input', { name: 'expires_within_days', type: 'number', min: '0', max: '36500' }),
  };
  const form = h('form', { class: 'fields', role: 'search' }, field('Subject contains', inputs.subject),
    field('SAN contains', inputs.san), field('Serial', inputs.serial), field('State', inputs.state),
    field('Expires within (days)', inputs.expires_within_days),
    h('button', { type: 'submit', class: 'primary' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = {};
    for (const [k, el] of Object.entries(inputs)) q[k] = el.value.trim();
    onSearch(q);
  });
  return form;
}

export async function render(root, ctx, selected) {
  const results = h('div');
  const panel = h('div');
  let filter = {};
  const pages = []; // the cursors of the pages before this one
  let cursor = null;
  const open = async (serial) => {
    try {
      const c = await api('GET', `certificates/${encodeURIComponent(serial)}`);
      panel.replaceChildren(details(c, ctx, async (s) => { await load(cursor); await open(s); }));
      panel.querySelector('h2').focus();
    } catch (e) {
      ctx.error(e);
    }
  };
  const load = async (after) => {
    const res = await api('GET', `certificates${query({ ...filter, limit: 20, after })}`);
    cursor = after;
    const rows = res.items.map((c) => [h('span', { class: 'mono' }, c.serial), c.subject,
      expiry(c.not_after), c.state,
      h('button', { type: 'button', 'aria-label': `Details ${c.serial}`, onclick: () => open(c.serial) },
        'Details')]);
    const prev = h('button', { type: 'button', disabled: pages.length === 0,
      onclick: () => load(pages.pop()).catch((e) => ctx.error(e)) }, 'Previous page');
    const next = h('button', { type: 'button', disabled: !res.next,
      onclick: () => { pages.push(after); load(res.next).catch((e) => ctx.error(e)); } }, 'Next page');
    results.replaceChildren(table('Certificates found', ['Serial', 'Subject', 'Expires', 'State', ''], rows),
      h('div', { class: 'actions' }, prev, next));
  };
  const search = (q) => {
    filter = q;
    pages.length = 0;
    panel.replaceChildren();
    load(undefined).catch((e) => ctx.error(e));
  };
  await load(undefined);
  root.append(heading(title), searchForm(search), results, panel);
  if (selected) await open(selected);
}
