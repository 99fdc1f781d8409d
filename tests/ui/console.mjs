// The console end to end in headless Chromium (tests/ui/console.sh sets the environment):
// sign in by keyboard, a PENDING enrollment approved in the page and received by the client,
// found and revoked in the page, challenges minted and revoked, the audit log, API errors
// shown, a read token's disabled buttons and its 403, every view at desktop and phone size.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`console.mjs: ${name} is not set (run tests/ui/console.sh)`);
  return v;
};
const BASE = env('UI_BASE'); // http://127.0.0.1:PORT (the admin listener)
const OP_TOKEN = env('UI_OPERATE_TOKEN');
const READ_TOKEN = env('UI_READ_TOKEN');
const WORK = env('UI_WORK'); // holds cadir/ from `scep getca`
const SHOTS = env('UI_SHOTS');
const { chromium } = createRequire(join(env('UI_NODE_MODULES'), 'x.js'))('playwright-core');

let passed = 0;
const ok = (what) => {
  passed++;
  console.log(`ok   console: ${what}`);
};
class Failure extends Error {}
const check = (cond, what) => {
  if (!cond) throw new Failure(what);
};

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 860 };
const VIEWS = ['dashboard', 'pending', 'certificates', 'challenges', 'audit'];

async function newPage(browser, viewport, problems) {
  const context = await browser.newContext({ viewport, baseURL: BASE, hasTouch: viewport === PHONE });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return page;
}

// The sign-in form by keyboard only: the token field has the focus, Enter submits.
async function signInByKeyboard(page, tok, who) {
  await page.goto('/ui/');
  await heading(page, 'Sign in');
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.name);
  check(focused === 'token', `the token field does not have the focus at sign-in (${focused})`);
  await page.keyboard.type(tok);
  await page.keyboard.press('Enter');
  await Promise.race([heading(page, 'Dashboard'), page.locator('#status:not(:empty)').waitFor()]);
  const refused = await page.locator('#status').textContent();
  check(refused === '', `sign-in refused: ${refused}`);
  const shown = await page.locator('#who-name').textContent();
  check(shown.includes(who), `signed in as "${shown}", expected ${who}`);
  const stored = await page.evaluate(() => sessionStorage.getItem('scepd.token'));
  check(stored === tok, 'the token is not in sessionStorage');
  const cookies = await page.context().cookies();
  check(cookies.length === 0, `the console set cookies: ${JSON.stringify(cookies)}`);
}

// Waits for the view whose <h1> is name.
async function heading(page, name) {
  await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
}

async function shoot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// Presses Tab until the button labelled text has the focus (at most 60 times).
async function tabTo(page, text) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate(() => {
      const el = document.activeElement;
      return el && el.tagName === 'BUTTON' ? el.textContent.trim() : null;
    });
    if (at === text) return;
  }
  throw new Failure(`Tab never reaches the button "${text}"`);
}

