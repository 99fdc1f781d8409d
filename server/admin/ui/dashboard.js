// The dashboard: counts, the CA's and RA's expiry, the CRL, failures and recent activity.
import { api } from './api.js';
import { daysLeft, expiry, facts, h, heading, table, when } from './dom.js';

export const title = 'Dashboard';

function card(n, what) {
  return h('div', { class: 'card' }, h('span', { class: 'n' }, String(n ?? '-')),
    h('span', { class: 'what' }, what));
}

function soon(t, days) {
  const d = daysLeft(t);
  return h('span', { class: d !== null && d < days ? 'warn' : '' }, expiry(t));
}

function caSection(ca) {
  if (!ca) return h('p', {}, 'The server says nothing of its CA.');
  const rows = (ca.generations || []).map((g) => [g.role, g.subject, h('span', { class: 'mono' },
    g.serial), soon(g.not_after, 90)]);
  const parts = [h('p', {}, `Mode: ${ca.mode === 'ra' ? 'RA (a separate RA certificate)' : 'CA'}`),
    table('CA generations', ['Role', 'Subject', 'Serial', 'Expires'], rows)];
  if (ca.switch_at) parts.push(h('p', {}, `The next CA takes over at ${when(ca.switch_at)}.`));
  if (ca.ra) {
    parts.push(facts([['RA subject', ca.ra.subject], ['RA serial', ca.ra.serial],
      ['RA expires', soon(ca.ra.not_after, 30)]]));
  }
  return h('div', {}, parts);
}

function crlFacts(crl) {
  if (!crl) return h('p', {}, 'No CRL issued yet.');
  return facts([['CRL number', String(crl.number)], ['This update', when(crl.this_update)],
    ['Next update', soon(crl.next_update, 2)], ['Revoked entries', String(crl.revoked)]]);
}

// The latest CRL, and for an operator a button that issues one now.
function crlSection(crl, ctx) {
  const box = h('div', {}, crlFacts(crl));
  const issue = h('button', { type: 'button', disabled: !ctx.canOperate,
    title: ctx.canOperate ? null : 'needs an operate token' }, 'Issue a CRL now');
  issue.addEventListener('click', async () => {
    try {
      const fresh = await api('POST', 'crl', {});
      box.replaceChildren(crlFacts(fresh));
      ctx.done(`CRL ${fresh.number} issued.`);
    } catch (e) {
      ctx.error(e);
    }
  });
  return h('div', {}, box, h('div', { class: 'actions' }, issue));
}

function auditRows(items) {
  return (items || []).map((a) => [when(a.time), a.actor, a.action, a.subject || '-',
    h('span', { class: 'mono' }, a.serial || '-')]);
}

export async function render(root, ctx) {
  const s = await api('GET', 'summary');
  const c = s.certificates || {};
  root.append(heading(title),
    h('div', { class: 'cards' }, card(c.valid, 'valid certificates'),
      card(c.revoked, 'revoked'), card(c.expired, 'expired'),
      h('a', { href: '#/pending', class: 'card' }, h('span', { class: 'n' }, String(s.pending)),
        h('span', { class: 'what' }, 'pending requests'))),
    h('h2', {}, 'CA and RA'), caSection(s.ca),
    h('h2', {}, 'CRL'), crlSection(s.crl, ctx),
    h('h2', {}, 'Failures by reason'),
    table('Refused requests by failure reason', ['Reason', 'Count'],
      (s.failures || []).map((f) => [f.reason, String(f.count)])),
    h('h2', {}, 'Recent activity'),
    table('The latest audit entries, newest first', ['Time', 'Actor', 'Action', 'Subject', 'Serial'],
      auditRows(s.recent)));
}

