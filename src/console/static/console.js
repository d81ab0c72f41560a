/**
 * The Veilgate console (served at /console/, src/console/router.ts). A plain ES module, no build
 * step: it polls the gateway's own /api every REFRESH_MS and redraws each section.
 *
 * - Everything it shows is built with createElement and text nodes: no innerHTML, no markup from
 *   data, no links made of data.
 * - Authentication is the rest of the gateway's: with AUTH=keys the key comes from the
 *   `?token=` hand-off (as for the viewer) or the sign-in form, is kept for the tab only
 *   (sessionStorage), leaves the address bar at once, and goes as `Authorization: Bearer` to
 *   this origin's /api only. Without one, the API answers 401 and the page says so; it shows
 *   nothing else. With auth off (loopback) no key is needed.
 * - Exports appear only where the gateway answers /api/exports (a 404 hides the section).
 * - Destinations, recent ingest and rules are the gateway's configuration and state, for the admin
 *   role only: for another key those sections say "admin only" (their 403) and stay empty.
 */
const TOKEN_KEY = 'veilgate_token';
const REFRESH_MS = 1500;
const HIDDEN_REFRESH_MS = 10000;
/** Not signed in: the page asks again now and then (a key may arrive as the viewer's cookie). */
const SIGNED_OUT_REFRESH_MS = 5000;
/** How often a gateway that answered 404 for /api/exports is asked again. */
const EXPORTS_RETRY_MS = 30000;

// ---------------------------------------------------------------- credential

function takeTokenFromUrl() {
  const url = new URL(window.location.href);
  const given = url.searchParams.get('token');
  if (given === null) return;
  if (given) setToken(given);
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
}

/**
 * Whether the key in sessionStorage has been accepted once. A new key is tried with one request
 * first, and a refused one is dropped at once: the gateway counts every refused credential
 * against this address, so the page must not keep polling with it.
 */
let tokenAccepted = false;

function setToken(value) {
  tokenAccepted = false;
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch (e) {
    return '';
  }
}

/** An /api URL on this origin, relative to the page (so a proxy's path prefix is kept). */
function apiUrl(path) {
  return new URL('../api/' + path, window.location.href);
}

/** GET one /api resource: { status, body } (body only for 2xx), or { status: 0 } when unreachable. */
async function getJson(path) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  let res;
  try {
    res = await fetch(apiUrl(path), { headers, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    return { status: 0 };
  }
  if (!res.ok) {
    await res.text().catch(() => '');
    return { status: res.status };
  }
  try {
    return { status: res.status, body: await res.json() };
  } catch (e) {
    return { status: -1 };
  }
}

// ---------------------------------------------------------------- DOM helpers (text only)

const FORBIDDEN_ATTRIBUTE = /^(on|href$|src$|srcdoc$|style$|action$|formaction$)/i;

/** An element with attributes and children; strings become text nodes, never markup. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (FORBIDDEN_ATTRIBUTE.test(name)) throw new Error('attribute not allowed: ' + name);
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function section(id) {
  const el = document.getElementById(id);
  return { el, note: el.querySelector('[data-note]'), body: el.querySelector('tbody') };
}

function setNote(s, text, error) {
  if (!s.note) return;
  s.note.textContent = text || '';
  s.note.classList.toggle('error', !!error);
}

function fill(tbody, rows, columns, emptyText) {
  tbody.replaceChildren(...(rows.length ? rows : [h('tr', { class: 'empty' }, h('td', { colspan: columns }, emptyText))]));
}

function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

/** A UID shortened for a table cell; the whole UID is the cell's title. */
function uid(value) {
  const s = String(value ?? '');
  return h('span', { class: 'uid', title: s }, s.length > 24 ? '…' + s.slice(-20) : s);
}

function state(value) {
  const s = String(value ?? '');
  return h('span', { class: 'state state-' + s.replace(/[^a-z-]/g, ''), 'data-state': s }, s);
}

function clampPercent(n) {
  const v = Number(n);
  return Number.isFinite(v) ? Math.max(0, Math.min(100, Math.round(v))) : 0;
}

function progressBar(percent, label) {
  const p = clampPercent(percent);
  return h('div', { class: 'progress' }, h('progress', { max: 100, value: p, 'aria-label': label, 'data-percent': p }), h('span', { class: 'percent' }, p + '%'));
}

function pairs(object) {
  return Object.entries(object || {})
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => k + '=' + (typeof v === 'object' ? JSON.stringify(v) : String(v)))
    .join(', ');
}

