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
