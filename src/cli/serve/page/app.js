// The live stat sheet of `actorc serve`: one server-sent event per sheet revision
// (GET /events), rendered as a table; a click on a cell asks GET /api/explain.
// Everything from the server is put in the page as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 1000;
const STORE = "actorc-sheet";

const state = {
  sheet: null,
  flashed: 0, // the values revision whose changes were flashed
  hidden: new Set(),
  actorFilter: "",
  statFilter: "",
  changedOnly: false,
  selected: null, // {actor, row, stat}
};

// ---- settings kept across reloads of the page ----

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE) || "{}");
    state.hidden = new Set(saved.hidden || []);
    state.actorFilter = saved.actorFilter || "";
    state.statFilter = saved.statFilter || "";
    state.changedOnly = !!saved.changedOnly;
  } catch (_) { /* no storage: defaults */ }
  $("actor-filter").value = state.actorFilter;
  $("stat-filter").value = state.statFilter;
  $("changed-only").checked = state.changedOnly;
}

function save() {
  try {
    localStorage.setItem(STORE, JSON.stringify({
      hidden: [...state.hidden], actorFilter: state.actorFilter,
      statFilter: state.statFilter, changedOnly: state.changedOnly,
    }));
  } catch (_) { /* no storage */ }
}

// ---- numbers ----

const formats = new Map();

// A number as people read it: grouped thousands, a few decimals; the exact value is in
// the cell's title.
function fmt(v) {
  if (v === null || v === undefined) return "";
  const a = Math.abs(v);
  if (a !== 0 && a < 0.001) return v.toPrecision(3);
  const digits = Number.isInteger(v) || a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 3;
  let f = formats.get(digits);
  if (!f) {
    f = new Intl.NumberFormat(undefined, { maximumFractionDigits: digits });
    formats.set(digits, f);
  }
  return f.format(v);
}

const exact = (v) => (v === null || v === undefined ? "no value" : String(v));

// ---- filters ----

const terms = (text) => text.toLowerCase().split(/[\s,]+/).filter(Boolean);
const matches = (name, ts) => ts.length === 0 || ts.some((t) => name.toLowerCase().includes(t));

function changedStats(sheet) {
  const names = new Set();
  for (const a of sheet.actors) for (const n of Object.keys(a.changed)) names.add(n);
  return names;
}

function visibleColumns(sheet) {
  const ts = terms(state.statFilter);
  return sheet.stats
    .map((s, i) => ({ ...s, i }))
    .filter((s) => !state.hidden.has(s.name) && matches(s.name, ts));
}

function visibleRows(sheet) {
  const ts = terms(state.actorFilter);
  return sheet.actors
    .map((a, row) => ({ ...a, row }))
    .filter((a) => matches(a.key, ts))
    .filter((a) => !state.changedOnly || a.error || Object.keys(a.changed).length > 0);
}

// ---- rendering ----

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// A stat name that may break after its underscores.
function breakable(name) {
  const f = document.createDocumentFragment();
  name.split("_").forEach((part, i, all) => {
    f.append(part + (i < all.length - 1 ? "_" : ""));
    if (i < all.length - 1) f.append(document.createElement("wbr"));
  });
  return f;
}

function render() {
  const sheet = state.sheet;
  if (!sheet) return;
  const fresh = sheet.values_revision === sheet.revision && state.flashed !== sheet.values_revision;
  state.flashed = sheet.values_revision;
  const cols = visibleColumns(sheet);
  const rows = visibleRows(sheet);

  const head = document.createElement("tr");
  head.append(el("th", "corner", `actor (${rows.length})`));
  for (const c of cols) {
    const th = el("th", `stat ${c.category}${c.view_of ? " view" : ""}`);
    th.title = `${c.name}: ${c.category}${c.view_of ? `, a view of ${c.view_of}` : ""}`;
    th.append(breakable(c.name));
    head.append(th);
  }
  $("sheet").tHead.replaceChildren(head);

  const body = document.createDocumentFragment();
  for (const a of rows.slice(0, MAX_ROWS)) {
    const tr = el("tr");
    tr.dataset.actor = a.key;
    tr.dataset.row = a.row;
    const th = el("th", "actor", a.key);
    if (a.line) th.title = `line ${a.line} of the input`;
    tr.append(th);
    if (a.error) {
      tr.className = "failing";
      const td = el("td", "error", a.error.message);
      td.colSpan = Math.max(cols.length, 1);
      tr.append(td);
    } else {
      for (const c of cols) {
        const v = a.values[c.i];
        const td = el("td", "num", fmt(v));
        td.dataset.stat = c.name;
        if (v !== null && v !== undefined) td.dataset.v = String(v);
        else td.classList.add("none");
        let title = `${a.key} · ${c.name} = ${exact(v)}`;
        if (Object.prototype.hasOwnProperty.call(a.changed, c.name)) {
          td.classList.add("changed");
          if (fresh) td.classList.add("flash");
          title += ` (was ${exact(a.changed[c.name])})`;
        }
        const sel = state.selected;
        if (sel && sel.actor === a.key && sel.stat === c.name) td.classList.add("selected");
        td.title = title;
        tr.append(td);
      }
    }
    body.append(tr);
  }
  $("sheet").tBodies[0].replaceChildren(body);

  const note = [];
  if (rows.length > MAX_ROWS) note.push(`Showing ${MAX_ROWS} of ${rows.length} actors: filter to see the others.`);
  if (sheet.stats.length > 0 && cols.length === 0) note.push("No stat columns match the filter and the column picker.");
  if (sheet.actors.length === 0) note.push("The input holds no actors.");
  $("note").textContent = note.join(" ");
  $("note").hidden = note.length === 0;

  renderPicker(sheet, cols.length);
  renderStatus(sheet);
  renderProblem(sheet);
  document.body.dataset.revision = sheet.revision;
  document.body.dataset.generation = sheet.generation ?? "";
  if (fresh && state.selected) explain(state.selected, false);
}

