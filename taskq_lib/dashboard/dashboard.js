// The taskq dashboard. Plain JavaScript, no dependencies, no build step.
//
// Every value from the server is put into the page with textContent (never parsed as HTML),
// so a task type or an error message holding markup shows as text. The page polls:
// /dashboard/snapshot every second (counts, workers), /dashboard/types and /dlq every few
// seconds. Throughput is computed here, from the totals of successive snapshots: the server
// keeps no history.
"use strict";

const SNAPSHOT_MS = 1000;
const TYPES_EVERY = 3; // snapshots
const DLQ_EVERY = 2; // snapshots
const WINDOW_S = 300; // seconds of throughput shown
const DLQ_LIMIT = 50;
const SHOWN_CHARS = 20000; // longest payload or result shown when asked
const TOKEN_KEY = "taskq-token";

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  tokenSet: false,
  samples: [], // {t, finished, enqueued, waiting, in_flight}: the last WINDOW_S seconds
  tick: 0,
  dlqSignature: null,
  purgeArmed: null,
  failing: false, // the last snapshot failed (its message is shown)
};

const $ = (id) => document.getElementById(id);

// Make an element: el("td", {className: "num"}, "text", child, ...). Strings become text nodes.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

function text(value) {
  return value === null || value === undefined ? "–" : String(value);
}

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function shorten(value, n) {
  return value.length > n ? `${value.slice(0, n)}… (${value.length} characters)` : value;
}

function say(message, isError) {
  const box = $("message");
  box.hidden = !message;
  box.textContent = message || "";
  box.className = isError ? "message error" : "message";
}

// Call the API with the token, if the user gave one. Returns {status, body}; never throws.
async function api(method, path) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  try {
    const response = await fetch(path, { method, headers, cache: "no-store" });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    return { status: response.status, body };
  } catch (e) {
    return { status: 0, body: { error: `the server does not answer (${e.message})` } };
  }
}

function refusal(answer) {
  const why = answer.body && answer.body.error ? answer.body.error : "no reason given";
  return `refused (${answer.status}): ${why}`;
}

// ------------------------------------------------------------------ counts and workers
function showStats(stats) {
  $("queue-name").textContent = stats.queue;
  for (const name of ["pending", "scheduled", "in_flight", "dead", "done"]) {
    $(`count-${name}`).textContent = text(stats[name]);
  }
  const totals = Object.entries(stats.totals).map(([k, v]) => `${k} ${v}`);
  $("totals").textContent = totals.length ? `since the queue was created: ${totals.join(" · ")}` : "";
}

function showMode() {
  let mode;
  if (!state.tokenSet) mode = "read-only: the server has no API token (set TASKQ_API_TOKEN to allow actions)";
  else if (!state.token) mode = "read-only until you type the API token";
  else mode = "actions use your token; the server checks it on each one";
  $("mode").textContent = mode;
  $("purge").hidden = !(state.tokenSet && state.token);
  $("token-form").hidden = !state.tokenSet; // no token on the server: nothing to type
}

function showWorkers(workers, cut, now) {
  const body = $("workers").tBodies[0];
  const note = $("workers-note");
  body.replaceChildren();
  if (workers === null) {
    note.textContent = "Workers are listed for Redis queues only.";
    return;
  }
  for (const w of workers) {
    const held = el("td");
    for (const t of w.tasks) {
      const left = t.lease_until === null ? "–" : `${Math.max(0, Math.round(t.lease_until - now))} s`;
      held.append(el("span", { className: "held" },
        el("code", {}, t.task_id.slice(0, 12)), ` · ${text(t.type)} · run ${t.attempts} · ${left}`));
    }
    if (w.holding > w.tasks.length) held.append(el("span", { className: "muted" }, `and ${w.holding - w.tasks.length} more`));
    const seen = w.last_seen === null ? "no beat" : ago(now - w.last_seen);
    body.append(el("tr", {}, el("td", {}, el("code", {}, w.name)), el("td", {}, seen),
      el("td", { className: "num" }, String(w.holding)), held));
  }
  note.textContent = workers.length ? (cut ? "Too many tasks in flight: only the first are listed." : "")
    : "No worker seen in the last 30 s, and no task in flight.";
}

