// fleettwin dashboard: live charts over a websocket, and small helpers.
"use strict";

const palette = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#9333ea", "#0891b2"];
window.fleettwin = { updates: 0, connected: false, state: null };

const charts = {
  ttft: { series: (s) => s.models.map((m) => [m.model, m.ttft_p95_s]), unit: "s" },
  tpot: { series: (s) => s.models.map((m) => [m.model, m.tpot_p95_s]), unit: "s" },
  e2e: { series: (s) => s.models.map((m) => [m.model, m.e2e_p95_s]), unit: "s" },
  throughput: { series: (s) => s.models.map((m) => [m.model, m.throughput_per_s]), unit: "/s" },
  queue: { series: (s) => s.devices.map((d) => [d.node, d.waiting]), unit: "" },
  kv: { series: (s) => s.devices.map((d) => [d.node, d.kv_use]), unit: "" },
  util: { series: (s) => s.devices.map((d) => [d.node, d.utilization]), unit: "" },
  power: { series: (s) => s.devices.map((d) => [d.node, d.power_w]), unit: "W" },
  temp: { series: (s) => s.devices.map((d) => [d.node, d.temp_c]), unit: "C" },
  clock: { series: (s) => s.devices.map((d) => [d.node, d.clock]), unit: "" },
};
const plots = {};
const fixedRange = { util: [0, 1], clock: [0, 1.05] };

function drawCharts(state) {
  for (const el of document.querySelectorAll("[data-chart]")) {
    const name = el.dataset.chart;
    const lines = charts[name].series(state);
    const data = [state.t || []].concat(lines.map(([, ys]) => ys || []));
    if (!plots[name]) {
      const width = Math.max(el.clientWidth, 300);
      plots[name] = new uPlot(
        {
          width: width,
          height: 200,
          scales: { x: { time: false }, y: fixedRange[name] ? { range: fixedRange[name] } : {} },
          axes: [{ label: "simulated s" }, { size: 60 }],
          series: [{ label: "t" }].concat(
            lines.map(([label], i) => ({ label: label, stroke: palette[i % palette.length], width: 2, spanGaps: true })),
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
    now.textContent = state.devices
      .filter((d) => d.temp_c && d.temp_c.length)
      .map((d) => {
        const i = d.temp_c.length - 1;
        let s = `${d.node}: ${d.temp_c[i].toFixed(1)} C, clock ${Math.round(100 * d.clock[i])}%`;
        if (d.throttle) s += `, throttled (${d.throttle})`;
        return s;
      })
      .join(" · ");
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
  models: ["ttft_p95_s", "tpot_p95_s", "e2e_p95_s", "throughput_per_s"],
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

function follow(runID, wasDone) {
  let delay = 250;
  let cur = null; // the complete state the page shows
  let resyncing = false;
  let held = []; // deltas that came while the state was being fetched
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
