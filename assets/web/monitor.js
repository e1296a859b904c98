// The monitor's streams table: polls /streams.json once a second (the monitor reports once a
// second), keeps the streams that ended so they stay visible, and draws the table sorted worst
// first, and a selected stream's history over its last reports. Everything shown comes from
// the report as it is; nothing is computed here but sums, shares, differences of two reports
// and the order.
"use strict";

const POLL_MS = 1000;
const ENDED_KEPT = 500;
// Reports kept per stream for its history charts (one a second: two minutes).
const HISTORY = 120;

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (v, digits) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const lossShare = (r) => (r.expected > 0 ? r.lost / r.expected : 0);
const burstCount = (r) => Object.values(r.loss_bursts || {}).reduce((a, b) => a + b, 0);
const longestBurst = (r) => Math.max(0, ...Object.keys(r.loss_bursts || {}).map((k) => parseInt(k, 10)));

// Each column: its heading, what it sorts by (smaller first once `worst` is applied: -1 puts
// the largest first), and how a cell shows.
const COLUMNS = [
  { key: "id", title: "ID", value: (r) => r.id, worst: 1, cell: (r) => r.id },
  { key: "mos", title: "MOS", value: (r) => r.mos, worst: 1, cell: (r) => num(r.mos, 2), cls: (r) => grade(r.mos) },
  { key: "r", title: "R", value: (r) => r.r_factor, worst: 1, cell: (r) => num(r.r_factor, 1) },
  { key: "packets", title: "Packets", value: (r) => r.packets, worst: -1, cell: (r) => r.packets },
  { key: "loss", title: "Loss %", value: lossShare, worst: -1, cell: (r) => (lossShare(r) * 100).toFixed(2) },
  { key: "lost", title: "Lost", value: (r) => r.lost, worst: -1, cell: (r) => r.lost },
  { key: "late", title: "Late", value: (r) => r.late, worst: -1, cell: (r) => r.late },
  { key: "bursts", title: "Bursts", value: longestBurst, worst: -1,
    cell: (r) => (burstCount(r) ? `${burstCount(r)}×${longestBurst(r)}` : "–") },
  { key: "dup", title: "Dup", value: (r) => r.duplicated, worst: -1, cell: (r) => r.duplicated },
  { key: "reorder", title: "Reord", value: (r) => r.out_of_order, worst: -1, cell: (r) => r.out_of_order },
  { key: "jitter", title: "Jitter ms", value: (r) => r.jitter_ms, worst: -1, cell: (r) => num(r.jitter_ms, 2) },
  { key: "maxdelta", title: "Max Δ ms", value: (r) => r.max_delta_ms, worst: -1, cell: (r) => num(r.max_delta_ms, 1) },
  { key: "farloss", title: "Far loss %", value: (r) => r.far_loss_fraction, worst: -1,
    cell: (r) => (r.far_loss_fraction === null ? "–" : (r.far_loss_fraction * 100).toFixed(1)) },
  { key: "rtt", title: "RTT ms", value: (r) => r.rtt_ms, worst: -1, cell: (r) => num(r.rtt_ms, 1) },
  { key: "level", title: "Level", value: (r) => r.level_dbfs, worst: 1,
    cell: (r) => (r.silent > 0 ? "SILENT" : r.level_dbfs === null ? "–" : `${r.level_dbfs.toFixed(0)} dBFS`),
    cls: (r) => (r.silent > 0 ? "bad" : "") },
  { key: "lufs", title: "LUFS M/S", value: (r) => r.short_term_lufs, worst: 1,
    cell: (r) => (r.momentary_lufs === null ? "–" : `${num(r.momentary_lufs, 1)} / ${num(r.short_term_lufs, 1)}`) },
  { key: "codec", title: "Codec", value: (r) => r.codec, worst: 1, cell: (r) => esc(r.codec), text: true },
  { key: "ssrc", title: "SSRC", value: (r) => r.ssrc, worst: 1, cell: (r) => esc(r.ssrc), text: true },
  { key: "path", title: "Source → destination", value: (r) => `${r.src} ${r.dst}`, worst: 1,
    cell: (r) => `${esc(r.src ?? "?")} → ${esc(r.dst ?? "?")}`, text: true },
  { key: "call", title: "Call-ID", value: (r) => r.call_id ?? "", worst: 1, cell: (r) => esc(r.call_id ?? ""), text: true },
];

