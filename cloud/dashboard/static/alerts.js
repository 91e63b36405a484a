/* Alerts feed: newest first, refreshed every 2 s. */
"use strict";

function stateBadge(state) {
  return fl.el("span", { class: `badge ${state === "open" ? "bad" : "ok"}`, text: state });
}

async function refresh() {
  const openOnly = document.getElementById("open-only").checked;
  const body = await fl.json(`/alerts?limit=500&state=${openOnly ? "open" : "all"}`);
  const alerts = body.alerts.slice().reverse();
  const rows = alerts.map((a) =>
    fl.el("tr", { "data-alert": a.alert_id, "data-state": a.state, "data-device": a.device },
      fl.el("td", {}, stateBadge(a.state)),
      fl.el("td", { text: a.rule }),
      fl.el("td", {}, fl.el("a", { href: `/ui/device.html?device=${encodeURIComponent(a.device)}`,
                                   text: a.device })),
      fl.el("td", { text: a.sensor || "" }),
      fl.el("td", { text: a.site }),
      fl.el("td", { text: fl.when(a.open_at) }),
      fl.el("td", { text: fl.when(a.close_at) })));
  document.querySelector("#feed tbody").replaceChildren(...rows);
  const open = alerts.filter((a) => a.state === "open").length;
  document.getElementById("count").textContent = `${alerts.length} alerts, ${open} open`;
  fl.status(`updated ${new Date().toLocaleTimeString()}`);
}

document.getElementById("open-only").addEventListener("change", refresh);
fl.every(2000, refresh);
