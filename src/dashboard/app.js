// Roster's live dashboard: the workspace's audience syncs, with runs moving
// live. A plain browser ES module, no build step and no framework.
//
// - Queries and mutations go to /graphql as HTTP POSTs with
//   `Authorization: Bearer <token>`.
// - Live updates come over graphql-ws on the same path, with the token in
//   `connectionParams`. Per sync the page subscribes to syncRunProgress,
//   syncRunFinished and matchRateUpdated. Subscriptions only say *when* to
//   look: after a run finishes, or after the socket reconnects (events sent
//   meanwhile are lost), the page re-reads the truth through queries.
// - The token is kept in localStorage; "Sign out" forgets it.
// - The page is served with a strict Content-Security-Policy: no inline
//   scripts, and styles are only ever set through the CSSOM (element.style),
//   never as style attributes. All DOM is built with createElement and
//   textContent, never innerHTML, so names from the API cannot inject markup.
import { createClient } from './vendor/graphql-ws.js';
import {
  FINISHED_SUBSCRIPTION,
  MATCH_RATE_SUBSCRIPTION,
  PROGRESS_SUBSCRIPTION,
  RUN_NOW_MUTATION,
  SYNC_QUERY,
  SYNCS_QUERY,
  VIEWER_QUERY,
} from './documents.js';

const GRAPHQL_PATH = '/graphql';
const TOKEN_KEY = 'roster.apiToken';
const SVG_NS = 'http://www.w3.org/2000/svg';
/** Pages read at most (PAGE_SIZE × MAX_PAGES syncs; see documents.js). */
const MAX_PAGES = 10;
/** Cards loading their history at once. */
const DETAIL_CONCURRENCY = 4;
/** Subscriptions per WebSocket: the server allows 50 operations per connection. */
const OPERATIONS_PER_SOCKET = 45;

// ─── State ──────────────────────────────────────────────────────────────────

const state = {
  /** The API token in use, or null when signed out. */
  token: null,
  /** Whether the token may run syncs (WRITE or ADMIN scope). */
  canWrite: false,
  /** graphql-ws connections while signed in: [{ client, operations, status }] (see openSocket). */
  sockets: [],
  /** syncId → view (see createSyncView). */
  syncs: new Map(),
};

// ─── Small helpers ──────────────────────────────────────────────────────────

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

/** Builds an element: h('p', { class: 'x', text: 'hi', onclick: f }, child, …). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

/** An SVG element with attributes. */
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  el.append(...children);
  return el;
}

const numberFormat = new Intl.NumberFormat();
const num = (n) => (n === null || n === undefined ? '—' : numberFormat.format(n));
const pct = (r) => `${(r * 100).toFixed(1)}%`;
const total = (c) => (c ? c.adds + c.removes + c.updates : 0);
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const shortDateFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "850 ms", "3.4 s", "2 min 5 s", "1 h 3 min". */
function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "3 minutes ago", "yesterday", "in 5 hours". */
function relative(iso) {
  if (!iso) return '';
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  const units = [['day', 86400], ['hour', 3600], ['minute', 60]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relativeFormat.format(Math.round(seconds / size), unit);
  }
  return relativeFormat.format(Math.round(seconds), 'second');
}

function timeEl(iso, text) {
  return iso ? h('time', { datetime: iso, title: dateTimeFormat.format(new Date(iso)), text }) : '—';
}

const STATUS_LABELS = {
  QUEUED: 'Queued', RUNNING: 'Running', SUCCEEDED: 'Succeeded', PARTIAL: 'Partial', FAILED: 'Failed', CANCELLED: 'Cancelled',
  ACTIVE: 'Active', PAUSED: 'Paused', DRAFT: 'Draft',
};
const MODE_LABELS = { MIRROR: 'Mirror', ADDITIVE: 'Additive', SUBTRACTIVE: 'Subtractive' };
const PHASE_LABELS = { PLANNING: 'Planning changes', DELIVERING: 'Delivering', ACCOUNTING: 'Finishing' };
const statusLabel = (s) => STATUS_LABELS[s] ?? s ?? '—';

const sep = () => h('span', { class: 'sep', 'aria-hidden': 'true', text: '·' });

function badge(status, testid) {
  return h('span', { class: `badge badge-${String(status ?? 'none').toLowerCase()}`, 'data-testid': testid, text: statusLabel(status) });
}

