// Small enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
  // An error summary takes the focus, so that a screen reader reads it first.
  var summary = document.querySelector("[data-focus]");
  if (summary) { summary.focus(); }
  // A link in an error summary focuses its field with the question above it in view (the
  // browser alone would put the field at the very top, its label out of sight).
  document.querySelectorAll(".error-summary a[href^='#']").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) { return; }
      event.preventDefault();
      (target.closest("fieldset, .field") || target).scrollIntoView();
      target.focus({ preventScroll: true });
    });
  });
  // With htmx, checklists save on change: the save button is only needed without JavaScript.
  if (window.htmx) {
    document.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
  }
});

// Questionnaires: after each answer htmx swaps in the questions again (follow-up questions
// come and go, a problem shows by its field). What the patient types or ticks while that
// answer is on its way must not be lost: it is put back into the new fields, and a field
// still being typed in is sent when the patient leaves it.
(function () {
  var ITEMS = "q-items";

  function isTicked(el) {
    return el.type === "checkbox" || el.type === "radio";
  }

  function answers(container) {
    var found = {};
    container.querySelectorAll("input[id], textarea[id], select[id]").forEach(function (el) {
      found[el.id] = isTicked(el) ? el.checked : el.value;
    });
    return found;
  }

  function sendOnLeave(el) {
    var send = function () { window.htmx.trigger(el, "change"); };
    el.addEventListener("blur", send, { once: true });
    // A real change (typed after the swap) goes by itself.
    el.addEventListener("change", function () { el.removeEventListener("blur", send); }, { once: true });
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === ITEMS) { target.stegSent = answers(target); }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== ITEMS || !target.stegSent) { return; }
    var sent = target.stegSent, now = answers(target), changed = {};
    Object.keys(now).forEach(function (id) {
      if (id in sent && now[id] !== sent[id]) { changed[id] = now[id]; }
    });
    target.stegSent = null;
    target.stegChanged = changed;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== ITEMS || !target.stegChanged) { return; }
    var changed = target.stegChanged;
    target.stegChanged = null;
    Object.keys(changed).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el || !target.contains(el)) { return; }
      if (isTicked(el)) {
        el.checked = changed[id];
      } else {
        el.value = changed[id];
        if (el === document.activeElement) { sendOnLeave(el); }
      }
    });
  });
})();
