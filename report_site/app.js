"use strict";
// The agent-eval report, computed in the browser from data.js: columns decoded once into typed
// arrays, every view recomputed in one pass over the selected runs when a filter changes, and the
// state kept in the URL so a view can be linked. report.py's aggregate() does the same arithmetic.

const R = window.REPORT;
const AXES = ["model", "revision", "task", "tier", "agent"];
const STATUSES = ["ok", "agent_error", "timeout", "setup_error", "silent_failure", "infra_error"];
// setup_error (3) and infra_error (5): the harness or the provider failed, not the agent.
const notMeasured = (s) => s === 3 || s === 5;
// Columns arrive as [typed array type, base64]; wall time in centiseconds, unknown cost as NaN.
// Uint8Array.fromBase64 decodes natively, an order of magnitude faster than a loop over atob's string.
function decode([type, b64]) {
  return new globalThis[type + "Array"](base64Bytes(b64).buffer);
}
function base64Bytes(b64) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(b64);
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}
const col = {};
for (const [k, packed] of Object.entries(R.cols)) col[k] = decode(packed);
const N = col.status.length;
// The metrics as doubles, whatever width they came in: a loop over any of them then sees one array
// type, which V8 optimizes at once (at 100k runs, mixed types cost tens of ms in the first sorts).
// All are whole numbers, wall time in centiseconds: metricAt() gives what is shown, in seconds.
const METRICS = ["wall", "new", "cached", "generated", "turns", "tools"];
for (const m of METRICS) col[m] = new Float64Array(col[m]);
const PER_UNIT = { wall: 100 };
const metricAt = (metric, i) => col[metric][i] / (PER_UNIT[metric] || 1);
const MARKERS = R.dims.marker;
const name = {
  model: (i) => R.dims.model[i].name,
  revision: (i) => R.dims.revision[i].name,
  task: (i) => R.dims.task[i].id,
  tier: (i) => R.dims.tier[i].name,
  agent: (i) => R.dims.agent[i].name,
};
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

// --- state, in the URL ---------------------------------------------------------------------------

const state = { view: "overview", by: ["revision", "tier"], keep: {}, shared: new Set(), page: 0, pair: 0, tree: null };

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  state.view = p.get("view") || "overview";
  state.by = (p.get("by") || "revision,tier").split(",").filter((a) => AXES.includes(a));
  state.shared = new Set((p.get("shared") || "").split(",").filter((a) => a === "model" || a === "revision"));
  state.page = Number(p.get("page") || 0);
  state.pair = Number(p.get("pair") || 0);
  state.tree = p.has("tree") ? Number(p.get("tree")) : null;  // the revision the Where agents look treemap shows
  for (const axis of AXES) state.keep[axis] = p.has(axis) ? new Set(p.get(axis).split(",").filter(Boolean).map(Number)) : null;
}

function writeHash() {
  const p = new URLSearchParams({ view: state.view, by: state.by.join(",") });
  if (state.shared.size) p.set("shared", [...state.shared].join(","));
  if (state.page) p.set("page", state.page);
  if (state.pair) p.set("pair", state.pair);
  if (state.tree != null) p.set("tree", state.tree);
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
  for (let i = 0; i < N; i++) {  // without a branch: the same machine code serves any filter (no deoptimization when one first drops runs)
    rows[n] = i;
    n += allow.model[col.model[i]] & allow.revision[col.revision[i]] & allow.task[col.task[i]] & allow.tier[col.tier[i]] & allow.agent[col.agent[i]];
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
  let kept = 0;  // in place, as above: no callback per run
  for (let r = 0; r < rows.length; r++) { rows[kept] = rows[r]; kept += keepTask[col.task[rows[r]]]; }
  return rows.subarray(0, kept);
}

// The measured runs (setup and infra errors left out) with a known value of one metric, in ascending
// order, computed once: then every median of every group is one linear pass (a group's values arrive
// already sorted), never a sort per group or per click. The values are whole numbers, so a radix sort
// by 16-bit digits orders them in a pass or two, not a comparison sort.
const orders = {};
function order(metric) {
  if (!orders[metric]) {
    const values = col[metric];
    const low = new Uint32Array(N), high = new Uint32Array(N);  // each key's two 32-bit halves: exact below 2^53
    let rows = new Int32Array(N), n = 0, top = 0;
    for (let i = 0; i < N; i++) {
      if (Number.isNaN(values[i]) || notMeasured(col.status[i])) continue;  // NaN: e.g. tokens a provider did not report
      low[i] = values[i];
      high[i] = values[i] / 2 ** 32;
      top = Math.max(top, values[i]);
      rows[n++] = i;
    }
    rows = rows.subarray(0, n);
    for (let bits = 0; bits === 0 || top >= 2 ** bits; bits += 16) rows = byDigit(rows, bits < 32 ? low : high, bits % 32);
    orders[metric] = rows;
  }
  return orders[metric];
}

// One pass of the radix sort: the rows, stably ordered by the 16-bit digit of their keys at `shift`.
function byDigit(rows, keys, shift) {
  const starts = new Int32Array(65537), out = new Int32Array(rows.length);
  for (let r = 0; r < rows.length; r++) starts[((keys[rows[r]] >>> shift) & 0xffff) + 1]++;
  for (let d = 0; d < 65536; d++) starts[d + 1] += starts[d];
  for (let r = 0; r < rows.length; r++) { const i = rows[r]; out[starts[(keys[i] >>> shift) & 0xffff]++] = i; }
  return out;
}

// Groups of the selected rows by some axes, as dense ids in typed arrays: group[i] is row i's group
// (-1 when not selected) and ids run in the dims' order, so groups come out sorted for free.
function groupRows(rows, by) {
  const sizes = by.map((a) => R.dims[a].length);
  const G = sizes.reduce((x, y) => x * y, 1);
  const group = new Int32Array(N).fill(-1);
  const n = new Int32Array(G), measured = new Int32Array(G);
  const cols = by.map((a) => col[a]);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r];
    let k = 0;
    for (let a = 0; a < cols.length; a++) k = k * sizes[a] + cols[a][i];
    group[i] = k;
    n[k]++;
    if (!notMeasured(col.status[i])) measured[k]++;
  }
  const present = [];
  for (let k = 0; k < G; k++) if (n[k]) present.push(k);
  const ids = (k) => { const out = new Array(by.length); for (let a = by.length - 1; a >= 0; a--) { out[a] = k % sizes[a]; k = Math.floor(k / sizes[a]); } return out; };
  return { by, rows, group, n, measured, G, present, ids };
}