// ------------------------------------------------------------------ throughput and backlog
function record(stats, now) {
  const totals = stats.totals;
  const sample = {
    t: now,
    finished: (totals.succeeded || 0) + (totals.dead || 0),
    enqueued: totals.enqueued || 0,
    waiting: stats.pending + stats.scheduled,
    in_flight: stats.in_flight,
  };
  const last = state.samples[state.samples.length - 1];
  if (last && sample.t <= last.t) return; // the same moment twice
  if (last && (sample.finished < last.finished || sample.enqueued < last.enqueued)) {
    state.samples = []; // the counters went back: the queue was reset
  }
  state.samples.push(sample);
  while (state.samples.length && state.samples[0].t < now - WINDOW_S - 2) state.samples.shift();
}

// Per second between successive samples: {t, finished, enqueued}.
function rates() {
  const out = [];
  const s = state.samples;
  for (let i = 1; i < s.length; i++) {
    const dt = s[i].t - s[i - 1].t;
    out.push({ t: s[i].t, finished: (s[i].finished - s[i - 1].finished) / dt,
      enqueued: (s[i].enqueued - s[i - 1].enqueued) / dt });
  }
  return out;
}

function niceCeiling(x) {
  if (x <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

// A line chart of the last WINDOW_S seconds: lines = [[key, cssClass]] of the points.
function drawChart(container, points, lines, now, label) {
  const W = Math.max(280, container.clientWidth), H = 150, L = 48, R = 8, T = 8, B = 20;
  const shown = points.filter((p) => p.t >= now - WINDOW_S);
  const top = niceCeiling(Math.max(1, ...shown.map((p) => Math.max(...lines.map(([k]) => p[k])))));
  const x = (t) => L + ((t - (now - WINDOW_S)) / WINDOW_S) * (W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  for (const v of [0, top / 2, top]) {
    chart.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "axis" }));
    const tick = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" });
    tick.textContent = String(Math.round(v * 10) / 10);
    chart.append(tick);
  }
  for (let m = 5; m >= 0; m--) {
    const tick = svg("text", { x: x(now - m * 60), y: H - 4, "text-anchor": m === 0 ? "end" : "middle" });
    tick.textContent = m === 0 ? "now" : `−${m} min`;
    chart.append(tick);
  }
  for (const [key, cls] of lines) {
    if (!shown.length) continue;
    const line = shown.map((p) => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { points: line, class: cls }));
  }
  container.replaceChildren(chart);
}

function drawCharts(now) {
  const points = rates();
  drawChart($("chart"), points, [["finished", "done"]], now, "tasks finished per second, last 5 minutes");
  const recent = points.filter((p) => p.t >= now - 60);
  const mean = recent.length ? recent.reduce((a, p) => a + p.finished, 0) / recent.length : 0;
  const current = points.length ? points[points.length - 1] : null;
  const peak = Math.max(0, ...points.map((p) => p.enqueued));
  $("rates").textContent = current === null ? "measuring…"
    : `finished (succeeded or dead): ${current.finished.toFixed(1)}/s now, ${mean.toFixed(1)}/s ` +
      `over the last minute · enqueued: ${current.enqueued.toFixed(1)}/s now, peak ${peak.toFixed(0)}/s`;
  drawChart($("backlog"), state.samples, [["waiting", "pending"], ["in_flight", "in_flight"]], now,
    "tasks waiting and in flight, last 5 minutes");
  const last = state.samples[state.samples.length - 1];
  const lately = points.filter((p) => p.t >= now - 10);
  const pace = lately.length ? lately.reduce((a, p) => a + p.finished, 0) / lately.length : 0;
  const drain = pace > 0 && last.waiting > 0
    ? ` · at the last 10 s pace, the wait clears in about ${Math.ceil(last.waiting / pace)} s` : "";
  $("backlog-note").replaceChildren(el("span", { className: "legend-done" }, "— waiting"), " (pending or scheduled) · ",
    el("span", { className: "legend-enqueued" }, "- - in flight"), drain);
}

