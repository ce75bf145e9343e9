"use strict";
// Drawing: ECharts loaded the first time a chart is on screen, a chart drawn only while it is on
// screen, axis labels that fit, and numbers formatted as the page shows them.

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
