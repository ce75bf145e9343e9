"use strict";
// The agent-eval report, computed in the browser from data.js: columns decoded once into typed
// arrays, every view recomputed in one pass over the selected runs when a filter changes, and the
// state kept in the URL so a view can be linked. report.py's aggregate() does the same arithmetic.

const R = window.REPORT;
const AXES = ["model", "revision", "task", "tier"];
const STATUSES = ["ok", "agent_error", "timeout", "setup_error", "silent_failure"];
const ERROR = new Set([1, 2, 3]);
const N = R.cols.status.length;
const col = {};
for (const k of [...AXES, "status", "matched", "repeat", "markers"]) col[k] = Int32Array.from(R.cols[k]);
for (const k of ["wall", "new", "cached", "generated", "turns", "tools"]) col[k] = Float64Array.from(R.cols[k]);
const MARKERS = R.dims.marker;
const name = {
  model: (i) => R.dims.model[i].name,
  revision: (i) => R.dims.revision[i].name,
  task: (i) => R.dims.task[i].id,
  tier: (i) => R.dims.tier[i].name,
};
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

// --- state, in the URL ---------------------------------------------------------------------------

const state = { view: "overview", by: ["revision", "tier"], keep: {}, shared: new Set(), page: 0 };

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  state.view = p.get("view") || "overview";
  state.by = (p.get("by") || "revision,tier").split(",").filter((a) => AXES.includes(a));
  state.shared = new Set((p.get("shared") || "").split(",").filter((a) => a === "model" || a === "revision"));
  state.page = Number(p.get("page") || 0);
  for (const axis of AXES) state.keep[axis] = p.has(axis) ? new Set(p.get(axis).split(",").filter(Boolean).map(Number)) : null;
}

function writeHash() {
  const p = new URLSearchParams({ view: state.view, by: state.by.join(",") });
  if (state.shared.size) p.set("shared", [...state.shared].join(","));
  if (state.page) p.set("page", state.page);
  for (const axis of AXES) if (state.keep[axis]) p.set(axis, [...state.keep[axis]].join(","));
  history.replaceState(null, "", "#" + p.toString());
}

// --- selection and aggregation -----------------------------------------------------------------

function selectRows(shared = state.shared) {
  const allow = {};
  for (const axis of AXES) {
    allow[axis] = new Uint8Array(R.dims[axis].length).fill(state.keep[axis] ? 0 : 1);
    if (state.keep[axis]) for (const g of state.keep[axis]) allow[axis][g] = 1;
  }
  let rows = new Int32Array(N);
  let n = 0;
  for (let i = 0; i < N; i++) {
    if (allow.model[col.model[i]] && allow.revision[col.revision[i]] && allow.task[col.task[i]] && allow.tier[col.tier[i]]) rows[n++] = i;
  }
  rows = rows.subarray(0, n);
  if (!shared.size) return rows;
  const T = R.dims.task.length;
  const keepTask = new Uint8Array(T);
  for (const i of rows) keepTask[col.task[i]] = 1;
  for (const axis of shared) {
    // A task stays only if every group of this axis still in the selection has run it.
    const G = R.dims[axis].length;
    const seen = new Uint8Array(G * T);
    const present = new Uint8Array(G);
    for (const i of rows) { seen[col[axis][i] * T + col.task[i]] = 1; present[col[axis][i]] = 1; }
    for (let g = 0; g < G; g++) if (present[g]) for (let t = 0; t < T; t++) if (!seen[g * T + t]) keepTask[t] = 0;
  }
  return rows.filter((i) => keepTask[col.task[i]]);
}

function groupRows(rows, by) {
  const groups = new Map();
  for (const i of rows) {
    let key = 0;
    for (const axis of by) key = key * 4096 + col[axis][i];
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    list.push(i);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, members]) => ({ ids: by.map((a) => col[a][members[0]]), rows: members }));
}