function renderPicker(sheet, shown) {
  $("column-count").textContent = `${shown}/${sheet.stats.length}`;
  const list = $("column-list");
  const names = sheet.stats.map((s) => s.name).join(",");
  if (list.dataset.names !== names) {
    list.dataset.names = names;
    list.replaceChildren(...sheet.stats.map((s) => {
      const label = el("label", s.category);
      const box = el("input");
      box.type = "checkbox";
      box.value = s.name;
      label.append(box, " " + s.name);
      return label;
    }));
  }
  for (const box of list.querySelectorAll("input")) box.checked = !state.hidden.has(box.value);
}

function renderStatus(sheet) {
  $("st-generation").textContent = sheet.generation ? `generation ${sheet.generation}` : "no rules yet";
  const cause = { start: "start", rules: "rules reload", input: "input reload" }[sheet.cause] || sheet.cause;
  $("st-latency").textContent = sheet.latency_ms === null ? "started" : `${cause} ${sheet.latency_ms.toFixed(1)} ms`;
  $("st-latency").title = "from the file event to this revision";
  const errors = sheet.failing + (sheet.problem ? sheet.problem.errors : 0);
  const st = $("st-errors");
  st.textContent = errors === 1 ? "1 error" : `${errors} errors`;
  st.className = errors > 0 ? "bad" : "good";
  st.title = `${sheet.failing} failing actor(s)` + (sheet.problem ? `, ${sheet.problem.errors} in the rules` : "");
  $("st-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  $("st-source").textContent = `${sheet.rules.join(" ")} · ${sheet.input}`;
}

function renderProblem(sheet) {
  const p = sheet.problem;
  $("problem").hidden = !p;
  if (!p) return;
  $("problem-title").textContent = p.title;
  $("problem-text").textContent = p.text;
  $("problem-text").hidden = p.text === p.title;
}

// ---- explanations ----

async function explain(sel, scroll) {
  state.selected = sel;
  for (const td of document.querySelectorAll("td.selected")) td.classList.remove("selected");
  const tr = document.querySelector(`tr[data-row="${sel.row}"]`);
  const td = tr && [...tr.cells].find((c) => c.dataset.stat === sel.stat);
  if (td) td.classList.add("selected");
  $("explain").hidden = false;
  $("explain-title").textContent = `${sel.stat} of ${sel.actor}`;
  if (scroll) $("explain-text").textContent = "…";
  const q = new URLSearchParams({ actor: sel.actor, row: sel.row, stat: sel.stat });
  try {
    const r = await fetch(`/api/explain?${q}`);
    const body = await r.json();
    if (state.selected !== sel) return;
    $("explain-text").textContent = r.ok ? body.text : `error: ${body.error}`;
  } catch (e) {
    $("explain-text").textContent = `error: ${e}`;
  }
}

function closeExplain() {
  state.selected = null;
  $("explain").hidden = true;
  for (const td of document.querySelectorAll("td.selected")) td.classList.remove("selected");
}

// ---- events ----

function wire() {
  $("sheet").addEventListener("click", (e) => {
    const td = e.target.closest("td.num");
    if (!td) return;
    const tr = td.parentElement;
    explain({ actor: tr.dataset.actor, row: Number(tr.dataset.row), stat: td.dataset.stat }, true);
  });
  $("explain-close").addEventListener("click", closeExplain);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeExplain(); });
  const input = (id, key) => $(id).addEventListener("input", () => {
    state[key] = $(id).value;
    save();
    render();
  });
  input("actor-filter", "actorFilter");
  input("stat-filter", "statFilter");
  $("changed-only").addEventListener("change", () => {
    state.changedOnly = $("changed-only").checked;
    save();
    render();
  });
  $("column-list").addEventListener("change", (e) => {
    if (e.target.checked) state.hidden.delete(e.target.value);
    else state.hidden.add(e.target.value);
    save();
    render();
  });
  document.querySelector(".picker-actions").addEventListener("click", (e) => {
    const pick = e.target.dataset && e.target.dataset.pick;
    if (!pick || !state.sheet) return;
    const changed = changedStats(state.sheet);
    const keep = (s) => pick === "all" || s.category === pick || (pick === "changed" && changed.has(s.name));
    state.hidden = new Set(state.sheet.stats.filter((s) => !keep(s)).map((s) => s.name));
    save();
    render();
  });
}

function connect() {
  const live = $("st-live");
  const events = new EventSource("/events");
  events.addEventListener("open", () => { live.textContent = "live"; live.className = "live on"; });
  events.addEventListener("error", () => { live.textContent = "reconnecting…"; live.className = "live off"; });
  events.addEventListener("sheet", (e) => {
    const sheet = JSON.parse(e.data);
    if (state.sheet && state.sheet.revision === sheet.revision) return;
    state.sheet = sheet;
    render();
  });
}

load();
wire();
connect();
