// Small enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
  // An error summary takes the focus, so that a screen reader reads it first.
  var summary = document.querySelector("[data-focus]");
  if (summary) { summary.focus(); }
  // With htmx, checklists save on change: the save button is only needed without JavaScript.
  if (window.htmx) {
    document.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
  }
});