// ---------------------------------------------------------------- sections

function renderJobs(jobs) {
  const s = section('jobs');
  const rows = (Array.isArray(jobs) ? jobs : []).map((job) => {
    const percent = job.state === 'done' ? 100 : job.progress;
    const result = Array.isArray(job.result) ? job.result.map((r) => `${r.kind} series, ${r.instances} instances`).join('; ') : '';
    return h(
      'tr',
      { 'data-job': job.id, 'data-state': job.state },
      h('td', null, String(job.op ?? ''), job.params && Object.keys(job.params).length ? h('span', { class: 'muted' }, ' ' + pairs(job.params)) : null),
      h('td', null, uid(job.input && job.input.series)),
      h('td', null, state(job.state)),
      h('td', null, progressBar(percent, `job ${job.op} progress`)),
      h('td', null, when(job.created)),
      h('td', null, typeof job.seconds === 'number' ? job.seconds.toFixed(1) + ' s' : ''),
      h('td', { class: 'wrap' }, job.error ? String(job.error) : result),
    );
  });
  fill(s.body, rows, 7, 'No jobs.');
}

function renderTransfers(transfers) {
  const s = section('transfers');
  const rows = (Array.isArray(transfers) ? transfers : []).map((t) => {
    const c = t.counts || {};
    const total = Number(c.total) || 0;
    const sent = Number(c.sent) || 0;
    return h(
      'tr',
      { 'data-transfer': t.id, 'data-state': t.state },
      h('td', null, String(t.destination ?? '')),
      h('td', null, String(t.origin ?? '')),
      h('td', { class: 'wrap' }, pairs(t.request)),
      h('td', null, state(t.state)),
      h('td', null, progressBar(total ? (100 * sent) / total : t.state === 'done' ? 100 : 0, `transfer to ${t.destination} progress`)),
      h('td', null, `${sent} / ${total}`, c.retrying ? h('span', { class: 'muted' }, ` (${c.retrying} retrying)`) : null),
      h('td', null, String(Number(c.failed) || 0)),
      h('td', null, when(t.updated || t.created)),
    );
  });
  fill(s.body, rows, 8, 'No transfers.');
}

/** Exports, in whatever list shape /api/exports answers: progress as a percent or as done/total. */
function renderExports(answer) {
  const s = section('exports');
  const list = Array.isArray(answer) ? answer : (answer && (answer.exports || answer.items)) || [];
  const rows = list.map((x) => {
    let percent = x.progress;
    if (percent && typeof percent === 'object') percent = percent.total ? (100 * (Number(percent.done) || 0)) / Number(percent.total) : 0;
    if (x.state === 'done' || x.state === 'ready') percent = 100;
    const detail = x.error || [x.format, x.files !== undefined ? `${x.files} files` : '', x.bytes !== undefined ? `${x.bytes} bytes` : '', x.expires ? `expires ${when(x.expires)}` : ''].filter(Boolean).join(', ');
    return h(
      'tr',
      { 'data-export': x.id, 'data-state': x.state },
      h('td', null, uid(x.id)),
      h('td', null, state(x.state)),
      h('td', null, progressBar(percent, 'export progress')),
      h('td', null, when(x.created)),
      h('td', { class: 'wrap' }, String(detail)),
    );
  });
  fill(s.body, rows, 5, 'No exports.');
}

function renderDestinations(destinations) {
  const s = section('destinations');
  const rows = (Array.isArray(destinations) ? destinations : []).map((d) => {
    const target = d.type === 'dimse' ? `${d.aeTitle ?? ''}@${d.host ?? ''}:${d.port ?? ''}` : String(d.url ?? '');
    const queue = Object.entries(d.queue || {}).filter(([, n]) => Number(n) > 0);
    return h(
      'tr',
      { 'data-destination': d.name },
      h('td', null, String(d.name ?? '')),
      h('td', null, String(d.type ?? '')),
      h('td', { class: 'wrap' }, target, d.tls ? h('span', { class: 'muted' }, ' (TLS)') : null),
      h('td', null, `${d.concurrency ?? ''} × ${d.batchSize ?? ''}`),
      h('td', null, String(d.window ?? 'always')),
      h('td', { class: 'queue' }, queue.length ? queue.map(([k, n]) => h('span', { 'data-queue': k }, `${k} ${n}`)) : h('span', { class: 'muted' }, 'empty')),
    );
  });
  fill(s.body, rows, 6, 'No destinations are configured.');
}