const HEALTH = [
  ["datagrams", "datagrams read"], ["rtcp", "RTCP datagrams"], ["sip", "SIP messages"],
  ["not_rtp", "not RTP, RTCP or SIP"], ["tracked", "streams tracked"], ["started", "streams found"],
  ["ended", "streams ended"], ["untracked_streams", "untracked (over --max-streams)"],
  ["untracked_packets", "their packets"], ["kernel_drops", "kernel drops (the monitor's)"],
  ["capture_drops", "capture drops (the monitor's)"], ["unattributed_drops", "drops no stream's gap took"],
];

function grade(mos) {
  if (mos === null || mos === undefined) return "";
  return mos >= 4.0 ? "good" : mos >= 3.6 ? "fair" : mos >= 3.1 ? "poor" : "bad";
}

const $ = (id) => document.getElementById(id);
const view = { sort: "mos", direction: 1, selected: null, updates: 0, report: null };
const ended = new Map();

function sortValue(col, r) {
  const v = col.value(r);
  return v === null || v === undefined || Number.isNaN(v) ? null : v;
}

function compare(col, direction) {
  return (a, b) => {
    const va = sortValue(col, a);
    const vb = sortValue(col, b);
    // Streams without the figure go last, whichever the direction.
    if (va === null || vb === null) return va === vb ? a.id - b.id : va === null ? 1 : -1;
    const order = col.text ? String(va).localeCompare(String(vb)) : va - vb;
    return order * col.worst * direction || a.id - b.id;
  };
}

function drawHead() {
  const row = document.querySelector("#streams thead tr");
  row.innerHTML = COLUMNS.map((c) => {
    const mark = c.key === view.sort ? (view.direction === 1 ? " ▲" : " ▼") : "";
    return `<th data-key="${c.key}" class="${c.text ? "" : "v"}">${esc(c.title)}${mark}</th>`;
  }).join("");
}

function visibleRows(report) {
  const live = report.streams.map((r) => ({ ...r, state: "live" }));
  const rows = $("show-ended").checked ? live.concat([...ended.values()]) : live;
  const filter = $("filter").value.trim().toLowerCase();
  const matching = filter
    ? rows.filter((r) => [r.src, r.dst, r.ssrc, r.codec, r.call_id, String(r.id)]
      .some((f) => f && String(f).toLowerCase().includes(filter)))
    : rows;
  const col = COLUMNS.find((c) => c.key === view.sort) || COLUMNS[1];
  return matching.sort(compare(col, view.direction));
}

function drawTable() {
  const report = view.report;
  if (!report) return;
  const rows = visibleRows(report);
  const limit = Number($("rows").value) || rows.length;
  const shown = rows.slice(0, limit);
  $("streams").tBodies[0].innerHTML = shown.map((r) => {
    const cells = COLUMNS.map((c) => {
      const cls = [c.text ? "" : "v", c.cls ? c.cls(r) : ""].join(" ").trim();
      return `<td class="${cls}">${c.cell(r)}</td>`;
    }).join("");
    const cls = [r.state, r.id === view.selected ? "selected" : ""].join(" ");
    return `<tr data-id="${r.id}" data-ssrc="${esc(r.ssrc)}" class="${cls}">${cells}</tr>`;
  }).join("");
  $("shown").textContent = `${shown.length} of ${rows.length} shown`;
  $("more").textContent = rows.length > shown.length ? `… ${rows.length - shown.length} more (filter, sort or rows)` : "";
  drawDetail();
}

function dl(el, pairs) {
  el.innerHTML = pairs.map(([k, v]) => `<dt>${esc(k)}</dt><dd data-key="${esc(k)}">${esc(v)}</dd>`).join("");
}

