// arclamp: small progressive enhancements; every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Quick form: submitting a date-only change keeps the other fields; "day" links fill the date.
  document.querySelectorAll("[data-fill-date]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var input = document.getElementById("quick-date");
      if (!input) { return; }
      event.preventDefault();
      input.value = link.getAttribute("data-fill-date");
      input.form.submit();
    });
  });
});

// Graph frames: a flame graph grows upwards from its base (the root and the entry points),
// which on a deep graph sits below the frame's fold; show the base first. An icicle graph
// has its root on top already.
document.querySelectorAll("iframe.graph:not(.icicle)").forEach(function (frame) {
  function showBase() {
    var doc = frame.contentDocument;
    if (doc && doc.documentElement) {
      frame.contentWindow.scrollTo(0, doc.documentElement.scrollHeight);
    }
  }
  frame.addEventListener("load", showBase);
  if (frame.contentDocument && frame.contentDocument.readyState === "complete") { showBase(); }
});
