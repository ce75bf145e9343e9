"use strict";
// One run, opened from the Runs view: its details (answer, timeline, graders, files, reads), loaded
// with the 1,000 runs of its details file the first time one of them opens.

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
