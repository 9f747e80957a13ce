// Behaviour of every page, bound with addEventListener: the Content-Security-Policy
// (script-src 'self') runs no inline handler. Markup asks for it with data attributes.
// Loaded at the end of <body>, so the elements exist already.
"use strict";

(() => {
  // The client switcher: picking a client opens its dashboard.
  for (const select of document.querySelectorAll("select[data-navigate]")) {
    select.addEventListener("change", () => {
      if (select.value) window.location.href = select.value;
    });
  }
  // A period pill sends its form at once.
  for (const input of document.querySelectorAll("[data-submit-on-change]")) {
    input.addEventListener("change", () => input.form.submit());
  }
  // Picking a date ticks "custom": otherwise the ticked period wins and the dates are ignored.
  for (const input of document.querySelectorAll("[data-custom-period]")) {
    input.addEventListener("change", () => {
      input.form.elements.period.value = "custom";
    });
  }
  // A print button (the weekly report).
  for (const button of document.querySelectorAll("[data-print]")) {
    button.addEventListener("click", () => window.print());
  }
})();
