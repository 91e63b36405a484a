/* Replay reports: the list the API finds in its reports_dir. */
"use strict";

async function refresh() {
  const body = await fl.json("/reports");
  const tbody = document.querySelector("#reports tbody");
  if (!body.configured) {
    tbody.replaceChildren(fl.el("tr", {}, fl.el("td", { colspan: 5, class: "muted",
      text: "No reports directory configured (FIELDLINK_CLOUD_REPORTS_DIR)." })));
  } else if (!body.reports.length) {
    tbody.replaceChildren(fl.el("tr", {}, fl.el("td", { colspan: 5, class: "muted",
      text: "No reports yet: run fieldlink lab replay." })));
  } else {
    tbody.replaceChildren(...body.reports.map((r) => {
      const verdict = r.error ? fl.el("span", { class: "badge warn", text: "unreadable" })
        : fl.el("span", { class: `badge ${r.ok ? "ok" : "bad"}`, text: r.ok ? "PASS" : "FAIL" });
      const href = "/reports/files/" + r.path.split("/").map(encodeURIComponent).join("/") +
        "/report.html";
      return fl.el("tr", { "data-path": r.path },
        fl.el("td", { text: r.scenario }),
        fl.el("td", { title: r.error || "" }, verdict),
        fl.el("td", { text: r.mode || "" }),
        fl.el("td", { text: new Date(r.modified_s * 1000).toLocaleString() }),
        fl.el("td", {}, r.html ? fl.el("a", { href, text: "open report" })
                               : fl.el("span", { class: "muted", text: "no report.html" })));
    }));
  }
  fl.status(`updated ${new Date().toLocaleTimeString()}`);
}

fl.every(10000, refresh);
