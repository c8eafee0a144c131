// fleettwin dashboard: live charts over a websocket, and small helpers.
"use strict";

// Colours: one palette for models, another for devices, so a colour
// means one thing on every chart; a model or device keeps its colour.
const modelPalette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#d97706", "#0891b2"];
const devicePalette = ["#0f766e", "#b45309", "#be185d", "#4d7c0f", "#1e3a8a", "#7c2d12"];
const palette = modelPalette;
window.fleettwin = { updates: 0, connected: false, state: null };

const times = (xs, k) => (xs || []).map((v) => (v == null ? null : k * v));
const constant = (s, v) => (s.t || []).map(() => v);

// latency draws a model's p95 per interval (solid) and cumulative
// (dashed), and each distinct SLO target of the metric (dotted), in unit
// k (1: seconds, 1e3: ms).
function latency(key, target, k) {
  return (s) => {
    const lines = [];
    s.models.forEach((m, i) => {
      const color = modelPalette[i % modelPalette.length];
      lines.push({ label: `${m.model} p95 per interval`, ys: times(m[key + "_p95_window_s"], k), color });
      lines.push({ label: `${m.model} p95 cumulative`, ys: times(m[key + "_p95_s"], k), color, dash: [6, 4], width: 1 });
    });
    const seen = new Set();
    for (const slo of s.slos || []) {
      const v = slo[target];
      if (!v || seen.has(v)) continue;
      seen.add(v);
      lines.push({ label: `SLO ${+(k * v).toPrecision(6)} ${k === 1 ? "s" : "ms"}`, ys: constant(s, k * v), color: "#111827", dash: [2, 4], width: 1 });
    }
    return lines;
  };
}
const perModel = (get) => (s) => s.models.map((m, i) => ({ label: m.model, ys: get(m), color: modelPalette[i % modelPalette.length] }));
// From groupFrom devices on (web/groups.go), device charts draw each node
// group's mean (solid), lowest and highest device (thin, dashed) instead
// of a line per device: a legend of 100 entries reads as nothing.
const groupFrom = 9;
function groupOf(d) {
  if (d.group) return d.group;
  const m = /^(.*)-\d+$/.exec(d.node);
  return m ? m[1] : d.node;
}
function groups(s) {
  const out = new Map();
  for (const d of s.devices) {
    const g = groupOf(d);
    if (!out.has(g)) out.set(g, []);
    out.get(g).push(d);
  }
  return out;
}
function perDevice(get) {
  return (s) => {
    if (s.devices.length < groupFrom) {
      return s.devices.map((d, i) => ({ label: d.node, ys: get(d), color: devicePalette[i % devicePalette.length] }));
    }
    const lines = [];
    let i = 0;
    for (const [g, ds] of groups(s)) {
      const color = devicePalette[i++ % devicePalette.length];
      const cols = ds.map(get);
      const at = (f) =>
        (s.t || []).map((_, j) => {
          const vs = cols.map((c) => (c || [])[j]).filter((v) => v != null);
          return vs.length ? f(vs) : null;
        });
      lines.push({ label: `${g} mean (${ds.length})`, ys: at((vs) => vs.reduce((a, b) => a + b, 0) / vs.length), color });
      lines.push({ label: `${g} min`, ys: at((vs) => Math.min(...vs)), color, dash: [3, 3], width: 1 });
      lines.push({ label: `${g} max`, ys: at((vs) => Math.max(...vs)), color, dash: [3, 3], width: 1 });
    }
    return lines;
  };
}
function devicesNowText(state) {
  if (state.devices.length < groupFrom) {
    return state.devices
      .filter((d) => d.temp_c && d.temp_c.length)
      .map((d) => {
        const i = d.temp_c.length - 1;
        let s = `${d.node}: ${d.temp_c[i].toFixed(1)} C, clock ${Math.round(100 * d.clock[i])}%`;
        if (d.throttle) s += `, throttled (${d.throttle})`;
        return s;
      })
      .join(" · ");
  }
  const parts = [];
  for (const [g, ds] of groups(state)) {
    const live = ds.filter((d) => d.temp_c && d.temp_c.length);
    if (!live.length) continue;
    const temps = live.map((d) => d.temp_c[d.temp_c.length - 1]);
    const clock = Math.min(...live.map((d) => d.clock[d.clock.length - 1]));
    const hot = live.filter((d) => d.throttle).length;
    parts.push(`${g} (${live.length} devices): ${Math.min(...temps).toFixed(1)}-${Math.max(...temps).toFixed(1)} C, lowest clock ${Math.round(100 * clock)}%, ${hot} throttled`);
  }
  return parts.join(" · ");
}
// utilTarget is the verdict's target (verdict.DefaultUtilization).
const utilTarget = 0.7;

