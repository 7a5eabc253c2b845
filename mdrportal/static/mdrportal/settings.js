// Settings page: show the server-written explanation that matches the mode and the fallback checkbox.
(function () {
  var form = document.getElementById("policy-form");
  if (!form) return;
  function scenario() {
    var mode = form.querySelector("input[name=response_mode]:checked");
    var box = form.querySelector("input[name=authorize_on_no_ack]");
    if (mode && mode.value === "authorize") return "authorize";
    return box && box.checked ? "collaborate-fallback" : "collaborate";
  }
  function update() {
    var current = scenario();
    document.querySelectorAll("[data-scenario]").forEach(function (el) {
      el.hidden = el.getAttribute("data-scenario") !== current;
    });
  }
  form.addEventListener("change", update);
  update();
})();
