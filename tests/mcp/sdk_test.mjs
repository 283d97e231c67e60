// Drives todod's /mcp with the official MCP TypeScript SDK client: connect, list the tools,
// call each one and see its change through REST; a foreign user_id is a tool error.
// Run by tests/integration/test_mcp_sdk.c with MCP_BASE (http://127.0.0.1:PORT), MCP_TOKEN,
// MCP_USER and MCP_OTHER_USER in the environment. Exits 0 when every check passed.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const base = process.env.MCP_BASE;
const token = process.env.MCP_TOKEN;
const user = process.env.MCP_USER;
const other = process.env.MCP_OTHER_USER;
assert.ok(base && token && user && other, 'MCP_BASE, MCP_TOKEN, MCP_USER, MCP_OTHER_USER');
const auth = { Authorization: `Bearer ${token}` };

async function rest(method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { ...auth, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function task(id) {
  const r = await rest('GET', `/api/tasks/${id}`);
  assert.equal(r.status, 200, `GET /api/tasks/${id}`);
  return r.json;
}

const transport = new StreamableHTTPClientTransport(new URL('/mcp', base), {
  requestInit: { headers: auth },
});
const client = new Client({ name: 'todod-mcp-test', version: '1.0.0' });
await client.connect(transport);
assert.ok(transport.sessionId, 'the server issued an Mcp-Session-Id');
assert.equal(client.getServerVersion().name, 'todod');
assert.equal(transport.protocolVersion, '2025-06-18', 'negotiated our newest version');

let checks = 0;
const ok = (what) => { checks++; console.log(`ok ${checks} - ${what}`); };

// tools/list: every tool with its schema.
const { tools } = await client.listTools();
const names = tools.map((t) => t.name).sort();
const want = ['add_task', 'list_tasks', 'complete_task', 'delete_task', 'update_task', 'get_task',
  'reopen_task', 'set_due_date', 'set_priority', 'add_tags', 'remove_tags', 'set_recurrence',
  'set_reminders', 'cancel_reminders', 'skip_occurrence', 'search_tasks'].sort();
assert.deepEqual(names, want);
for (const t of tools) {
  assert.equal(t.inputSchema.type, 'object', `${t.name} schema`);
  assert.ok(t.inputSchema.required.includes('user_id'), `${t.name} needs user_id`);
  assert.ok(t.description.length > 10, `${t.name} describes itself`);
}
const add = tools.find((t) => t.name === 'add_task');
assert.deepEqual(add.inputSchema.required, ['user_id', 'title']);
assert.deepEqual(Object.keys(add.inputSchema.properties).sort(), ['description', 'title', 'user_id']);
assert.deepEqual(tools.find((t) => t.name === 'list_tasks').inputSchema.properties.status.enum,
  ['all', 'pending', 'completed']);
ok('tools/list has the 16 tools with their schemas');

async function call(name, args) {
  const r = await client.callTool({ name, arguments: { user_id: user, ...args } });
  assert.equal(r.isError, false, `${name}: ${JSON.stringify(r.content)}`);
  assert.equal(r.content[0].type, 'text');
  const parsed = JSON.parse(r.content[0].text);
  return { r, value: parsed };
}

// add_task
let { r, value } = await call('add_task', { title: 'Buy groceries', description: 'milk, eggs' });
assert.equal(value.status, 'created');
assert.equal(value.title, 'Buy groceries');
assert.deepEqual(r.structuredContent.task_id, value.task_id);
const id = value.task_id;
console.log(`# task ${id}`);
let t = await task(id);
assert.equal(t.title, 'Buy groceries');
assert.equal(t.description, 'milk, eggs');
ok('add_task created the task REST reads');

// list_tasks
({ value } = await call('list_tasks', { status: 'pending' }));
assert.ok(Array.isArray(value) && value.some((x) => x.id === id), 'pending list holds it');
({ value } = await call('list_tasks', { status: 'completed' }));
assert.ok(!value.some((x) => x.id === id), 'completed list does not');
({ r, value } = await call('list_tasks', {}));
assert.ok(r.structuredContent.tasks.some((x) => x.id === id));
ok('list_tasks filters by status');

// update_task
({ value } = await call('update_task', { task_id: id, title: 'Buy groceries and fruits' }));
assert.equal(value.status, 'updated');
assert.equal((await task(id)).title, 'Buy groceries and fruits');
ok('update_task renamed it');

// get_task
({ value } = await call('get_task', { task_id: id }));
assert.equal(value.id, id);
assert.equal(value.title, 'Buy groceries and fruits');
ok('get_task reads it');

// set_due_date, set_priority
await call('set_due_date', { task_id: id, due_at: '2030-12-24T17:00:00Z' });
assert.equal((await task(id)).due_at, '2030-12-24T17:00:00Z');
await call('set_priority', { task_id: id, priority: 'high' });
assert.equal((await task(id)).priority, 'high');
ok('set_due_date and set_priority');

// add_tags, remove_tags
await call('add_tags', { task_id: id, tags: ['work', 'Home'] });
assert.deepEqual((await task(id)).tags.sort(), ['home', 'work']);
await call('remove_tags', { task_id: id, tags: ['HOME'] });
assert.deepEqual((await task(id)).tags, ['work']);
ok('add_tags and remove_tags');

// set_reminders, cancel_reminders
await call('set_reminders', { task_id: id, reminders: [{ offset: 'PT30M' }] });
assert.equal((await task(id)).reminders.length, 1);
await call('cancel_reminders', { task_id: id });
assert.equal((await task(id)).reminders.length, 0);
ok('set_reminders and cancel_reminders');

// set_recurrence, skip_occurrence
await call('set_recurrence', { task_id: id, rrule: 'FREQ=DAILY', anchor: 'schedule' });
t = await task(id);
assert.equal(t.recurrence, 'FREQ=DAILY');
assert.equal(t.recurrence_anchor, 'schedule');
({ value } = await call('skip_occurrence', { task_id: id }));
assert.equal(value.status, 'skipped');
assert.equal((await task(id)).due_at, '2030-12-25T17:00:00Z');
await call('set_recurrence', { task_id: id, rrule: null });
assert.equal((await task(id)).recurrence, null);
ok('set_recurrence and skip_occurrence');

// search_tasks
({ value } = await call('search_tasks', { query: 'fruit', status: 'pending', tags: ['work'] }));
assert.deepEqual(value.map((x) => x.id), [id]);
({ value } = await call('search_tasks', { query: 'nothing-like-this' }));
assert.deepEqual(value, []);
ok('search_tasks');

// complete_task, reopen_task
({ value } = await call('complete_task', { task_id: id }));
assert.deepEqual([value.status, value.title], ['completed', 'Buy groceries and fruits']);
assert.equal((await task(id)).status, 'completed');
({ value } = await call('reopen_task', { task_id: id }));
assert.equal((await task(id)).status, 'pending');
ok('complete_task and reopen_task');

// delete_task
({ value } = await call('delete_task', { task_id: id }));
assert.deepEqual(value, { task_id: id, status: 'deleted', title: 'Buy groceries and fruits' });
assert.equal((await rest('GET', `/api/tasks/${id}`)).status, 404);
ok('delete_task deleted it');

// The tools' changes reach the other roles of `todod all` as REST's do: completing a
// recurring task makes the recur role create the next occurrence, and a reminder set by
// a tool is fired by the notify role.
async function until(what, fn) {
  for (let i = 0; i < 200; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}
({ value } = await call('add_task', { title: 'Water the plants' }));
const daily = value.task_id;
await call('set_due_date', { task_id: daily, due_at: '2030-06-01T08:00:00Z' });
await call('set_recurrence', { task_id: daily, rrule: 'FREQ=DAILY' });
await call('complete_task', { task_id: daily });
const next = await until('the next occurrence', async () => {
  const items = (await rest('GET', '/api/tasks?status=pending&limit=200')).json.items;
  return items.find((x) => x.title === 'Water the plants' && x.id !== daily);
});
assert.equal(next.due_at, '2030-06-02T08:00:00Z');
assert.equal(next.recurrence, 'FREQ=DAILY');
ok('complete_task on a recurring task: the recur role made the next occurrence');
const at = new Date(Date.now() + 1500).toISOString().replace(/\.\d+Z$/, 'Z');
({ value } = await call('add_task', { title: 'Stretch' }));
const stretch = value.task_id;
await call('set_reminders', { task_id: stretch, reminders: [{ at }] });
const fired = await until('the reminder', async () => {
  const items = (await rest('GET', '/api/notifications')).json.items;
  return items.find((x) => x.task_id === stretch);
});
assert.equal(fired.title, 'Stretch');
ok('set_reminders: the notify role fired the reminder');

// Another user's id is refused as a tool error and nothing is written.
const before = (await rest('GET', '/api/tasks?limit=200')).json.items.length;
r = await client.callTool({ name: 'add_task', arguments: { user_id: other, title: 'Sneaky' } });
assert.equal(r.isError, true);
assert.equal(r.structuredContent.error, 'forbidden');
r = await client.callTool({ name: 'list_tasks', arguments: { user_id: other } });
assert.equal(r.isError, true);
assert.equal((await rest('GET', '/api/tasks?limit=200')).json.items.length, before);
ok('a foreign user_id is refused with isError');

// Bad arguments are tool errors naming the member; an unknown tool is a protocol error.
r = await client.callTool({ name: 'complete_task', arguments: { user_id: user, task_id: 'abc' } });
assert.equal(r.isError, true);
assert.match(r.content[0].text, /task_id/);
r = await client.callTool({ name: 'add_task', arguments: { user_id: user } });
assert.equal(r.isError, true);
assert.match(r.content[0].text, /title: is required/);
await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), /-32602|Unknown tool/);
ok('bad arguments and unknown tools');

// ping, then the session ends with DELETE and is gone.
await client.ping();
const session = transport.sessionId;
await transport.terminateSession();
await client.close();
const after = await fetch(new URL('/mcp', base), {
  method: 'POST',
  headers: { ...auth, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
    'Mcp-Session-Id': session, 'MCP-Protocol-Version': '2025-06-18' },
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
});
assert.equal(after.status, 404);
ok('ping, and DELETE ends the session');
console.log(`1..${checks}`);