function drawTotals(report) {
  // The live streams and the ended ones this page keeps (the last ENDED_KEPT).
  const all = report.streams.concat([...ended.values()]);
  const sum = (f) => all.reduce((a, r) => a + f(r), 0);
  const scored = all.filter((r) => r.mos !== null).map((r) => r.mos);
  const expected = sum((r) => r.expected);
  const lost = sum((r) => r.lost);
  dl($("totals"), [
    ["worst MOS", scored.length ? Math.min(...scored).toFixed(2) : "–"],
    ["streams live", report.streams.length],
    ["streams ended (kept here)", ended.size],
    ["packets", sum((r) => r.packets)],
    ["lost by the network", `${lost} (${(expected ? (100 * lost) / expected : 0).toFixed(2)} %)`],
    ["late for the buffer", sum((r) => r.late)],
    ["silent now", report.streams.filter((r) => r.silent > 0).length],
  ]);
  dl($("health"), HEALTH.filter(([k]) => k in report.health).map(([k, label]) => [label, report.health[k]])
    .concat([["--max-streams", report.max_streams]]));
}

// Per stream, the figures of its recent reports: MOS, jitter, and the loss of each interval (the
// difference of two reports' counts, so the history's losses add up to the stream's).
const histories = new Map();

function record(report) {
  const live = new Set(report.streams.map((r) => r.id));
  for (const r of report.streams.concat(report.ended)) {
    let h = histories.get(r.id);
    if (!h) {
      h = { t: [], mos: [], jitter: [], lost: [], loss: [], last: { t: null, lost: 0, expected: 0 } };
      histories.set(r.id, h);
    }
    if (h.last.t === report.t) continue;
    const lost = r.lost - h.last.lost;
    const expected = r.expected - h.last.expected;
    h.last = { t: report.t, lost: r.lost, expected: r.expected };
    const add = (key, v) => { h[key].push(v); if (h[key].length > HISTORY) h[key].shift(); };
    add("t", report.t);
    add("mos", r.mos);
    add("jitter", r.jitter_ms);
    add("lost", lost);
    add("loss", expected > 0 ? (100 * lost) / expected : 0);
  }
  for (const id of histories.keys()) if (!live.has(id) && !ended.has(id)) histories.delete(id);
}

// A line over `values` (nulls skipped), scaled to [lo, hi] or to the values' own range.
function spark(values, lo, hi) {
  const known = values.filter((v) => v !== null && v !== undefined);
  const top = hi ?? Math.max(1e-9, ...known);
  const bottom = lo ?? 0;
  const w = 240, h = 40, n = Math.max(1, values.length - 1);
  const points = values.map((v, i) => (v === null || v === undefined ? null
    : `${((w * i) / n).toFixed(1)},${(h - (h * (Math.min(Math.max(v, bottom), top) - bottom)) / (top - bottom || 1)).toFixed(1)}`))
    .filter((p) => p !== null).join(" ");
  return `<svg class="spark" viewBox="0 0 ${w} ${h}" preserveAspectRatio="none"><polyline points="${points}"/></svg>`;
}

function drawHistory(id) {
  const h = histories.get(id);
  if (!h || !h.t.length) {
    $("history").innerHTML = `<p class="muted">no reports yet</p>`;
    return;
  }
  const last = (a) => a[a.length - 1];
  const seconds = (last(h.t) - h.t[0]).toFixed(0);
  $("history").innerHTML = [
    ["mos", "MOS", spark(h.mos, 1, 4.5), num(last(h.mos), 2)],
    ["loss", "loss % each report", spark(h.loss, 0, null), `${num(last(h.loss), 1)} %`],
    ["jitter", "jitter ms", spark(h.jitter, 0, null), num(last(h.jitter), 2)],
  ].map(([key, label, svg, now]) => `<div class="history" data-series="${key}"><span>${label}</span>${svg}<span>${now}</span></div>`)
    .join("") + `<p class="muted">last ${seconds} s, ${h.t.length} reports</p>`;
}

