/* Shared helpers of the built-in dashboard pages (no framework, no build step). */
"use strict";

const fl = {
  async json(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(`${url}: ${response.status} ${body.reason || body.error || ""}`);
    }
    return body;
  },

  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  },

  ago(ns) {
    if (ns === null || ns === undefined) return "never";
    const s = Math.max(0, (Date.now() * 1e6 - ns) / 1e9);
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 172800) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  },

  when(iso) {
    return iso ? new Date(iso).toLocaleString() : "";
  },

  status(text, isError = false) {
    const node = document.getElementById("status");
    if (!node) return;
    node.textContent = text;
    node.className = "status" + (isError ? " error" : "");
  },

  /** Run `task` now and every `ms`, showing its errors in the header instead of throwing. */
  every(ms, task) {
    const run = async () => {
      try {
        await task();
      } catch (err) {
        fl.status(String(err.message || err), true);
      }
    };
    run();
    return setInterval(run, ms);
  },
};
