// The audit log, newest first, filtered by action and actor, page by page.
import { api, query } from './api.js';
import { field, h, heading, select, table, when } from './dom.js';

export const title = 'Audit log';

const ACTIONS = ['issue', 'renew', 'approve', 'reject', 'revoke', 'crl.issue', 'challenge.mint',
  'challenge.revoke', 'token.add', 'token.remove'];

function rows(items) {
  return items.map((a) => [when(a.time), a.actor, a.action, a.subject || '-',
    h('span', { class: 'mono' }, a.serial || '-'), a.peer || '-', a.detail || '-']);
}

export async function render(root, ctx) {
  const action = select('action', [['', 'any'], ...ACTIONS.map((a) => [a, a])]);
  const actor = h('input', { name: 'actor', type: 'search', placeholder: 'token:alice' });
  const results = h('div');
  const pages = [];
  const load = async (after) => {
    const res = await api('GET', `audit${query({ action: action.value, actor: actor.value.trim(), limit: 50, after })}`);
    const prev = h('button', { type: 'button', disabled: pages.length === 0,
      onclick: () => load(pages.pop()).catch((e) => ctx.error(e)) }, 'Newer');
    const next = h('button', { type: 'button', disabled: !res.next,
      onclick: () => { pages.push(after); load(res.next).catch((e) => ctx.error(e)); } }, 'Older');
    results.replaceChildren(table('Audit entries, newest first',
      ['Time', 'Actor', 'Action', 'Subject', 'Serial', 'Peer', 'Detail'], rows(res.items)),
    h('div', { class: 'actions' }, prev, next));
  };
  const form = h('form', { class: 'fields', role: 'search' }, field('Action', action),
    field('Actor', actor), h('button', { type: 'submit', class: 'primary' }, 'Filter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    pages.length = 0;
    load(undefined).catch((e) => ctx.error(e));
  });
  await load(undefined);
  root.append(heading(title), form, results);
}
