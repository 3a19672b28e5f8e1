// Junction console: one page, one script, no framework and no build step.
// Every figure comes from the management API (/api/v1) with the operator's
// credentials; every string from the broker is put into the page as text
// (textContent), never as HTML.
'use strict';

window.errors = [];
window.addEventListener('error', (e) => window.errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => window.errors.push(String(e.reason)));

const state = {
  auth: sessionStorage.getItem('junction.auth') || '',
  user: sessionStorage.getItem('junction.user') || '',
  timers: [],
  token: 0, // the current view's number: late answers for an old view are dropped
  queues: { offset: 0, limit: 50, filter: '', sort: 'name', order: 'asc' },
  conns: { offset: 0, limit: 50, filter: '', sort: 'id', order: 'asc' },
};

const nf = new Intl.NumberFormat('en');
const rf = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// api calls the management API and returns its JSON answer.
async function api(method, path, body) {
  const headers = { 'X-Junction-Console': '1', Accept: 'application/json' };
  if (state.auth) headers.Authorization = 'Basic ' + state.auth;
  const init = { method, headers, credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch('/api/v1' + path, init);
  let data = null;
  try { data = await r.json(); } catch (_) { data = null; }
  if (r.status === 401) {
    showLogin(data && data.error);
    throw new ApiError(401, (data && data.error) || 'authentication required');
  }
  if (!r.ok) throw new ApiError(r.status, (data && data.error) || r.statusText);
  return data;
}

// h builds an element: h('td', {class: 'num'}, 'text', child, ...).
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function setStatus(msg, isError) {
  const s = document.getElementById('status');
  s.textContent = msg || '';
  s.className = isError ? 'error' : '';
}

function fail(err) {
  if (err instanceof ApiError && err.status === 401) return;
  setStatus(err.message || String(err), true);
}

function num(n) { return n === undefined || n === null ? '' : nf.format(n); }
function rate(n) { return n ? rf.format(n) : '0'; }
function age(ms) {
  if (!ms) return '';
  const s = ms / 1000;
  if (s < 60) return rf.format(s) + ' s';
  if (s < 3600) return rf.format(s / 60) + ' min';
  return rf.format(s / 3600) + ' h';
}
function when(t) { return t ? new Date(t).toISOString().replace('T', ' ').replace('Z', '') : ''; }
function enc(s) { return encodeURIComponent(s); }

function b64(s) {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

// --- login -------------------------------------------------------------

function showLogin(msg) {
  stopTimers();
  state.auth = '';
  sessionStorage.removeItem('junction.auth');
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('who').textContent = '';
  document.getElementById('view').replaceChildren();
  document.getElementById('login-view').hidden = false;
  document.getElementById('login-error').textContent = msg && msg !== 'authentication required' ? msg : '';
  document.getElementById('login-user').focus();
}

async function login(e) {
  e.preventDefault();
  const user = document.getElementById('login-user').value;
  const pw = document.getElementById('login-password').value;
  state.auth = b64(user + ':' + pw);
  try {
    await api('GET', '/broker');
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) document.getElementById('login-error').textContent = err.message;
    else document.getElementById('login-error').textContent = err.message;
    return;
  }
  state.user = user;
  sessionStorage.setItem('junction.auth', state.auth);
  sessionStorage.setItem('junction.user', user);
  document.getElementById('login-password').value = '';
  enter();
}

function logout() {
  sessionStorage.removeItem('junction.user');
  state.user = '';
  showLogin('');
}

function enter() {
  document.getElementById('login-view').hidden = true;
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = !state.auth;
  document.getElementById('who').textContent = state.user ? 'Logged in as ' + state.user : 'Anonymous access';
  route();
}

// --- routing -----------------------------------------------------------

function stopTimers() {
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
}

function every(ms, fn) { state.timers.push(setInterval(fn, ms)); }

function route() {
  if (!document.getElementById('login-view').hidden) return;
  stopTimers();
  state.token++;
  setStatus('');
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const view = parts[0] || 'overview';
  const arg = parts.slice(1).map((x) => { try { return decodeURIComponent(x); } catch (_) { return x; } }).join('/');
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const root = document.getElementById('view');
  root.replaceChildren();
  const views = { overview, queues: arg ? queueDetail : queueList, connections, subscriptions, trace };
  (views[view] || overview)(root, arg, state.token);
}

function current(token) { return token === state.token; }

// --- overview ----------------------------------------------------------

function card(k, v, id) { return h('div', { class: 'card' }, h('div', { class: 'v', id }, v), h('div', { class: 'k' }, k)); }

// history keeps the last samples of the overview's rates (2 s apart) for
// its sparklines; it survives switching pages.
const history = { sent: [], in: [], out: [] };
const historyLen = 90;

function remember(key, v) {
  const a = history[key];
  a.push(Number(v) || 0);
  if (a.length > historyLen) a.shift();
}

// sparkline draws a series as a small SVG line, labelled for screen readers
// with its latest value and its peak.
function sparkline(values, label) {
  const ns = 'http://www.w3.org/2000/svg';
  const w = 270, hgt = 48;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('width', w);
  svg.setAttribute('height', hgt);
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  const peak = Math.max(1, ...values);
  const last = values.length ? values[values.length - 1] : 0;
  svg.setAttribute('aria-label', `${label}: now ${rate(last)}, peak ${rate(Math.max(0, ...values))} over the last ${values.length * 2} seconds`);
  const pts = values.map((v, i) => `${(i * (w - 2)) / Math.max(1, historyLen - 1) + 1},${hgt - 2 - (v / peak) * (hgt - 4)}`).join(' ');
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', pts);
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#0b5cad');
  line.setAttribute('stroke-width', '1.5');
  svg.append(line);
  return svg;
}

function overview(root, _arg, token) {
  root.append(h('h1', {}, 'Overview'), h('div', { id: 'overview' }, h('p', { class: 'muted' }, 'Loading…')));
  const load = async () => {
    let b;
    try { b = await api('GET', '/broker'); } catch (err) { fail(err); return; }
    if (!current(token)) return;
    const c = b.counters || {};
    const protos = Object.entries(b.protocols || {}).sort(([a], [z]) => a.localeCompare(z));
    let pin = 0, pout = 0;
    for (const [, p] of protos) { pin += p.in_per_second || 0; pout += p.out_per_second || 0; }
    remember('sent', (b.rates || {}).sent_per_second);
    remember('in', pin);
    remember('out', pout);
    const store = b.store || {};
    document.getElementById('overview').replaceChildren(
      h('div', { class: 'cards' },
        card('messages sent per second', rate((b.rates || {}).sent_per_second), 'rate-sent'),
        card('connections', num(c.connections), 'count-connections'),
        card('queues', num(c.queues), 'count-queues'),
        card('addresses', num(c.addresses)),
        card('messages sent', num(c.sent), 'count-sent'),
        card('dead-lettered', num(c.dead_lettered)),
        card('expired', num(c.expired)),
        card('store ' + (store.type || ''), store.healthy ? 'healthy' : 'failing: ' + (store.error || ''))),
      h('div', { class: 'sparks' },
        h('figure', {}, sparkline(history.sent, 'Messages sent per second'), h('figcaption', {}, 'sent per second')),
        h('figure', {}, sparkline(history.in, 'Messages in per second, all protocols'), h('figcaption', {}, 'in per second, all protocols')),
        h('figure', {}, sparkline(history.out, 'Messages out per second, all protocols'), h('figcaption', {}, 'out per second, all protocols'))),
      h('h2', {}, 'Protocols'),
      h('table', { id: 'protocols' },
        h('thead', {}, h('tr', {}, ['protocol', 'connections', 'messages in', 'messages out', 'in per second', 'out per second']
          .map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null }, t)))),
        h('tbody', {}, protos.map(([name, p]) => h('tr', {},
          h('th', { scope: 'row' }, name), h('td', { class: 'num' }, num(p.connections)),
          h('td', { class: 'num' }, num(p.messages_in)), h('td', { class: 'num' }, num(p.messages_out)),
          h('td', { class: 'num' }, rate(p.in_per_second)), h('td', { class: 'num' }, rate(p.out_per_second)))))),
      h('p', { class: 'muted' }, 'Broker ', b.version || '', ', up ', age((b.uptime_seconds || 0) * 1000), '. Rates are refreshed every 2 seconds.'));
  };
  load();
  every(2000, load);
}