const charts = {
  ttft: { series: latency("ttft", "ttft_s", 1) },
  tpot: { series: latency("tpot", "tpot_s", 1e3) },
  e2e: { series: latency("e2e", "e2e_s", 1) },
  throughput: { series: perModel((m) => m.throughput_per_s) },
  queue: { series: perDevice((d) => d.waiting) },
  kv: { series: perDevice((d) => d.kv_use) },
  util: {
    series: (s) =>
      perDevice((d) => d.utilization)(s).concat([
        { label: `target ${Math.round(100 * utilTarget)}%`, ys: constant(s, utilTarget), color: "#111827", dash: [2, 4], width: 1 },
      ]),
  },
  power: { series: perDevice((d) => d.power_w) },
  temp: { series: perDevice((d) => d.temp_c) },
  clock: { series: perDevice((d) => d.clock) },
};
const plots = {};
const fixedRange = { util: [0, 1], clock: [0, 1.05] };

function drawCharts(state) {
  for (const el of document.querySelectorAll("[data-chart]")) {
    const name = el.dataset.chart;
    const lines = charts[name].series(state);
    const data = [state.t || []].concat(lines.map((l) => l.ys || []));
    if (!plots[name]) {
      const width = Math.max(el.clientWidth, 300);
      plots[name] = new uPlot(
        {
          width: width,
          height: 200,
          scales: { x: { time: false }, y: fixedRange[name] ? { range: fixedRange[name] } : {} },
          axes: [{ label: "simulated s" }, { size: 60 }],
          series: [{ label: "t" }].concat(
            lines.map((l) => ({ label: l.label, stroke: l.color, width: l.width || 2, dash: l.dash, spanGaps: true, points: l.dash ? { show: false } : {} })),
          ),
        },
        data,
        el,
      );
    } else {
      plots[name].setData(data);
    }
  }
}

function showState(state) {
  window.fleettwin.state = state;
  window.fleettwin.updates++;
  const fill = document.querySelector(".progress .fill");
  if (fill) fill.style.width = (100 * state.progress).toFixed(1) + "%";
  const text = document.querySelector("[data-testid=progress-text]");
  if (text) {
    const rate = state.elapsed_s > 0 ? state.now_s / state.elapsed_s : 0;
    const left = state.left_s == null ? "?" : Math.round(state.left_s) + "s";
    text.textContent = state.done
      ? `${state.status}: ${Math.round(state.now_s)} of ${Math.round(state.duration_s)} simulated seconds, ${state.events} events`
      : `${Math.round(state.now_s)}/${Math.round(state.duration_s)} sim-s (${Math.round(100 * state.progress)}%) · ${rate.toPrecision(3)} sim-s per second · ${left} left`;
  }
  const now = document.querySelector("[data-testid=devices-now]");
  if (now) {
    now.textContent = devicesNowText(state);
    now.classList.toggle("hot", state.devices.some((d) => d.throttle));
  }
  const status = document.querySelector("[data-testid=status]");
  if (status) {
    status.textContent = state.status;
    status.className = "status " + state.status;
  }
  drawCharts(state);
}

