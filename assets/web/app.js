// jitterplay's dashboard: one WebSocket feed (/ws), charts drawn with the vendored uPlot.
// The first message carries up to 60 s of history; each later one adds a point and the
// latest status object (the --stats-json object).
"use strict";

const WINDOW_S = 60;
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const EVENT_KINDS = {
  player: ["lost", "late", "concealed", "nack", "recovered", "restart", "underrun", "rebuffer", "stretch", "silence"],
  sender: ["dropped", "duplicated", "reordered", "errors"],
  relay: ["dropped", "duplicated", "reordered", "errors"],
};

const state = {
  role: "player",
  points: [],   // {t, depth, target, ceiling, levels}
  delays: [],   // [t, ms]
  events: [],   // [t, kind, n]
  status: null,
  web: null,
  dirty: false,
};

function chart(el, series, scatter) {
  const opts = {
    width: el.clientWidth || 600,
    height: 220,
    scales: { x: { time: false } },
    axes: [
      { stroke: css("--muted"), grid: { stroke: css("--line") } },
      { stroke: css("--muted"), grid: { stroke: css("--line") } },
    ],
    series: [{ label: "t (s)" }].concat(series.map(([label, color]) => ({
      label, stroke: css(color), width: scatter ? 0 : 1.5,
      points: scatter ? { show: true, size: 3, fill: css(color), stroke: css(color) } : { show: false },
      spanGaps: false,
    }))),
    legend: { live: true },
  };
  return new uPlot(opts, [[]].concat(series.map(() => [])), el);
}

const depthEl = document.getElementById("depth-chart");
const delayEl = document.getElementById("delay-chart");
const depthChart = chart(depthEl, [["depth", "--depth"], ["target", "--target"], ["ceiling", "--ceiling"]], false);
const delayChart = chart(delayEl, [["delay", "--delay"]], true);

window.addEventListener("resize", () => {
  depthChart.setSize({ width: depthEl.clientWidth, height: 220 });
  delayChart.setSize({ width: delayEl.clientWidth, height: 220 });
  state.dirty = true;
});

function addPoint(p) {
  state.points.push(p);
  for (const d of p.delays || []) state.delays.push(d);
  for (const e of p.events || []) state.events.push([e[0] ?? p.t, e[1], e[2]]);
  const oldest = p.t - WINDOW_S;
  while (state.points.length && state.points[0].t < oldest) state.points.shift();
  while (state.delays.length && state.delays[0][0] < oldest) state.delays.shift();
  while (state.events.length && state.events[0][0] < oldest) state.events.shift();
}

function render() {
  state.dirty = false;
  const pts = state.points.filter((p) => p.depth !== null && p.depth !== undefined);
  depthChart.setData([
    pts.map((p) => p.t), pts.map((p) => p.depth), pts.map((p) => p.target), pts.map((p) => p.ceiling),
  ]);
  depthEl.dataset.points = String(pts.length);
  delayChart.setData([state.delays.map((d) => d[0]), state.delays.map((d) => d[1])]);
  delayEl.dataset.points = String(state.delays.length);
  drawEvents();
  drawMeters();
  drawStatus();
}

function drawEvents() {
  const canvas = document.getElementById("events");
  const kinds = EVENT_KINDS[state.role] || [];
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const row = 14;
  const height = Math.max(1, kinds.length) * row + 18;
  canvas.width = width * ratio; canvas.height = height * ratio; canvas.style.height = height + "px";
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.font = "11px system-ui, sans-serif";
  const end = state.points.length ? state.points[state.points.length - 1].t : 0;
  const start = state.points.length ? state.points[0].t : 0;
  const span = Math.max(1e-3, end - start);
  const left = 80;
  const x = (t) => left + ((t - start) / span) * (width - left - 4);
  kinds.forEach((kind, i) => {
    const y = i * row + 4;
    g.fillStyle = css("--muted");
    g.fillText(kind, 2, y + 10);
    g.fillStyle = css("--line");
    g.fillRect(left, y + 6, width - left - 4, 1);
  });
  g.fillStyle = css("--ceiling");
  for (const [t, kind, n] of state.events) {
    const i = kinds.indexOf(kind);
    if (i < 0) continue;
    const size = Math.min(10, 3 + Math.log2(1 + n));
    g.fillRect(x(t) - size / 2, i * row + 4 + 6 - size / 2, size, size);
  }
  g.fillStyle = css("--muted");
  g.fillText(`${start.toFixed(1)} s`, left, height - 3);
  g.fillText(`${end.toFixed(1)} s`, width - 40, height - 3);
}

