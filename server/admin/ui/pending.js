// Pending requests: the list, one request's CSR, approve or reject it with a reason.
import { api, query } from './api.js';
import { facts, field, h, heading, table, when } from './dom.js';

export const title = 'Pending requests';

function keyText(k) {
  if (!k) return '-';
  return k.type === 'EC' ? `EC ${k.curve || ''} (${k.bits} bits)` : `${k.type} ${k.bits} bits`;
}

function extensionsOf(list) {
  if (!list || list.length === 0) return 'none';
  return h('ul', {}, list.map((e) => h('li', {}, `${e.name}: ${e.value}`)));
}

function details(r) {
  return facts([['Request', String(r.id)], ['Transaction', h('span', { class: 'mono' },
    r.transaction_id)], ['State', r.state], ['Subject', r.subject],
  ['SANs', (r.sans || []).join(', ') || 'none'], ['Key', keyText(r.key)],
  ['Extensions', extensionsOf(r.extensions)], ['Challenge', r.challenge], ['Client', r.client],
  ['Received', when(r.received)]]);
}

// The review panel of request r: its facts and, for an operator, approve and reject.
function review(r, ctx, reload) {
  const reason = h('input', { name: 'reason', type: 'text', required: true, disabled: !ctx.canOperate });
  const approve = h('button', { type: 'button', class: 'primary', disabled: !ctx.canOperate,
    title: ctx.canOperate ? null : 'needs an operate token' }, `Approve request ${r.id}`);
  approve.addEventListener('click', async () => {
    try {
      const done = await api('POST', `requests/${r.id}/approve`, {});
      ctx.done(`Request ${done.id} (${done.subject}) is ${done.state}.`);
      await reload();
      ctx.refocus();
    } catch (e) {
      ctx.error(e);
    }
  });
  const reject = h('form', { class: 'fields' }, field('Reason for rejecting', reason),
    h('button', { type: 'submit', class: 'danger', disabled: !ctx.canOperate }, `Reject request ${r.id}`));
  reject.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const done = await api('POST', `requests/${r.id}/reject`, { reason: reason.value });
      ctx.done(`Request ${done.id} (${done.subject}) is ${done.state}: ${done.reason || ''}`);
      await reload();
      ctx.refocus();
    } catch (e) {
      ctx.error(e);
    }
  });
  return h('section', { class: 'panel', id: 'review', 'aria-label': `Request ${r.id}` },
    h('h2', {}, `Request ${r.id}`), details(r), h('div', { class: 'actions' }, approve), reject);
}

export async function render(root, ctx, selected) {
  const list = h('div', { class: 'pending-list' });
  const panel = h('div');
  const reload = async () => {
    panel.replaceChildren();
    const res = await api('GET', `requests${query({ state: 'pending', limit: 100 })}`);
    list.replaceChildren(table('Requests waiting for an operator', ['ID', 'Subject', 'Key', 'Client',
      'Received', ''], res.items.map((r) => row(r))));
  };
  const open = async (id) => {
    try {
      const r = await api('GET', `requests/${encodeURIComponent(id)}`);
      panel.replaceChildren(review(r, ctx, reload));
      for (const tr of list.querySelectorAll('tr[data-id]')) {
        tr.classList.toggle('selected', tr.dataset.id === String(r.id));
      }
      panel.querySelector('h2').setAttribute('tabindex', '-1');
      panel.querySelector('h2').focus();
    } catch (e) {
      ctx.error(e);
    }
  };
  // A click anywhere on a row opens it too; the button is the keyboard's way.
  const row = (r) => h('tr', { 'data-id': String(r.id), class: 'pick',
    onclick: (ev) => ev.target.closest('button') || open(r.id) },
    h('td', {}, String(r.id)), h('td', {}, r.subject),
    h('td', {}, keyText(r.key)), h('td', {}, r.client), h('td', {}, when(r.received)),
    h('td', {}, h('button', { type: 'button', onclick: () => open(r.id) }, `Review ${r.id}`)));
  await reload();
  root.append(heading(title), list, panel);
  if (selected) await open(selected);
}
