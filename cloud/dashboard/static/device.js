/* Device page: one uPlot chart per sensor, history from /devices/NAME/series, then new
   readings pushed by Server-Sent Events from /devices/NAME/live. */
"use strict";

const params = new URLSearchParams(location.search);
const device = params.get("device") || "";
const COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83"];

/** sensor -> { plot: uPlot, xs: number[], ys: number[] }; read by the browser tests. */
window.flCharts = {};
let stream = null;
let minutes = 15;

function chartWidth(node) {
  return Math.max(300, node.clientWidth - 10);
}

function chartFor(sensor) {
  if (window.flCharts[sensor]) return window.flCharts[sensor];
  const holder = fl.el("div", { class: "chart", "data-sensor": sensor });
  document.getElementById("charts").append(holder);
  const index = Object.keys(window.flCharts).length;
  const opts = {
    title: sensor,
    width: chartWidth(holder),
    height: 240,
    scales: { x: { time: true } },
    series: [{}, { label: sensor, stroke: COLOURS[index % COLOURS.length], width: 1.5,
                   points: { show: false } }],
  };
  const entry = { xs: [], ys: [], plot: null };
  entry.plot = new uPlot(opts, [entry.xs, entry.ys], holder);
  window.flCharts[sensor] = entry;
  return entry;
}

function trim(entry) {
  if (!entry.xs.length) return;
  const oldest = entry.xs[entry.xs.length - 1] - minutes * 60;
  let cut = 0;
  while (cut < entry.xs.length && entry.xs[cut] < oldest) cut++;
  if (cut) {
    entry.xs.splice(0, cut);
    entry.ys.splice(0, cut);
  }
}

/** Add points (sorted per sensor); a point older than the newest one is merged in place. */
function append(sensors) {
  for (const [sensor, column] of Object.entries(sensors)) {
    const entry = chartFor(sensor);
    for (let i = 0; i < column.t.length; i++) {
      const t = column.t[i], v = column.v[i];
      let at = entry.xs.length;
      while (at > 0 && entry.xs[at - 1] > t) at--;
      if (at > 0 && entry.xs[at - 1] === t) entry.ys[at - 1] = v;
      else { entry.xs.splice(at, 0, t); entry.ys.splice(at, 0, v); }
    }
    trim(entry);
    entry.plot.setData([entry.xs, entry.ys]);
  }
}

function connect(sinceNs) {
  if (stream) stream.close();
  const query = sinceNs ? `?since_ns=${sinceNs}` : "";
  stream = new EventSource(`/devices/${encodeURIComponent(device)}/live${query}`);
  const live = document.getElementById("live");
  stream.addEventListener("open", () => { live.textContent = "live"; });
  stream.addEventListener("readings", (message) => {
    const body = JSON.parse(message.data);
    append(body.sensors);
    window.flLastUpdate = body.until_ns;
    live.textContent = `live · last reading ${new Date(body.until_ns / 1e6).toLocaleTimeString()}`;
  });
  stream.addEventListener("unavailable", (message) => {
    live.textContent = `data store unavailable: ${JSON.parse(message.data).reason}`;
  });
  stream.addEventListener("error", () => { live.textContent = "reconnecting…"; });
}

async function load() {
  const body = await fl.json(
    `/devices/${encodeURIComponent(device)}/series?minutes=${minutes}`);
  for (const entry of Object.values(window.flCharts)) {
    entry.xs.length = 0;
    entry.ys.length = 0;
  }
  append(body.sensors);
  if (!Object.keys(body.sensors).length) {
    fl.status(`no readings of ${device} in the last ${minutes} min`);
  } else {
    fl.status(`history: ${minutes} min${body.every_s > 1 ? `, ${body.every_s} s means` : ""}`);
  }
  connect(body.until_ns);
}

async function alerts() {
  const body = await fl.json(`/alerts?device=${encodeURIComponent(device)}&limit=50`);
  document.querySelector("#alerts tbody").replaceChildren(...body.alerts.slice().reverse().map(
    (a) => fl.el("tr", { "data-state": a.state },
      fl.el("td", {}, fl.el("span", { class: `badge ${a.state === "open" ? "bad" : "ok"}`,
                                      text: a.state })),
      fl.el("td", { text: a.rule }), fl.el("td", { text: a.sensor || "" }),
      fl.el("td", { text: fl.when(a.open_at) }), fl.el("td", { text: fl.when(a.close_at) }))));
}

document.getElementById("device").textContent = device;
document.title = `fieldlink: ${device}`;
document.getElementById("minutes").addEventListener("change", (event) => {
  minutes = Number(event.target.value);
  load().catch((err) => fl.status(String(err.message || err), true));
});
window.addEventListener("resize", () => {
  for (const entry of Object.values(window.flCharts)) {
    const holder = entry.plot.root.parentNode;
    entry.plot.setSize({ width: chartWidth(holder), height: 240 });
  }
});
if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(device)) {
  fl.status("no such device name in the address (?device=NAME)", true);
} else {
  load().catch((err) => fl.status(String(err.message || err), true));
  fl.every(5000, alerts);
}