// --- lists with server-side paging -------------------------------------

// sortHeader is a column header that sorts the list by key when pressed.
function sortHeader(label, key, st, reload, numeric) {
  const active = st.sort === key;
  return h('th', { scope: 'col', class: numeric ? 'num' : null, 'aria-sort': active ? (st.order === 'asc' ? 'ascending' : 'descending') : 'none' },
    h('button', {
      type: 'button', 'data-sort': key,
      onclick: () => {
        if (st.sort === key) st.order = st.order === 'asc' ? 'desc' : 'asc';
        else { st.sort = key; st.order = numeric ? 'desc' : 'asc'; }
        st.offset = 0;
        reload();
      },
    }, label, active ? (st.order === 'asc' ? ' ▲' : ' ▼') : ''));
}

function pager(st, total, reload, id) {
  const from = total ? st.offset + 1 : 0;
  const to = Math.min(st.offset + st.limit, total);
  return h('div', { class: 'pager', id },
    h('button', { type: 'button', disabled: st.offset === 0, onclick: () => { st.offset = Math.max(0, st.offset - st.limit); reload(); } }, 'Previous'),
    h('span', { class: 'range' }, `${num(from)}–${num(to)} of ${num(total)}`),
    h('button', { type: 'button', disabled: to >= total, onclick: () => { st.offset += st.limit; reload(); } }, 'Next'));
}

