// Watchkeeper pages: small conveniences on top of server-rendered HTML. Every page works without this file.
(() => {
  "use strict";

  // Filter controls marked data-autosubmit apply as soon as they change.
  document.addEventListener("change", (event) => {
    const el = event.target;
    if (el instanceof HTMLElement && el.hasAttribute("data-autosubmit") && el.form) {
      el.form.requestSubmit();
    }
  });

  // A click anywhere on a table row opens what the row's link opens (same-origin paths only).
  document.addEventListener("click", (event) => {
    if (!(event.target instanceof Element) || event.target.closest("a, button, input, select, label")) return;
    const row = event.target.closest("tr[data-href]");
    if (!row) return;
    const href = row.getAttribute("data-href") || "";
    if (!href.startsWith("/") || href.startsWith("//")) return;
    if (event.ctrlKey || event.metaKey) window.open(href, "_blank");
    else window.location.assign(href);
  });

  // The waterfall marks the span whose panel is shown.
  function select(row) {
    for (const other of document.querySelectorAll("[data-span-row][aria-current]")) {
      other.removeAttribute("aria-current");
    }
    row.setAttribute("aria-current", "true");
  }

  document.addEventListener("click", (event) => {
    if (!(event.target instanceof Element)) return;
    const row = event.target.closest("[data-span-row]");
    if (row && !event.ctrlKey && !event.metaKey && !event.shiftKey) select(row);
  });

  // j / k (or the arrow keys) walk the waterfall.
  document.addEventListener("keydown", (event) => {
    const t = event.target;
    if (t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName))) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const step = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 }[event.key];
    if (!step) return;
    const rows = Array.from(document.querySelectorAll("[data-span-row]"));
    if (!rows.length) return;
    const current = rows.findIndex((r) => r.getAttribute("aria-current") === "true");
    const next = rows[Math.min(rows.length - 1, Math.max(0, current + step))];
    if (next && next !== rows[current]) {
      event.preventDefault();
      next.focus();
      next.click();
    }
  });
})();