function renderIngest(summary) {
  const s = section('ingest');
  const sources = (summary && Array.isArray(summary.sources) ? summary.sources : []).map((x) => {
    const r = x.recent || {};
    return h(
      'tr',
      { 'data-source': x.source },
      h('td', null, String(x.source ?? '')),
      h('td', { 'data-count': 'stored' }, String(x.stored ?? 0)),
      h('td', { 'data-count': 'duplicate' }, String(x.duplicate ?? 0)),
      h('td', { 'data-count': 'refused' }, String(x.refused ?? 0)),
      h('td', { 'data-count': 'warnings' }, String(x.warnings ?? 0)),
      h('td', null, `${r.stored ?? 0} / ${r.refused ?? 0} / ${r.warnings ?? 0}`),
      h('td', null, when(x.lastAt)),
    );
  });
  fill(s.body, sources, 7, 'Nothing ingested since this node started.');
  setNote(s, summary && summary.since ? `since ${when(summary.since)}${summary.node ? ' on node ' + summary.node : ''}` : '', false);
  if (s.note) s.note.classList.add('muted');
}

function renderRules(rules) {
  const jobRules = (rules && rules.jobRules) || { rules: [] };
  const routes = (rules && rules.routes) || { rules: [] };
  document.getElementById('job-rules-quiet').textContent = jobRules.quietSeconds !== undefined ? `(after ${jobRules.quietSeconds} s quiet)` : '';
  document.getElementById('routes-quiet').textContent = routes.quietSeconds !== undefined ? `(after ${routes.quietSeconds} s quiet)` : '';
  fill(
    document.querySelector('#job-rules tbody'),
    (jobRules.rules || []).map((r) =>
      h(
        'tr',
        null,
        h('td', null, String(r.modality ?? 'any')),
        h('td', null, String(r.minInstances ?? '')),
        h('td', { class: 'wrap' }, (r.jobs || []).map((j) => `${j.op}${j.params && Object.keys(j.params).length ? ' (' + pairs(j.params) + ')' : ''}`).join('; ')),
      ),
    ),
    3,
    'No job rules.',
  );
  fill(
    document.querySelector('#routes tbody'),
    (routes.rules || []).map((r) => {
      const conditions = pairs({ modality: r.modality && r.modality.join('|'), sopClassUID: r.sopClassUID && r.sopClassUID.join('|'), project: r.project, seriesDescription: r.seriesDescription, minInstances: r.minInstances });
      return h('tr', { 'data-route': r.name }, h('td', null, String(r.name ?? '')), h('td', null, String(r.from ?? '')), h('td', { class: 'wrap' }, conditions || 'every series'), h('td', null, (r.destinations || []).join(', ')));
    }),
    4,
    'No routing rules.',
  );
}

// ---------------------------------------------------------------- the loop

const SECTIONS = [
  { id: 'jobs', path: 'jobs?limit=50', render: renderJobs },
  { id: 'transfers', path: 'transfers?limit=50', render: renderTransfers },
  { id: 'exports', path: 'exports', render: renderExports, optional: true },
  { id: 'destinations', path: 'transfers/destinations', render: renderDestinations, adminOnly: true },
  { id: 'ingest', path: 'ingest/summary', render: renderIngest, adminOnly: true },
  { id: 'rules', path: 'rules', render: renderRules, adminOnly: true },
];

const ADMIN_ONLY_NOTE = 'Admin only: this section needs an API key with the admin role (the gateway answered 403).';

let exportsAbsentUntil = 0;

function clearData() {
  for (const s of SECTIONS) {
    const body = section(s.id).body;
    if (body) body.replaceChildren();
  }
  for (const t of document.querySelectorAll('#rules tbody')) t.replaceChildren();
}

function showSignIn(message) {
  const signin = document.getElementById('signin');
  document.getElementById('signin-message').textContent = message;
  signin.hidden = false;
  document.getElementById('data').hidden = true;
  clearData();
}