function searchBox(id, label, st, reload) {
  let t;
  return h('span', {},
    h('label', { for: id }, label),
    h('input', {
      id, type: 'search', value: st.filter, autocomplete: 'off',
      oninput: (e) => {
        clearTimeout(t);
        t = setTimeout(() => { st.filter = e.target.value; st.offset = 0; reload(); }, 150);
      },
    }));
}

function listQuery(st) {
  return `?offset=${st.offset}&limit=${st.limit}&sort=${enc(st.sort)}&order=${st.order}&filter=${enc(st.filter)}`;
}

// --- queues ------------------------------------------------------------

function queueList(root, _arg, token) {
  const st = state.queues;
  const started = performance.now();
  const box = h('div', { id: 'queue-list' });
  root.append(h('h1', {}, 'Queues'),
    h('div', { class: 'toolbar' }, searchBox('queue-search', 'Search queues', st, () => load()),
      h('button', { type: 'button', onclick: () => load() }, 'Refresh')),
    box);
  let seq = 0;
  const load = async (t0) => {
    const mine = ++seq;
    const begin = t0 || performance.now();
    let res;
    try { res = await api('GET', '/queues' + listQuery(st)); } catch (err) { fail(err); return; }
    if (!current(token) || mine !== seq) return;
    const fetched = performance.now() - begin;
    const reload = () => load();
    const cols = [['Name', 'name'], ['Address', 'address'], ['Depth', 'depth', 1], ['Consumers', 'consumers', 1],
      ['Enqueued', 'enqueued', 1], ['Delivered', 'delivered', 1], ['Acknowledged', 'acknowledged', 1],
      ['Dead-lettered', 'dead_lettered', 1], ['In flight', 'in_flight', 1], ['Oldest', 'oldest_age', 1], ['Enqueued/s', 'enqueue_rate', 1]];
    const rows = res.items.map((q) => h('tr', {},
      h('td', {}, h('a', { href: '#/queues/' + enc(q.name) }, q.name)),
      h('td', {}, q.address, q.routing_type === 'multicast' ? h('span', { class: 'muted' }, ' (multicast)') : ''),
      h('td', { class: 'num' }, num(q.depth)), h('td', { class: 'num' }, num(q.consumers)),
      h('td', { class: 'num' }, num(q.enqueued)), h('td', { class: 'num' }, num(q.delivered)),
      h('td', { class: 'num' }, num(q.acknowledged)), h('td', { class: 'num' }, num(q.dead_lettered)),
      h('td', { class: 'num' }, num(q.in_flight)), h('td', { class: 'num' }, age(q.oldest_age_ms)),
      h('td', { class: 'num' }, rate(q.enqueue_rate))));
    box.replaceChildren(
      pager(st, res.total, reload, 'queue-pager'),
      h('table', { id: 'queue-table', 'data-total': res.total },
        h('caption', { class: 'muted' }, st.filter ? `Queues whose name contains “${st.filter}”` : 'All queues'),
        h('thead', {}, h('tr', {}, cols.map(([l, k, n]) => sortHeader(l, k, st, reload, n)))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: cols.length }, 'No queue matches.')))));
    // Measured once the table is laid out and painted: the next frame,
    // then the task after it (docs/PERFORMANCE.md, console).
    requestAnimationFrame(() => setTimeout(() => {
      if (mine === seq) window.lastRender = { view: 'queues', ms: performance.now() - begin, fetchMs: fetched, rows: rows.length, total: res.total };
    }, 0));
  };
  load(started);
}