function drawDetail() {
  const report = view.report;
  const id = view.selected;
  const row = id === null ? null
    : report.streams.find((r) => r.id === id) || report.ended.find((r) => r.id === id) || ended.get(id);
  $("detail").hidden = !row;
  if (!row) return;
  $("detail-title").textContent = `${row.id}: SSRC ${row.ssrc}, ${row.codec}, ${row.src ?? "?"} → ${row.dst ?? "?"}`;
  drawHistory(row.id);
  const bursts = Object.entries(row.loss_bursts || {});
  const most = Math.max(1, ...bursts.map(([, n]) => n));
  $("bursts").innerHTML = bursts.length
    ? bursts.map(([len, n]) => `<div class="burst" data-length="${esc(len)}" data-count="${n}"><span>${esc(len)}</span>`
      + `<div class="bar"><div class="rms" style="width:${(100 * n) / most}%"></div></div><span>${n}</span></div>`).join("")
    : `<p class="muted">no loss</p>`;
  const p = row.playout || {};
  dl($("playout"), [["played", p.played], ["late", p.late], ["lost after the buffer", p.lost],
    ["underruns", p.underruns], ["target ms", num(p.target_ms, 0)], ["depth ms", num(p.depth_ms, 0)]]);
  const f = row.far_end || {};
  dl($("far-end"), [["receiver reports", f.reports], ["fraction lost", f.fraction_lost === null ? "–" : `${(100 * f.fraction_lost).toFixed(1)} %`],
    ["cumulative lost", f.cumulative_lost ?? "–"], ["jitter ms", num(f.jitter_ms, 2)], ["round trip ms", num(f.rtt_ms, 1)],
    ["sender reports", f.sender_reports], ["sender's packet count", f.sender_packets ?? "–"]]);
  const s = row.stats || {};
  dl($("arrival"), [["expected", s.expected], ["duration s", num(s.duration_s, 2)], ["mean jitter ms", num(s.mean_jitter_ms, 3)],
    ["max jitter ms", num(s.max_jitter_ms, 3)], ["max Δ at s", num(s.max_delta_at_s, 3)], ["skew ms", num(s.skew_ms, 3)],
    ["burst ratio", num(row.burst_ratio, 2)], ["call", row.call_id ?? "–"]]);
}

async function poll() {
  try {
    const response = await fetch("/streams.json", { cache: "no-store" });
    if (response.status === 503) {
      $("state").textContent = "starting";
    } else if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    } else {
      const report = await response.json();
      for (const r of report.ended) ended.set(r.id, { ...r, state: "ended" });
      for (const r of report.streams) ended.delete(r.id);
      while (ended.size > ENDED_KEPT) ended.delete(ended.keys().next().value);
      record(report);
      view.report = report;
      view.updates += 1;
      $("state").textContent = report.finished ? "finished" : "watching";
      $("summary").textContent = `t = ${report.t.toFixed(0)} s · ${report.streams.length} live · ${report.health.ended} ended · ${report.health.untracked_streams} untracked`;
      drawTotals(report);
      drawTable();
    }
  } catch (error) {
    $("state").textContent = "offline";
    $("summary").textContent = String(error.message || error);
  }
  setTimeout(poll, view.report && view.report.finished ? 5 * POLL_MS : POLL_MS);
}

document.querySelector("#streams thead").addEventListener("click", (e) => {
  const th = e.target.closest("th");
  if (!th) return;
  view.direction = th.dataset.key === view.sort ? -view.direction : 1;
  view.sort = th.dataset.key;
  drawHead();
  drawTable();
});
$("streams").tBodies[0].addEventListener("click", (e) => {
  const tr = e.target.closest("tr");
  if (!tr) return;
  const id = Number(tr.dataset.id);
  view.selected = view.selected === id ? null : id;
  drawTable();
});
for (const id of ["filter", "rows", "show-ended"]) $(id).addEventListener("input", drawTable);

// For tests and scripts: what the page shows.
window.jitterplay = {
  updates: () => view.updates,
  finished: () => Boolean(view.report && view.report.finished),
  rows: () => [...document.querySelectorAll("#streams tbody tr")].map((tr) => {
    const cells = {};
    COLUMNS.forEach((c, i) => { cells[c.key] = tr.children[i].textContent; });
    return { id: Number(tr.dataset.id), ssrc: tr.dataset.ssrc, state: tr.className.split(" ")[0], cells };
  }),
  history: (id) => {
    const h = histories.get(id);
    return h ? { t: h.t, mos: h.mos, jitter: h.jitter, lost: h.lost, loss: h.loss } : null;
  },
  historyPoints: () => Object.fromEntries([...document.querySelectorAll("#history .history")]
    .map((d) => [d.dataset.series, d.querySelector("polyline").getAttribute("points").split(" ").filter(Boolean).length])),
  bursts: () => Object.fromEntries([...document.querySelectorAll("#bursts .burst")]
    .map((b) => [b.dataset.length, Number(b.dataset.count)])),
};

drawHead();
poll();