function drawMeters() {
  const last = state.points.length ? state.points[state.points.length - 1] : null;
  const levels = last && last.levels;
  if (!levels || !levels.length) return;
  const box = document.getElementById("meters");
  if (box.children.length !== levels.length || box.querySelector("p")) {
    box.innerHTML = "";
    levels.forEach((_, c) => {
      const m = document.createElement("div");
      m.className = "meter";
      m.innerHTML = `<span>ch ${c + 1}</span><div class="bar"><div class="rms"></div><div class="peak"></div></div><span class="val"></span>`;
      box.appendChild(m);
    });
  }
  const pos = (db) => Math.max(0, Math.min(100, ((db + 60) / 60) * 100));
  levels.forEach(([peak, rms], c) => {
    const m = box.children[c];
    m.querySelector(".rms").style.width = pos(rms) + "%";
    m.querySelector(".peak").style.left = pos(peak) + "%";
    m.querySelector(".val").textContent = `${peak.toFixed(1)} / ${rms.toFixed(1)}`;
  });
}

function flatten(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) flatten(v, key, out);
    else if (typeof v === "number" || typeof v === "boolean") out.push([key, v]);
  }
  return out;
}

const fmt = (v) => (typeof v === "number" && !Number.isInteger(v) ? v.toFixed(3) : String(v));

function drawStatus() {
  const s = state.status;
  document.getElementById("role").textContent = state.role;
  document.body.classList.toggle("no-buffer", state.role !== "player");
  if (!s) return;
  document.getElementById("state").textContent = s.state || "?";
  const m = s.metrics || {};
  const info = s.info || {};
  const facts = [
    ["source", s.source ?? info.source ?? info.listen],
    ["destination", info.destination],
    ["format", s.format ?? info.format],
    ["SSRC", s.ssrc ?? info.ssrc],
    ["CNAME", s.rtcp && s.rtcp.sender_cname],
    ["jitter", typeof m.jitter_ms === "number" ? `${m.jitter_ms.toFixed(1)} ms` : undefined],
    ["buffer", typeof m.depth_ms === "number" ? `${m.depth_ms.toFixed(0)} / ${m.target_ms.toFixed(0)} ms` : undefined],
    ["RTT", typeof m.rtt_ms === "number" ? `${m.rtt_ms.toFixed(1)} ms` : undefined],
    ["drift", typeof m.drift_ppm === "number" ? `${m.drift_ppm.toFixed(1)} ppm` : s.metrics && "measuring"],
    ["sender's clock", s.ts_refclk],
    ["our clock", s.reference_clock],
    ["media clock", typeof m.mediaclk_offset_samples === "number"
      ? `${m.mediaclk_offset_samples.toFixed(1)} samples` +
        (typeof m.mediaclk_drift_ppm === "number" ? `, ${m.mediaclk_drift_ppm.toFixed(1)} ppm` : "")
      : undefined],
    ["time", `${(s.t || 0).toFixed(1)} s`],
  ].filter(([, v]) => v !== undefined && v !== null);
  document.getElementById("facts").innerHTML = facts
    .map(([k, v]) => `<dt>${k}</dt><dd>${String(v).replace(/</g, "&lt;")}</dd>`).join("");
  const rows = flatten(s, "", []).concat(flatten(state.web, "web", []));
  const body = document.querySelector("#counters tbody");
  if (body.children.length !== rows.length) {
    body.innerHTML = rows.map(([k]) => `<tr data-key="${k}"><td>${k}</td><td class="v"></td></tr>`).join("");
  }
  rows.forEach(([k, v], i) => {
    const tr = body.children[i];
    if (tr.dataset.key !== k) { tr.dataset.key = k; tr.children[0].textContent = k; }
    tr.children[1].textContent = fmt(v);
    tr.children[1].dataset.value = String(v);
  });
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  const feed = document.getElementById("feed");
  ws.onopen = () => { feed.textContent = "live"; };
  ws.onclose = () => { feed.textContent = "disconnected, retrying"; setTimeout(connect, 1000); };
  ws.onmessage = (msg) => {
    const data = JSON.parse(msg.data);
    if (data.history) {
      state.points = []; state.delays = []; state.events = [];
      data.history.forEach(addPoint);
    } else {
      state.role = data.role || state.role;
      state.status = data.status || state.status;
      state.web = data.web;
      addPoint(data.point);
    }
    if (!state.dirty) { state.dirty = true; requestAnimationFrame(render); }
  };
}

// What tests and curious users can read from the console.
window.jitterplay = {
  depthPoints: () => Number(depthEl.dataset.points),
  delayPoints: () => Number(delayEl.dataset.points),
  status: () => state.status,
  counters: () => Object.fromEntries(
    [...document.querySelectorAll("#counters tr")].map((tr) => [tr.dataset.key, tr.children[1].dataset.value])),
};

connect();