/** "+2,000 −3 ~2", with the words in a tooltip. */
function opsBreakdown(c) {
  if (!c) return null;
  return h('span', {
    class: 'ops',
    title: `${num(c.adds)} adds, ${num(c.removes)} removes, ${num(c.updates)} updates`,
    text: `+${num(c.adds)} −${num(c.removes)} ~${num(c.updates)}`,
  });
}

// ─── The API over HTTP ──────────────────────────────────────────────────────

/** An error from the API; `auth` when the token itself was refused. */
class ApiError extends Error {
  constructor(message, { auth = false } = {}) {
    super(message);
    this.name = 'ApiError';
    this.auth = auth;
  }
}

/** Runs a query or mutation; resolves to `data`, or throws the first error's message. */
async function gql(query, variables = {}, token = state.token) {
  let res;
  try {
    res = await fetch(GRAPHQL_PATH, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch (err) {
    throw new ApiError(`Could not reach Roster (${err instanceof Error ? err.message : String(err)}).`);
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new ApiError(`Roster answered HTTP ${res.status} without a GraphQL response.`);
  }
  const first = body.errors?.[0];
  if (first) {
    const code = first.extensions?.code;
    throw new ApiError(first.message ?? `HTTP ${res.status}`, { auth: res.status === 401 || code === 'UNAUTHENTICATED' });
  }
  if (!body.data) throw new ApiError(`Roster answered HTTP ${res.status} without data.`);
  return body.data;
}

// ─── Token storage ──────────────────────────────────────────────────────────

// localStorage can be unavailable (privacy modes); then the token lives only in memory.
function storedToken() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}
function storeToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* memory only */
  }
}

// ─── Signing in and out ─────────────────────────────────────────────────────

function show(testid, visible) {
  const el = $(testid);
  if (el) el.hidden = !visible;
}

/** Shows the sign-in form, with the server's message when a token was refused. */
function showSignIn(message) {
  show('loading', false);
  show('syncs', false);
  show('sign-out', false);
  show('workspace-name', false);
  show('live-status', false);
  show('sign-in', true);
  const error = $('auth-error');
  error.textContent = message ?? '';
  error.hidden = !message;
  const input = $('token-input');
  input.setAttribute('aria-invalid', message ? 'true' : 'false');
  input.focus();
}

/** Checks the token with a `viewer` query; on success keeps it and shows the syncs. */
async function signIn(token) {
  show('sign-in', false);
  show('loading', true);
  let viewer;
  try {
    ({ viewer } = await gql(VIEWER_QUERY, {}, token));
  } catch (err) {
    if (err instanceof ApiError && err.auth) storeToken(null);
    showSignIn(err instanceof Error ? err.message : String(err));
    return;
  }
  if (!viewer) {
    storeToken(null);
    showSignIn('Roster did not recognise this token.');
    return;
  }
  state.token = token;
  state.canWrite = (viewer.scopes ?? []).some((s) => s === 'WRITE' || s === 'ADMIN');
  storeToken(token);
  $('token-input').value = '';

  const ws = $('workspace-name');
  ws.textContent = viewer.workspace?.name ?? viewer.workspace?.slug ?? '';
  ws.hidden = !ws.textContent;
  show('sign-out', true);
  show('loading', false);
  show('syncs', true);
  openSocket();
  await loadSyncs();
}

function signOut(message) {
  for (const view of state.syncs.values()) stopSubscriptions(view);
  state.syncs.clear();
  $('sync-list').replaceChildren();
  closeSockets();
  state.token = null;
  storeToken(null);
  showSignIn(message);
}

