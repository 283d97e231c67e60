// End-to-end tests of the web app's chat panel in headless Chromium against a real
// `todod all` (its own server and PostgreSQL, like e2e.mjs): a task added and completed
// by chat shows in the task list and, live, in a second page; conversations are kept and
// reopened; errors show the problem's detail; axe-core finds no serious violation; the
// panel's screenshots at desktop and phone width go to TODOD_SCREENSHOTS.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, mkdirSync, readFileSync} from 'node:fs';
import {join, dirname} from 'node:path';
import {fileURLToPath} from 'node:url';
import {createRequire} from 'node:module';
import {Todod} from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const {chromium} = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const BIN = process.env.TODOD_BIN;
const SHOTS = process.env.TODOD_SCREENSHOTS || join(here, 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const DESKTOP = {width: 1280, height: 800};
const PHONE = {width: 390, height: 844};
const ZONE = 'Europe/Paris';
const PASSWORD = 'correct horse battery';
const ADD = 'add call the plumber tomorrow at 9 #home';

let server;
let browser;
let page;          // the page that chats
let page2;         // a second page of the same user, watching
let token;
const pageErrors = [];

before(async () => {
  assert.ok(BIN, 'TODOD_BIN names the todod binary');
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run \`make deps\``);
  mkdirSync(SHOTS, {recursive: true});
  server = new Todod(BIN);
  await server.start();
  browser = await chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox']});
  page = await newPage();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.cleanup();
});

async function newPage() {
  const ctx = await browser.newContext({viewport: DESKTOP, reducedMotion: 'reduce',
                                        timezoneId: ZONE, locale: 'en-GB'});
  const p = await ctx.newPage();
  p.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  await p.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__cspViolations ||= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return p;
}