function queueDetail(root, name, token) {
  const title = h('h1', {}, 'Queue ', h('span', { id: 'queue-name' }, name));
  const stats = h('div', { id: 'queue-stats' }, h('p', { class: 'muted' }, 'Loading…'));
  const consumers = h('div', { id: 'queue-consumers' });
  const msgs = h('div', { id: 'queue-messages' });
  const browse = { offset: 0, limit: 20, selector: '' };
  const selInput = h('input', { id: 'browse-selector', size: 40, placeholder: "color = 'blue' AND JMSPriority > 4" });
  const browseForm = h('form', {
    class: 'inline', id: 'browse-form',
    onsubmit: (e) => { e.preventDefault(); browse.selector = selInput.value.trim(); browse.offset = 0; loadMessages(); },
  }, h('label', { for: 'browse-selector' }, 'Browse only messages matching the selector'), selInput, h('button', { type: 'submit' }, 'Filter'));
  let queue = null;

  const loadQueue = async () => {
    try {
      queue = await api('GET', '/queues/' + enc(name));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && current(token)) {
        // Not an error of the action that may have just emptied it.
        stats.replaceChildren(h('p', { id: 'queue-gone' }, `There is no queue ${name} (any more): an auto-created queue is deleted once it is empty and unused.`));
        consumers.replaceChildren();
        return;
      }
      fail(err);
      return;
    }
    if (!current(token)) return;
    stats.replaceChildren(h('div', { class: 'cards' },
      card('messages', num(queue.depth), 'queue-depth'), card('ready', num(queue.ready)), card('in flight', num(queue.in_flight)),
      card('consumers', num(queue.consumers)), card('enqueued', num(queue.enqueued)), card('delivered', num(queue.delivered)),
      card('acknowledged', num(queue.acknowledged)), card('dead-lettered', num(queue.dead_lettered)),
      card('expired', num(queue.expired)), card('oldest message', age(queue.oldest_age_ms) || '—')),
    h('p', { class: 'muted' }, `Address ${queue.address} (${queue.routing_type}), ${queue.durable ? 'durable' : 'not durable'}`,
      queue.filter ? `, filter ${queue.filter}` : '', queue.client_id ? `, client ${queue.client_id}` : ''));
    const cl = queue.consumer_list || [];
    consumers.replaceChildren(h('h2', {}, 'Consumers'), cl.length ? h('table', {},
      h('thead', {}, h('tr', {}, ['id', 'connection', 'client id', 'user', 'selector', 'credit', 'in flight'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, cl.map((c) => h('tr', {}, h('td', {}, c.id), h('td', {}, c.session_id), h('td', {}, c.client_id),
        h('td', {}, c.user), h('td', {}, c.selector), h('td', { class: 'num' }, num(c.credit)), h('td', { class: 'num' }, num(c.in_flight))))))
      : h('p', { class: 'muted' }, 'No consumer.'));
  };

  const loadMessages = async () => {
    let res;
    try {
      res = await api('GET', `/queues/${enc(name)}/messages?offset=${browse.offset}&limit=${browse.limit}&selector=${enc(browse.selector)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) { msgs.replaceChildren(); return; }
      fail(err);
      return;
    }
    if (!current(token)) return;
    const rows = res.items.map((m) => h('tr', { 'data-id': m.message_id },
      h('td', {}, h('a', { href: '#/trace/' + enc(m.message_id), title: 'Trace this message' }, m.message_id)),
      h('td', {}, when(m.timestamp)), h('td', { class: 'num' }, m.priority), h('td', {}, m.durable ? 'yes' : 'no'),
      h('td', { class: 'props' }, Object.entries(m.properties || {}).map(([k, v]) => h('div', {}, `${k} = ${v}`))),
      h('td', {}, h('pre', { class: 'body' }, m.body_encoding === 'base64' ? '(binary, base64) ' + m.body_preview : m.body_preview),
        m.truncated ? h('span', { class: 'muted' }, `… ${num(m.body_size)} bytes`) : '')));
    msgs.replaceChildren(h('h2', {}, 'Messages'),
      h('div', { class: 'pager' },
        h('button', { type: 'button', disabled: browse.offset === 0, onclick: () => { browse.offset = Math.max(0, browse.offset - browse.limit); loadMessages(); } }, 'Previous'),
        h('span', {}, res.items.length ? `${num(browse.offset + 1)}–${num(browse.offset + res.items.length)}` : 'none'),
        h('button', { type: 'button', disabled: !res.more, onclick: () => { browse.offset += browse.limit; loadMessages(); } }, 'Next'),
        h('button', { type: 'button', onclick: () => { loadQueue(); loadMessages(); } }, 'Refresh')),
      h('table', { id: 'message-table' },
        h('thead', {}, h('tr', {}, ['message id', 'time (UTC)', 'priority', 'durable', 'properties', 'body'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 6 }, browse.selector ? 'No ready message matches the selector.' : 'The queue has no message ready.')))));
  };

  const refresh = () => { loadQueue(); loadMessages(); };

  // act runs an operation, reports it and refreshes the page.
  const act = async (label, fn) => {
    try {
      const res = await fn();
      setStatus(label(res));
    } catch (err) { fail(err); }
    refresh();
  };

  // confirmButton asks a second press before a destructive action.
  const confirmButton = (id, text, confirmText, run) => {
    const b = h('button', { type: 'button', id, class: 'danger' }, text);
    b.addEventListener('click', () => {
      if (b.dataset.armed) { delete b.dataset.armed; b.textContent = text; run(); return; }
      b.dataset.armed = '1';
      b.textContent = confirmText;
    });
    return b;
  };

  const moveTo = h('input', { id: 'move-to', required: true });
  const sendBody = h('textarea', { id: 'send-body', rows: 3, cols: 40 });
  const sendProps = h('textarea', { id: 'send-props', rows: 3, cols: 30, placeholder: 'key=value, one a line' });
  const sendDurable = h('input', { id: 'send-durable', type: 'checkbox', checked: true });

  const actions = h('div', { id: 'queue-actions' },
    h('h2', {}, 'Actions'),
    h('div', { class: 'toolbar' },
      confirmButton('purge', 'Purge…', 'Confirm purge', () => act((r) => `Purged ${num(r.removed)} messages from ${name}.`,
        () => api('POST', `/queues/${enc(name)}/purge`, {}))),
      h('button', { type: 'button', id: 'redrive', title: 'Send each dead-lettered message back to the address it came from',
        onclick: () => act((r) => `Redrove ${num(r.redriven)} messages` + (r.skipped ? `, skipped ${num(r.skipped)} without an original address.` : '.'),
          () => api('POST', `/queues/${enc(name)}/redrive`, {})) }, 'Redrive to original addresses'),
      confirmButton('delete-queue', 'Delete queue…', 'Confirm delete', async () => {
        try { await api('DELETE', '/queues/' + enc(name)); setStatus(`Queue ${name} deleted.`); location.hash = '#/queues'; } catch (err) { fail(err); }
      })),
    h('form', {
      class: 'inline', id: 'move-form',
      onsubmit: (e) => { e.preventDefault(); const to = moveTo.value; act((r) => `Moved ${num(r.moved)} messages to ${to}.`, () => api('POST', `/queues/${enc(name)}/move`, { to })); },
    }, h('label', { for: 'move-to' }, 'Move all messages to queue'), moveTo, h('button', { type: 'submit' }, 'Move')),
    h('form', {
      id: 'send-form',
      onsubmit: (e) => {
        e.preventDefault();
        const properties = {};
        for (const line of sendProps.value.split('\n')) {
          const i = line.indexOf('=');
          if (i > 0) properties[line.slice(0, i).trim()] = line.slice(i + 1).trim();
        }
        const address = queue ? queue.address : name;
        act((r) => `Sent ${r.message_id} to ${address}.`, () => api('POST', `/addresses/${enc(address)}/messages`,
          { body: sendBody.value, properties, durable: sendDurable.checked, content_type: 'text/plain' }));
      },
    }, h('fieldset', {}, h('legend', {}, 'Send a message to this queue’s address'),
      h('p', {}, h('label', { for: 'send-body' }, 'Body'), sendBody),
      h('p', {}, h('label', { for: 'send-props' }, 'Properties'), sendProps),
      h('p', {}, sendDurable, h('label', { for: 'send-durable' }, 'Durable')),
      h('button', { type: 'submit', class: 'primary' }, 'Send'))));

  root.append(h('p', {}, h('a', { href: '#/queues' }, '← Queues')), title, stats, actions, consumers, browseForm, msgs);
  refresh();
}

// --- connections -------------------------------------------------------

function connections(root, _arg, token) {
  const st = state.conns;
  const box = h('div', { id: 'connection-list' });
  root.append(h('h1', {}, 'Connections'),
    h('div', { class: 'toolbar' }, searchBox('connection-search', 'Search client ids', st, () => load()),
      h('button', { type: 'button', onclick: () => load() }, 'Refresh')), box);
  const load = async () => {
    let res;
    try { res = await api('GET', '/connections' + listQuery(st)); } catch (err) { fail(err); return; }
    if (!current(token)) return;
    const reload = () => load();
    const cols = [['Id', 'id', 1], ['Protocol', 'protocol'], ['Client id', 'client_id'], ['User', 'user'], ['Remote address'],
      ['Since', 'since'], ['Consumers'], ['In', null, 1], ['Out', null, 1], ['In/s', 'in_rate', 1], ['Out/s', 'out_rate', 1], ['']];
    box.replaceChildren(pager(st, res.total, reload, 'connection-pager'),
      h('table', { id: 'connection-table' },
        h('thead', {}, h('tr', {}, cols.map(([l, k, n]) => k ? sortHeader(l, k, st, reload, n) : h('th', { scope: 'col', class: n ? 'num' : null }, l)))),
        h('tbody', {}, res.items.length ? res.items.map((c) => h('tr', { 'data-id': c.id },
          h('td', { class: 'num' }, c.id), h('td', {}, c.protocol), h('td', {}, c.client_id), h('td', {}, c.user || h('span', { class: 'muted' }, 'anonymous')),
          h('td', {}, c.remote_address), h('td', {}, when(c.since)), h('td', { class: 'num' }, num(c.consumers)),
          h('td', { class: 'num' }, num(c.messages_in)), h('td', { class: 'num' }, num(c.messages_out)),
          h('td', { class: 'num' }, rate(c.in_rate)), h('td', { class: 'num' }, rate(c.out_rate)),
          h('td', {}, h('button', {
            type: 'button', class: 'danger', 'aria-label': `Close connection ${c.id}`,
            onclick: async () => {
              try { await api('DELETE', '/connections/' + c.id); setStatus(`Connection ${c.id} closed.`); } catch (err) { fail(err); }
              load();
            },
          }, 'Close')))) : h('tr', {}, h('td', { colspan: cols.length }, 'No connection.')))));
  };
  load();
  every(5000, load);
}

// --- subscriptions and sessions ----------------------------------------

function subscriptions(root, _arg, token) {
  const subs = h('div', { id: 'subscription-list' });
  const sess = h('div', { id: 'session-list' });
  root.append(h('h1', {}, 'Durable subscriptions'), subs, h('h1', {}, 'MQTT sessions'), sess);
  const load = async () => {
    try {
      const res = await api('GET', '/subscriptions?limit=1000');
      if (!current(token)) return;
      subs.replaceChildren(res.items.length ? h('table', { id: 'subscription-table' },
        h('thead', {}, h('tr', {}, ['queue', 'address', 'client id', 'subscription', 'filter', 'messages', 'consumers', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, res.items.map((q) => h('tr', {},
          h('td', {}, h('a', { href: '#/queues/' + enc(q.name) }, q.name)), h('td', {}, q.address), h('td', {}, q.client_id),
          h('td', {}, q.subscription), h('td', {}, q.filter), h('td', { class: 'num' }, num(q.depth)), h('td', { class: 'num' }, num(q.consumers)),
          h('td', {}, h('button', {
            type: 'button', class: 'danger', 'aria-label': `Delete subscription ${q.name}`,
            onclick: async () => {
              try { await api('DELETE', '/subscriptions/' + enc(q.name)); setStatus(`Subscription ${q.name} deleted.`); } catch (err) { fail(err); }
              load();
            },
          }, 'Delete'))))))
        : h('p', { class: 'muted' }, 'No durable subscription.'));
    } catch (err) { fail(err); }
    try {
      const res = await api('GET', '/mqtt/sessions?limit=1000');
      if (!current(token)) return;
      sess.replaceChildren(res.items.length ? h('table', { id: 'session-table' },
        h('thead', {}, h('tr', {}, ['client id', 'connected', 'persistent', 'expiry', 'subscriptions', 'in flight', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, res.items.map((s) => h('tr', { 'data-client': s.client_id },
          h('td', {}, s.client_id), h('td', {}, s.connected ? 'yes' : 'no'), h('td', {}, s.persistent ? 'yes' : 'no'),
          h('td', {}, s.expiry_seconds ? num(s.expiry_seconds) + ' s' : ''),
          h('td', {}, (s.subscriptions || []).map((x) => h('div', {}, `${x.filter} (QoS ${x.qos})`))),
          h('td', { class: 'num' }, num(s.in_flight)),
          // Only an offline session can be ended here; a connected
          // client's is closed from the connections page.
          h('td', {}, s.connected ? '' : h('button', {
            type: 'button', class: 'danger', 'aria-label': `End MQTT session ${s.client_id}`,
            onclick: async () => {
              try { await api('DELETE', '/mqtt/sessions/' + enc(s.client_id)); setStatus(`MQTT session ${s.client_id} ended.`); } catch (err) { fail(err); }
              load();
            },
          }, 'End session'))))))
        : h('p', { class: 'muted' }, 'No MQTT session.'));
    } catch (err) { fail(err); }
  };
  load();
}

// --- message trace -----------------------------------------------------

function trace(root, id, token) {
  const input = h('input', { id: 'trace-id', value: id || '', placeholder: 'ID:123', required: true });
  const out = h('div', { id: 'trace-result' });
  root.append(h('h1', {}, 'Message trace'),
    h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); location.hash = '#/trace/' + enc(input.value.trim()); } },
      h('label', { for: 'trace-id' }, 'Message id'), input, h('button', { type: 'submit', class: 'primary' }, 'Trace')),
    out);
  const table = (items, tid) => h('table', { id: tid },
    h('thead', {}, h('tr', {}, ['#', 'time (UTC)', 'event', 'message', 'protocol', 'connection', 'client id', 'user', 'address', 'queue', 'deliveries', 'detail']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, items.map((e) => h('tr', { 'data-event': e.event },
      h('td', { class: 'num' }, e.seq), h('td', {}, when(e.time)), h('td', {}, e.event),
      h('td', {}, h('a', { href: '#/trace/' + enc(e.message_id) }, e.message_id)), h('td', {}, e.protocol || ''),
      h('td', {}, e.connection || ''), h('td', {}, e.client_id || ''), h('td', {}, e.user || ''), h('td', {}, e.address || ''),
      h('td', {}, e.queue || (e.queues || []).join(', ')), h('td', { class: 'num' }, e.delivery_count || ''),
      h('td', {}, [e.detail || '', e.to ? ` → ID:${e.to}` : '', e.origin ? ` (copy of ID:${e.origin})` : ''].join(''))))));
  const load = async () => {
    try {
      if (id) {
        const res = await api('GET', '/traces/' + enc(id));
        if (!current(token)) return;
        out.replaceChildren(h('h2', {}, 'Trace of ', res.message),
          res.items.length ? table(res.items, 'trace-table') : h('p', {}, 'No event of this message is in the trace buffer (it keeps the latest ', num(res.capacity), ').'));
      } else {
        const res = await api('GET', '/traces?limit=100');
        if (!current(token)) return;
        out.replaceChildren(h('h2', {}, 'Latest events'), res.items.length ? table(res.items, 'recent-table') : h('p', { class: 'muted' }, 'Nothing traced yet.'));
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        out.replaceChildren(h('p', {}, 'Message tracing is off. Add the tracing plugin to the configuration (plugins: - name: tracing) and restart the broker.'));
        return;
      }
      fail(err);
    }
  };
  load();
  // A trace grows while its message travels: follow it.
  every(3000, load);
}

// --- start -------------------------------------------------------------

document.getElementById('login-form').addEventListener('submit', login);
document.getElementById('logout').addEventListener('click', logout);
window.addEventListener('hashchange', route);
(async () => {
  // Without stored credentials, an anonymous broker lets the console in.
  try {
    await api('GET', '/broker');
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) { document.getElementById('login-view').hidden = true; fail(err); }
    return;
  }
  enter();
})();