/** An API call refused the token while signed in (revoked, expired): back to sign-in. */
function handleError(err, where) {
  if (err instanceof ApiError && err.auth) {
    signOut(err.message);
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (where) {
    where.textContent = message;
    where.hidden = false;
  }
}

// ─── Live connection (graphql-ws) ───────────────────────────────────────────

/** The indicator sums up every socket: live when all are, offline when any is. */
function updateLive() {
  const el = $('live-status');
  const statuses = state.sockets.map((s) => s.status);
  const [name, text] = statuses.length === 0
    ? ['off', 'Offline']
    : statuses.includes('offline')
      ? ['offline', 'Reconnecting…']
      : statuses.every((st) => st === 'connected')
        ? ['connected', 'Live']
        : ['connecting', 'Connecting…'];
  el.hidden = statuses.length === 0;
  el.dataset.state = name;
  el.querySelector('.live-text').textContent = text;
}

/**
 * Opens one graphql-ws connection. The server runs at most 50 operations per
 * connection, so a workspace with many syncs gets several (see subscribe).
 */
function openSocket() {
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${GRAPHQL_PATH}`;
  const token = state.token;
  const socket = { client: null, operations: 0, status: 'connecting' };
  const setStatus = (status) => {
    socket.status = status;
    updateLive();
  };
  socket.client = createClient({
    url,
    connectionParams: () => ({ authorization: `Bearer ${token}` }),
    // Connect now, so the indicator tells the truth even before any subscription.
    lazy: false,
    onNonLazyError: () => {},
    keepAlive: 15_000,
    // A dashboard stays open for hours: keep reconnecting, with graphql-ws's backoff.
    retryAttempts: Infinity,
    shouldRetry: () => true,
    on: {
      connecting: () => setStatus('connecting'),
      connected: (_ws, _payload, wasRetry) => {
        setStatus('connected');
        // Events published while the socket was down are not replayed: re-read.
        if (wasRetry) scheduleReload();
      },
      closed: (event) => {
        if (!state.sockets.includes(socket)) return; // closed by signOut
        setStatus('offline');
        // 4403: the server refused the token (revoked meanwhile?). Ask over
        // HTTP, which says why, and sign out if it is so.
        if (event && event.code === 4403) gql(VIEWER_QUERY).catch((err) => handleError(err, $('notice')));
      },
    },
  });
  state.sockets.push(socket);
  updateLive();
  return socket;
}

function closeSockets() {
  const sockets = state.sockets.splice(0);
  for (const socket of sockets) socket.client.dispose();
  updateLive();
}

let reloadTimer = null;
/** Several sockets may reconnect at once: reload the list once for all of them. */
function scheduleReload() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => loadSyncs(), 300);
}

/** Subscribes over graphql-ws, on a socket with room for one more operation; returns the unsubscribe function. */
function subscribe(query, variables, onData, onError) {
  if (!state.token) return () => {};
  const socket = state.sockets.find((s) => s.operations < OPERATIONS_PER_SOCKET) ?? openSocket();
  socket.operations += 1;
  const stop = socket.client.subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) onError(result.errors[0].message);
        else if (result.data) onData(result.data);
      },
      // GraphQL errors arrive as a list; a socket failure as a CloseEvent or Error.
      error: (err) => onError(Array.isArray(err) ? err[0]?.message : err?.message ?? err?.reason ?? String(err)),
      complete: () => {},
    },
  );
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    socket.operations -= 1;
    stop();
  };
}

// ─── Loading syncs ──────────────────────────────────────────────────────────

async function loadSyncs() {
  const notice = $('notice');
  const syncs = [];
  let more = false;
  try {
    let after = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { audienceSyncs: connection } = await gql(SYNCS_QUERY, { after });
      syncs.push(...(connection?.edges ?? []).map((e) => e.node));
      more = Boolean(connection?.pageInfo?.hasNextPage);
      after = connection?.pageInfo?.endCursor ?? null;
      if (!more || !after) break;
    }
  } catch (err) {
    handleError(err, notice);
    return;
  }
  if (!state.token) return; // signed out meanwhile
  notice.hidden = !more;
  if (more) notice.textContent = `Showing the first ${syncs.length} syncs.`;
  show('empty', syncs.length === 0);

  // Reconcile: update the views we have, add new ones, drop deleted ones.
  const list = $('sync-list');
  const seen = new Set();
  syncs.forEach((sync, i) => {
    seen.add(sync.id);
    let view = state.syncs.get(sync.id);
    if (!view) {
      view = createSyncView(sync);
      state.syncs.set(sync.id, view);
      startSubscriptions(view);
      // A sync with match rates gets its history charted, not only the latest.
      if (sync.matchRate) refreshSync(view);
    }
    updateSyncView(view, sync);
    // Follow the API's order, moving a card only when it is out of place
    // (moving a node drops the focus inside it).
    if (list.children[i] !== view.root) list.insertBefore(view.root, list.children[i] ?? null);
  });
  for (const [id, view] of state.syncs) {
    if (seen.has(id)) continue;
    stopSubscriptions(view);
    view.root.remove();
    state.syncs.delete(id);
  }

  // Then each card's run history, a few at a time.
  const queue = [...state.syncs.values()];
  const worker = async () => {
    for (let view = queue.shift(); view; view = queue.shift()) await refreshSync(view);
  };
  await Promise.all(Array.from({ length: DETAIL_CONCURRENCY }, worker));
}

/** Re-reads one sync (after its run finished) and updates its card. */
async function refreshSync(view) {
  try {
    const { audienceSync } = await gql(SYNC_QUERY, { id: view.id });
    if (audienceSync) updateSyncView(view, audienceSync);
  } catch (err) {
    handleError(err, view.els.message);
  }
}

// ─── One sync's card ────────────────────────────────────────────────────────

/**
 * Builds the card's fixed skeleton once; `updateSyncView` fills it from the
 * API and the subscription handlers move its progress bar. Keeping the same
 * elements (rather than re-rendering) keeps focus and the bar's animation.
 */
function createSyncView(sync) {
  const titleId = `sync-${sync.id}-title`;
  const els = {
    segment: h('span', { class: 'segment-name', 'data-testid': 'sync-segment' }),
    destination: h('span', { class: 'destination-name', 'data-testid': 'sync-destination' }),
    status: h('span'),
    mode: h('span', { class: 'badge badge-mode', 'data-testid': 'sync-mode' }),
    size: h('span', { 'data-testid': 'segment-size' }),
    destinationType: h('span', { class: 'mono', 'data-testid': 'destination-type' }),
    schedule: h('span', { 'data-testid': 'schedule' }),
    lastRun: h('p', { class: 'meta', 'data-testid': 'last-run' }),
    runButton: h('button', { type: 'button', class: 'button button-primary', 'data-testid': 'run-button', text: 'Run now' }),
    message: h('p', { class: 'error', role: 'alert', 'data-testid': 'sync-message', hidden: true }),
    phase: h('span', { class: 'phase', 'data-testid': 'progress-phase', text: 'No run in progress' }),
    percent: h('span', { class: 'percent', 'data-testid': 'progress-percent', text: '' }),
    fill: h('div', { class: 'bar-fill' }),
    detail: h('p', { class: 'progress-detail', 'data-testid': 'progress-detail' }),
    final: h('p', { class: 'final', role: 'status', 'data-testid': 'final-counts', hidden: true }),
    history: h('tbody'),
    trendTitle: h('h3', { 'data-testid': 'trend-title' }),
    trendNote: h('p', { class: 'hint', 'data-testid': 'trend-note' }),
    chart: h('div', { class: 'chart', 'data-testid': 'trend-chart' }),
  };
  els.bar = h('div', {
    class: 'bar', role: 'progressbar', 'aria-label': 'Run progress', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0, 'data-testid': 'progress-bar',
  }, els.fill);

  const root = h('article', { class: 'sync', 'data-testid': 'sync-row', 'data-sync-id': sync.id, 'aria-labelledby': titleId },
    h('header', { class: 'sync-head' },
      h('div', { class: 'sync-title' },
        h('h2', { id: titleId }, els.segment, h('span', { class: 'arrow', 'aria-hidden': 'true', text: ' → ' }), h('span', { class: 'visually-hidden', text: ' to ' }), els.destination),
        h('p', { class: 'meta' }, els.status, els.mode, els.size, sep(), els.destinationType, sep(), els.schedule),
        els.lastRun,
      ),
      els.runButton,
    ),
    els.message,
    h('section', { class: 'progress', 'aria-label': 'Current run' },
      h('div', { class: 'progress-top' }, els.phase, els.percent),
      els.bar,
      els.detail,
      els.final,
    ),
    h('div', { class: 'sync-body' },
      h('section', { class: 'history' },
        h('h3', { text: 'Recent runs' }),
        h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': 'Recent runs' },
          h('table', { 'data-testid': 'run-history' },
            h('thead', {}, h('tr', {},
              ['Started', 'Status', 'Planned', 'Delivered', 'Rejected', 'Duration', 'Error'].map((c) => h('th', { scope: 'col', text: c })),
            )),
            els.history,
          ),
        ),
      ),
      h('section', { class: 'trend' }, els.trendTitle, els.chart, els.trendNote),
    ),
  );

  const view = {
    id: sync.id,
    root,
    els,
    sync,
    runs: [],
    runsLoaded: false,
    /** Match-rate points `{ at: Date, value: 0..1 }`: stored samples, then live matchRateUpdated events. */
    matchRates: [],
    /** The run the progress bar shows. */
    currentRunId: null,
    /** Runs whose syncRunFinished arrived: late progress events for them are ignored. */
    finishedRuns: new Set(),
    /** A triggerAudienceSync call is in flight. */
    triggering: false,
    unsubscribe: [],
  };
  els.runButton.addEventListener('click', () => runNow(view));
  return view;
}

function updateSyncView(view, sync) {
  const { els } = view;
  view.sync = sync;
  // The list carries no run history; the per-sync query does.
  if (sync.runs) {
    view.runs = sync.runs.edges.map((e) => e.node);
    view.runsLoaded = true;
  }
  // Stored match rates: the latest from the list, the history from the
  // per-sync query (kept out of the list, whose cost the server limits);
  // merged with live ones.
  const stored = [...(sync.matchRate ? [sync.matchRate] : []), ...(sync.matchRates?.edges.map((e) => e.node) ?? [])];
  if (stored.length) {
    const seen = new Set(view.matchRates.map((p) => p.at.getTime()));
    for (const node of stored) {
      const at = new Date(node.sampledAt);
      if (node.rate === null || seen.has(at.getTime())) continue;
      seen.add(at.getTime());
      view.matchRates.push({ at, value: node.rate });
    }
    view.matchRates.sort((a, b) => a.at - b.at);
  }

  const segmentName = sync.segment?.name ?? `All ${sync.entity?.name ?? 'records'}`;
  const destinationName = sync.destination?.name ?? 'Unknown destination';
  els.segment.textContent = segmentName;
  els.destination.textContent = destinationName;
  els.runButton.setAttribute('aria-label', `Run now: ${segmentName} to ${destinationName}`);
  els.status.replaceWith((els.status = badge(sync.status, 'sync-status')));
  els.mode.textContent = MODE_LABELS[sync.mode] ?? sync.mode ?? '';
  els.size.textContent = sync.segment
    ? sync.segment.size === null || sync.segment.size === undefined
      ? 'not evaluated yet'
      : `${num(sync.segment.size)} members`
    : 'every record';
  els.destinationType.textContent = sync.destination?.type ?? '';
  const nextAt = sync.schedule?.nextAt;
  els.schedule.textContent = `${sync.schedule?.description ?? 'manual'}${nextAt ? `, next ${relative(nextAt)}` : ''}`;

  const last = sync.lastRun;
  els.lastRun.replaceChildren(
    ...(last
      ? ['Last run: ', badge(last.status, 'last-run-status'), ' ', timeEl(last.finishedAt ?? last.startedAt ?? last.queuedAt, relative(last.finishedAt ?? last.startedAt ?? last.queuedAt)),
        last.finishedAt ? ` — ${num(total(last.delivered))} delivered${last.rejected ? `, ${num(last.rejected)} rejected` : ''}` : '']
      : ['Never run.']),
  );

  const lastBusy = last && (last.status === 'QUEUED' || last.status === 'RUNNING');
  if (last && lastBusy && view.currentRunId !== last.id && !view.finishedRuns.has(last.id)) {
    // A run we have not heard about yet (queued elsewhere, or before the page loaded).
    startRunDisplay(view, last.id, last.status === 'QUEUED' ? 'Queued, waiting for a worker' : 'Running');
  } else if (last && !lastBusy && view.currentRunId === last.id && !view.finishedRuns.has(last.id)) {
    // The run we were showing finished while its event was lost (the socket was down).
    showFinal(view, { runId: last.id, status: last.status, planned: last.planned, delivered: last.delivered, rejected: last.rejected, error: last.error, durationMs: last.durationMs });
  }
  updateRunButton(view);
  renderHistory(view);
  renderTrend(view);
}

function runInFlight(view) {
  const last = view.sync?.lastRun;
  const busyByData = last && (last.status === 'QUEUED' || last.status === 'RUNNING') && !view.finishedRuns.has(last.id);
  return view.triggering || Boolean(busyByData) || (view.currentRunId !== null && !view.finishedRuns.has(view.currentRunId));
}

function updateRunButton(view) {
  const button = view.els.runButton;
  const busy = runInFlight(view);
  button.disabled = busy || !state.canWrite;
  button.setAttribute('aria-busy', busy ? 'true' : 'false');
  button.textContent = busy ? 'Running…' : 'Run now';
  button.title = state.canWrite ? '' : 'This token can only read; running a sync needs the WRITE scope.';
}

function renderHistory(view) {
  const rows = view.runs.map((run) =>
    h('tr', { 'data-testid': 'run-row', 'data-run-id': run.id, 'data-status': run.status },
      h('td', { class: 'when' }, timeEl(run.startedAt ?? run.queuedAt, run.startedAt || run.queuedAt ? shortDateFormat.format(new Date(run.startedAt ?? run.queuedAt)) : '')),
      h('td', {}, badge(run.status)),
      h('td', { class: 'num' }, h('strong', { text: num(total(run.planned)) }), ' ', opsBreakdown(run.planned)),
      h('td', { class: 'num', 'data-testid': 'run-delivered' }, h('strong', { text: num(total(run.delivered)) }), ' ', opsBreakdown(run.delivered)),
      h('td', { class: 'num', text: num(run.rejected) }),
      h('td', { class: 'num', text: duration(run.durationMs) }),
      h('td', { class: 'run-error', title: run.error ?? '', text: run.error ?? '' }),
    ),
  );
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 7, class: 'empty-cell', text: view.runsLoaded ? 'No runs yet.' : 'Loading…' })));
  view.els.history.replaceChildren(...rows);
  // The Error column only when some run has one: it is usually empty.
  view.els.history.closest('table').classList.toggle('has-errors', view.runs.some((r) => r.error));
}

// ─── Running and progress ───────────────────────────────────────────────────

async function runNow(view) {
  const { els } = view;
  els.message.hidden = true;
  view.triggering = true;
  updateRunButton(view);
  try {
    const { triggerAudienceSync: result } = await gql(RUN_NOW_MUTATION, { id: view.id });
    if (result?.__typename !== 'TriggerAudienceSyncPayload') {
      throw new Error(result?.message ?? 'The run could not be started.');
    }
    const run = result.run;
    // Progress events may already have arrived for this run; keep them.
    if (view.currentRunId !== run.id) startRunDisplay(view, run.id, run.status === 'QUEUED' ? 'Queued, waiting for a worker' : 'Running');
  } catch (err) {
    handleError(err, els.message);
  } finally {
    view.triggering = false;
    updateRunButton(view);
  }
}

/** Resets the progress area for a run that is starting. */
function startRunDisplay(view, runId, phaseText) {
  const { els } = view;
  view.currentRunId = runId;
  els.bar.dataset.state = 'running';
  els.bar.dataset.runId = runId;
  setBar(view, 0);
  els.phase.textContent = phaseText;
  els.percent.textContent = '';
  els.detail.textContent = '';
  els.final.hidden = true;
  updateRunButton(view);
}

function setBar(view, percent, text) {
  const { bar, fill } = view.els;
  const value = Math.max(0, Math.min(100, percent));
  bar.setAttribute('aria-valuenow', String(value));
  bar.setAttribute('aria-valuetext', text ?? `${value}%`);
  fill.style.width = `${value}%`; // CSSOM, allowed by the CSP (unlike a style attribute)
}

/** "Adds 840 / 1,500 · Removes 0 / 3", the operations that have work planned. */
function perOperation(done, planned) {
  const ops = [['Adds', 'adds'], ['Removes', 'removes'], ['Updates', 'updates']];
  const shown = ops.filter(([, k]) => planned[k] > 0);
  return (shown.length ? shown : ops).map(([label, k]) => `${label} ${num(done[k])} / ${num(planned[k])}`).join(' · ');
}

function eta(seconds) {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 1) return 'almost done';
  return `about ${duration(seconds * 1000)} left`;
}

function onProgress(view, p) {
  if (view.finishedRuns.has(p.runId)) return; // a late event for a finished run
  if (view.currentRunId !== p.runId) startRunDisplay(view, p.runId, 'Running');
  const { els } = view;
  const planned = total(p.planned);
  const done = total(p.done) + p.rejected;
  setBar(view, p.percent, `${p.percent}% — ${num(done)} of ${num(planned)} rows`);
  els.phase.textContent = PHASE_LABELS[p.phase] ?? p.phase;
  els.percent.textContent = `${p.percent}%`;
  els.detail.textContent = [
    perOperation(p.done, p.planned),
    p.rejected ? `${num(p.rejected)} rejected` : '',
    p.phase === 'DELIVERING' ? `${num(p.rowsPerSecond)} rows/s` : '',
    p.phase === 'DELIVERING' ? eta(p.etaSeconds) : '',
  ].filter(Boolean).join(' · ');
}

/** A run's outcome, from syncRunFinished or (when that was missed) from a query. */
function showFinal(view, f) {
  const { els } = view;
  view.finishedRuns.add(f.runId);
  view.currentRunId = f.runId;
  els.bar.dataset.state = f.status.toLowerCase();
  els.bar.dataset.runId = f.runId;
  // A run that ran to the end is complete, whatever was rejected on the way.
  const complete = f.status === 'SUCCEEDED' || f.status === 'PARTIAL';
  const planned = total(f.planned);
  const percent = complete ? 100 : Number(els.bar.getAttribute('aria-valuenow')) || 0;
  setBar(view, percent, `${statusLabel(f.status)}: ${num(total(f.delivered))} of ${num(planned)} rows delivered`);
  els.phase.textContent = statusLabel(f.status);
  els.percent.textContent = `${percent}%`;
  els.detail.textContent = perOperation(f.delivered, f.planned);

  const d = f.delivered;
  els.final.dataset.runId = f.runId;
  els.final.dataset.status = f.status;
  els.final.dataset.adds = String(d.adds);
  els.final.dataset.removes = String(d.removes);
  els.final.dataset.updates = String(d.updates);
  els.final.dataset.rejected = String(f.rejected);
  els.final.replaceChildren(
    badge(f.status),
    f.durationMs === null || f.durationMs === undefined ? ': ' : ` in ${duration(f.durationMs)}: `,
    h('strong', { text: num(d.adds) }), ' added, ',
    h('strong', { text: num(d.removes) }), ' removed, ',
    h('strong', { text: num(d.updates) }), ' updated, ',
    h('strong', { text: num(f.rejected) }), ' rejected.',
    f.error ? h('span', { class: 'final-error', text: ` ${f.error}` }) : '',
  );
  els.final.hidden = false;
  updateRunButton(view);
}

function onFinished(view, f) {
  showFinal(view, f);
  // The run history, last run and segment size have changed: re-read them.
  refreshSync(view);
}

function onMatchRate(view, m) {
  if (m.rate === null || m.rate === undefined) return;
  view.matchRates.push({ at: new Date(m.sampledAt), value: m.rate });
  view.matchRates.sort((a, b) => a.at - b.at);
  renderTrend(view);
}

function startSubscriptions(view) {
  const variables = { syncId: view.id };
  // A subscription the server refuses (e.g. an older server without it) is
  // reported on the card; the rest of the page keeps working.
  const failed = (what) => (message) => {
    view.els.message.textContent = `Live ${what} unavailable: ${message}`;
    view.els.message.hidden = false;
  };
  view.unsubscribe.push(
    subscribe(PROGRESS_SUBSCRIPTION, variables, (d) => d.syncRunProgress && onProgress(view, d.syncRunProgress), failed('progress')),
    subscribe(FINISHED_SUBSCRIPTION, variables, (d) => d.syncRunFinished && onFinished(view, d.syncRunFinished), failed('run results')),
    subscribe(MATCH_RATE_SUBSCRIPTION, variables, (d) => d.matchRateUpdated && onMatchRate(view, d.matchRateUpdated), failed('match rates')),
  );
}

function stopSubscriptions(view) {
  for (const stop of view.unsubscribe.splice(0)) stop();
}

// ─── Trend chart ────────────────────────────────────────────────────────────

/**
 * What the trend chart shows for a sync: its match rates where the
 * destination reports them (stored samples, then live updates); otherwise,
 * the rows delivered per run.
 */
function trendFor(view) {
  if (view.matchRates.length > 0) {
    return {
      title: 'Match rate',
      note: 'Share of uploaded records the destination matched, as it reports them.',
      series: { label: 'Match rate', points: view.matchRates, format: pct, min: 0, max: 1 },
    };
  }
  const finished = view.runs.filter((r) => r.finishedAt).slice().reverse(); // oldest first
  return {
    title: 'Delivered rows per run',
    note: 'Match rates will be charted here once the destination reports them.',
    series: {
      label: 'Rows delivered',
      points: finished.map((r) => ({ at: new Date(r.finishedAt), value: total(r.delivered) })),
      format: (n) => `${num(n)} rows`,
      min: 0,
    },
  };
}

function renderTrend(view) {
  const { title, note, series } = trendFor(view);
  view.els.trendTitle.textContent = title;
  view.els.trendNote.textContent = note;
  renderLineChart(view.els.chart, series);
}

/**
 * Draws one series as an inline SVG line chart into `container`.
 *
 * series: { label, points: [{ at: Date, value: number }] (oldest first),
 *           format: (value) => string, min?: number, max?: number }
 *
 * Points are spaced evenly (one per run or sample); the first and last dates
 * label the x axis, the range the y axis. Each point has a tooltip.
 */
function renderLineChart(container, series) {
  const { points, format } = series;
  if (points.length === 0) {
    container.replaceChildren(h('p', { class: 'chart-empty', text: 'Nothing to chart yet.' }));
    return;
  }
  const W = 360, H = 150;
  const pad = { left: 8, right: 8, top: 16, bottom: 22 };
  const values = points.map((p) => p.value);
  const lo = series.min ?? Math.min(...values);
  let hi = series.max ?? Math.max(...values);
  if (hi <= lo) hi = lo + 1;
  const x = (i) => (points.length === 1 ? W / 2 : pad.left + (i * (W - pad.left - pad.right)) / (points.length - 1));
  const y = (v) => pad.top + (1 - (v - lo) / (hi - lo)) * (H - pad.top - pad.bottom);

  const uid = `chart-${Math.random().toString(36).slice(2, 9)}`;
  const latest = points[points.length - 1];
  const summary = `${series.label}: ${points.length} point${points.length === 1 ? '' : 's'}, from ${format(Math.min(...values))} to ${format(Math.max(...values))}; latest ${format(latest.value)}.`;

  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${uid}-t ${uid}-d`, class: 'chart-svg' },
    svg('title', { id: `${uid}-t` }, series.label),
    svg('desc', { id: `${uid}-d` }, summary),
    // Gridlines at the top and bottom of the range, with their values.
    svg('line', { class: 'grid', x1: pad.left, x2: W - pad.right, y1: y(hi), y2: y(hi) }),
    svg('line', { class: 'grid', x1: pad.left, x2: W - pad.right, y1: y(lo), y2: y(lo) }),
    svg('text', { class: 'axis', x: pad.left, y: y(hi) - 4 }, format(hi)),
    svg('text', { class: 'axis', x: pad.left, y: H - 6 }, shortDateFormat.format(points[0].at)),
    svg('text', { class: 'axis', x: W - pad.right, y: H - 6, 'text-anchor': 'end' }, shortDateFormat.format(latest.at)),
  );
  if (points.length > 1) {
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    const area = `${d} L${x(points.length - 1).toFixed(1)},${y(lo).toFixed(1)} L${x(0).toFixed(1)},${y(lo).toFixed(1)} Z`;
    chart.append(svg('path', { class: 'area', d: area }), svg('path', { class: 'line', d }));
  }
  points.forEach((p, i) => {
    chart.append(svg('circle', { class: 'dot', cx: x(i), cy: y(p.value), r: 3.5, 'data-value': p.value },
      svg('title', {}, `${dateTimeFormat.format(p.at)}: ${format(p.value)}`)));
  });
  container.replaceChildren(chart);
  container.dataset.points = String(points.length);
}

// ─── Start ──────────────────────────────────────────────────────────────────

function init() {
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token-input').value.trim();
    if (!token) {
      showSignIn('Paste an API token first.');
      return;
    }
    signIn(token);
  });
  $('sign-out').addEventListener('click', () => signOut());
  $('refresh').addEventListener('click', () => loadSyncs());

  const token = storedToken();
  if (token) signIn(token);
  else showSignIn();
}

init();
