"use strict";
// The views whose data loads only when they first open: Compare and Sessions (views.js) and Where
// agents look (reads.js). The page's first content never waits for them.

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