// ------------------------------------------------------------------ task types
async function refreshTypes() {
  const answer = await api("GET", "/dashboard/types");
  if (answer.status !== 200) return;
  const body = $("types").tBodies[0];
  const { states, sample, cut } = answer.body;
  body.replaceChildren();
  if (states === null) {
    $("types-note").textContent = "(Redis queues only)";
    return;
  }
  const columns = ["pending", "scheduled", "in_flight", "dead"];
  const rows = new Map();
  for (const column of columns) {
    for (const [type, n] of Object.entries(states[column])) {
      if (!rows.has(type)) rows.set(type, {});
      rows.get(type)[column] = n;
    }
  }
  const total = (r) => columns.reduce((a, c) => a + (r[c] || 0), 0);
  for (const [type, row] of [...rows.entries()].sort((a, b) => total(b[1]) - total(a[1]))) {
    body.append(el("tr", {}, el("td", {}, el("code", {}, type === "None" ? "(unreadable)" : type)),
      ...columns.map((c) => el("td", { className: "num" }, String(row[c] || 0)))));
  }
  if (!rows.size) body.append(el("tr", {}, el("td", { colSpan: 5, className: "muted" }, "no task waiting, running or dead")));
  const every = `, every ${(TYPES_EVERY * SNAPSHOT_MS) / 1000} s`;
  const names = cut.map((c) => c.replace("_", " ")).join(", ");
  $("types-note").textContent = cut.length
    ? `among the first ${sample} of each state (${names} ${cut.length === 1 ? "holds" : "hold"} more)${every}`
    : `every task waiting, running or dead${every}`;
}

// ------------------------------------------------------------------ dead-letter queue
function shownJson(value) {
  const json = JSON.stringify(value, null, 2);
  return json.length > SHOWN_CHARS ? `${json.slice(0, SHOWN_CHARS)}\n… (${json.length} characters in all)` : json;
}

// A <details> that shows `content` only when opened; `kind` names it to reopen it on a redraw.
function reveal(summary, content, kind) {
  const details = el("details", {}, el("summary", {}, summary), el("pre", {}, content));
  if (kind) details.dataset.kind = kind;
  return details;
}

async function refreshDlq(force) {
  const answer = await api("GET", `/dlq?limit=${DLQ_LIMIT}`);
  if (answer.status !== 200) {
    // The list shows payloads and errors: with a token set, the server shows it only with it.
    // Rows already shown stay (marked stale) until the token is forgotten.
    const shown = $("dlq").tBodies[0].querySelector("tr[data-task-id]") !== null;
    $("dlq-note").textContent = answer.status !== 401 ? `(not refreshed: ${refusal(answer)})`
      : shown ? "(not refreshed: the server refused this token)"
        : "(type the API token above to see it)";
    return;
  }
  const items = answer.body.items;
  $("dlq-note").textContent = answer.body.count > items.length ? `(the oldest ${items.length} shown)` : "";
  const signature = items.map((d) => `${d.task_id}/${d.died_at}`).join(",") + `|${state.tokenSet}`;
  if (!force && signature === state.dlqSignature) return; // keep open details open
  state.dlqSignature = signature;
  const now = Date.now() / 1000;
  const body = $("dlq").tBodies[0];
  const wasOpen = new Set([...body.querySelectorAll("details[open]")].map(
    (d) => `${d.closest("tr").dataset.taskId}/${d.dataset.kind}`));
  body.replaceChildren();
  for (const d of items) {
    const error = `${d.error.type}: ${d.error.message}`;
    const errorCell = el("td", {}, shorten(error, 300));
    if (d.error.traceback || error.length > 300) errorCell.append(reveal("full error", `${error}\n\n${d.error.traceback}`, "error"));
    let payload;
    if (d.raw !== null) payload = reveal(`unreadable body (${d.raw.length} characters)`, d.raw, "payload");
    else if (d.payload === null) payload = "–";
    else payload = reveal(`show (${JSON.stringify(d.payload).length} characters)`, shownJson(d.payload), "payload");
    const action = el("td");
    if (state.tokenSet) {
      const button = el("button", { type: "button", className: "requeue" }, "requeue");
      button.dataset.taskId = d.task_id;
      button.addEventListener("click", () => requeue(d.task_id));
      action.append(button);
    }
    const row = el("tr", {}, el("td", {}, el("code", {}, d.task_id)),
      el("td", {}, d.type === null ? el("span", { className: "muted" }, "(unreadable)") : el("code", {}, d.type)),
      el("td", { className: "num" }, String(d.attempts)), el("td", {}, ago(now - d.died_at)),
      errorCell, el("td", {}, payload), action);
    row.dataset.taskId = d.task_id;
    for (const details of row.querySelectorAll("details")) {
      details.open = wasOpen.has(`${d.task_id}/${details.dataset.kind}`);
    }
    body.append(row);
  }
  if (!items.length) body.append(el("tr", {}, el("td", { colSpan: 7, className: "muted" }, "empty")));
}

