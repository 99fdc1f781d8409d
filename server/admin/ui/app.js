// The console: sign-in, the views by the URL's hash, who is signed in and what they may do.
import { api, clearToken, setToken, token } from './api.js';
import { field, h, heading } from './dom.js';
import * as dashboard from './dashboard.js';
import * as pending from './pending.js';
import * as certificates from './certificates.js';
import * as challenges from './challenges.js';
import * as audit from './audit.js';

const views = { dashboard, pending, certificates, challenges, audit };
const $ = (id) => document.getElementById(id);

// What every view gets: the role, and how to report errors and successes.
const ctx = {
  role: null,
  get canOperate() {
    return this.role === 'operate';
  },
  error(e) {
    $('notice').textContent = '';
    $('status').textContent = e && e.message ? e.message : String(e);
    if (e && e.status === 401) signOut(true);
  },
  done(text) {
    $('status').textContent = '';
    $('notice').textContent = text;
  },
  clear() {
    $('status').textContent = '';
    $('notice').textContent = '';
  },
  // After a view replaced what had the focus: back to its heading, not lost.
  refocus() {
    const at = document.activeElement;
    if (!at || at === document.body || !at.isConnected) $('view').querySelector('h1')?.focus();
  },
};

function show(node, title) {
  const main = $('view');
  main.replaceChildren(node);
  document.title = `${title} - scepd console`;
  const h1 = main.querySelector('h1');
  (h1 || main).focus();
}

function signedIn(who) {
  ctx.role = who.role;
  $('who-name').textContent = `${who.name} (${who.role})`;
  $('nav').hidden = false;
  $('who').hidden = false;
}

let keepStatus = false; // a navigation clears the messages, but not the one that caused it

function signOut(becauseOfError = false) {
  keepStatus = becauseOfError === true;
  clearToken();
  ctx.role = null;
  $('nav').hidden = true;
  $('who').hidden = true;
  if (location.hash !== '#/signin') {
    location.hash = '#/signin';
  } else {
    keepStatus = false;
    route();
  }
}

function signInView() {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true,
    spellcheck: 'false' });
  const form = h('form', { class: 'signin' }, field('Admin token', input),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setToken(input.value.trim());
    try {
      signedIn(await api('GET', 'whoami'));
      ctx.clear();
      // Where the operator was going, or the dashboard.
      if (location.hash === '' || location.hash === '#/signin') location.hash = '#/dashboard';
      else route();
    } catch (e) {
      clearToken();
      $('status').textContent = e.message;
      input.select();
    }
  });
  const node = h('section', {}, heading('Sign in'),
    h('p', { class: 'muted' }, 'The token is kept in this tab only and sent with each request.'),
    form);
  show(node, 'Sign in');
  input.focus();
}

function markCurrent(name) {
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

let routes = 0; // the latest navigation: an older one that ends later is not shown

async function route() {
  const [name, arg] = location.hash.replace(/^#\/?/, '').split('/');
  if (!token() || name === 'signin') {
    if (token()) clearToken();
    signInView();
    return;
  }
  if (ctx.role === null) {
    try {
      signedIn(await api('GET', 'whoami'));
    } catch (e) {
      ctx.error(e);
      if (e.status !== 401) signInView();
      return;
    }
  }
  const view = views[name] || dashboard;
  markCurrent(views[name] ? name : 'dashboard');
  const seq = ++routes;
  const node = h('section');
  try {
    await view.render(node, ctx, arg ? decodeURIComponent(arg) : undefined);
  } catch (e) {
    ctx.error(e);
  }
  if (seq === routes && token()) show(node, view.title);
}

window.addEventListener('hashchange', () => {
  if (!keepStatus) ctx.clear();
  keepStatus = false;
  route();
});
window.addEventListener('DOMContentLoaded', () => {
  $('sign-out').addEventListener('click', () => signOut());
  route();
});