// A large fleet's run streams deltas: its newest points only. merge
// appends them, thinning as the server does (every other point, and the
// last, past max_points), so the page holds exactly the server's state.
const seriesKeys = {
  models: ["ttft_p95_s", "tpot_p95_s", "e2e_p95_s", "ttft_p95_window_s", "tpot_p95_window_s", "e2e_p95_window_s", "throughput_per_s"],
  devices: ["utilization", "kv_use", "power_w", "temp_c", "clock", "waiting"],
};
function grow(xs, ys, max) {
  let out = (xs || []).concat(ys || []);
  if (max && out.length > max) out = out.filter((_, i) => i % 2 === 1 || i === out.length - 1);
  return out;
}
function merge(cur, d) {
  const next = Object.assign({}, d, { delta: false });
  next.t = grow(cur.t, d.t, d.max_points);
  for (const kind of ["models", "devices"]) {
    next[kind] = d[kind].map((x, i) => {
      const o = Object.assign({}, x);
      for (const k of seriesKeys[kind]) o[k] = grow(cur[kind][i][k], x[k], d.max_points);
      return o;
    });
  }
  return next;
}

// fill puts a part's complete series in place in the head.
function fill(head, p) {
  (p.models || []).forEach((m, i) => (head.models[p.models_from + i] = m));
  (p.devices || []).forEach((d, i) => (head.devices[p.devices_from + i] = d));
}

function follow(runID, wasDone) {
  let delay = 250;
  let cur = null; // the complete state the page shows
  let resyncing = false;
  let held = []; // deltas that came while the state was being fetched or filled
  let head = null; // a head whose parts are still coming
  const connect = () => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws/runs/${runID}`);
    const show = (state) => {
      cur = state;
      showState(state);
      if (state.done && !wasDone) {
        // The result tables are rendered on the server: fetch them once.
        wasDone = true;
        ws.close();
        setTimeout(() => location.reload(), 300);
      }
    };
    const apply = (msg) => {
      // A large fleet's state on connect comes as a head and its parts
      // (each message under 64 KB): the parts fill the head's series.
      if (msg.part) {
        if (!head || msg.seq !== head.seq) return;
        fill(head, msg);
        if (msg.part < head.parts) return;
        const st = Object.assign(head, { parts: 0 });
        const later = held;
        head = null;
        held = [];
        show(st);
        for (const m of later) apply(m);
        return;
      }
      if (msg.parts) {
        head = msg;
        return;
      }
      if (head) return held.push(msg);
      if (!msg.delta) return show(msg);
      if (cur && msg.seq <= cur.seq) return; // already in the state
      if (resyncing) return held.push(msg);
      if (cur && msg.seq === cur.seq + 1) return show(merge(cur, msg));
      // A message was dropped (a slow page): fetch the complete state.
      resyncing = true;
      held.push(msg);
      fetch(`/runs/${runID}/state.json`)
        .then((r) => r.json())
        .then((st) => {
          resyncing = false;
          const later = held;
          held = [];
          if (!cur || st.seq > cur.seq) show(st);
          for (const m of later) apply(m);
        })
        .catch(() => {
          resyncing = false;
          held = [];
        });
    };
    ws.onopen = () => {
      window.fleettwin.connected = true;
      delay = 250;
    };
    ws.onmessage = (ev) => apply(JSON.parse(ev.data));
    ws.onclose = () => {
      window.fleettwin.connected = false;
      if (!wasDone) {
        setTimeout(connect, delay); // the server may be restarting: resume where the run is
        delay = Math.min(delay * 2, 5000);
      }
    };
  };
  connect();
}

// The calibration page: a real run next to its twin, per experiment.
const calPlots = {};
function calLines(st, name) {
  const exps = st.experiments || [];
  const x = exps.map((_, i) => i + 1);
  const col = (k) => exps.map((e) => e[k]);
  switch (name) {
    case "tpot":
      return [x, [["measured", col("tpot_measured")], ["twin", col("tpot_simulated")]]];
    case "e2e":
      return [x, [["measured", col("e2e_measured")], ["twin", col("e2e_simulated")]]];
    case "err":
      return [x, [["TPOT", st.median_abs_error_pct.tpot_p50 || []], ["E2E", st.median_abs_error_pct.e2e_p50 || []]]];
    default:
      return [st.telemetry.t || [], [["util %", st.telemetry.util_pct || []], ["power W", st.telemetry.power_w || []]]];
  }
}

function showCal(st) {
  window.fleettwin.state = st;
  window.fleettwin.updates++;
  const prog = document.querySelector("[data-testid=cal-progress]");
  if (prog) prog.textContent = `${st.requests} of ${st.planned} requests recorded`;
  // The job's end (finished, failed with its cause, stopped) shows as it
  // comes; Stop goes once nothing measures.
  const status = document.querySelector("[data-testid=cal-status]");
  const cls = { measuring: "running", finished: "done", failed: "failed" };
  if (status && st.outcome) {
    status.textContent = st.outcome;
    status.className = "status " + (cls[st.outcome] || "stopped");
  }
  const err = document.querySelector("[data-testid=cal-error]");
  if (err) {
    err.textContent = st.error || "";
    err.hidden = !st.error;
  }
  const stop = document.querySelector("[data-testid=cal-stop-form]");
  if (stop && !st.running) stop.remove();
  for (const el of document.querySelectorAll("[data-cal-chart]")) {
    const name = el.dataset.calChart;
    const [x, lines] = calLines(st, name);
    const data = [x].concat(lines.map(([, ys]) => ys));
    if (!calPlots[name]) {
      calPlots[name] = new uPlot(
        {
          width: Math.max(el.clientWidth, 300),
          height: 200,
          scales: { x: { time: false } },
          axes: [{ label: name === "telemetry" ? "seconds" : "experiment" }, { size: 60 }],
          series: [{ label: "x" }].concat(
            lines.map(([label], i) => ({
              label: label,
              stroke: palette[i % palette.length],
              width: 2,
              points: { show: name !== "telemetry" },
              spanGaps: true,
            })),
          ),
        },
        data,
        el,
      );
    } else {
      calPlots[name].setData(data);
    }
  }
}

function followCal(id) {
  let delay = 250;
  const connect = () => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws/calibration/${id}`);
    ws.onopen = () => {
      window.fleettwin.connected = true;
      delay = 250;
    };
    ws.onmessage = (ev) => showCal(JSON.parse(ev.data));
    ws.onclose = () => {
      window.fleettwin.connected = false;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 5000);
    };
  };
  connect();
}