function median(rows, metric) {
  const values = new Float64Array(rows.length);
  let n = 0;
  for (const i of rows) if (col.status[i] !== 3) values[n++] = col[metric][i];
  if (!n) return null;
  const sorted = values.subarray(0, n).sort();
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

const pct = (part, whole) => (whole ? Math.round((1000 * part) / whole) / 10 : null);

function summary(rows, medians = ["wall", "new", "cached", "generated", "turns", "tools"]) {
  let scored = 0, matched = 0, errors = 0, silent = 0, cost = 0, costed = 0;
  const markers = new Int32Array(MARKERS.length);
  for (const i of rows) {
    const s = col.status[i];
    if (col.matched[i] !== 2 && s !== 4 && s !== 3) { scored++; matched += col.matched[i]; }
    if (ERROR.has(s)) errors++;
    if (s === 4) silent++;
    if (s !== 3 && R.cols.cost[i] != null) { cost += R.cols.cost[i]; costed++; }
    for (let m = 0; m < MARKERS.length; m++) if ((col.markers[i] >> m) & 1) markers[m]++;
  }
  const out = { runs: rows.length, scored, match: pct(matched, scored), errors: pct(errors, rows.length), silent: pct(silent, rows.length),
    cost: costed ? cost : null, markers: Array.from(markers, (c) => pct(c, rows.length)) };
  for (const metric of medians) out[metric] = median(rows, metric);
  return out;
}

// --- rendering ------------------------------------------------------------------------------------

const charts = {};
const TITLE = { left: "center", top: 6, textStyle: { fontSize: 13 } };
function chart(id) {
  if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: "canvas" });
  return charts[id];
}

const fmt = (v, digits = 0) => (v == null ? "—" : Number(v).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));

function header() {
  const revs = R.dims.revision.map((r) => `<b>${esc(r.name)}</b> <span title="${esc(r.sha)}">${esc(r.sha.slice(0, 10))}</span>`).join(", ");
  const models = R.dims.model.map((m) => `<b>${esc(m.name)}</b>`).join(", ");
  $("what").innerHTML = `suite <b>${esc(R.meta.suites.join(", ") || "—")}</b> · profile <b>${esc(R.meta.profiles.join(", ") || "—")}</b> ·
    ${fmt(R.meta.runs)} runs · harness ${esc(R.meta.harness_version)} · built ${esc(R.meta.built)}<br>revisions ${revs}<br>models ${models}`;
}

function filters() {
  $("filters").innerHTML = AXES.map((axis) => `<details data-axis="${axis}"><summary>${axis}s <span class="muted" id="n-${axis}"></span></summary><div class="box">
    <button data-all="${axis}">all</button> <button data-none="${axis}">none</button>
    ${R.dims[axis].map((_, g) => `<label><input type="checkbox" data-axis="${axis}" value="${g}"> ${esc(name[axis](g))}</label>`).join("")}</div></details>`).join("");
  const options = AXES.map((a) => `<option value="${a}">${a}</option>`).join("");
  $("by1").innerHTML = options;
  $("by2").innerHTML = `<option value="">(none)</option>` + options;
}

function syncControls() {
  for (const box of document.querySelectorAll("#filters input[type=checkbox]")) {
    const keep = state.keep[box.dataset.axis];
    box.checked = !keep || keep.has(Number(box.value));
  }
  for (const axis of AXES) $("n-" + axis).textContent = state.keep[axis] ? `(${state.keep[axis].size}/${R.dims[axis].length})` : "";
  $("shared-model").checked = state.shared.has("model");
  $("shared-revision").checked = state.shared.has("revision");
  $("by1").value = state.by[0] || "revision";
  $("by2").value = state.by[1] || "";
  for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("on", a.dataset.view === state.view);
  for (const v of document.querySelectorAll(".view")) v.classList.toggle("on", v.id === "view-" + state.view);
}

