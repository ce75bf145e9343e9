"use strict";
// The agent-eval report's page: the state, kept in the URL so a view can be linked; the views every
// filter recomputes over the selected runs (runs.js); and the wiring. Loaded last, after runs.js,
// charts.js, run.js and later_views.js, whose functions it calls.

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
