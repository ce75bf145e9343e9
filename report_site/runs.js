"use strict";
// The report's runs, as data.js ships them: columns decoded once into typed arrays, the selection
// a filter keeps, and every group's aggregates in one pass over it (report.py's aggregate() does the
// same arithmetic). Loaded first: the other scripts of the page use what it defines.

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