async function requeue(taskId) {
  const answer = await api("POST", `/dlq/${encodeURIComponent(taskId)}/requeue`);
  if (answer.status === 200) say(`requeued task ${taskId}`, false);
  else say(`requeue of ${taskId} ${refusal(answer)}`, true);
  await refreshDlq(true);
}

async function purge() {
  const button = $("purge");
  if (!state.purgeArmed) {
    button.textContent = "click again to purge";
    state.purgeArmed = setTimeout(() => { state.purgeArmed = null; button.textContent = "purge all"; }, 5000);
    return;
  }
  clearTimeout(state.purgeArmed);
  state.purgeArmed = null;
  button.textContent = "purge all";
  const answer = await api("DELETE", "/dlq");
  if (answer.status === 200) say(`purged ${answer.body.purged} dead tasks`, false);
  else say(`purge ${refusal(answer)}`, true);
  await refreshDlq(true);
}

// ------------------------------------------------------------------ search
async function search(event) {
  event.preventDefault();
  const id = $("search").value.trim();
  const out = $("search-result");
  if (!id) return;
  const answer = await api("GET", `/tasks/${encodeURIComponent(id)}`);
  if (answer.status !== 200) {
    const why = answer.status === 401 ? "the server shows a task only with the API token: type it above"
      : answer.status === 404 ? answer.body.error : refusal(answer);
    out.replaceChildren(el("p", { className: "muted" }, why));
    return;
  }
  const t = answer.body;
  const list = el("dl");
  const add = (name, value) => list.append(el("dt", {}, name), el("dd", {}, value));
  add("task", el("code", {}, t.task_id));
  add("type", el("code", {}, text(t.type)));
  add("status", t.status);
  add("runs", `${t.attempts}${t.max_retries === null ? "" : ` (retries allowed: ${t.max_retries})`}`);
  add("last change", t.updated_at === null ? "–" : `${ago(Date.now() / 1000 - t.updated_at)} (${new Date(t.updated_at * 1000).toLocaleString()})`);
  add("last error", t.last_error === null ? "–" : reveal(shorten(`${t.last_error.type}: ${t.last_error.message}`, 300), t.last_error.traceback || t.last_error.message));
  add("result", t.result === null ? "–" : reveal("show", shownJson(t.result)));
  out.replaceChildren(list);
}

// ------------------------------------------------------------------ the loop
async function refresh() {
  const answer = await api("GET", "/dashboard/snapshot");
  const live = $("live");
  if (answer.status !== 200) {
    live.textContent = answer.status === 401 ? "token needed" : "not live";
    live.className = "badge error";
    const why = answer.status === 401 ? "This server needs the API token to show the queue: type it above."
      : `The counts are not live: ${answer.status ? `${answer.status}, ` : ""}${answer.body && answer.body.error ? answer.body.error : "no reason given"}. Trying again every second.`;
    say(why, true);
    state.failing = true;
    return false;
  }
  const snap = answer.body;
  if (state.failing) say("", false); // the problem said above is over
  state.failing = false;
  live.textContent = "live";
  live.className = "badge live";
  state.tokenSet = snap.token_set;
  showMode();
  showStats(snap.stats);
  showWorkers(snap.workers, snap.workers_cut, snap.now);
  record(snap.stats, snap.now);
  drawCharts(snap.now);
  return true;
}

async function loop() {
  const ok = await refresh();
  if (ok && state.tick % TYPES_EVERY === 0) await refreshTypes();
  if (ok && state.tick % DLQ_EVERY === 0) await refreshDlq(false);
  state.tick += 1;
  setTimeout(loop, SNAPSHOT_MS);
}

function useToken(event) {
  event.preventDefault();
  state.token = $("token").value;
  if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
  else sessionStorage.removeItem(TOKEN_KEY);
  $("token").value = "";
  $("token").placeholder = state.token ? "token in use" : "needed for actions";
  say(state.token ? "token in use for this tab" : "", false);
  showMode();
  refreshDlq(true);
}

function forgetToken() {
  state.token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  $("dlq").tBodies[0].replaceChildren(); // what the token showed is hidden again
  $("search-result").replaceChildren();
  state.dlqSignature = null;
  refreshDlq(true);
  $("token").placeholder = "needed for actions";
  say("token forgotten", false);
  showMode();
}

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", useToken);
  $("token-forget").addEventListener("click", forgetToken);
  $("purge").addEventListener("click", purge);
  $("search-form").addEventListener("submit", search);
  if (state.token) $("token").placeholder = "token in use";
  loop();
});