function setStatus(text, error) {
  const el = document.getElementById('status');
  el.textContent = text;
  el.classList.toggle('error', !!error);
}

let signedOut = false;

/** One round: every section's route, then every section redrawn. */
async function refresh() {
  const wanted = SECTIONS.filter((s) => !(s.optional && Date.now() < exportsAbsentUntil));
  let first;
  if (token() && !tokenAccepted) {
    first = await getJson(wanted[0].path);
    if (first.status !== 401 && first.status !== 429 && first.status !== 0) tokenAccepted = true;
  }
  const answers = first && !tokenAccepted ? wanted.map(() => ({ status: first.status })) : await Promise.all(wanted.map((s, i) => (i === 0 && first ? first : getJson(s.path))));
  const statuses = answers.map((a) => a.status);
  signedOut = statuses.includes(401) || statuses.includes(429);
  if (statuses.includes(401)) {
    const refused = !!token();
    if (refused) setToken('');
    showSignIn(
      refused
        ? 'The gateway refused that API key (401); it is forgotten. Give a key with the read role.'
        : 'Not signed in: the gateway answered 401 (a credential is needed). Give an API key with the read role.',
    );
    setStatus('not signed in (401)', true);
    document.getElementById('forget').hidden = true;
    return;
  }
  if (statuses.includes(429)) {
    showSignIn('Too many failed sign-ins from this address (429): wait a minute, then try again.');
    setStatus('refused (429)', true);
    return;
  }
  document.getElementById('forget').hidden = !token();
  document.getElementById('signin').hidden = true;
  document.getElementById('data').hidden = false;
  let problems = 0;
  let adminOnly = 0;
  wanted.forEach((s, i) => {
    const a = answers[i];
    const sec = section(s.id);
    if (s.optional) {
      if (a.status === 404 || a.status === 405 || a.status === 501) {
        exportsAbsentUntil = Date.now() + EXPORTS_RETRY_MS;
        sec.el.hidden = true;
        return;
      }
      sec.el.hidden = false;
    }
    sec.el.classList.toggle('admin-only', !!s.adminOnly && a.status === 403);
    if (a.status >= 200 && a.status < 300) {
      if (s.id !== 'ingest') setNote(sec, '', false);
      s.render(a.body);
      return;
    }
    if (sec.body) sec.body.replaceChildren();
    if (s.id === 'rules') {
      for (const t of document.querySelectorAll('#rules tbody')) t.replaceChildren();
      for (const q of ['job-rules-quiet', 'routes-quiet']) document.getElementById(q).textContent = '';
    }
    if (s.adminOnly && a.status === 403) {
      adminOnly++;
      if (sec.note) sec.note.classList.remove('muted');
      setNote(sec, ADMIN_ONLY_NOTE, false);
      return;
    }
    problems++;
    const why = a.status === 403 ? 'this key lacks the role this needs (403)' : a.status === 0 ? 'the gateway did not answer; retrying' : `the gateway answered ${a.status}; retrying`;
    setNote(sec, why, a.status !== 403);
  });
  if (statuses.every((st) => st === 0)) setStatus('the gateway did not answer; retrying', true);
  else {
    const notes = [problems ? `${problems} section${problems > 1 ? 's' : ''} unavailable` : '', adminOnly ? `${adminOnly} admin only` : ''].filter(Boolean).join('; ');
    setStatus(`updated ${new Date().toLocaleTimeString()}${notes ? ` (${notes})` : ''}`, false);
  }
}

let timer = 0;
async function loop() {
  clearTimeout(timer);
  try {
    await refresh();
  } catch (e) {
    setStatus('the console failed to draw an answer: ' + String((e && e.message) || e), true);
  }
  timer = setTimeout(loop, document.hidden ? HIDDEN_REFRESH_MS : signedOut ? SIGNED_OUT_REFRESH_MS : REFRESH_MS);
}

function start() {
  takeTokenFromUrl();
  document.getElementById('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = document.getElementById('key');
    const value = input.value.trim();
    input.value = '';
    if (value) setToken(value);
    void loop();
  });
  document.getElementById('forget').addEventListener('click', () => {
    setToken('');
    void loop();
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) void loop();
  });
  void loop();
}

start();