async function apiCall(method, path, body) {
  const r = await fetch(`${server.origin}${path}`, {
    method,
    headers: {Authorization: `Bearer ${token}`, ...(body ? {'Content-Type': 'application/json'} : {})},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return {status: r.status, body: text ? JSON.parse(text) : null};
}

async function axeScan(p, what) {
  await p.evaluate(axeSource);
  const result = await p.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, {resultTypes: ['violations']});
    return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))}));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${what}: axe-core found ${JSON.stringify(bad, null, 1)}`);
}

// The panel as the screen shows it at both widths (the panel only, and the whole page).
async function shoot(p, name) {
  for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await p.setViewportSize(size);
    await p.locator('#chat-panel').screenshot({path: join(SHOTS, `${name}-${label}.png`)});
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({path: join(SHOTS, `${name}-page-${label}.png`), fullPage: true});
  }
  await p.setViewportSize(DESKTOP);
}

const listRow = (p, re) => p.locator('#task-list > li', {hasText: re});
const answers = (p) => p.locator('#chat-log .msg-assistant');
const PLUMBER = /call the plumber/i;

// Sends a message by typing it and pressing Enter; resolves to the new answer's locator.
async function say(p, text) {
  const before = await answers(p).count();
  await p.getByRole('textbox', {name: 'Message to the assistant'}).fill(text);
  await p.keyboard.press('Enter');
  await answers(p).nth(before).waitFor({timeout: 15000});
  return answers(p).nth(before);
}

// Tomorrow's date and 09:00 in the user's zone, as en-GB writes it.
function tomorrowAtNine(iso) {
  const fmt = (d, o) => new Intl.DateTimeFormat('en-GB', {timeZone: ZONE, ...o}).format(d);
  const day = {year: 'numeric', month: '2-digit', day: '2-digit'};
  const due = new Date(iso);
  return {
    day: fmt(due, day),
    time: fmt(due, {hour: '2-digit', minute: '2-digit', hourCycle: 'h23'}),
    tomorrow: fmt(new Date(Date.now() + 86400000), day),
  };
}

test('the panel shows once signed in, labelled', async () => {
  await page.goto(server.origin);
  await page.locator('#auth-view').waitFor({state: 'visible'});
  assert.ok(await page.locator('#chat-panel').isHidden(), 'no panel while signed out');
  await page.fill('#signup-name', 'Chat Tester');
  await page.fill('#signup-email', `chat.${Date.now()}@example.test`);
  await page.fill('#signup-password', PASSWORD);
  await page.click('#signup-form button[type=submit]');
  await page.locator('#tasks-view').waitFor({state: 'visible'});
  await page.locator('#chat-panel').waitFor({state: 'visible'});
  assert.ok(await page.locator('#chat-jump').isHidden(), 'wide screens show the panel beside the tasks');
  token = await page.evaluate(() => JSON.parse(localStorage.getItem('todod.session')).token);
  assert.equal((await apiCall('GET', '/api/me')).body.time_zone, ZONE);
  assert.equal(await page.getAttribute('#chat-log', 'role'), 'log', 'new answers are announced');
  await page.getByRole('complementary', {name: 'Assistant'}).waitFor();
  await page.getByRole('button', {name: 'New conversation'}).waitFor();
  await page.getByRole('button', {name: 'Past conversations'}).waitFor();
  // Settings has no panel; back to the tasks it is there again.
  await page.click('#nav-settings');
  await page.locator('#chat-panel').waitFor({state: 'hidden'});
  await page.click('#nav-tasks');
  await page.locator('#chat-panel').waitFor({state: 'visible'});
});

test('a second page of the same user is live', async () => {
  const r = await apiCall('POST', '/api/ws-ticket');
  assert.equal(r.status, 201, 'the live channel is there (sync role)');
  page2 = await newPage();
  await page2.goto(server.origin);
  await page2.evaluate((s) => localStorage.setItem('todod.session', s),
    await page.evaluate(() => localStorage.getItem('todod.session')));
  await page2.reload();
  await page2.locator('#tasks-view').waitFor({state: 'visible'});
  await page2.locator('#live-status[data-state="on"]').waitFor({timeout: 15000});
  await page.locator('#live-status[data-state="on"]').waitFor({timeout: 15000});
});

test('add a task by chat: it shows in the list with its due date and tag, in both pages', async () => {
  const answer = await say(page, ADD);
  assert.match(await answer.locator('.msg-text').textContent(), PLUMBER);
  assert.equal(await page.inputValue('#chat-input'), '', 'the field is emptied');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'chat-input');
  const mine = page.locator('#chat-log .msg-user');
  assert.equal(await mine.last().locator('.msg-text').textContent(), ADD);
  // The answer lists the task as a compact row.
  const chip = answer.locator('.chat-task', {hasText: PLUMBER});
  await chip.waitFor();
  assert.match(await chip.locator('.chat-tag').textContent(), /#home/);

  const t = (await apiCall('GET', '/api/tasks?q=plumber')).body.items[0];
  assert.ok(t, 'the server has the task');
  assert.deepEqual(t.tags, ['home']);
  const due = tomorrowAtNine(t.due_at);
  assert.equal(due.day, due.tomorrow, `due tomorrow (${t.due_at})`);
  assert.equal(due.time, '09:00', `at 9 in ${ZONE} (${t.due_at})`);

  for (const p of [page, page2]) {
    const r = listRow(p, PLUMBER);
    await r.waitFor({timeout: 5000});
    assert.match(await r.locator('time.due').textContent(), /09:00/);
    assert.equal(await r.locator('time.due').getAttribute('datetime'), t.due_at);
    assert.equal(await r.locator('.tag').textContent(), '#home');
  }
  // The row in the answer opens the task's editor; Escape closes it.
  await chip.getByRole('button', {name: /Open task: call the plumber/i}).click();
  await page.locator('#editor').waitFor({state: 'visible'});
  assert.match(await page.inputValue('#ed-title'), PLUMBER);
  await page.keyboard.press('Escape');
  await page.locator('#editor').waitFor({state: 'hidden'});
});

test('"mark it done" completes it, in both pages', async () => {
  const answer = await say(page, 'mark it done');
  await answer.locator('.chat-task.done', {hasText: PLUMBER}).waitFor();
  for (const p of [page, page2])
    await listRow(p, PLUMBER).waitFor({state: 'detached', timeout: 5000});
  const t = (await apiCall('GET', '/api/tasks?q=plumber&status=all')).body.items[0];
  assert.equal(t.status, 'completed');
  await page2.selectOption('#f-status', 'completed');
  await listRow(page2, PLUMBER).waitFor();
  assert.ok(await listRow(page2, PLUMBER).locator('.done-box').isChecked());
  await shoot(page, 'chat');
  await axeScan(page, 'chat panel');
});

test('the conversation survives a reload of the tab', async () => {
  await page.reload();
  await page.locator('#chat-panel').waitFor({state: 'visible'});
  await page.locator('#chat-log .msg').nth(3).waitFor();
  assert.equal(await page.locator('#chat-log .msg').count(), 4);
  // The stored answer's tool calls give back its task rows.
  await answers(page).first().locator('.chat-task', {hasText: PLUMBER}).waitFor();
  // It continues: "it" still means the plumber task.
  const answer = await say(page, 'reopen it');
  await answer.locator('.chat-task', {hasText: PLUMBER}).waitFor();
  await listRow(page, PLUMBER).waitFor({timeout: 5000});
});

test('new conversation, and reopening a past one', async () => {
  const first = await page.evaluate(() => sessionStorage.getItem('todod.chat.conversation'));
  assert.ok(first);
  await page.getByRole('button', {name: 'New conversation'}).click();
  assert.equal(await page.locator('#chat-log .msg').count(), 0);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'chat-input');
  await say(page, 'add buy light bulbs #home');
  const second = await page.evaluate(() => sessionStorage.getItem('todod.chat.conversation'));
  assert.ok(second && second !== first, 'a new conversation started');

  const past = page.getByRole('button', {name: 'Past conversations'});
  await past.focus();
  await page.keyboard.press('Enter');
  assert.equal(await past.getAttribute('aria-expanded'), 'true');
  const items = page.locator('#chat-conversations .chat-conv');
  await items.nth(1).waitFor();
  assert.equal(await items.count(), 2);
  assert.equal(await items.first().getAttribute('data-id'), second, 'newest first');
  assert.equal(await items.first().getAttribute('aria-current'), 'true');
  await shoot(page, 'chat-conversations');
  await axeScan(page, 'past conversations');
  await items.nth(1).focus();
  await page.keyboard.press('Enter');
  await page.locator('#chat-history').waitFor({state: 'hidden'});
  await page.locator('#chat-log .msg').nth(5).waitFor();
  assert.equal(await page.locator('#chat-log .msg-user').first().locator('.msg-text').textContent(), ADD);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('todod.chat.conversation')), first);
});

test('an error shows the problem detail and keeps the message', async () => {
  const long = 'é'.repeat(600);   // 600 characters, 1200 bytes: over the 1000-byte limit
  const count = await page.locator('#chat-log .msg').count();
  await page.fill('#chat-input', long);
  await page.press('#chat-input', 'Enter');
  await page.locator('#chat-error').waitFor({state: 'visible'});
  assert.equal(await page.getAttribute('#chat-error', 'role'), 'alert');
  assert.match(await page.textContent('#chat-error'), /at most 1000 bytes/);
  assert.equal(await page.inputValue('#chat-input'), long, 'the text stays to try again');
  assert.equal(await page.locator('#chat-log .msg').count(), count, 'no bubble for it');
  await shoot(page, 'chat-error');
  await say(page, 'what is due tomorrow?');
  assert.ok(await page.locator('#chat-error').isHidden(), 'the next answer clears the error');
});

test('phone width: the panel fits and works', async () => {
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, 'no horizontal scrolling at 390 px');
  const box = await page.locator('#chat-panel').boundingBox();
  assert.ok(box.width <= PHONE.width, `panel width ${box.width}`);
  // The panel is below the tasks; a button at the top of the list takes the focus there.
  await page.focus('#quick-title');
  await page.getByRole('button', {name: 'Ask the assistant'}).click();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'chat-input');
  await say(page, 'add water the garden friday #home');
  await listRow(page, /water the garden/i).waitFor({timeout: 5000});
  await axeScan(page, 'chat panel at phone width');
  await page.setViewportSize(DESKTOP);
});

test('with the live channel down, the list still shows what the chat did', async () => {
  const page3 = await newPage();
  // This page's WebSocket is refused (as behind a proxy that drops it): it keeps retrying.
  let refused = 0;
  await page3.routeWebSocket(/\/ws/, (ws) => {
    refused++;
    ws.close({code: 1011, reason: 'test: no live channel'});
  });
  await page3.goto(server.origin);
  await page3.evaluate((s) => localStorage.setItem('todod.session', s),
    await page.evaluate(() => localStorage.getItem('todod.session')));
  await page3.reload();
  await page3.locator('#chat-panel').waitFor({state: 'visible'});
  for (let i = 0; i < 100 && !refused; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(refused > 0, 'the page tried its live channel');
  await say(page3, 'add fix the garden gate #home');
  await listRow(page3, /fix the garden gate/i).waitFor({timeout: 5000});
  assert.notEqual(await page3.getAttribute('#live-status', 'data-state'), 'on');
  await listRow(page, /fix the garden gate/i).waitFor({timeout: 5000});   // live in the other
  pageErrors.push(...await page3.evaluate(() => window.__cspViolations || []));
  await page3.context().close();
});

test('log out empties the panel and forgets the conversation', async () => {
  await page.click('#logout');
  await page.locator('#auth-view').waitFor({state: 'visible'});
  assert.ok(await page.locator('#chat-panel').isHidden());
  assert.equal(await page.locator('#chat-log .msg').count(), 0);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('todod.chat.conversation')), null);
});

test('no CSP violation, no page error', async () => {
  for (const p of [page, page2])
    assert.deepEqual(await p.evaluate(() => window.__cspViolations || []), []);
  assert.deepEqual(pageErrors, []);
});
