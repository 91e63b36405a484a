/* Fleet page: one /devices request for the whole fleet every 5 s (no request per device),
   one /alerts?state=open for the count; filtering and sorting happen here. */
"use strict";

let devices = [];

const byName = (a, b) => a.localeCompare(b, undefined, { numeric: true });

function sortKey(device, key) {
  if (key === "online") return device.online ? 1 : 0;
  if (key === "device") return device.device;
  return -(device[key] || 0);
}

function render() {
  const needle = document.getElementById("filter").value.trim().toLowerCase();
  const key = document.getElementById("sort").value;
  const shown = devices
    .filter((d) => !needle || d.device.includes(needle) || d.site.includes(needle))
    .sort((a, b) => {
      const ka = sortKey(a, key), kb = sortKey(b, key);
      if (typeof ka === "string") return byName(ka, kb);
      return ka < kb ? -1 : ka > kb ? 1 : byName(a.device, b.device);
    });
  const rows = shown.map((d) =>
    fl.el("tr", { "data-device": d.device },
      fl.el("td", {}, fl.el("a", { href: `/ui/device.html?device=${encodeURIComponent(d.device)}`,
                                   text: d.device })),
      fl.el("td", { text: d.site }),
      fl.el("td", {}, fl.el("span", { class: `badge ${d.online ? "ok" : "bad"}`,
                                      text: d.online ? "online" : "offline" })),
      fl.el("td", { class: "num", text: d.backlog }),
      fl.el("td", { text: fl.ago(d.last_seen_ns) }),
      fl.el("td", { class: "num", text: d.missing })));
  document.querySelector("#fleet tbody").replaceChildren(...rows);
  document.getElementById("shown").textContent = `${shown.length} of ${devices.length} shown`;
}

async function refresh() {
  const [fleet, open] = await Promise.all([fl.json("/devices?limit=10000"),
                                           fl.json("/alerts?state=open&limit=10000")]);
  devices = fleet.devices;
  document.getElementById("n-devices").textContent = devices.length;
  document.getElementById("n-online").textContent = devices.filter((d) => d.online).length;
  document.getElementById("n-backlog").textContent =
    devices.reduce((sum, d) => sum + (d.backlog || 0), 0);
  document.getElementById("n-alerts").textContent = open.alerts.length;
  render();
  fl.status(`updated ${new Date().toLocaleTimeString()}`);
}

document.getElementById("filter").addEventListener("input", render);
document.getElementById("sort").addEventListener("change", render);
fl.every(5000, refresh);