// The plan page: search progress (done/total, rate, time left) live; the
// report is rendered on the server once the plan is done.
function planText(st) {
  if (st.phase === "verifying") {
    const v = st.verify || {};
    return `${st.done}/${st.total} configurations searched (${st.simulations} simulations); re-simulating the winner: run ${v.Run || 0} of ${v.Runs || 0}, ${Math.round(v.NowS || 0)}/${Math.round(v.DurationS || 0)} simulated s`;
  }
  if (st.phase === "queued") return `#${st.queue_position} in the queue: it starts when the running plan ends`;
  if (planOver(st.phase)) return `${st.phase} at ${st.done}/${st.total} configurations (${st.simulations} simulations)`;
  if (!st.total) return "analysing the search space…";
  const left = Math.round(st.left_s || 0);
  return `${st.done}/${st.total} configurations (${Math.round((100 * st.done) / st.total)}%) · ${(st.rate_per_s || 0).toPrecision(2)} per second · ${left}s left · ${st.simulations} simulations`;
}

function planOver(phase) {
  return ["done", "failed", "stopped", "interrupted"].includes(phase);
}

function followPlan(id) {
  const el = document.getElementById("plan");
  let delay = 250;
  let over = false;
  const connect = () => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws/plans/${id}`);
    ws.onopen = () => {
      window.fleettwin.connected = true;
      delay = 250;
    };
    ws.onmessage = (ev) => {
      const st = JSON.parse(ev.data);
      el.querySelector("[data-testid=plan-phase]").textContent = st.phase;
      el.querySelector("[data-testid=plan-progress-text]").textContent = planText(st);
      el.querySelector(".fill").style.width = `${st.total ? (100 * st.done) / st.total : 0}%`;
      window.fleettwin.plan = st;
      if (planOver(st.phase) && !over) {
        over = true;
        ws.close();
        setTimeout(() => location.reload(), 300);
      }
    };
    ws.onclose = () => {
      window.fleettwin.connected = false;
      if (!over) {
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 5000);
      }
    };
  };
  connect();
}

// The runs list, live: while a run is queued or running, its rows'
// progress and metrics are fetched once a second (/api/runs/rows) and
// written as the server writes them; a new run reloads the page.
const fmtRow = {
  latency: (v) => (v == null ? "-" : v < 1 ? `${(1e3 * v).toFixed(1)} ms` : v < 100 ? `${v.toFixed(2)} s` : `${v.toFixed(1)} s`),
  pct: (v) => (v == null ? "-" : `${(100 * v).toFixed(1)}%`),
  usd: (v) => (v == null ? "-" : `$${v.toFixed(4)}/h`),
};
function followRuns(table) {
  const tick = () =>
    fetch("/api/runs/rows")
      .then((r) => r.json())
      .then((rows) => {
        window.fleettwin.updates++;
        let live = false;
        for (const r of rows || []) {
          const tr = table.querySelector(`tr[data-run="${CSS.escape(r.id)}"]`);
          if (!tr) return location.reload();
          const cell = (id, text) => {
            const el = tr.querySelector(`[data-testid=${id}]`);
            if (el) el.textContent = text;
          };
          const status = tr.querySelector("[data-testid=run-status]");
          status.textContent = r.status;
          status.className = "status " + r.status;
          cell("run-progress", `${Math.round(100 * r.progress)}%`);
          cell("run-ttft", fmtRow.latency(r.ttft_p95_s));
          cell("run-tpot", fmtRow.latency(r.tpot_p95_s));
          cell("run-util", fmtRow.pct(r.utilization));
          cell("run-slo", r.done && r.models ? `${r.slo_met} of ${r.models}` : "-");
          cell("run-cost", fmtRow.usd(r.usd_per_hour));
          const line = tr.querySelector("[data-testid=run-spark] polyline");
          const sp = r.spark || [];
          if (line)
            line.setAttribute(
              "points",
              sp.map((x, i) => `${(sp.length > 1 ? (80 * i) / (sp.length - 1) : 0).toFixed(1)},${(19 - 18 * Math.max(0, Math.min(1, x))).toFixed(1)}`).join(" "),
            );
          if (!r.done) live = true;
        }
        if (live) setTimeout(tick, 1000);
      })
      .catch(() => setTimeout(tick, 2000));
  tick();
}

// reloadWhenDone reloads the page once a run ends: a verdict panel that
// waits for a run (the featured run on the runs page, a run's baseline)
// is rendered on the server when that run has its result.
function reloadWhenDone(runID) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws/runs/${runID}`);
  let over = false;
  ws.onmessage = (ev) => {
    if (over) return;
    const st = JSON.parse(ev.data);
    if (st.done) {
      over = true;
      ws.close();
      setTimeout(() => location.reload(), 300);
    }
  };
  ws.onclose = () => {
    if (!over) setTimeout(() => reloadWhenDone(runID), 1000);
  };
}

