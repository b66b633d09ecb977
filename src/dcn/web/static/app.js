// dcn serve: live regions and filter forms. No inline script anywhere (the pages'
// Content-Security-Policy allows scripts from this origin's files only).
//
// An element with data-refresh="URL" gets its content replaced by the server's HTML
// fragment at URL every data-interval milliseconds while the page is visible; the
// fragment is rendered (and escaped) on the server. A failed poll marks the region
// "stale" and the next one tries again; a fragment sent with "X-Dcn-Live: 0" (a
// rollout or deploy that has ended) is the last one.
(function () {
  "use strict";

  function refresh(region) {
    return fetch(region.dataset.refresh, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        if (response.headers.get("X-Dcn-Live") === "0") { region.dataset.ended = "1"; }
        return response.text();
      })
      .then(function (html) {
        region.innerHTML = html;
        region.classList.remove("stale");
        region.dataset.refreshed = String(Date.now());
      })
      .catch(function () { region.classList.add("stale"); });
  }

  document.querySelectorAll("[data-refresh]").forEach(function (region) {
    var every = Number(region.dataset.interval) || 3000;
    var busy = false;
    var timer = window.setInterval(function () {
      if (busy || document.hidden) { return; }
      busy = true;
      refresh(region).finally(function () {
        busy = false;
        if (region.dataset.ended) { window.clearInterval(timer); }
      });
    }, every);
  });

  // filter forms: a changed choice applies at once
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