// Medians of `metric` for every group at once; setup errors (the harness's failures) are left out.
// A group's values arrive in order, so its median is where the pass reaches its middle; the pass
// stops once every group has had its median.
function medians(g, metric) {
  const count = knownCounts(g, metric);
  const seen = new Int32Array(g.G), lo = new Float64Array(g.G), out = new Float64Array(g.G).fill(NaN), ord = order(metric);
  let left = count.reduce((groups, n) => groups + (n > 0), 0);
  for (let r = 0; r < ord.length && left; r++) {
    const i = ord[r], k = g.group[i];
    if (k < 0) continue;
    const at = seen[k]++, n = count[k];
    if (at === (n - 1) >> 1) lo[k] = metricAt(metric, i);
    if (at === n >> 1) { out[k] = (lo[k] + metricAt(metric, i)) / 2; left--; }
  }
  return (k) => (Number.isNaN(out[k]) ? null : out[k]);
}

// How many measured runs of each group have a known value of `metric`. Only a column sent as Float64
// can hold unknown values (NaN: tokens a provider did not report); any other needs no pass.
function knownCounts(g, metric) {
  const count = Int32Array.from(g.measured), values = col[metric];
  if (R.cols[metric][0] !== "Float64") return count;
  for (let r = 0; r < g.rows.length; r++) {
    const i = g.rows[r];
    if (Number.isNaN(values[i]) && !notMeasured(col.status[i])) count[g.group[i]]--;
  }
  return count;
}

const pct = (part, whole) => (whole ? Math.round((1000 * part) / whole) / 10 : null);

// Counts and percentages of every group in one pass; summary(k) reads group k.
function summaries(g) {
  const G = g.G, M = MARKERS.length;
  const scored = new Int32Array(G), matched = new Int32Array(G), errors = new Int32Array(G), silent = new Int32Array(G);
  const cost = new Float64Array(G), costed = new Int32Array(G), marks = new Int32Array(G * M);
  for (let r = 0; r < g.rows.length; r++) {
    const i = g.rows[r], k = g.group[i], s = col.status[i];
    if (col.matched[i] !== 2 && s !== 4 && !notMeasured(s)) { scored[k]++; matched[k] += col.matched[i]; }
    if (s === 1 || s === 2 || s === 3 || s === 5) errors[k]++;
    if (s === 4) silent[k]++;
    if (!notMeasured(s) && !Number.isNaN(col.cost[i])) { cost[k] += col.cost[i]; costed[k]++; }
    for (let bits = col.markers[i], m = 0; bits; bits >>= 1, m++) if (bits & 1) marks[k * M + m]++;
  }
  return (k) => ({
    runs: g.n[k], scored: scored[k], match: pct(matched[k], scored[k]), errors: pct(errors[k], g.n[k]), silent: pct(silent[k], g.n[k]),
    cost: costed[k] ? cost[k] : null, markers: Array.from(marks.subarray(k * M, (k + 1) * M), (c) => pct(c, g.n[k])),
  });
}

// --- rendering ------------------------------------------------------------------------------------

const charts = {};
const TITLE = { left: "center", top: 6, textStyle: { fontSize: 13 } };

// A chart is drawn only while it is on screen: one scrolled into view is drawn then, from the latest
// data (its option is a function, so even the chart's numbers are computed only then). So a filter
// click pays for the charts a person can see, not for every chart of the page.
const pending = new Map();
const onScreen = new Set();
const watcher = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (!e.isIntersecting) { onScreen.delete(e.target.id); continue; }
    onScreen.add(e.target.id);
    paintPending(e.target.id);
  }
});
for (const el of document.querySelectorAll(".chart")) watcher.observe(el);

function paintPending(id) {
  if (pending.has(id)) { const option = pending.get(id); pending.delete(id); paint(id, option); }
}

function instance(id) {
  if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: "canvas" });
  return charts[id];
}

function paint(id, option) {
  if (!window.echarts) { pending.set(id, option); loadCharts(); return; }
  instance(id).setOption(option(), true);
  paintedAt = performance.now();
}

// echarts.min.js (1 MB) is loaded the first time a chart is on screen, like views.js: the summary
// table at the top of a large report needs none of it, and parsing it first delayed the table by
// 35 to 150 ms. The charts that came on screen meanwhile are drawn once it is there.
let chartsLoading = false;
function loadCharts() {
  if (chartsLoading) return;
  chartsLoading = true;
  const script = document.createElement("script");
  script.src = "echarts.min.js";
  script.onload = () => onScreen.forEach(paintPending);
  document.head.appendChild(script);
}

let paintedAt = 0;
function draw(id, option) {
  if (onScreen.has(id)) { pending.delete(id); paint(id, option); }
  else pending.set(id, option);
}

// A long "model · task" label keeps both ends: the middle goes, so rows stay told apart.
const elide = (text, chars) => (text.length <= chars ? text : text.slice(0, Math.ceil(chars / 2) - 1) + "…" + text.slice(text.length - Math.floor(chars / 2)));

// Axis labels never run off the canvas: every category is labelled (interval 0), a label longer than
// its share of the chart is cut with an ellipsis (the tooltip names it in full), and the grid makes
// room for the labels it keeps ("same" bounds: the labels stay inside the grid's outer rectangle).
const FIT = { outerBoundsMode: "same", outerBoundsContain: "axisLabel" };
function categoryLabels(id, count, { share = 1, rotate = 0, min = 40 } = {}) {
  const width = Math.max(min, Math.floor(($(id).clientWidth - 80) * share / (rotate ? 1 : Math.max(1, count))));
  const fit = rotate ? Math.min(width, 180) : width;
  return { interval: 0, rotate, width: fit, overflow: "truncate", formatter: (v) => elide(v, Math.floor(fit / 8)) };
}