document.addEventListener("DOMContentLoaded", () => {
  const pending = document.querySelector("[data-testid=verdict][data-pending-run]");
  const runEl = document.getElementById("run");
  if (pending && pending.dataset.pendingRun && !(runEl && runEl.dataset.runId === pending.dataset.pendingRun)) {
    reloadWhenDone(pending.dataset.pendingRun);
  }
  const runsTable = document.querySelector("[data-testid=runs]");
  if (runsTable && runsTable.dataset.live === "true") followRuns(runsTable);
  const plan = document.getElementById("plan");
  if (plan) {
    const phase = plan.querySelector("[data-testid=plan-phase]").textContent;
    if (!planOver(phase)) followPlan(plan.dataset.planId);
  }
  const cal = document.getElementById("calibration");
  if (cal) followCal(cal.dataset.calId);
  const run = document.getElementById("run");
  if (run) {
    const status = run.querySelector("[data-testid=status]").textContent;
    const done = status !== "running" && status !== "queued";
    if (done) {
      fetch(`/runs/${run.dataset.runId}/state.json`)
        .then((r) => r.json())
        .then(showState);
    } else {
      follow(run.dataset.runId, false);
    }
  }
  const pick = document.getElementById("compare-picked");
  if (pick) {
    pick.addEventListener("click", () => {
      const ids = [...document.querySelectorAll("input[name=pick]:checked")].map((c) => c.value);
      if (ids.length !== 2) {
        alert("Pick exactly two runs.");
        return;
      }
      location.href = `/compare?a=${encodeURIComponent(ids[0])}&b=${encodeURIComponent(ids[1])}`;
    });
  }
});
