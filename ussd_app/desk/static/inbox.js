// The inbox polls for newer cases and shows a "new cases" line (no framework, no inline script).
(function () {
  "use strict";
  var table = document.getElementById("inbox") || document.getElementById("inbox-empty");
  var banner = document.getElementById("new-cases");
  if (!table) { return; }
  var latest = parseInt(table.getAttribute("data-latest") || "0", 10);
  var url = table.getAttribute("data-poll");
  var every = parseInt(document.body.getAttribute("data-poll-ms") || "5000", 10);
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.latest > latest) {
          // Reload so the new case shows in its place, sorted and filtered like the rest.
          window.location.reload();
        }
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  window.setInterval(poll, every);
}());