// en-US numbers exactly as Intl.NumberFormat writes them (thousands by commas, half away from zero
// on the double's shortest decimal form), by hand for plain numbers: a page's first Intl formatter
// costs ~20 ms (ICU loads) before the first table can show. Exponent forms (1e-7) go to Intl.
const formats = [];
function fmt(value, digits = 0) {
  if (value == null || Number.isNaN(value)) return "—";
  const v = Number(value), text = String(Math.abs(v)), [whole, frac = ""] = text.split(".");
  const units = Number(whole + frac.slice(0, digits).padEnd(digits, "0")) + (frac.charCodeAt(digits) >= 53 ? 1 : 0);  // 53: "5"
  if (!/^[0-9.]+$/.test(text) || !Number.isSafeInteger(units)) {
    return (formats[digits] ??= new Intl.NumberFormat("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })).format(v);
  }
  const shown = String(units).padStart(digits + 1, "0"), cut = shown.length - digits;
  return (v < 0 || Object.is(v, -0) ? "-" : "") + shown.slice(0, cut).replace(/\B(?=(\d{3})+$)/g, ",") + (digits ? "." + shown.slice(cut) : "");
}

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
  const g = groupRows(rows, state.by);
  const med = Object.fromEntries(METRICS.map((m) => [m, medians(g, m)]));
  const summary = summaries(g);
  const body = g.present.map((k) => {
    const s = summary(k);
    const cells = [fmt(s.runs), fmt(s.match, 1), fmt(med.wall(k), 1), fmt(med.new(k)), fmt(med.cached(k)), fmt(med.generated(k)), fmt(med.turns(k), 1),
      fmt(med.tools(k), 1), fmt(s.errors, 1), fmt(s.silent, 1), s.cost == null ? "—" : fmt(s.cost, 4), ...s.markers.map((m) => fmt(m, 1))];
    return `<tr>${g.ids(k).map((id, a) => `<td class="key">${esc(name[state.by[a]](id))}</td>`).join("")}${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
  });
  $("summary").innerHTML = `<thead><tr>${head.map((h, k) => `<th class="${k < state.by.length ? "key" : ""}">${esc(h)}</th>`).join("")}</tr></thead><tbody>${body.join("")}</tbody>`;
}

// One bar per (x, series) group of a two-axis grouping; categories keep the dims' order. The grouping
// and each group's bar (`values()` gives a function of the group) are computed when the chart is drawn.
function bars(id, title, grouping, values, unit) {
  draw(id, () => {
    const g = grouping(), value = values();
    const [xAxis, seriesAxis] = g.by;
    const xs = [...new Set(g.present.map((k) => g.ids(k)[0]))];
    const ss = [...new Set(g.present.map((k) => g.ids(k)[1]))].sort((a, b) => a - b);
    const size = R.dims[seriesAxis].length;
    return {
      animation: false, title: { text: title, ...TITLE }, tooltip: { trigger: "axis" }, legend: { top: 28 }, grid: { top: 66, bottom: 10, left: 10, right: 16, ...FIT },
      xAxis: { type: "category", data: xs.map(name[xAxis]), axisLabel: categoryLabels(id, xs.length, { rotate: xs.length > 6 ? 30 : 0 }) }, yAxis: { type: "value", name: unit },
      series: ss.map((s) => ({ type: "bar", name: name[seriesAxis](s), data: xs.map((x) => (g.n[x * size + s] ? value(x * size + s) : null)) })),
    };
  });
}

// A value made the first time it is asked for: what two charts share is computed once, if at all.
const lazy = (make) => { let made; return () => (made ??= make()); };
const whenIdle = (work) => (window.requestIdleCallback ? requestIdleCallback(work) : setTimeout(work));

let chartsFor = "";
function overview(rows) {
  summaryTable(rows);
  const selection = JSON.stringify([state.keep, [...state.shared]], (k, v) => (v instanceof Set ? [...v] : v));
  if (selection === chartsFor) return;  // only the table's grouping changed: the charts stand
  chartsFor = selection;
  const revTier = lazy(() => groupRows(rows, ["revision", "tier"]));
  const times = lazy(() => medians(revTier(), "wall")), tokens = lazy(() => medians(revTier(), "new"));
  bars("chart-time", "Median time per revision, by tier", revTier, times, "s");
  bars("chart-tokens", "Median new tokens per revision, by tier", revTier, tokens, "tokens");
  const modelTier = lazy(() => groupRows(rows, ["model", "tier"]));
  const byModelTier = lazy(() => summaries(modelTier()));
  bars("chart-match", "Match % across models, by tier", modelTier, () => (k) => byModelTier()(k).match, "%");
  // The bar charts' numbers are made once the page is idle, after the table is on screen: a chart
  // scrolled into view then draws at once, and the next click finds the code that makes them warm.
  whenIdle(() => [times, tokens, byModelTier].forEach((made) => made()));
  draw("chart-markers", () => {
    const g = modelTier(), summary = byModelTier();
    return {
      animation: false, title: { text: "Marker adoption by tier, across models", ...TITLE }, tooltip: { trigger: "axis" }, legend: { top: 28 },
      grid: { top: 66, bottom: 10, left: 10, right: 16, ...FIT }, yAxis: { type: "value", name: "% of runs", max: 100 },
      xAxis: { type: "category", data: g.present.map((k) => g.ids(k)).map(([m, t]) => `${name.model(m)} · ${name.tier(t)}`), axisLabel: categoryLabels("chart-markers", g.present.length, { rotate: 30 }) },
      series: MARKERS.map((m, j) => ({ type: "bar", name: m.name, data: g.present.map((k) => summary(k).markers[j]) })),
    };
  });
  draw("chart-tasks", () => taskChart(rows));
}

function taskChart(rows) {
  const cells = groupRows(rows, ["task", "tier", "revision"]);
  const byCell = summaries(cells);
  const nRev = R.dims.revision.length;
  const ys = [...new Set(cells.present.map((k) => Math.floor(k / nRev)))];
  const revs = [...new Set(cells.present.map((k) => k % nRev))].sort((a, b) => a - b);
  const yAt = new Map(ys.map((taskTier, y) => [taskTier, y])), xAt = new Map(revs.map((r, x) => [r, x]));
  const nTier = R.dims.tier.length;
  return {
    animation: false, title: { text: "Match % per task · tier, across revisions", ...TITLE }, tooltip: {},
    grid: { top: 40, bottom: 10, left: 10, right: 90, ...FIT }, visualMap: { min: 0, max: 100, right: 10, top: "middle", calculable: true },
    xAxis: { type: "category", data: revs.map(name.revision), axisLabel: categoryLabels("chart-tasks", revs.length, { share: 0.6 }) },
    yAxis: { type: "category", data: ys.map((tt) => `${name.task(Math.floor(tt / nTier))} · ${name.tier(tt % nTier)}`), axisLabel: { width: 260, overflow: "truncate" } },
    series: [{ type: "heatmap", label: { show: cells.present.length < 400 }, data: cells.present.map((k) => [xAt.get(k % nRev), yAt.get(Math.floor(k / nRev)), byCell(k).match]) }],
  };
}

function distributions(rows) {
  const tiers = lazy(() => [...new Set(Array.from(rows, (i) => col.tier[i]))].sort((a, b) => a - b));
  for (const [metric, title] of [["wall", "Elapsed seconds"], ["new", "New tokens"], ["cached", "Cached tokens"], ["generated", "Generated tokens"]]) {
    draw("dist-" + metric, () => ({
      animation: false, title: { text: title + " — every run", ...TITLE }, legend: { top: 28 }, tooltip: {}, grid: { top: 66, bottom: 40, left: 70, right: 16 },
      xAxis: { type: "value", min: -0.5, max: R.dims.revision.length - 0.5, interval: 1, axisLabel: { formatter: (v) => R.dims.revision[Math.round(v)]?.name ?? "" } },
      yAxis: { type: "value", scale: true }, series: points(rows, tiers(), metric),
    }));
  }
}

// Every run a point, a series per tier; x is its revision, jittered by its row so it stays put.
function points(rows, tiers, metric) {
  const series = tiers.map((t) => ({ type: "scatter", name: name.tier(t), large: true, largeThreshold: 2000, symbolSize: 3, data: [] }));
  const at = new Map(tiers.map((t, k) => [t, series[k].data]));
  for (const i of rows) at.get(col.tier[i]).push([col.revision[i] + (((i * 2654435761) % 1000) / 1000 - 0.5) * 0.6, metricAt(metric, i)]);
  return series;
}

// What the suites asked for: a dense array over (model, task, revision, tier), like the grouping below.
const COVERAGE_AXES = ["model", "task", "revision", "tier"];
const expected = decode(R.meta.expected);

function coverage() {
  const g = groupRows(selectRows(new Set()), COVERAGE_AXES);
  const keep = (axis, i) => !state.keep[axis] || state.keep[axis].has(i);
  const [nModel, nTask, nRev, nTier] = COVERAGE_AXES.map((a) => R.dims[a].length);
  const ys = [], xs = [];
  for (let m = 0; m < nModel; m++) for (let t = 0; t < nTask; t++) if (keep("model", m) && keep("task", t)) ys.push([m, t]);
  for (let r = 0; r < nRev; r++) for (let t = 0; t < nTier; t++) if (keep("revision", r) && keep("tier", t)) xs.push([r, t]);
  const data = [];
  ys.forEach(([m, t], y) => xs.forEach(([r, tier], x) => {
    const k = ((m * nTask + t) * nRev + r) * nTier + tier;
    const want = expected[k], have = g.n[k];
    if (want || have) data.push({ value: [x, y, want ? Math.min(1, have / want) : 1], text: `${have}/${want || "—"}` });
  }));
  draw("chart-coverage", () => ({
    animation: false, tooltip: { formatter: (p) => `${esc(name.model(ys[p.value[1]][0]))} · ${esc(name.task(ys[p.value[1]][1]))}<br>${esc(name.revision(xs[p.value[0]][0]))} · ${esc(name.tier(xs[p.value[0]][1]))}: ${p.data.text}` },
    grid: { top: 20, bottom: 10, left: 10, right: 90, ...FIT }, visualMap: { min: 0, max: 1, right: 10, top: "middle", inRange: { color: ["#f6f8fa", "#1a7f37"] } },
    xAxis: { type: "category", data: xs.map(([r, t]) => `${name.revision(r)} · ${name.tier(t)}`), axisLabel: categoryLabels("chart-coverage", xs.length, { rotate: 30 }) },
    yAxis: { type: "category", data: ys.map(([m, t]) => `${name.model(m)} · ${name.task(t)}`), axisLabel: { width: Math.floor($("chart-coverage").clientWidth * 0.4), overflow: "truncate", formatter: (v) => elide(v, Math.floor($("chart-coverage").clientWidth * 0.4 / 8)) } },
    series: [{ type: "heatmap", data, label: { show: data.length < 600, color: "#1f2328", formatter: (p) => p.data.text } }],
  }));
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
      <td class="${m === 1 ? "good" : m === 0 ? "bad" : ""}">${m === 2 ? "—" : m ? "yes" : "no"}</td><td>${fmt(metricAt("wall", i), 1)}</td><td>${col.turns[i]}</td>
      <td>${col.tools[i]}</td><td>${fmt(col.new[i])}</td><td>${fmt(col.generated[i])}</td><td class="key">${esc(marks)}</td></tr>`;
  }).join("") + "</tbody>";
  $("tasks").innerHTML = R.dims.task.map((t) => `<div class="task"><b>${esc(t.id)}</b> — ${t.expected == null ? "behaviour only" : `${esc(t.match)}: <code>${esc(t.expected)}</code>`}
    ${t.files.length ? ` · inputs: ${t.files.map(esc).join(", ")}` : ""}<pre>${esc(t.prompt)}</pre></div>`).join("");
}

// Per-run details live in details/PPP-NNNN.js (part PPP of the store, 1,000 runs a file), loaded
// the first time a run of that file is opened. Each run's details are one zlib stream, as the
// store's index keeps them (base64 of them all, and where each starts): inflated when opened.
const detailFiles = new Map();
window.reportDetails = (name, packed, reads) => detailFiles.get(name)?.resolve({ packed, reads });
function detailsOf(i) {
  const starts = R.meta.details_starts, per = R.meta.details_per_file;
  let part = 0;
  while (part + 1 < starts.length && starts[part + 1] <= i) part++;
  const local = i - starts[part];
  const name = `${String(part).padStart(3, "0")}-${String(Math.floor(local / per)).padStart(4, "0")}`;
  if (!detailFiles.has(name)) {
    let resolve;
    const promise = new Promise((ok) => (resolve = ok));
    detailFiles.set(name, { promise, resolve });
    const script = document.createElement("script");
    script.src = `details/${name}.js`;
    document.head.appendChild(script);
  }
  return detailFiles.get(name).promise.then(async ({ packed, reads }) => ({ ...(await inflated(packed, local % per)), reads: readsOf(reads, local % per) }));
}

async function inflated(packed, k) {
  packed.bytes ??= base64Bytes(packed.z);
  const run = new Blob([packed.bytes.subarray(packed.at[k], packed.at[k + 1])]);
  return JSON.parse(await new Response(run.stream().pipeThrough(new DecompressionStream("deflate"))).text());
}

// One run's reads from its details file's columns (reads_view.PerRun): "where: path" names, -1 unknown.
function readsOf(r, k) {
  const out = [];
  for (let e = r.at[k]; e < r.at[k + 1]; e++) {
    const file = r.names[r.file[e]], cut = file.indexOf(": ");
    out.push({ where: file.slice(0, cut), path: file.slice(cut + 2), turn: r.turn[e] < 0 ? null : r.turn[e], lines: r.lines[e] < 0 ? null : r.lines[e] });
  }
  return out;
}

// The same task, model, tier and repeat at every other revision: what explain shows side by side.
function sameTaskElsewhere(i) {
  const out = [];
  for (let j = 0; j < N; j++) {
    if (j !== i && col.task[j] === col.task[i] && col.model[j] === col.model[i] && col.tier[j] === col.tier[i] && col.agent[j] === col.agent[i] && col.repeat[j] === col.repeat[i]) out.push(j);
  }
  return out.sort((a, b) => col.revision[a] - col.revision[b]);
}

async function openRun(i) {
  const d = await detailsOf(i);
  const others = sameTaskElsewhere(i).map((j) => `<a href="#" data-open="${j}" class="${col.matched[j] === 1 ? "good" : col.matched[j] === 0 ? "bad" : ""}">${esc(name.revision(col.revision[j]))}</a>`);
  const trace = R.meta.trace_base + d.folder + "/trace.jsonl";
  $("run").innerHTML = `<h3>${esc(name.task(col.task[i]))} · ${esc(name.model(col.model[i]))} · ${esc(name.revision(col.revision[i]))} · ${esc(name.tier(col.tier[i]))} · r${col.repeat[i]}</h3>
    <p>status <b class="${col.status[i] ? "bad" : ""}">${STATUSES[col.status[i]]}</b>${d.ended_by ? ` (ended by ${esc(d.ended_by)})` : ""} ·
    ${fmt(metricAt("wall", i), 1)} s · ${col.turns[i]} turns · ${d.requests} model requests${R.meta.trace_base ? ` · <a href="${esc(trace)}">trace (pi session)</a>` : ""}</p>
    ${others.length ? `<p id="elsewhere">the same task at ${others.join(", ")} · <code>agent-eval explain --task ${esc(name.task(col.task[i]))}</code> shows them side by side</p>` : ""}
    <p>answer:</p><pre>${esc(d.answer) || "(none)"}</pre>
    ${graded(d)}${agentFiles(d)}
    ${d.markers.length ? `<p>markers:</p><ul>${d.markers.map((m) => `<li><b>${esc(m.name)}</b> <code>${esc(m.excerpt)}</code></li>`).join("")}</ul>` : ""}
    ${readsTable(d.reads)}
    <p>timeline (${d.steps.length} tool calls):</p><ol>${d.steps.map((s) => `<li class="${s.error ? "error" : ""}"><b>${esc(s.tool)}</b>${s.error ? ' <span class="bad">error</span>' : ""}<pre>${esc(s.input)}</pre></li>`).join("")}</ol>
    ${d.errors.length ? `<p>errors:</p>${d.errors.map((e) => `<pre class="bad">${esc(e)}</pre>`).join("")}` : ""}`;
}

// What graded the run: each grader's outcome, score and output tail, and its checks (a verifier's
// named checks, a judge's verdict with evidence on each expectation, each assertion).
const OUTCOME = { passed: "good", failed: "bad", error: "bad" };
function graded(d) {
  const graders = d.graders || [];
  if (!graders.length) return "";
  const items = graders.map((g) => `<li class="grader" data-kind="${esc(g.kind)}"><b>${esc(g.kind)}</b> <span class="outcome ${OUTCOME[g.status]}">${esc(g.status)}</span>
    ${g.score == null ? "" : ` · score ${fmt(g.score, 2)}`}${g.seconds ? ` · ${fmt(g.seconds, 1)} s` : ""}${g.tokens ? ` · judge tokens ${fmt(g.tokens.new + g.tokens.cached)} in, ${fmt(g.tokens.generated)} out` : ""}
    ${(g.checks || []).length ? `<ul class="checks">${g.checks.map((c) => `<li class="check ${c.passed ? "good" : "bad"}">${c.passed ? "✓" : "✗"} <span class="name">${esc(c.name)}</span>${c.evidence
      ? ` — <q class="evidence">${esc(c.evidence)}</q>` : ""}</li>`).join("")}</ul>` : ""}
    ${g.output ? `<pre class="output">${esc(g.output)}</pre>` : ""}</li>`).join("");
  const tampered = (d.tampered || []).length ? `<p class="bad" id="tampered">tampered: the agent changed or deleted ${d.tampered.map((f) => `<code>${esc(f)}</code>`).join(", ")}</p>` : "";
  return `<p>graded${d.score == null ? "" : ` · score ${fmt(d.score, 2)}`} (matched when every grader passed):</p><ul id="graders">${items}</ul>${tampered}`;
}

// The files the agent left: the listing, and the text of the kept text files (report.py states the caps).
const CHANGE = { created: "+", changed: "~", deleted: "−" };
function agentFiles(d) {
  const files = d.files || [];
  if (!files.length) return "";
  const texts = d.texts || {};
  const rows = files.map((f) => `<tr data-path="${esc(f.path)}"><td class="key">${CHANGE[f.change] || ""} ${esc(f.change)}</td><td class="key"><code>${esc(f.path)}</code></td>
    <td>${f.change === "deleted" ? "—" : fmt(f.size) + " B"}</td><td>${f.kept === false ? "not kept" : ""}</td></tr>`).join("");
  const more = d.files_total > files.length ? `<p class="muted">… and ${fmt(d.files_total - files.length)} more (result.json lists them all)</p>` : "";
  const diffs = new Set(d.diffs || []);
  const shown = Object.entries(texts).map(([path, text]) => `<details class="file-text" data-path="${esc(path)}"><summary><code>${esc(path)}</code>${diffs.has(path)
    ? " (a diff against the task's input)" : ""}</summary><pre>${esc(text)}</pre></details>`).join("");
  return `<p>the agent's files (${fmt(d.files_total || files.length)}):</p><table id="files"><tbody>${rows}</tbody></table>${more}
    ${d.files_cut ? `<p class="muted">${esc(d.files_cut)}</p>` : ""}${d.texts_error ? `<p class="bad">${esc(d.texts_error)}</p>` : ""}
    ${shown ? `<p class="muted">text of the kept text files (each cut at 4,000 characters, 8,000 in all per run; the whole files are in the run folder's workspace.tar.gz):</p>${shown}` : ""}`;
}

function readsTable(reads) {
  if (!reads.length) return "<p>read: no file opened, no help asked for</p>";
  const cell = (v) => `<td>${v == null ? "—" : v}</td>`;
  return `<p>read (${reads.length}, in the order first read; as <code>agent-eval reads</code> names them):</p><table id="run-reads"><thead><tr><th class="key">where</th>
    <th class="key">path</th><th>turn</th><th>lines</th></tr></thead><tbody>${reads.map((x) => `<tr><td class="key">${esc(x.where)}</td><td class="key">${esc(x.path)}</td>${cell(x.turn)}${cell(x.lines)}</tr>`).join("")}</tbody></table>`;
}

// --- compare: numbers computed by agent_eval.compare at build time, only drawn here ---------------------

// What only the Compare and Sessions views show lives in views.js, loaded the first time one of them
// opens: the page's first content never waits for it. It adds its fields to R (R.compare, R.sessions).
let views = null;
window.reportViews = (data) => { Object.assign(R, data); views.resolve(); };
function viewsLoaded() {
  if (!views) {
    let resolve;
    const promise = new Promise((ok) => (resolve = ok));
    views = { promise, resolve };
    const script = document.createElement("script");
    script.src = "views.js";
    document.head.appendChild(script);
    promise.then(comparePicker);
  }
  return views.promise;
}

const COMPARE_HEAD = ["metric", "base", "head", "change [95% CI]", "verdict", "tasks", "runs b/h", "detectable"];
const VERDICT_COLOR = { better: "#1a7f37", worse: "#cf222e" };

function comparePicker() {
  const COMPARE = R.compare;
  const axes = [...new Set(COMPARE.map((c) => c.axis))];
  $("cmp-pair").innerHTML = axes.map((axis) => `<optgroup label="${esc(axis)}s">${COMPARE.map((c, k) => (c.axis === axis
    ? `<option value="${k}">${esc(c.base)} → ${esc(c.head)}</option>` : "")).join("")}</optgroup>`).join("");
}

// A forest plot: each metric's change as a point, its 95% interval as a bar, zero as the reference.
function forest(id, title, metrics, unit) {
  const data = metrics.map((m, y) => [m.ci_low ?? m.change, m.ci_high ?? m.change, y, m.change, m.verdict]);
  draw(id, () => ({
    animation: false, title: { text: title, ...TITLE }, grid: { top: 40, bottom: 30, left: 10, right: 30, ...FIT },
    tooltip: { formatter: (p) => `${esc(metrics[p.value[2]].metric)}: ${fmt(p.value[3], 1)}${unit} [${fmt(metrics[p.value[2]].ci_low, 1)}, ${fmt(metrics[p.value[2]].ci_high, 1)}] · ${esc(p.value[4])}` },
    xAxis: { type: "value", name: unit.trim(), scale: true }, yAxis: { type: "category", data: metrics.map((m) => m.metric), inverse: true },
    series: [{
      type: "custom", data: data.filter((d) => d[3] != null), encode: { x: [0, 1, 3], y: 2 },
      renderItem: (params, api) => {
        const [lo, hi, y] = [api.value(0), api.value(1), api.value(2)];
        const a = api.coord([lo, y]), b = api.coord([hi, y]), c = api.coord([api.value(3), y]);
        const style = { stroke: VERDICT_COLOR[metrics[y].verdict] || "#656d76", lineWidth: 2 };
        return { type: "group", children: [{ type: "line", shape: { x1: a[0], y1: a[1], x2: b[0], y2: b[1] }, style },
          { type: "circle", shape: { cx: c[0], cy: c[1], r: 4 }, style: { fill: style.stroke } }] };
      },
      markLine: { silent: true, symbol: "none", data: [{ xAxis: 0 }], lineStyle: { color: "#8c959f", type: "dashed" } },
    }],
  }));
}

function compareView() {
  const c = R.compare[state.pair];
  if (!c) { $("cmp-headline").textContent = "No two revisions, models, tiers or agent versions ran a cell in common: nothing to compare."; return; }
  $("cmp-pair").value = String(state.pair);
  $("cmp-headline").textContent = c.headline;
  forest("cmp-rates", "Rates: change in points, 95% interval", c.metrics.filter((m) => m.kind === "rate"), " pts");
  forest("cmp-costs", "Costs: change in %, 95% interval", c.metrics.filter((m) => m.kind === "cost"), " %");
  $("cmp-table").innerHTML = `<thead><tr>${COMPARE_HEAD.map((h, k) => `<th class="${k ? "" : "key"}">${esc(h)}</th>`).join("")}</tr></thead><tbody>` +
    c.table.map((row) => `<tr>${row.map((cell, k) => `<td class="${k ? "" : "key"} ${k === 4 ? { better: "good", worse: "bad" }[cell] || "" : ""}">${esc(cell)}</td>`).join("")}</tr>`).join("") + "</tbody>";
  const flips = c.flips.map((f) => `<li><b>${esc(f.task)}</b> (${esc(f.cell)}): ${esc(f.now)}, ${fmt(f.base)}% → ${fmt(f.head)}%</li>`).join("");
  $("cmp-notes").innerHTML = `<p><b>${c.n_tasks}</b> shared tasks, ${c.n_runs_base} base runs, ${c.n_runs_head} head runs.</p>` +
    (flips ? `<p>Tasks whose match flipped (<span id="cmp-n-flips">${c.n_flips}</span> cells${c.n_flips > c.flips.length ? `, the first ${c.flips.length} shown;
      <code>agent-eval compare --format json</code> lists them all` : ""}):</p><ul id="cmp-flips">${flips}</ul>` : "<p>No task's match flipped.</p>") +
    c.warnings.map((w) => `<p>⚠ ${esc(w)}</p>`).join("") + `<p class="muted">${esc(c.method)}</p>`;
}

// --- sessions ------------------------------------------------------------------------------------

const SESSION_COSTS = ["tokens_new", "tokens_cached", "tokens_generated", "turns", "tool_calls", "agent_seconds"];

function sessionsView() {
  const SESSIONS = R.sessions;
  const where = (x) => [x.model, `pi ${x.agent_version}`, x.revision, x.tier].map(esc).map((v) => `<td class="key">${v}</td>`).join("");
  if (!SESSIONS.lines.length) { $("ses-lines").innerHTML = "<tbody><tr><td>No sessions in this store: a suite with <code>sessions: {tasks: 4}</code> runs them.</td></tr></tbody>"; $("ses-saved").innerHTML = ""; return; }
  $("ses-lines").innerHTML = `<thead><tr>${["model", "agent", "revision", "tier", "position", "runs", "sessions", "match", ...SESSION_COSTS.map((m) => `median ${m}`)]
    .map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>` + SESSIONS.lines.map((l) => `<tr>${where(l)}<td>${esc(l.position)}</td><td>${l.runs}</td><td>${l.sessions}</td>
    <td>${l.matched == null ? "—" : fmt(l.matched) + "%"}</td>${SESSION_COSTS.map((m) => `<td>${l.medians[m] == null ? "—" : fmt(l.medians[m])}</td>`).join("")}</tr>`).join("") + "</tbody>";
  const pct = (v) => (v == null ? "—" : `${v > 0 ? "+" : ""}${fmt(v)}%`);
  $("ses-saved").innerHTML = `<thead><tr>${["model", "agent", "revision", "tier", "comparison", "metric", "change", "95% interval", "tasks"].map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>` +
    SESSIONS.saved.map((s) => `<tr>${where(s)}<td>${esc(s.comparison)}</td><td>${esc(s.metric)}</td><td>${pct(s.change)}</td>
    <td>${s.ci_low == null ? "— (too few tasks)" : `[${pct(s.ci_low)}, ${pct(s.ci_high)}]`}</td><td>${s.n_tasks}</td></tr>`).join("") + "</tbody>";
}

// --- where agents look: reads.js, loaded the first time the view opens ----------------------------

let READS = null;
window.reportReads = (data) => { READS = data; if (state.view === "reads") render(); };
function readsView() {
  if (!READS) {
    if (!document.querySelector("script[src='reads.js']")) {
      const script = document.createElement("script");
      script.src = "reads.js";
      document.head.appendChild(script);
    }
    $("reads-table").innerHTML = "<tbody><tr><td>loading…</td></tr></tbody>";
    return;
  }
  const keep = (axis, i) => !state.keep[axis] || state.keep[axis].has(i);
  const F = READS.files.length, total = {}, per = {};  // revision -> [runs, matched, failed]; -> counts per file (read, matched, failed)
  for (const [m, r, t, n, ok, bad, files] of READS.groups) {
    if (!keep("model", m) || !keep("tier", t) || !keep("revision", r)) continue;
    const T = (total[r] ||= [0, 0, 0]);
    T[0] += n; T[1] += ok; T[2] += bad;
    const P = (per[r] ||= new Int32Array(F * 3));
    for (const [k, c, cm, cf] of files) { P[k * 3] += c; P[k * 3 + 1] += cm; P[k * 3 + 2] += cf; }
  }
  const revs = R.dims.revision.map((_, i) => i).filter((r) => total[r]);
  const rows = [];
  for (let k = 0; k < F; k++) {
    let best = 0, most = 0;
    for (const r of revs) { most = Math.max(most, per[r][k * 3]); best = Math.max(best, per[r][k * 3] / total[r][0]); }
    if (most) rows.push({ k, best, ranked: most >= READS.repeats });
  }
  rows.sort((a, b) => (b.ranked - a.ranked) || (b.best - a.best) || READS.files[a.k].localeCompare(READS.files[b.k]));
  const cell = (r, k) => {
    const [n, ok, bad] = total[r], [c, cm, cf] = per[r].subarray(k * 3, k * 3 + 3), share = c / n;
    const tip = `${c}/${n} runs (${fmt(100 * share)}%) · matched ${cm}/${ok} · failed ${cf}/${bad}`;
    return `<td data-file="${k}" data-revision="${r}" title="${tip}" style="background: rgba(9, 105, 218, ${(0.85 * share).toFixed(3)})">${c ? fmt(100 * share) + "%" : ""}</td>`;
  };
  $("reads-table").innerHTML = !revs.length ? "<tbody><tr><td>No runs in this selection.</td></tr></tbody>" :
    `<thead><tr><th class="key">file · runs</th>${revs.map((r) => `<th title="${esc(R.dims.revision[r].sha)}">${esc(name.revision(r))} · ${total[r][0]}</th>`).join("")}</tr></thead><tbody>` +
    rows.map(({ k, ranked }) => `<tr class="${ranked ? "" : "muted"}"><td class="key">${esc(READS.files[k])}</td>${revs.map((r) => cell(r, k)).join("")}</tr>`).join("") +
    (rows.length ? "" : `<tr><td colspan="${revs.length + 1}">No run in this selection read a file or asked for help.</td></tr>`) + "</tbody>";
  if (revs.length) readsTree(revs, total, per);
  else { $("reads-rev").innerHTML = ""; draw("reads-tree", () => ({ series: [] })); }
  $("reads-unopened").innerHTML = revs.map((r) => {
    const { files, from, unknown } = READS.unopened[r];
    const listed = files.length ? `${files.length}: ${files.map((f) => `<code>${esc(f)}</code>`).join(", ")}` : unknown == null ? "none: every one was opened" : "";
    const source = from.length ? ` <span class="muted">(listed from ${from.map(esc).join(" and ")})</span>` : "";
    const why = unknown == null ? "" : `${listed ? "; " : ""}the library's docs are not known here: ${esc(unknown)}`;
    return `<p data-revision="${r}"><b>${esc(name.revision(r))}</b> — ${listed}${listed ? source : ""}${why}</p>`;
  }).join("");
}

// The files one revision's runs read as a tree (where they belong, then their folders): a tile's area
// is the runs that read the file, its colour their share of the revision's runs, as in the table.
function readsTree(revs, total, per) {
  const r = revs.includes(state.tree) ? state.tree : revs[revs.length - 1];
  $("reads-rev").innerHTML = revs.map((x) => `<option value="${x}"${x === r ? " selected" : ""}>${esc(name.revision(x))}</option>`).join("");
  const [n, ok, bad] = total[r], P = per[r], root = { children: [], at: new Map() };
  for (let k = 0; k < READS.files.length; k++) {
    const c = P[k * 3];
    if (!c) continue;
    const file = READS.files[k], cut = file.indexOf(": ");
    const parts = [file.slice(0, cut), ...file.slice(cut + 2).split("/").filter(Boolean)];
    let node = root;
    for (const part of parts.slice(0, -1)) {
      if (!node.at.has(part)) { const child = { name: part, children: [], at: new Map() }; node.at.set(part, child); node.children.push(child); }
      node = node.at.get(part);
    }
    node.children.push({ name: parts[parts.length - 1], value: c, file, split: [P[k * 3 + 1], P[k * 3 + 2]], ranked: c >= READS.repeats,
      itemStyle: { color: `rgba(9, 105, 218, ${(0.12 + 0.85 * c / n).toFixed(3)})` } });
  }
  const plain = (node) => (node.children ? { name: node.name, children: node.children.map(plain) } : node);
  const tip = (p) => {
    const d = p.data;
    if (!d.file) return `${esc(p.treePathInfo.slice(1).map((x) => x.name).join("/"))}: ${p.value} reads of the files under it (a run reading two counts twice)`;
    return `${esc(d.file)}<br>${d.value}/${n} runs (${fmt(100 * d.value / n)}%) · matched ${d.split[0]}/${ok} · failed ${d.split[1]}/${bad}` +
      (d.ranked ? "" : "<br>read by fewer runs than one cell's repeats: not ranked");
  };
  draw("reads-tree", () => ({
    animation: false, tooltip: { formatter: tip },
    series: [{ type: "treemap", name: name.revision(r), data: root.children.map(plain), top: 10, bottom: 30, left: 6, right: 6, roam: false,
      label: { color: "#1f2328", overflow: "truncate" }, upperLabel: { show: true, height: 18, color: "#1f2328" }, breadcrumb: { bottom: 4 },
      levels: [{ itemStyle: { borderColor: "#d0d7de", borderWidth: 2, gapWidth: 2 } }, { itemStyle: { borderColor: "#eaeef2", borderWidth: 2, gapWidth: 1 } }] }],
  }));
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
  else if (state.view === "reads") readsView();
  else if (state.view === "compare" || state.view === "sessions") {
    const view = state.view;
    viewsLoaded().then(() => { if (state.view === view) (view === "compare" ? compareView : sessionsView)(); rendered(started); });
    return;
  } else runs(rows);
  rendered(started);
}

function rendered(started) {
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
  $("cmp-pair").addEventListener("change", (e) => { state.pair = Number(e.target.value); render(); });
  $("reads-rev").addEventListener("change", (e) => { state.tree = Number(e.target.value); render(); });
  $("runs").addEventListener("click", (e) => { const tr = e.target.closest("tr[data-row]"); if (tr) openRun(Number(tr.dataset.row)); });
  $("run").addEventListener("click", (e) => { const a = e.target.closest("a[data-open]"); if (a) { e.preventDefault(); openRun(Number(a.dataset.open)); } });
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
}

readHash();
header();
filters();
wire();
render();
window.agentEval = { state, selectRows, summaries, groupRows, medians, render, timings, charts, paintedAt: () => paintedAt, viewsLoaded };