function summaryTable(rows) {
  const head = [...state.by, "runs", "match %", "median s", "new tok", "cached tok", "generated tok", "turns", "tool calls", "errors %", "silent %", "cost",
    ...MARKERS.map((m) => m.name + " %")];
  const body = groupRows(rows, state.by).map((g) => {
    const s = summary(g.rows);
    const cells = [fmt(s.runs), fmt(s.match, 1), fmt(s.wall, 1), fmt(s.new), fmt(s.cached), fmt(s.generated), fmt(s.turns, 1), fmt(s.tools, 1),
      fmt(s.errors, 1), fmt(s.silent, 1), s.cost == null ? "—" : fmt(s.cost, 4), ...s.markers.map((m) => fmt(m, 1))];
    return `<tr>${g.ids.map((id, k) => `<td class="key">${esc(name[state.by[k]](id))}</td>`).join("")}${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
  });
  $("summary").innerHTML = `<thead><tr>${head.map((h, k) => `<th class="${k < state.by.length ? "key" : ""}">${esc(h)}</th>`).join("")}</tr></thead><tbody>${body.join("")}</tbody>`;
}

function bars(id, title, rows, xAxis, seriesAxis, value, unit) {
  // One bar per (x, series) group; categories keep the dims' order (revisions as the suite lists them).
  const groups = groupRows(rows, [xAxis, seriesAxis]);
  const xs = [...new Set(groups.map((g) => g.ids[0]))].sort((a, b) => a - b);
  const ss = [...new Set(groups.map((g) => g.ids[1]))].sort((a, b) => a - b);
  const at = new Map(groups.map((g) => [g.ids.join(","), value(g.rows)]));
  chart(id).setOption({
    title: { text: title, ...TITLE }, tooltip: { trigger: "axis" }, legend: { top: 28 }, grid: { top: 66, bottom: 40, left: 60, right: 16 },
    xAxis: { type: "category", data: xs.map(name[xAxis]) }, yAxis: { type: "value", name: unit },
    series: ss.map((s) => ({ type: "bar", name: name[seriesAxis](s), data: xs.map((x) => at.get(`${x},${s}`) ?? null) })),
  }, true);
}

function overview(rows) {
  summaryTable(rows);
  bars("chart-time", "Median time per revision, by tier", rows, "revision", "tier", (r) => median(r, "wall"), "s");
  bars("chart-tokens", "Median new tokens per revision, by tier", rows, "revision", "tier", (r) => median(r, "new"), "tokens");
  bars("chart-match", "Match % across models, by tier", rows, "model", "tier", (r) => summary(r, []).match, "%");
  const byModelTier = groupRows(rows, ["model", "tier"]);
  const adoption = byModelTier.map((g) => summary(g.rows, []).markers);
  chart("chart-markers").setOption({
    title: { text: "Marker adoption by tier, across models", ...TITLE }, tooltip: { trigger: "axis" }, legend: { top: 28 },
    grid: { top: 66, bottom: 60, left: 50, right: 16 }, yAxis: { type: "value", name: "% of runs", max: 100 },
    xAxis: { type: "category", data: byModelTier.map((g) => `${name.model(g.ids[0])} · ${name.tier(g.ids[1])}`), axisLabel: { rotate: 20 } },
    series: MARKERS.map((m, k) => ({ type: "bar", name: m.name, data: adoption.map((a) => a[k]) })),
  }, true);
  const cells = groupRows(rows, ["task", "tier", "revision"]);
  const ys = [...new Set(cells.map((g) => g.ids[0] * 4096 + g.ids[1]))].sort((a, b) => a - b);
  const revs = [...new Set(cells.map((g) => g.ids[2]))].sort((a, b) => a - b);
  chart("chart-tasks").setOption({
    title: { text: "Match % per task · tier, across revisions", ...TITLE }, tooltip: {},
    grid: { top: 40, bottom: 40, left: 180, right: 90 }, visualMap: { min: 0, max: 100, right: 10, top: "middle", calculable: true },
    xAxis: { type: "category", data: revs.map(name.revision) },
    yAxis: { type: "category", data: ys.map((k) => `${name.task(Math.floor(k / 4096))} · ${name.tier(k % 4096)}`) },
    series: [{ type: "heatmap", label: { show: true }, data: cells.map((g) => [revs.indexOf(g.ids[2]), ys.indexOf(g.ids[0] * 4096 + g.ids[1]), summary(g.rows, []).match]) }],
  }, true);
}

function distributions(rows) {
  const tiers = [...new Set(Array.from(rows, (i) => col.tier[i]))].sort((a, b) => a - b);
  for (const [metric, title] of [["wall", "Elapsed seconds"], ["new", "New tokens"], ["cached", "Cached tokens"], ["generated", "Generated tokens"]]) {
    const series = tiers.map((t) => ({ type: "scatter", name: name.tier(t), large: true, largeThreshold: 2000, symbolSize: 3, data: [] }));
    const at = new Map(tiers.map((t, k) => [t, series[k].data]));
    for (const i of rows) at.get(col.tier[i]).push([col.revision[i] + (((i * 2654435761) % 1000) / 1000 - 0.5) * 0.6, col[metric][i]]);
    chart("dist-" + metric).setOption({
      title: { text: title + " — every run", ...TITLE }, legend: { top: 28 }, tooltip: {}, grid: { top: 66, bottom: 40, left: 70, right: 16 },
      xAxis: { type: "value", min: -0.5, max: R.dims.revision.length - 0.5, interval: 1, axisLabel: { formatter: (v) => name.revision(Math.round(v)) ?? "" } },
      yAxis: { type: "value", scale: true }, series,
    }, true);
  }
}

function coverage() {
  const rows = selectRows(new Set());
  const done = new Map();
  for (const i of rows) {
    const key = `${R.dims.model[col.model[i]].id}|${R.dims.revision[col.revision[i]].sha}|${R.dims.task[col.task[i]].id}|${R.dims.tier[col.tier[i]].name}`;
    done.set(key, (done.get(key) || 0) + 1);
  }
  const keep = (axis, g) => !state.keep[axis] || state.keep[axis].has(g);
  const ys = [], xs = [];
  R.dims.model.forEach((m, mi) => keep("model", mi) && R.dims.task.forEach((t, ti) => keep("task", ti) && ys.push([m, t])));
  R.dims.revision.forEach((r, ri) => keep("revision", ri) && R.dims.tier.forEach((t, ti) => keep("tier", ti) && xs.push([r, t])));
  const data = [];
  ys.forEach(([m, t], y) => xs.forEach(([r, tier], x) => {
    const key = `${m.id}|${r.sha}|${t.id}|${tier.name}`;
    const want = R.meta.expected[key] || 0, have = done.get(key) || 0;
    if (want || have) data.push({ value: [x, y, want ? Math.min(1, have / want) : 1], text: `${have}/${want || "—"}` });
  }));
  chart("chart-coverage").setOption({
    tooltip: { formatter: (p) => `${esc(ys[p.value[1]][0].name)} · ${esc(ys[p.value[1]][1].id)}<br>${esc(xs[p.value[0]][0].name)} · ${esc(xs[p.value[0]][1].name)}: ${p.data.text}` },
    grid: { top: 20, bottom: 90, left: 220, right: 90 }, visualMap: { min: 0, max: 1, right: 10, top: "middle", inRange: { color: ["#f6f8fa", "#1a7f37"] } },
    xAxis: { type: "category", data: xs.map(([r, t]) => `${r.name} · ${t.name}`), axisLabel: { rotate: 30 } },
    yAxis: { type: "category", data: ys.map(([m, t]) => `${m.name} · ${t.id}`) },
    series: [{ type: "heatmap", data, label: { show: data.length < 600, color: "#1f2328", formatter: (p) => p.data.text } }],
  }, true);
}

const PAGE = 100;
function runs(rows) {
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  state.page = Math.min(state.page, pages - 1);
  $("page").textContent = `page ${state.page + 1} of ${pages} (${fmt(rows.length)} runs)`;
  const shown = rows.subarray(state.page * PAGE, (state.page + 1) * PAGE);
  const head = ["model", "revision", "tier", "task", "r", "status", "match", "s", "turns", "tools", "new", "generated", "markers"];
  $("runs").innerHTML = `<thead><tr>${head.map((h, k) => `<th class="${k < 4 ? "key" : ""}">${h}</th>`).join("")}</tr></thead><tbody>` + Array.from(shown, (i) => {
    const s = col.status[i], m = col.matched[i];
    const marks = MARKERS.filter((_, k) => (col.markers[i] >> k) & 1).map((x) => x.name).join(" ");
    return `<tr data-row="${i}"><td class="key">${esc(name.model(col.model[i]))}</td><td class="key">${esc(name.revision(col.revision[i]))}</td><td class="key">${esc(name.tier(col.tier[i]))}</td>
      <td class="key">${esc(name.task(col.task[i]))}</td><td>${col.repeat[i]}</td><td class="${s ? "bad" : ""}">${STATUSES[s]}</td>
      <td class="${m === 1 ? "good" : m === 0 ? "bad" : ""}">${m === 2 ? "—" : m ? "yes" : "no"}</td><td>${fmt(col.wall[i], 1)}</td><td>${col.turns[i]}</td>
      <td>${col.tools[i]}</td><td>${fmt(col.new[i])}</td><td>${fmt(col.generated[i])}</td><td class="key">${esc(marks)}</td></tr>`;
  }).join("") + "</tbody>";
  $("tasks").innerHTML = R.dims.task.map((t) => `<div class="task"><b>${esc(t.id)}</b> — ${t.expected == null ? "behaviour only" : `${esc(t.match)}: <code>${esc(t.expected)}</code>`}
    ${t.files.length ? ` · inputs: ${t.files.map(esc).join(", ")}` : ""}<pre>${esc(t.prompt)}</pre></div>`).join("");
}

// Per-run details live in details/NNNN.js, loaded the first time a run of that file is opened.
const detailFiles = new Map();
window.reportDetails = (n, chunk) => detailFiles.get(n)?.resolve(chunk);
function loadDetails(n) {
  if (!detailFiles.has(n)) {
    let resolve;
    const promise = new Promise((ok) => (resolve = ok));
    detailFiles.set(n, { promise, resolve });
    const script = document.createElement("script");
    script.src = `details/${String(n).padStart(4, "0")}.js`;
    document.head.appendChild(script);
  }
  return detailFiles.get(n).promise;
}

async function openRun(i) {
  const per = R.meta.details_per_file;
  const d = (await loadDetails(Math.floor(i / per)))[i % per];
  const trace = R.meta.trace_base + d.folder + "/trace.jsonl";
  $("run").innerHTML = `<h3>${esc(name.task(col.task[i]))} · ${esc(name.model(col.model[i]))} · ${esc(name.revision(col.revision[i]))} · ${esc(name.tier(col.tier[i]))} · r${col.repeat[i]}</h3>
    <p>status <b class="${col.status[i] ? "bad" : ""}">${STATUSES[col.status[i]]}</b>${d.ended_by ? ` (ended by ${esc(d.ended_by)})` : ""} ·
    ${fmt(col.wall[i], 1)} s · ${col.turns[i]} turns · ${d.requests} model requests${R.meta.trace_base ? ` · <a href="${esc(trace)}">trace (pi session)</a>` : ""}</p>
    <p>answer:</p><pre>${esc(d.answer) || "(none)"}</pre>
    ${d.markers.length ? `<p>markers:</p><ul>${d.markers.map(([m, x]) => `<li><b>${esc(m)}</b> <code>${esc(x)}</code></li>`).join("")}</ul>` : ""}
    <p>timeline (${d.steps.length} tool calls):</p><ol>${d.steps.map(([tool, input, err]) => `<li class="${err ? "error" : ""}"><b>${esc(tool)}</b>${err ? ' <span class="bad">error</span>' : ""}<pre>${esc(input)}</pre></li>`).join("")}</ol>
    ${d.errors.length ? `<p>errors:</p>${d.errors.map((e) => `<pre class="bad">${esc(e)}</pre>`).join("")}` : ""}`;
}

// --- wiring -------------------------------------------------------------------------------------

const timings = [];
function render() {
  const started = performance.now();
  writeHash();
  syncControls();
  const rows = selectRows();
  $("count").textContent = `${fmt(rows.length)} of ${fmt(N)} runs`;
  if (state.view === "overview") overview(rows);
  else if (state.view === "distributions") distributions(rows);
  else if (state.view === "coverage") coverage();
  else runs(rows);
  timings.push(performance.now() - started);
  document.body.dataset.rendered = String(timings.length);
}

function wire() {
  for (const a of document.querySelectorAll("#tabs a")) a.addEventListener("click", (e) => { e.preventDefault(); state.view = a.dataset.view; render(); });
  $("filters").addEventListener("change", (e) => {
    const axis = e.target.dataset.axis;
    const keep = new Set([...document.querySelectorAll(`#filters input[data-axis=${axis}]`)].filter((b) => b.checked).map((b) => Number(b.value)));
    state.keep[axis] = keep.size === R.dims[axis].length ? null : keep;
    state.page = 0;
    render();
  });
  $("filters").addEventListener("click", (e) => {
    const axis = e.target.dataset.all || e.target.dataset.none;
    if (!axis) return;
    state.keep[axis] = e.target.dataset.all ? null : new Set();
    render();
  });
  for (const axis of ["model", "revision"]) $("shared-" + axis).addEventListener("change", (e) => { e.target.checked ? state.shared.add(axis) : state.shared.delete(axis); render(); });
  for (const id of ["by1", "by2"]) $(id).addEventListener("change", () => { state.by = [...new Set([$("by1").value, $("by2").value].filter(Boolean))]; render(); });
  $("prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); render(); });
  $("next").addEventListener("click", () => { state.page += 1; render(); });
  $("runs").addEventListener("click", (e) => { const tr = e.target.closest("tr[data-row]"); if (tr) openRun(Number(tr.dataset.row)); });
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
}

readHash();
header();
filters();
wire();
render();
window.agentEval = { state, selectRows, summary, groupRows, render, timings };