function enroll(name, maxPoll) {
  const args = ['enroll', '-u', env('UI_SCEP_URL'), '--ca', join(WORK, 'cadir'),
    '--key', join(WORK, `${name}.key`), '--out', join(WORK, `${name}.pem`),
    '--subject', `CN=${name},O=console tests`, '--san', `dns:${name}.example`,
    '--poll-interval', '1', '--max-poll-time', String(maxPoll)];
  const child = spawn(env('UI_SCEP'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
  return { child, done };
}

// Reloads the pending view until a row names subject; answers the request ID.
async function waitPending(page, cn) {
  for (let i = 0; i < 40; i++) {
    await page.goto('/ui/#/pending');
    await page.reload();
    await heading(page, 'Pending requests');
    const row = page.locator('tr', { hasText: `CN=${cn}` });
    if ((await row.count()) > 0) return (await row.first().locator('td').first().textContent()).trim();
    await page.waitForTimeout(500);
  }
  throw new Failure(`CN=${cn} never appears in the pending view`);
}

async function approveByKeyboard(page, id, cn) {
  await page.locator('#view h1').focus();
  await tabTo(page, `Review ${id}`);
  await page.keyboard.press('Enter');
  const panel = page.locator('#review');
  await panel.waitFor();
  for (const want of [`CN=${cn}`, `DNS:${cn}.example`, 'RSA', '127.0.0.1']) {
    check((await panel.textContent()).includes(want), `the review of ${id} does not show ${want}`);
  }
  await shoot(page, 'desktop-pending-review');
  await tabTo(page, `Approve request ${id}`);
  await page.keyboard.press('Enter');
  await page.locator('#notice', { hasText: `Request ${id}` }).waitFor();
  const notice = await page.locator('#notice').textContent();
  check(/approved|issued/.test(notice), `after approve the page says "${notice}"`);
}

function serialOf(pem) {
  const out = execFileSync('openssl', ['x509', '-in', pem, '-noout', '-serial']).toString();
  return out.trim().replace(/^serial=/, '').toUpperCase();
}

async function revokeInPage(page, cn, serial) {
  await page.goto('/ui/#/certificates');
  await heading(page, 'Certificates');
  await page.getByLabel('Subject contains').fill(cn);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('td', { hasText: serial }).first().waitFor();
  await page.getByRole('button', { name: `Details ${serial}` }).click();
  await page.locator('#certificate').waitFor();
  await shoot(page, 'desktop-certificate');
  const text = await page.locator('#certificate').textContent();
  check(text.includes(`CN=${cn}`) && text.includes('valid'), `the details of ${serial}: ${text.slice(0, 200)}`);
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download PEM' }).click();
  const pemPath = join(WORK, 'downloaded.pem');
  await (await download).saveAs(pemPath);
  check(serialOf(pemPath) === serial, 'the downloaded PEM is another certificate');
  ok(`certificates: found ${serial} by subject, its details and its PEM download`);
  await page.getByLabel('Revocation reason').selectOption('keyCompromise');
  await page.getByRole('button', { name: `Revoke ${serial}` }).click();
  await page.locator('#notice', { hasText: 'revoked' }).waitFor();
  await page.locator('#certificate', { hasText: 'keyCompromise' }).waitFor();
  writeFileSync(join(WORK, 'revoked.serial'), `${serial}\n`);
  ok(`certificates: ${serial} revoked in the page (keyCompromise)`);
}

async function challenges(page) {
  await page.goto('/ui/#/challenges');
  await heading(page, 'Challenges');
  await page.getByLabel('Subject rule (regular expression, optional)').fill('([');
  await page.getByRole('button', { name: 'Mint a challenge' }).click();
  await page.locator('#status', { hasText: '400' }).waitFor();
  const err = await page.locator('#status').textContent();
  check(/subject_match/.test(err), `a bad subject rule's error is not shown: "${err}"`);
  ok(`an API error is shown to the user: "${err}"`);
  await page.getByLabel('Lifetime (seconds)').fill('600');
  await page.getByLabel('Subject rule (regular expression, optional)').fill('^CN=ui-');
  await page.getByRole('button', { name: 'Mint a challenge' }).click();
  const secret = await page.getByLabel('Challenge', { exact: true }).inputValue();
  check(secret.length >= 16, `the minted challenge is "${secret}"`);
  await page.getByRole('button', { name: 'Copy' }).click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  check(copied === secret, 'the Copy button did not copy the challenge');
  await shoot(page, 'desktop-challenges');
  const revoke = page.getByRole('button', { name: /^Revoke [0-9A-Fa-f]{16}$/ });
  check((await revoke.count()) === 1, 'the minted challenge is not listed');
  await revoke.click();
  await page.locator('#notice', { hasText: 'is revoked' }).waitFor();
  await page.locator('td', { hasText: 'None.' }).waitFor();
  ok('challenges: minted with TTL and subject rule, copied, listed, revoked');
}

async function auditView(page, id) {
  await page.goto('/ui/#/audit');
  await heading(page, 'Audit log');
  await page.getByLabel('Action').selectOption('approve');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.locator('tbody tr td:nth-child(3)', { hasText: 'approve' }).first().waitFor();
  const actions = await page.locator('tbody tr td:nth-child(3)').allTextContents();
  check(actions.every((a) => a === 'approve'), `the approve filter shows ${actions.join(', ')}`);
  await shoot(page, 'desktop-audit');
  ok(`audit: filtered by action approve (request ${id})`);
}

// A read token: the approve button is disabled, and the API refuses it anyway.
async function readOnly(browser, problems, id) {
  const page = await newPage(browser, DESKTOP, problems);
  await signInByKeyboard(page, READ_TOKEN, '(read)');
  await page.goto(`/ui/#/pending/${id}`);
  const approve = page.getByRole('button', { name: `Approve request ${id}` });
  await approve.waitFor();
  check(await approve.isDisabled(), 'the approve button is enabled for a read token');
  await page.goto('/ui/#/dashboard');
  check(await page.getByRole('button', { name: 'Issue a CRL now' }).isDisabled(),
    'the CRL button is enabled for a read token');
  await page.goto('/ui/#/challenges');
  check(await page.getByRole('button', { name: 'Mint a challenge' }).isDisabled(),
    'the mint button is enabled for a read token');
  const status = await page.evaluate(async (rid) => {
    const t = sessionStorage.getItem('scepd.token');
    const r = await fetch(`/api/v1/requests/${rid}/approve`, { method: 'POST',
      headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' }, body: '{}' });
    return r.status;
  }, id);
  check(status === 403, `a read token's approve from the page got ${status}, not 403`);
  ok(`read token: approve, CRL and mint disabled, a direct approve from the page is 403`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await heading(page, 'Sign in');
  const left = await page.evaluate(() => sessionStorage.getItem('scepd.token'));
  check(left === null, 'sign out left the token in sessionStorage');
  ok('sign out clears the token and shows the sign-in form');
  await page.context().close();
}

// Every view at phone size: nothing wider than the screen but the tables' own scroll boxes;
// a request rejected there with a reason.
async function phone(browser, problems, id) {
  const page = await newPage(browser, PHONE, problems);
  await page.goto('/ui/');
  await shoot(page, 'phone-signin');
  await signInByKeyboard(page, OP_TOKEN, '(operate)');
  for (const v of VIEWS) {
    await page.goto(`/ui/#/${v}`);
    await page.locator('#view h1').waitFor();
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    check(wide <= PHONE.width, `the ${v} view is ${wide} px wide on a ${PHONE.width} px phone`);
    await shoot(page, `phone-${v}`);
  }
  ok('phone (390x844): every view fits the width');
  await page.goto(`/ui/#/pending/${id}`);
  await page.locator('#review').waitFor();
  await page.getByLabel('Reason for rejecting').fill('not a device of ours');
  await shoot(page, 'phone-pending-review');
  await page.getByRole('button', { name: `Reject request ${id}` }).tap();
  await page.locator('#notice', { hasText: 'rejected' }).waitFor();
  const r = await page.evaluate(async (rid) => {
    const t = sessionStorage.getItem('scepd.token');
    const res = await fetch(`/api/v1/requests/${rid}`, { headers: { Authorization: `Bearer ${t}` } });
    return res.json();
  }, id);
  check(r.state === 'rejected' && r.reason === 'not a device of ours', `after reject: ${JSON.stringify(r)}`);
  ok(`phone: request ${id} rejected with its reason`);
  await page.context().close();
}

async function desktopViews(page) {
  for (const v of VIEWS) {
    await page.goto(`/ui/#/${v}`);
    await page.locator('#view h1').waitFor();
    await shoot(page, `desktop-${v}`);
  }
}

async function scenario(browser) {
  const problems = [];
  const page = await newPage(browser, DESKTOP, problems);
  await page.goto('/ui/');
  await shoot(page, 'desktop-signin');
  await signInByKeyboard(page, OP_TOKEN, '(operate)');
  ok('sign-in by keyboard only with the operate token (sessionStorage, no cookies)');
  await page.getByRole('button', { name: 'Issue a CRL now' }).click();
  await page.locator('#notice', { hasText: /CRL \d+ issued/ }).waitFor();
  const number = (await page.locator('#notice').textContent()).match(/CRL (\d+)/)[1];
  const shown = await page.locator('dd').filter({ hasText: new RegExp(`^${number}$`) }).count();
  check(shown === 1, `the dashboard does not show the new CRL number ${number}`);
  ok(`dashboard: CRL ${number} issued from the page`);
  const cn = 'ui-device-1';
  const client = enroll(cn, 120);
  const id = await waitPending(page, cn);
  ok(`scep enroll is PENDING and request ${id} is in the pending view`);
  await approveByKeyboard(page, id, cn);
  ok(`request ${id} reviewed and approved by keyboard only`);
  const { code, out } = await client.done;
  check(code === 0 && existsSync(join(WORK, `${cn}.pem`)), `the client got no certificate (${code}): ${out}`);
  const serial = serialOf(join(WORK, `${cn}.pem`));
  ok(`the polling client received certificate ${serial}`);
  await page.goto('/ui/#/dashboard');
  await page.locator('.card', { hasText: 'valid certificates' }).waitFor();
  await revokeInPage(page, cn, serial);
  await challenges(page);
  await auditView(page, id);
  const waiting = enroll('ui-device-2', 1);
  await waiting.done; // gives up at once, the request stays pending
  const id2 = await waitPending(page, 'ui-device-2');
  await desktopViews(page);
  await page.context().close();
  await readOnly(browser, problems, id2);
  await phone(browser, problems, id2);
  check(problems.length === 0, `the browser reported: ${problems.join('; ')}`);
  ok('no script errors and no Content-Security-Policy violations in the console');
}

mkdirSync(SHOTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.UI_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
let status = 0;
try {
  await scenario(browser);
  console.log(`console.mjs: ${passed} checks in the browser passed`);
} catch (e) {
  console.error(`FAIL console: ${e instanceof Failure ? e.message : e.stack}`);
  status = 1;
} finally {
  await browser.close();
}
process.exit(status);
