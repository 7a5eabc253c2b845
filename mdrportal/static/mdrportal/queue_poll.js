// The incidents queue refreshes itself: every 30 seconds it fetches the same list (same filters, same page)
// and swaps in the rows and the views' counts, unless the analyst has ticked rows or is typing, so nothing
// in progress is lost.
(function () {
  "use strict";
  var PERIOD_MS = 30000;
  function busy() {
    var active = document.activeElement;
    if (active && (active.tagName === "INPUT" || active.tagName === "SELECT" || active.tagName === "TEXTAREA")) {
      return true;
    }
    return document.querySelectorAll("#result_list input.action-select:checked").length > 0;
  }
  function swap(fresh, selector) {
    var now = document.querySelector(selector);
    var next = fresh.querySelector(selector);
    if (now && next) {
      now.replaceWith(next);
    }
  }
  function refresh() {
    if (document.hidden || busy()) {
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "queue-poll" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || busy()) {
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        swap(fresh, "#result_list");
        swap(fresh, "#changelist-filter");
        swap(fresh, ".paginator");
        var stamp = document.getElementById("queue-refreshed");
        if (stamp) {
          stamp.textContent = "Refreshed " + new Date().toLocaleTimeString();
        }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(refresh, PERIOD_MS);
})();
