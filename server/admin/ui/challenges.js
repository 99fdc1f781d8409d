// One-time challenges: mint one (TTL, subject rule), copy it, list and revoke the unused ones.
import { api } from './api.js';
import { field, h, heading, table, when } from './dom.js';

export const title = 'Challenges';

async function copy(input, ctx) {
  try {
    await navigator.clipboard.writeText(input.value);
    ctx.done('The challenge is copied.');
  } catch (e) {
    input.select();
    ctx.done('Select and copy the challenge by hand (the browser refused the clipboard).');
  }
}

function minted(c, ctx) {
  const secret = h('input', { type: 'text', readOnly: true, value: c.challenge, class: 'secret',
    name: 'challenge' });
  return h('section', { class: 'panel', id: 'minted', 'aria-label': 'The new challenge' },
    h('h2', { tabindex: '-1' }, 'New challenge'),
    h('p', {}, 'Shown once: hand it to the device now.'),
    h('div', { class: 'fields' }, field('Challenge', secret),
      h('button', { type: 'button', onclick: () => copy(secret, ctx) }, 'Copy')),
    h('p', {}, `Expires ${when(c.expires)}; subject rule: ${c.subject_match || 'none'}.`));
}

function mintForm(ctx, after) {
  const ttl = h('input', { name: 'ttl', type: 'number', min: '1', value: '3600', disabled: !ctx.canOperate });
  const match = h('input', { name: 'subject_match', type: 'text', placeholder: '^CN=device-[0-9]+,',
    disabled: !ctx.canOperate });
  const form = h('form', { class: 'fields' }, field('Lifetime (seconds)', ttl),
    field('Subject rule (regular expression, optional)', match),
    h('button', { type: 'submit', class: 'primary', disabled: !ctx.canOperate }, 'Mint a challenge'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {};
    if (ttl.value !== '') body.ttl = Number(ttl.value);
    if (match.value !== '') body.subject_match = match.value;
    try {
      after(await api('POST', 'challenges', body));
    } catch (e) {
      ctx.error(e);
    }
  });
  return form;
}

export async function render(root, ctx) {
  const list = h('div');
  const panel = h('div');
  const reload = async () => {
    const res = await api('GET', 'challenges');
    list.replaceChildren(table('Minted and not yet used', ['ID', 'Expires', 'Subject rule', ''],
      res.items.map((c) => [h('span', { class: 'mono' }, c.id), when(c.expires), c.subject_match || '-',
        h('button', { type: 'button', class: 'danger', disabled: !ctx.canOperate,
          'aria-label': `Revoke ${c.id}`, onclick: () => revoke(c.id) }, 'Revoke')])));
  };
  const revoke = async (id) => {
    try {
      await api('DELETE', `challenges/${encodeURIComponent(id)}`);
      ctx.done(`Challenge ${id} is revoked.`);
      await reload();
      ctx.refocus();
    } catch (e) {
      ctx.error(e);
    }
  };
  const after = async (c) => {
    panel.replaceChildren(minted(c, ctx));
    panel.querySelector('h2').focus();
    await reload().catch((e) => ctx.error(e));
  };
  await reload();
  root.append(heading(title), mintForm(ctx, after), panel, h('h2', {}, 'Unused challenges'), list);
}
